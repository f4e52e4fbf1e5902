// Per-minute activity counts for ClickHouse, written cumulatively so retries and rewrites never double a count.
import { avalanche } from '../shared/hash.js';
import type { SnapshotReader, SnapshotWriter } from '../shared/snapshotCodec.js';
import { IdTable } from '../shared/idTable.js';

const INITIAL = 1024;
const FREE = -1;
const MAX_LOAD = 0.75;
const INV_2_32 = 1 / 4294967296;

/** What drainEach hands over per bucket, in arguments rather than an object per row. */
export type ActivityVisit = (id: string, type: string, kind: number, minuteMs: number, events: number, revenue: number, overloaded: number, writer: number, version: number) => void;

export interface ActivityBucket {
  /** The key fields joined by \0, as checkpoints hold them: `id\0type`, or `kind\0id\0type` with kinds. */
  key: string;
  minuteMs: number;
  events: number;
  revenue: number;
  /** Customers this minute's touches pushed over a contact cap (entity activity). */
  overloaded: number;
  /**
   * The stream sequence of the event that opened this incarnation of the bucket. Deterministic, so a replay after
   * a restore reopens a bucket under the same writer and rewrites its row instead of adding a second one; a bucket
   * reopened by a later (late) event gets a new writer and adds.
   */
  writer: number;
  /**
   * The event count itself: it only grows within an incarnation, so ReplacingMergeTree keeps the latest count,
   * and a replay after a restore that writes the same count writes the same row.
   */
  version: number;
  dirty: boolean;
}

/**
 * Buckets stay open while their minute is within the allowed lateness of the watermark; `drain` hands out
 * the dirty ones for writing and forgets the closed ones once written.
 *
 * A bucket is an index into parallel typed arrays, not an object, found by (id, kind, type, minute) in an
 * open-addressing index: there is one per key and minute, so millions are open at once at a high rate, and neither an
 * object nor a joined key string per bucket (nor a key string built per event) is left for the collector. Ids are
 * interned in an IdTable and types in a small table, each counted by its open buckets and dropped with the last one.
 */
export class MinuteActivity {
  private readonly ids = new IdTable({ initialSlots: INITIAL });
  /** Open buckets per interned id. */
  private idRefs = new Uint32Array(INITIAL);
  private readonly typeIndex = new Map<string, number>();
  private readonly typeNames: string[] = [];
  private readonly typeRefs: number[] = [];
  private readonly freeTypes: number[] = [];
  /** Bucket + 1 per hash bucket, 0 for empty; linear probing, backward-shift deletion. */
  private index = new Int32Array(Math.ceil(INITIAL / MAX_LOAD) + 1);
  /** Open buckets by minute: a drain closes a minute by walking its list (entries of since-reused buckets skipped). */
  private readonly minutes = new Map<number, number[]>();
  /** The interned id of each bucket, FREE for a free bucket. */
  private idOf = new Int32Array(INITIAL).fill(FREE);
  private kindOf = new Uint8Array(INITIAL);
  private typeOf = new Int32Array(INITIAL);
  private minute = new Int32Array(INITIAL);
  private events = new Float64Array(INITIAL);
  private revenue = new Float64Array(INITIAL);
  private overloaded = new Float64Array(INITIAL);
  private writer = new Float64Array(INITIAL);
  private version = new Float64Array(INITIAL);
  private isDirty = new Uint8Array(INITIAL);
  private readonly free: number[] = [];
  private high = 0;
  private count = 0;
  /** Buckets changed since the last drain, in the order they first changed. */
  private dirty: number[] = [];

  /** With `kinds`, keys carry a kind (entity activity: channel, segment, campaign), saved by name before the id. */
  constructor(private readonly kinds: readonly string[] | null = null) {}

  get size(): number {
    return this.count;
  }

  /** Counts one event of `type` for `id` (of `kind`, an index into kinds) in its minute. */
  add(id: string, type: string, tsMs: number, revenue: number, streamSeq: number, overloaded = false, kind = 0): void {
    const minute = Math.floor(tsMs / 60_000);
    const idSlot = this.ids.insert(id);
    const t = this.typeIndex.get(type) ?? this.internType(type);
    let i = this.find(idSlot, kind, t, minute);
    if (i === FREE) i = this.open(idSlot, kind, t, minute, streamSeq);
    this.events[i]++;
    this.revenue[i] += revenue;
    if (overloaded) this.overloaded[i]++;
    this.markDirty(i);
  }

  /** Dirty buckets to write now (their version bumped), and closed buckets dropped: minute end before `closeBeforeMs`. */
  drain(closeBeforeMs: number): ActivityBucket[] {
    const out: ActivityBucket[] = [];
    this.drainEach(closeBeforeMs, (id, type, kind, minuteMs, events, revenue, overloaded, writer, version) =>
      out.push({ key: this.keyOf(id, type, kind), minuteMs, events, revenue, overloaded, writer, version, dirty: false }),
    );
    return out;
  }

  /** As drain, handing each bucket's fields to `visit` instead of an object per bucket (the processor's path). */
  drainEach(closeBeforeMs: number, visit: ActivityVisit): void {
    this.drainDirty(visit);
    for (const [minute, list] of this.minutes) {
      if ((minute + 1) * 60_000 > closeBeforeMs) continue;
      for (const i of list) if (this.idOf[i] !== FREE && this.minute[i] === minute) this.release(i);
      this.minutes.delete(minute);
    }
  }

  /**
   * The dirty buckets' rows, as drainEach hands them, without closing a minute; with `more`, stopping once it answers
   * false (after one bucket at least), the rest left dirty in order. Ahead of a drain, in slices: a bucket written here
   * and changed again before the drain is written again there, and the later row replaces it (its version, the count,
   * is higher). True once no bucket is dirty.
   */
  drainDirty(visit: ActivityVisit, more?: () => boolean): boolean {
    const list = this.dirty;
    let k = 0;
    while (k < list.length) {
      const i = list[k++];
      if (this.idOf[i] === FREE || this.isDirty[i] === 0) continue; // forgotten since
      this.version[i] = this.events[i];
      this.isDirty[i] = 0;
      visit(this.ids.idOf(this.idOf[i])!, this.typeNames[this.typeOf[i]], this.kindOf[i], this.minute[i] * 60_000, this.events[i], this.revenue[i], this.overloaded[i], this.writer[i], this.version[i]);
      if (more !== undefined && !more()) break;
    }
    // Buckets changed during the visits were pushed onto `list` itself: they stay, after those not visited.
    this.dirty = k === list.length ? [] : list.slice(k);
    return this.dirty.length === 0;
  }

  /**
   * Every open bucket, marked dirty on restore so it is written again (the write is idempotent). The interned ids as
   * the id table writes them and the buckets' arrays as they are, free buckets included (FREE in idOf): no key string
   * per bucket, at a high rate millions are open within the lateness (3,000,000 took ~3 s of the event loop as
   * joined key strings, the layout `load` still reads).
   */
  save(w: SnapshotWriter, name: string): void {
    const n = this.high;
    w.json[`${name}.v3`] = { types: this.typeNames, kinds: this.kinds };
    this.ids.save(w, `${name}.v3.ids`);
    w.array(`${name}.v3.idOf`, this.idOf.subarray(0, n));
    w.array(`${name}.v3.kindOf`, this.kindOf.subarray(0, n));
    w.array(`${name}.v3.typeOf`, this.typeOf.subarray(0, n));
    w.array(`${name}.v3.minute`, this.minute.subarray(0, n));
    w.array(`${name}.v3.events`, this.events.subarray(0, n));
    w.array(`${name}.v3.revenue`, this.revenue.subarray(0, n));
    w.array(`${name}.v3.overloaded`, this.overloaded.subarray(0, n));
    w.array(`${name}.v3.writer`, this.writer.subarray(0, n));
  }

  load(r: SnapshotReader, name: string): void {
    for (let i = 0; i < this.high; i++) if (this.idOf[i] !== FREE) this.release(i);
    this.minutes.clear();
    this.free.length = 0;
    this.dirty = [];
    this.high = 0;
    if (r.has(`${name}.v3.idOf`)) {
      this.loadV3(r, name);
      return;
    }
    const keys = r.strings(`${name}.keys`);
    if (keys === null) {
      // A checkpoint written before `strings`: [key, minuteMs, events, revenue, overloaded, writer][] in the JSON.
      for (const [key, minuteMs, events, revenue, overloaded, writer] of (r.json[name] ?? []) as [string, number, number, number, number, string][]) {
        this.restoreBucket(key, Math.floor(minuteMs / 60_000), events, revenue, overloaded, Number(writer));
      }
      return;
    }
    const minute = r.array(`${name}.minute`, Int32Array)!;
    const events = r.array(`${name}.events`, Float64Array)!;
    const revenue = r.array(`${name}.revenue`, Float64Array)!;
    const overloaded = r.array(`${name}.overloaded`, Float64Array)!;
    const writer = r.array(`${name}.writer`, Float64Array)!;
    for (let k = 0; k < keys.length; k++) this.restoreBucket(keys[k]!, minute[k], events[k], revenue[k], overloaded[k], writer[k]);
  }

  /** What `save` wrote: the ids back in their slots, each bucket reopened under its key, writer and counts. */
  private loadV3(r: SnapshotReader, name: string): void {
    const meta = r.json[`${name}.v3`] as { types: string[]; kinds: string[] | null };
    this.ids.load(r, `${name}.v3.ids`);
    if (this.idRefs.length < this.ids.high) this.idRefs = new Uint32Array(this.ids.high);
    else this.idRefs.fill(0);
    const idOf = r.array(`${name}.v3.idOf`, Int32Array)!;
    const kindOf = r.array(`${name}.v3.kindOf`, Uint8Array)!;
    const typeOf = r.array(`${name}.v3.typeOf`, Int32Array)!;
    const minute = r.array(`${name}.v3.minute`, Int32Array)!;
    const events = r.array(`${name}.v3.events`, Float64Array)!;
    const revenue = r.array(`${name}.v3.revenue`, Float64Array)!;
    const overloaded = r.array(`${name}.v3.overloaded`, Float64Array)!;
    const writer = r.array(`${name}.v3.writer`, Float64Array)!;
    // Room for every bucket at once: no rehash or growth on the way (3,000,000 buckets).
    while (this.minute.length < idOf.length) this.grow();
    if (idOf.length > this.index.length * MAX_LOAD) this.index = new Int32Array(Math.ceil(idOf.length / MAX_LOAD) + 1);
    for (let k = 0; k < idOf.length; k++) {
      const idSlot = idOf[k];
      if (idSlot === FREE || !this.ids.has(idSlot)) continue;
      // Kinds by name, as the joined keys had them: a kind this version does not know has no rows to write.
      const kind = this.kinds === null ? 0 : this.kinds.indexOf(meta.kinds?.[kindOf[k]] ?? '');
      if (kind === -1) continue;
      const type = meta.types[typeOf[k]];
      const t = this.typeIndex.get(type) ?? this.internType(type);
      const found = this.find(idSlot, kind, t, minute[k]);
      const i = found === FREE ? this.open(idSlot, kind, t, minute[k], writer[k]) : found;
      this.events[i] = events[k];
      this.revenue[i] = revenue[k];
      this.overloaded[i] = overloaded[k];
      this.version[i] = events[k];
      this.markDirty(i);
    }
    // Ids whose every bucket was dropped (an unknown kind) leave with them.
    for (let slot = 0; slot < this.ids.high; slot++) if (this.ids.has(slot) && this.idRefs[slot] === 0) this.ids.remove(slot);
  }

  /** Removes every bucket of the id (of any kind): erasure of a customer. */
  forget(id: string): number {
    const idSlot = this.ids.find(id);
    if (idSlot === FREE) return 0;
    let n = 0;
    for (let i = 0; i < this.high && this.idRefs[idSlot] > 0; i++) {
      if (this.idOf[i] !== idSlot) continue;
      this.release(i);
      n++;
    }
    return n;
  }

  /** The joined key of checkpoints and drain(): the type is after the last \0, as it is the only part never holding one. */
  private keyOf(id: string, type: string, kind: number): string {
    return this.kinds === null ? `${id}\u0000${type}` : `${this.kinds[kind]}\u0000${id}\u0000${type}`;
  }

  private restoreBucket(key: string, minute: number, events: number, revenue: number, overloaded: number, writer: number): void {
    const last = key.lastIndexOf('\u0000');
    const type = key.slice(last + 1);
    let kind = 0;
    let id = key.slice(0, Math.max(0, last));
    if (this.kinds !== null) {
      const first = key.indexOf('\u0000');
      kind = this.kinds.indexOf(key.slice(0, first));
      // A kind this version does not know has no rows to write: the bucket is dropped, as its rows would be refused.
      if (first === last || kind === -1) return;
      id = key.slice(first + 1, last);
    }
    const idSlot = this.ids.insert(id);
    const t = this.typeIndex.get(type) ?? this.internType(type);
    const found = this.find(idSlot, kind, t, minute);
    const i = found === FREE ? this.open(idSlot, kind, t, minute, writer) : found;
    this.events[i] = events;
    this.revenue[i] = revenue;
    this.overloaded[i] = overloaded;
    this.version[i] = events;
    this.markDirty(i);
  }

  private internType(type: string): number {
    const t = this.freeTypes.pop() ?? this.typeNames.length;
    this.typeNames[t] = type;
    this.typeRefs[t] = 0;
    this.typeIndex.set(type, t);
    return t;
  }

  private markDirty(i: number): void {
    if (this.isDirty[i] === 1) return;
    this.isDirty[i] = 1;
    this.dirty.push(i);
  }

  private hash(idSlot: number, kind: number, t: number, minute: number): number {
    const h = Math.imul(idSlot, 0x9e3779b1) ^ Math.imul(minute, 0x85ebca6b) ^ Math.imul((t << 3) | kind, 0xc2b2ae35);
    return Math.floor(avalanche(h) * INV_2_32 * this.index.length);
  }

  private find(idSlot: number, kind: number, t: number, minute: number): number {
    const index = this.index;
    for (let b = this.hash(idSlot, kind, t, minute); ; ) {
      const e = index[b];
      if (e === 0) return FREE;
      const i = e - 1;
      if (this.idOf[i] === idSlot && this.minute[i] === minute && this.typeOf[i] === t && this.kindOf[i] === kind) return i;
      if (++b === index.length) b = 0;
    }
  }

  private homeOf(i: number): number {
    return this.hash(this.idOf[i], this.kindOf[i], this.typeOf[i], this.minute[i]);
  }

  private place(i: number): void {
    let b = this.homeOf(i);
    while (this.index[b] !== 0) if (++b === this.index.length) b = 0;
    this.index[b] = i + 1;
  }

  /** A new bucket's index, filed under its key and minute. */
  private open(idSlot: number, kind: number, t: number, minute: number, streamSeq: number): number {
    if (this.count + 1 > this.index.length * MAX_LOAD) this.rehash(this.index.length * 2);
    let i = this.free.pop();
    if (i === undefined) {
      if (this.high === this.minute.length) this.grow();
      i = this.high++;
    }
    if (idSlot >= this.idRefs.length) {
      const refs = new Uint32Array(Math.max(idSlot + 1, this.idRefs.length * 2));
      refs.set(this.idRefs);
      this.idRefs = refs;
    }
    this.idRefs[idSlot]++;
    this.typeRefs[t]++;
    this.idOf[i] = idSlot;
    this.kindOf[i] = kind;
    this.typeOf[i] = t;
    this.minute[i] = minute;
    this.events[i] = 0;
    this.revenue[i] = 0;
    this.overloaded[i] = 0;
    this.writer[i] = streamSeq;
    this.version[i] = 0;
    this.isDirty[i] = 0;
    this.count++;
    this.place(i);
    let list = this.minutes.get(minute);
    if (list === undefined) this.minutes.set(minute, (list = []));
    list.push(i);
    return i;
  }

  /** Frees a bucket: out of the index, its id and type dropped with their last bucket (its minute list entry goes stale). */
  private release(i: number): void {
    const size = this.index.length;
    let at = this.homeOf(i);
    while (this.index[at] !== i + 1) if (++at === size) at = 0;
    for (let j = at + 1 === size ? 0 : at + 1; this.index[j] !== 0; j = j + 1 === size ? 0 : j + 1) {
      const k = this.homeOf(this.index[j] - 1);
      if (at <= j ? at < k && k <= j : at < k || k <= j) continue;
      this.index[at] = this.index[j];
      at = j;
    }
    this.index[at] = 0;
    const idSlot = this.idOf[i];
    if (--this.idRefs[idSlot] === 0) this.ids.remove(idSlot);
    const t = this.typeOf[i];
    if (--this.typeRefs[t] === 0) {
      this.typeIndex.delete(this.typeNames[t]);
      this.freeTypes.push(t);
    }
    this.idOf[i] = FREE;
    this.isDirty[i] = 0;
    this.free.push(i);
    this.count--;
  }

  private rehash(size: number): void {
    this.index = new Int32Array(size);
    for (let i = 0; i < this.high; i++) if (this.idOf[i] !== FREE) this.place(i);
  }

  private grow(): void {
    const n = this.minute.length * 2;
    const grown = <T extends Int32Array | Float64Array | Uint8Array>(a: T, fill?: number): T => {
      const b = new (a.constructor as new (n: number) => T)(n);
      if (fill !== undefined) b.fill(fill);
      b.set(a);
      return b;
    };
    this.idOf = grown(this.idOf, FREE);
    this.kindOf = grown(this.kindOf);
    this.typeOf = grown(this.typeOf);
    this.minute = grown(this.minute);
    this.events = grown(this.events);
    this.revenue = grown(this.revenue);
    this.overloaded = grown(this.overloaded);
    this.writer = grown(this.writer);
    this.version = grown(this.version);
    this.isDirty = grown(this.isDirty);
  }
}
