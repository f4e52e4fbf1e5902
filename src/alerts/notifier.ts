// The notification stages after evaluation, in order: silence, group, pace (dedup and repeat), deliver.
import type { AlertView } from '../contract/frames.js';
import { GroupPacer, groupKeyOf, type GroupState, type Notification, type RoutingPolicy } from './grouping.js';
import { checkSilence, compileMatchers, newSilence, silences, type CompiledMatcher, type Silence, type SilenceInput } from './silences.js';
import type { KeyedStore } from './writeBehindHash.js';

/** Silences in force (not yet ended) at most, unless configured (alerts.maxSilences). */
export const DEFAULT_MAX_SILENCES = 1_000;

export interface NotifierOptions {
  /** Silences not yet ended at most: addSilence refuses more. Ended ones kept for the list are held to as many. */
  maxSilences?: number;
  /** Told once per silence that is skipped because its matchers do not compile (written by an older version). */
  warn?: (fields: Record<string, unknown>, message: string) => void;
}

/** A silence's matchers compiled, with the array they came from: a new array (a reload) is compiled again. */
interface CompiledEntry {
  source: unknown;
  matchers: CompiledMatcher[] | null;
}

export interface Receiver {
  /** A group's notification, when Vigil's grouping releases it (group wait, interval, repeat). */
  send?(n: Notification): void;
  /**
   * Every alert change no silence holds, as it happens, for a receiver that groups by itself (Alertmanager): its
   * routing and timing apply, and a resolution reaches it at once rather than at the group's next interval.
   */
  alert?(view: AlertView): void;
  /** At every tick, after the due notifications: a receiver that collects alert changes sends them now. */
  flush?(): void;
  /** The alerts of the groups restored at load (a restart), for a receiver that keeps firing alerts alive. */
  restore?(alerts: readonly AlertView[]): void;
}

/** What a pipeline asks of the notifier. */
export type AlertNotifier = Pick<Notifier, 'onAlert' | 'tick' | 'silencedBy' | 'addSilence' | 'expireSilence' | 'listSilences' | 'forgetSubject'>;

export class Notifier {
  private readonly pacer: GroupPacer;
  private readonly touched = new Set<string>();
  /** Compiled once per silence (added, loaded or reloaded), never per match; pruned with the store. */
  private readonly compiled = new Map<string, CompiledEntry>();
  /** Silences already warned about as not compiling, so a reload does not warn again. */
  private readonly warned = new Set<string>();
  private readonly maxSilences: number;
  silenced = 0;
  sent = 0;

  constructor(
    private readonly policy: RoutingPolicy,
    private readonly silenceStore: KeyedStore<Silence>,
    private readonly groupStore: KeyedStore<GroupState>,
    private readonly receivers: Receiver[],
    private readonly options: NotifierOptions = {},
  ) {
    this.pacer = new GroupPacer(policy);
    this.maxSilences = options.maxSilences ?? DEFAULT_MAX_SILENCES;
  }

  /** Loads silences and the groups' notification log, so a restart neither re-sends nor forgets. */
  async load(): Promise<void> {
    await Promise.all([this.silenceStore.load(), this.groupStore.load()]);
    this.pacer.restore([...this.groupStore.values()]);
    const restored = [...this.pacer.groups.values()].flatMap((g) => Object.values(g.alerts));
    for (const r of this.receivers) r.restore?.(restored);
    this.compileSilences();
  }

  /** Silences another processor added or expired (a cluster shares them in Redis): taken without a restart. */
  async reloadSilences(): Promise<void> {
    await this.silenceStore.refresh?.();
    this.compileSilences();
  }

  /** The ids of the silences that hide an alert with these labels now (empty: not silenced). */
  silencedBy(labels: Record<string, string>, now: number): string[] {
    const ids: string[] = [];
    for (const s of this.silenceStore.values()) {
      const compiled = this.compiledFor(s);
      if (compiled && silences(s, compiled, labels, now)) ids.push(s.id);
    }
    return ids;
  }

  /** A silence's compiled matchers (null when they do not compile, and the silence is skipped). */
  compiledMatchers(id: string): CompiledMatcher[] | null {
    const s = this.silenceStore.get(id);
    return s ? this.compiledFor(s) : null;
  }

  /** Compiles what the store holds that is not compiled yet, and drops what left it. */
  private compileSilences(): void {
    const ids = new Set<string>();
    for (const s of this.silenceStore.values()) {
      ids.add(s.id);
      this.compiledFor(s);
    }
    for (const id of this.compiled.keys()) if (!ids.has(id)) this.compiled.delete(id);
    for (const id of this.warned) if (!ids.has(id)) this.warned.delete(id);
  }

  /** Compiled at most once per silence object; one that cannot compile is skipped, with one warning, never thrown. */
  private compiledFor(s: Silence): CompiledMatcher[] | null {
    const entry = this.compiled.get(s.id);
    if (entry && entry.source === s.matchers) return entry.matchers;
    const r = compileMatchers(s.matchers);
    const matchers = typeof r === 'string' ? null : r;
    if (matchers === null && !this.warned.has(s.id)) {
      this.warned.add(s.id);
      this.options.warn?.({ silenceId: s.id, reason: r }, 'a stored silence does not compile and is skipped: expire it and make it again');
    }
    this.compiled.set(s.id, { source: s.matchers, matchers });
    return matchers;
  }

  /** An alert state change from the engine. A silenced alert is shown on the wall but never notified. */
  onAlert(view: AlertView, now: number): void {
    if (this.silencedBy(view.labels, now).length > 0) {
      this.silenced++;
      return;
    }
    this.pacer.add(view, now);
    this.touched.add(groupKeyOf(view.labels, this.policy.groupBy).key);
    for (const r of this.receivers) r.alert?.(view);
  }

  /** Sends what is due; call on every evaluation tick. */
  tick(now: number): Notification[] {
    const due = this.pacer.due(now);
    for (const n of due) {
      this.touched.add(n.groupKey);
      for (const r of this.receivers) r.send?.(n);
      this.sent++;
    }
    for (const r of this.receivers) r.flush?.();
    return due;
  }

  addSilence(input: SilenceInput, now: number): { ok: true; silence: Silence } | { ok: false; error: string } {
    const checked = checkSilence(input);
    if (typeof checked === 'string') return { ok: false, error: checked };
    const ended: Silence[] = [];
    let inForce = 0;
    for (const s of this.silenceStore.values()) {
      if (s.endsAt > now) inForce++;
      else ended.push(s);
    }
    if (inForce >= this.maxSilences) return { ok: false, error: `${inForce} silences are in force, the most alerts.maxSilences allows: expire some first` };
    // Ended silences stay listed for a day; beyond as many as may be in force, the longest ended go now.
    if (ended.length >= this.maxSilences) {
      ended.sort((a, b) => a.endsAt - b.endsAt);
      for (const s of ended.slice(0, ended.length - this.maxSilences + 1)) this.silenceStore.delete(s.id);
    }
    const silence = newSilence(input, now);
    this.silenceStore.set(silence.id, silence);
    this.compiled.set(silence.id, { source: silence.matchers, matchers: checked });
    this.compileSilences();
    return { ok: true, silence };
  }

  /** Ends a silence now (kept for the record until it is pruned); false when there is no such silence. */
  expireSilence(id: string, now: number): boolean {
    const s = this.silenceStore.get(id);
    if (!s) return false;
    this.silenceStore.set(id, { ...s, endsAt: Math.min(s.endsAt, now) });
    return true;
  }

  /** Silences that have not ended, and the ones ended in the last day (for the wall's list). */
  listSilences(now: number): Silence[] {
    const recent: Silence[] = [];
    for (const s of this.silenceStore.values()) {
      if (s.endsAt < now - 86_400_000) this.silenceStore.delete(s.id);
      else recent.push(s);
    }
    return recent.sort((a, b) => b.createdAt - a.createdAt);
  }

  /**
   * Erasure: the subject's alerts leave every group, a group goes whole when one of its label values is the
   * subject's key exactly, and silences with an `=` matcher whose value is the key exactly go too; the next persist
   * writes that behind. Exact, never a substring: erasing customer `c` leaves every other group and silence alone.
   * Returns how many entries changed.
   */
  forgetSubject(kind: string, key: string): number {
    let n = 0;
    for (const g of [...this.pacer.groups.values()]) {
      let changed = false;
      for (const [fp, a] of Object.entries(g.alerts)) {
        if (a.subject.kind === kind && a.subject.key === key) {
          delete g.alerts[fp];
          this.pacer.contentChanged(g);
          changed = true;
        }
      }
      if (Object.values(g.labels).some((v) => v === key) || (changed && Object.keys(g.alerts).length === 0)) {
        this.pacer.groups.delete(g.key);
        changed = true;
      }
      if (changed) {
        this.touched.add(g.key);
        n++;
      }
    }
    for (const s of [...this.silenceStore.values()]) {
      if (s.matchers.some((m) => m.op === '=' && m.value === key)) {
        this.silenceStore.delete(s.id);
        n++;
      }
    }
    return n;
  }

  /** Writes silences and the touched groups behind to their store; never rejects. */
  async persist(): Promise<void> {
    for (const key of this.touched) {
      const g = this.pacer.groups.get(key);
      if (g) this.groupStore.set(key, g);
      else this.groupStore.delete(key);
    }
    this.touched.clear();
    await Promise.all([this.silenceStore.persist(), this.groupStore.persist()]);
  }

  get error(): string | null {
    return this.silenceStore.error ?? this.groupStore.error;
  }
}

