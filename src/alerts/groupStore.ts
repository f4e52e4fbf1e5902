// Notification groups in Redis with each alert a field of its own. The head of every group (its labels, times and
// the digest of what was last sent) is a field of the hash `<key>`; a group's alerts are the fields of
// `<key>:alerts:<group key>`, by fingerprint. A persist writes the heads of the groups touched and, of their alerts,
// only those replaced since the last write (a view is never changed in place: a new object is a change), and deletes
// those that left. Written whole (WriteBehindHash with groupJson), a storm's group of tens of thousands of alerts went
// to Redis at every commit that touched it: at 1,000,000 customers 260–400 ms of the event loop per commit, to
// serialize and hand the socket ~10 MB, about 9 % of the bench's live phase.
import type { Redis } from 'ioredis';
import type { AlertView } from '../contract/frames.js';
import { errorMessage } from '../shared/errors.js';
import { inSlices, SLICE_MS } from '../shared/slices.js';
import { alertJsonOf, type GroupState } from './grouping.js';
import { WriteBehindMap } from './writeBehindHash.js';

type Head = Omit<GroupState, 'alerts'> & { alerts?: Record<string, AlertView> };

export class RedisGroupStore extends WriteBehindMap<GroupState> {
  /** Per group, the views its alerts hash holds now (as last written or loaded): what a persist compares with. */
  private readonly written = new Map<string, Map<string, AlertView>>();

  constructor(
    private readonly redis: Redis,
    readonly hashKey: string,
    /** How long a slice of the JSON written ahead may hold the event loop (0: a turn every 64 alerts, for tests). */
    private readonly sliceMs = SLICE_MS,
  ) {
    super();
  }

  /** The hash of one group's alerts. */
  alertsKey(groupKey: string): string {
    return `${this.hashKey}:alerts:${groupKey}`;
  }

  /**
   * Every group with its alerts. A head that still holds its alerts (written whole by an earlier version) is taken as
   * it is and written in this form at the next persist.
   */
  async load(): Promise<number> {
    const heads = await this.redis.hgetall(this.hashKey);
    const keys = Object.keys(heads);
    const pipe = this.redis.pipeline();
    for (const key of keys) pipe.hgetall(this.alertsKey(key));
    const fields = keys.length > 0 ? ((await pipe.exec()) ?? []) : [];
    keys.forEach((key, i) => {
      const [err, stored] = fields[i] ?? [new Error('no reply'), null];
      if (err) throw err;
      const { alerts: inline, ...head } = JSON.parse(heads[key]) as Head;
      const alerts: Record<string, AlertView> = {};
      const written = new Map<string, AlertView>();
      for (const [fp, json] of Object.entries(stored as Record<string, string>)) {
        const view = JSON.parse(json) as AlertView;
        alerts[fp] = view;
        written.set(fp, view);
      }
      if (inline) {
        for (const [fp, view] of Object.entries(inline)) if (!(fp in alerts)) alerts[fp] = view;
        this.dirty.add(key);
      }
      this.map.set(key, { ...head, alerts });
      this.written.set(key, written);
    });
    return this.map.size;
  }

  /**
   * Writes what changed in the groups touched, in one MULTI; never rejects (a failure keeps them for the next call).
   * The changed alerts' JSON is written ahead in slices of the event loop (a storm's thousands held it 25-40 ms per
   * commit); the MULTI is built from the groups as they are then, and sent, in one synchronous step.
   */
  async persist(): Promise<void> {
    if (this.dirty.size === 0) return;
    const json = new Map<AlertView, string>();
    const pending = this.dirty.values();
    // Where the walk is: a group's alerts as they were when it got to them (one group may hold thousands).
    let views: AlertView[] = [];
    let at = 0;
    await inSlices((more) => {
      for (;;) {
        while (at < views.length) {
          const view = views[at++];
          if (!json.has(view)) json.set(view, alertJsonOf(view));
          if ((at & 63) === 0 && !more()) return false;
        }
        const r = pending.next();
        if (r.done) return true;
        const g = this.map.get(r.value);
        const before = this.written.get(r.value);
        views = [];
        at = 0;
        if (g) for (const fp in g.alerts) if (before?.get(fp) !== g.alerts[fp]) views.push(g.alerts[fp]);
      }
    }, this.sliceMs);
    if (this.dirty.size === 0) return;
    const keys = [...this.dirty];
    this.dirty.clear();
    const tx = this.redis.multi();
    // What each group's alerts hash holds once the MULTI lands, as changes to what it held (no map of a storm's
    // every alert built per commit): the views written and the fingerprints deleted, and the map they change.
    const nowWritten: { key: string; before: Map<string, AlertView> | undefined; set: [string, AlertView][]; gone: string[] }[] = [];
    for (const key of keys) {
      const g = this.map.get(key);
      if (!g) {
        // Gone: nothing of it is held from here (a group back before the write lands is written afresh).
        tx.hdel(this.hashKey, key).del(this.alertsKey(key));
        this.written.delete(key);
        continue;
      }
      const before = this.written.get(key);
      const changed: string[] = [];
      const set: [string, AlertView][] = [];
      for (const fp in g.alerts) {
        const view = g.alerts[fp];
        if (before?.get(fp) === view) continue;
        // A view is never changed in place: its JSON written ahead is its JSON now.
        changed.push(fp, json.get(view) ?? alertJsonOf(view));
        set.push([fp, view]);
      }
      const gone: string[] = [];
      if (before) for (const fp of before.keys()) if (!(fp in g.alerts)) gone.push(fp);
      const { alerts: _, ...head } = g;
      tx.hset(this.hashKey, key, JSON.stringify(head));
      // A group new here, or whose last write may or may not have landed: its alerts hash is written afresh.
      if (!before) tx.del(this.alertsKey(key));
      if (changed.length > 0) tx.hset(this.alertsKey(key), ...changed);
      if (gone.length > 0) tx.hdel(this.alertsKey(key), ...gone);
      nowWritten.push({ key, before, set, gone });
    }
    try {
      await tx.exec();
      for (const w of nowWritten) this.landed(w.key, w.before, w.set, w.gone);
      this.lastError = null;
    } catch (err) {
      // What Redis holds of these groups is unknown now (the MULTI may have landed without its reply): they stay
      // dirty, and the next write replaces each one's alerts whole.
      for (const key of keys) {
        this.dirty.add(key);
        this.written.delete(key);
      }
      this.lastError = `Redis write failed, ${this.dirty.size} groups waiting: ${errorMessage(err)}`;
    }
  }

  /**
   * A write of a group landed: what its alerts hash holds is `before` with `set` written and `gone` deleted. When
   * `written` moved meanwhile from the map this write was worked out against (another write failed or landed first),
   * what Redis holds is not known from here: the group is written afresh next time.
   */
  private landed(key: string, before: Map<string, AlertView> | undefined, set: [string, AlertView][], gone: string[]): void {
    if (this.written.get(key) !== before) {
      this.written.delete(key);
      this.dirty.add(key);
      return;
    }
    const held = before ?? new Map<string, AlertView>();
    for (const [fp, view] of set) held.set(fp, view);
    for (const fp of gone) held.delete(fp);
    this.written.set(key, held);
  }
}
