// Per-minute activity counts for ClickHouse, written cumulatively so retries and rewrites never double a count.
import type { SnapshotReader, SnapshotWriter } from '../shared/snapshotCodec.js';

const INITIAL = 1024;

export interface ActivityBucket {
  /** Joined key fields, e.g. customer id and event type; split by the row builder. */
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
  writer: bigint;
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
 * A bucket is an index into parallel typed arrays, not an object: there is one per key (customer and type) and
 * minute, so millions are open at once at a high rate, and objects would cost the collector on every event.
 */
export class MinuteActivity {
  /**
   * Open buckets by minute, then by key: a drain closes a minute by dropping its map whole (unlinking buckets one by
   * one from per-key lists cost more than counting them), and an event finds its bucket in one lookup.
   */
  private readonly minutes = new Map<number, Map<string, number>>();
  /** The map of the minute the last event fell in: nearly every event falls in the same one as the one before. */
  private lastMinute = Number.NaN;
  private lastMap: Map<string, number> | null = null;
  private keyOf: (string | undefined)[] = [];
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

  get size(): number {
    return this.count;
  }

  add(key: string, tsMs: number, revenue: number, streamSeq: number, overloaded = false): void {
    const minute = Math.floor(tsMs / 60_000);
    const buckets = minute === this.lastMinute ? this.lastMap! : this.minuteMap(minute);
    let i = buckets.get(key);
    if (i === undefined) {
      i = this.open(key, minute, streamSeq);
      buckets.set(key, i);
    }
    this.events[i]++;
    this.revenue[i] += revenue;
    if (overloaded) this.overloaded[i]++;
    this.markDirty(i);
  }

  /** Dirty buckets to write now (their version bumped), and closed buckets dropped: minute end before `closeBeforeMs`. */
  drain(closeBeforeMs: number): ActivityBucket[] {
    const out: ActivityBucket[] = [];
    this.drainEach(closeBeforeMs, (key, minuteMs, events, revenue, overloaded, writer, version) => out.push({ key, minuteMs, events, revenue, overloaded, writer, version, dirty: false }));
    return out;
  }

  /** As drain, handing each bucket's fields to `visit` instead of an object per bucket (the processor's path). */
  drainEach(closeBeforeMs: number, visit: (key: string, minuteMs: number, events: number, revenue: number, overloaded: number, writer: bigint, version: number) => void): void {
    for (const i of this.dirty) {
      if (this.keyOf[i] === undefined || this.isDirty[i] === 0) continue; // forgotten since
      this.version[i] = this.events[i];
      this.isDirty[i] = 0;
      visit(this.keyOf[i]!, this.minute[i] * 60_000, this.events[i], this.revenue[i], this.overloaded[i], BigInt(this.writer[i]), this.version[i]);
    }
    this.dirty = [];
    for (const [minute, buckets] of this.minutes) {
      if ((minute + 1) * 60_000 > closeBeforeMs) continue;
      for (const i of buckets.values()) this.release(i);
      this.minutes.delete(minute);
      if (minute === this.lastMinute) {
        this.lastMinute = Number.NaN;
        this.lastMap = null;
      }
    }
  }

  /**
   * Every open bucket, marked dirty on restore so it is written again (the write is idempotent). As arrays and one
   * block of keys: at a high rate millions are open within the lateness.
   */
  save(w: SnapshotWriter, name: string): void {
    const keys: string[] = [];
    const minute = new Int32Array(this.count);
    const events = new Float64Array(this.count);
    const revenue = new Float64Array(this.count);
    const overloaded = new Float64Array(this.count);
    const writer = new Float64Array(this.count);
    for (let i = 0, k = 0; i < this.high; i++) {
      const key = this.keyOf[i];
      if (key === undefined) continue;
      keys.push(key);
      minute[k] = this.minute[i];
      events[k] = this.events[i];
      revenue[k] = this.revenue[i];
      overloaded[k] = this.overloaded[i];
      writer[k++] = this.writer[i];
    }
    w.strings(`${name}.keys`, keys);
    w.array(`${name}.minute`, minute);
    w.array(`${name}.events`, events);
    w.array(`${name}.revenue`, revenue);
    w.array(`${name}.overloaded`, overloaded);
    w.array(`${name}.writer`, writer);
  }

  load(r: SnapshotReader, name: string): void {
    this.minutes.clear();
    this.lastMinute = Number.NaN;
    this.lastMap = null;
    this.keyOf = [];
    this.free.length = 0;
    this.dirty = [];
    this.high = 0;
    this.count = 0;
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

  private restoreBucket(key: string, minute: number, events: number, revenue: number, overloaded: number, writer: number): void {
    const i = this.open(key, minute, writer);
    this.minuteMap(minute).set(key, i);
    this.events[i] = events;
    this.revenue[i] = revenue;
    this.overloaded[i] = overloaded;
    this.version[i] = events;
    this.markDirty(i);
  }

  /** Removes every bucket whose key starts with the prefix (erasure of a customer). */
  forget(prefix: string): number {
    let n = 0;
    for (const buckets of this.minutes.values()) {
      for (const [key, i] of buckets) {
        if (!key.startsWith(prefix)) continue;
        buckets.delete(key);
        this.release(i);
        n++;
      }
    }
    return n;
  }

  private minuteMap(minute: number): Map<string, number> {
    let buckets = this.minutes.get(minute);
    if (buckets === undefined) this.minutes.set(minute, (buckets = new Map()));
    this.lastMinute = minute;
    this.lastMap = buckets;
    return buckets;
  }

  private markDirty(i: number): void {
    if (this.isDirty[i] === 1) return;
    this.isDirty[i] = 1;
    this.dirty.push(i);
  }

  /** A new bucket's index (the caller files it under its minute and key). */
  private open(key: string, minute: number, streamSeq: number): number {
    let i = this.free.pop();
    if (i === undefined) {
      if (this.high === this.minute.length) this.grow();
      i = this.high++;
    }
    this.keyOf[i] = key;
    this.minute[i] = minute;
    this.events[i] = 0;
    this.revenue[i] = 0;
    this.overloaded[i] = 0;
    this.writer[i] = streamSeq;
    this.version[i] = 0;
    this.isDirty[i] = 0;
    this.count++;
    return i;
  }

  /** Frees a bucket's index (the caller has taken it out of its minute's map). */
  private release(i: number): void {
    this.keyOf[i] = undefined;
    this.isDirty[i] = 0;
    this.free.push(i);
    this.count--;
  }

  private grow(): void {
    const n = this.minute.length * 2;
    const grown = <T extends Int32Array | Float64Array | Uint8Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(n);
      b.set(a);
      return b;
    };
    this.minute = grown(this.minute);
    this.events = grown(this.events);
    this.revenue = grown(this.revenue);
    this.overloaded = grown(this.overloaded);
    this.writer = grown(this.writer);
    this.version = grown(this.version);
    this.isDirty = grown(this.isDirty);
  }
}
