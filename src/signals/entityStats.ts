// Channel, segment and campaign aggregates: touches, overloaded customers, negatives, and surges against a moving baseline.
import type { OverloadCell } from '../contract/frames.js';
import type { SnapshotReader, SnapshotWriter } from '../shared/snapshotCodec.js';
import { BucketRing } from '../windows/bucketRing.js';

export type EntityKind = 'channel' | 'segment' | 'campaign';

export interface SurgeOptions {
  /** Least negatives in the surge window before a z-score is reported. */
  minVolume: number;
  baselineHalfLifeMs: number;
  bucketMs: number;
}

export interface EntitySignal {
  kind: EntityKind;
  key: string;
  touches24h: number;
  overloadedCustomers: number;
  negatives1h: number;
  events1h: number;
  /** Negatives in the last SURGE_BUCKETS buckets. */
  surgeVolume: number;
  /** (volume − expected) / sd from the moving baseline; 0 until the baseline has warmed up or below minVolume. */
  surgeZ: number;
  baselinePerBucket: number;
}

/** What one minute of an entity's events counts toward, as `record()` would count them one by one. */
export interface EntityCounts {
  events: number;
  touches: number;
  negatives: number;
  overloaded: number;
}

/** The surge window, in buckets: long enough to smooth a single noisy minute, short enough to see a burst. */
export const SURGE_BUCKETS = 5;
/** Buckets of history before a baseline is trusted: a new campaign's first complaints are not a surge. */
export const WARMUP_BUCKETS = 30;

export class EntityStats {
  /**
   * Slot by key, a map per kind: a lookup takes the event's own key string (no `kind + key` string built and hashed
   * for each of an event's three entities).
   */
  private readonly slots = new Map<EntityKind, Map<string, number>>();
  private readonly keys: ({ kind: EntityKind; key: string } | null)[] = [];
  private readonly free: number[] = [];
  /** Entities dropped at the bound, least recently active first. */
  evicted = 0;
  private capacity = 64;
  private head = new Int32Array(this.capacity);
  private mean = new Float64Array(this.capacity);
  private variance = new Float64Array(this.capacity);
  private observed = new Uint32Array(this.capacity);
  private readonly touches = new BucketRing(120, 12, Float32Array, this.capacity);
  private readonly overloaded = new BucketRing(120, 12, Float32Array, this.capacity);
  private readonly negatives = new BucketRing(10, 6, Float32Array, this.capacity);
  private readonly events = new BucketRing(10, 6, Float32Array, this.capacity);
  private readonly surge: BucketRing;
  private readonly rings: BucketRing[];
  private readonly alpha: number;
  private readonly surgeWidthMin: number;

  constructor(
    private readonly opts: SurgeOptions,
    /** Bound on channels, segments and campaigns held: a flood of made-up campaign ids cannot exhaust memory. */
    private readonly maxEntities = 100_000,
  ) {
    this.surgeWidthMin = Math.max(1, Math.round(opts.bucketMs / 60_000));
    this.surge = new BucketRing(this.surgeWidthMin, SURGE_BUCKETS + 1, Float32Array, this.capacity);
    this.rings = [this.touches, this.overloaded, this.negatives, this.events, this.surge];
    // EWMA weight per bucket from the half-life: after one half-life of buckets an old count weighs half.
    this.alpha = 1 - Math.pow(2, -(this.surgeWidthMin * 60_000) / Math.max(1, opts.baselineHalfLifeMs));
  }

  get size(): number {
    let n = 0;
    for (const m of this.slots.values()) n += m.size;
    return n;
  }

  private slotsOf(kind: EntityKind): Map<string, number> {
    let m = this.slots.get(kind);
    if (m === undefined) this.slots.set(kind, (m = new Map()));
    return m;
  }

  /** Records one event for an entity; `touch`, `negative` and `overloaded` say what it counts toward. Returns its slot. */
  record(kind: EntityKind, key: string, tMin: number, what: { touch?: boolean; negative?: boolean; overloaded?: boolean }): number {
    return this.add(kind, key, tMin, 1, what.touch ? 1 : 0, what.negative ? 1 : 0, what.overloaded ? 1 : 0);
  }

  /** `record()` for many events of one minute at once: how the cluster folds other partitions' minute buckets in. */
  addCounts(kind: EntityKind, key: string, tMin: number, counts: EntityCounts): void {
    // Zero events are no record() at all: moving the head would fold a zero into the baseline, not decay it.
    if (counts.events === 0 && counts.touches === 0 && counts.negatives === 0 && counts.overloaded === 0) return;
    this.add(kind, key, tMin, counts.events, counts.touches, counts.negatives, counts.overloaded);
  }

  // Positional, so the per-event record() allocates nothing; record() and addCounts() share it and cannot drift.
  private add(kind: EntityKind, key: string, tMin: number, events: number, touches: number, negatives: number, overloaded: number): number {
    const slot = this.slotFor(kind, key, tMin);
    this.moveHead(slot, tMin);
    const h = this.head[slot];
    if (events !== 0) this.events.add(slot, h, tMin, events);
    if (touches !== 0) this.touches.add(slot, h, tMin, touches);
    if (overloaded !== 0) this.overloaded.add(slot, h, tMin, overloaded);
    if (negatives !== 0) {
      this.negatives.add(slot, h, tMin, negatives);
      this.surge.add(slot, h, tMin, negatives);
    }
    return slot;
  }

  signal(kind: EntityKind, key: string, nowMin: number): EntitySignal | null {
    const slot = this.slots.get(kind)?.get(key);
    return slot === undefined ? null : this.signalOf(slot, nowMin);
  }

  /** The signal of the entity in `slot`, or null when the slot holds none now (evicted since). */
  signalAt(slot: number, nowMin: number): EntitySignal | null {
    return slot < this.keys.length && this.keys[slot] !== null ? this.signalOf(slot, nowMin) : null;
  }

  all(nowMin: number): EntitySignal[] {
    // In slot order: the same after a checkpoint's restore, which keeps slots, as before it.
    const out: EntitySignal[] = [];
    for (let slot = 0; slot < this.keys.length; slot++) if (this.keys[slot] !== null) out.push(this.signalOf(slot, nowMin));
    return out;
  }

  /** The wall's overload cells: every channel and campaign with something to show. */
  overloadCells(nowMin: number): OverloadCell[] {
    return this.all(nowMin)
      .filter((s) => s.kind !== 'segment' || s.negatives1h > 0)
      .filter((s) => s.touches24h > 0 || s.negatives1h > 0 || s.overloadedCustomers > 0)
      .map((s) => ({ kind: s.kind, key: s.key, touches24h: s.touches24h, overloadedCustomers: s.overloadedCustomers, negatives1h: s.negatives1h, surgeZ: s.surgeZ }));
  }

  save(w: SnapshotWriter): void {
    const n = this.keys.length;
    w.json.entities = { keys: this.keys };
    w.array('entities.head', this.head.subarray(0, n));
    w.array('entities.mean', this.mean.subarray(0, n));
    w.array('entities.variance', this.variance.subarray(0, n));
    w.array('entities.observed', this.observed.subarray(0, n));
    this.rings.forEach((ring, i) => ring.save(w, `entities.ring${i}`, n));
  }

  load(r: SnapshotReader): void {
    const meta = r.json.entities as { keys: ({ kind: EntityKind; key: string } | null)[] } | undefined;
    if (!meta) return;
    while (this.capacity < meta.keys.length) this.grow();
    this.keys.length = 0;
    this.free.length = 0;
    this.slots.clear();
    meta.keys.forEach((k, slot) => {
      this.keys.push(k);
      if (k === null) this.free.push(slot);
      else this.slotsOf(k.kind).set(k.key, slot);
    });
    this.head.set(r.array('entities.head', Int32Array) ?? []);
    this.mean.set(r.array('entities.mean', Float64Array) ?? []);
    this.variance.set(r.array('entities.variance', Float64Array) ?? []);
    this.observed.set(r.array('entities.observed', Uint32Array) ?? []);
    this.rings.forEach((ring, i) => ring.load(r, `entities.ring${i}`, this.capacity));
  }

  private signalOf(slot: number, nowMin: number): EntitySignal {
    const h = this.head[slot];
    const { kind, key } = this.keys[slot]!;
    // Bring the baseline up to `nowMin` without touching state: quiet buckets since the head count as zeros.
    const currentBucket = Math.floor(nowMin / this.surgeWidthMin);
    const quiet = Math.max(0, currentBucket - Math.floor(h / this.surgeWidthMin));
    const decay = Math.pow(1 - this.alpha, Math.min(quiet, 10_000));
    const mean = this.mean[slot] * decay;
    const variance = this.variance[slot] * decay;
    const volume = this.surge.sum(slot, h, nowMin, SURGE_BUCKETS);
    const expected = mean * SURGE_BUCKETS;
    // Poisson floor on the spread: a baseline of zeros must not turn one complaint into an infinite z.
    const sd = Math.sqrt(SURGE_BUCKETS * Math.max(variance, mean, 1 / SURGE_BUCKETS));
    const warm = this.observed[slot] + quiet >= WARMUP_BUCKETS;
    const surgeZ = warm && volume >= this.opts.minVolume ? (volume - expected) / sd : 0;
    return {
      kind,
      key,
      touches24h: this.touches.sum(slot, h, nowMin),
      overloadedCustomers: this.overloaded.sum(slot, h, nowMin),
      negatives1h: this.negatives.sum(slot, h, nowMin),
      events1h: this.events.sum(slot, h, nowMin),
      surgeVolume: volume,
      surgeZ,
      baselinePerBucket: mean,
    };
  }

  /** Folds the surge buckets the head leaves behind into the baseline, then moves every ring's head. */
  private moveHead(slot: number, tMin: number): void {
    const old = this.head[slot];
    if (tMin <= old) return;
    const from = Math.floor(old / this.surgeWidthMin);
    const to = Math.floor(tMin / this.surgeWidthMin);
    if (to > from) {
      const closed = this.surge.sum(slot, old, old, 1);
      this.fold(slot, closed);
      const quiet = Math.min(to - from - 1, 10_000);
      if (quiet > 0) {
        const decay = Math.pow(1 - this.alpha, quiet);
        this.mean[slot] *= decay;
        this.variance[slot] *= decay;
        this.observed[slot] += quiet;
      }
    }
    for (const ring of this.rings) ring.advance(slot, old, tMin);
    this.head[slot] = tMin;
  }

  private fold(slot: number, v: number): void {
    const a = this.alpha;
    const diff = v - this.mean[slot];
    this.mean[slot] += a * diff;
    this.variance[slot] = (1 - a) * (this.variance[slot] + a * diff * diff);
    this.observed[slot]++;
  }

  private slotFor(kind: EntityKind, key: string, tMin: number): number {
    const m = this.slotsOf(kind);
    let slot = m.get(key);
    if (slot !== undefined) return slot;
    if (this.size >= this.maxEntities) this.evictOldest();
    slot = this.free.pop();
    if (slot === undefined) {
      slot = this.keys.length;
      if (slot === this.capacity) this.grow();
      this.keys.push(null);
    }
    this.keys[slot] = { kind, key };
    m.set(key, slot);
    this.head[slot] = tMin;
    return slot;
  }

  /** Sampled LRU, as for customers: of 16 random live entities, the one whose latest event is oldest goes. */
  private evictOldest(): void {
    let victim = -1;
    for (let tries = 0; tries < 64 && (victim === -1 || tries < 16); tries++) {
      const s = Math.floor(Math.random() * this.keys.length);
      if (this.keys[s] !== null && (victim === -1 || this.head[s] < this.head[victim])) victim = s;
    }
    if (victim === -1) return;
    const k = this.keys[victim]!;
    this.slots.get(k.kind)?.delete(k.key);
    this.keys[victim] = null;
    for (const ring of this.rings) ring.clear(victim);
    this.head[victim] = 0;
    this.mean[victim] = 0;
    this.variance[victim] = 0;
    this.observed[victim] = 0;
    this.free.push(victim);
    this.evicted++;
  }

  private grow(): void {
    this.capacity *= 2;
    const g = <T extends Int32Array | Float64Array | Uint32Array>(a: T): T => {
      const n = new (a.constructor as new (n: number) => T)(this.capacity);
      n.set(a);
      return n;
    };
    this.head = g(this.head);
    this.mean = g(this.mean);
    this.variance = g(this.variance);
    this.observed = g(this.observed);
    for (const ring of this.rings) ring.grow(this.capacity);
  }
}
