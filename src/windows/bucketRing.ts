// Event-time bucket rings for many owners packed in one typed array: no object per bucket, O(1) updates.

import { sharedArray } from '../shared/sharedArrays.js';
import type { SnapshotReader, SnapshotWriter } from '../shared/snapshotCodec.js';

/** Modulo that stays non-negative, so minutes before a slot's first bucket still map into the ring. */
function mod(i: number, n: number): number {
  const r = i % n;
  return r < 0 ? r + n : r;
}

export type RingArray = Float32Array | Uint16Array | Uint8Array;
export type RingArrayCtor = Float32ArrayConstructor | Uint16ArrayConstructor | Uint8ArrayConstructor;

/** What CustomerWindows and EntityStats need of a ring, whichever way its buckets are stored. */
export interface Ring {
  readonly widthMin: number;
  readonly buckets: number;
  readonly bytesPerSlot: number;
  grow(capacity: number): void;
  advance(slot: number, oldHeadMin: number, newHeadMin: number): void;
  add(slot: number, headMin: number, tMin: number, amount: number): boolean;
  sum(slot: number, headMin: number, nowMin: number, n?: number): number;
  series(slot: number, headMin: number, nowMin: number, n?: number, into?: number[]): number[];
  /** The first stored value of a slot's buckets, read only to bring its cache line in (CustomerWindows.view). */
  touch(slot: number): number;
  /** The buckets of every slot, on a SharedArrayBuffer: what a reader in another thread is handed (adopt()). */
  readonly array: RingArray;
  /** Reads (and writes) `data` from now on: a reader's ring over an owner's array. */
  adopt(data: RingArray): this;
  save(w: SnapshotWriter, name: string, slots: number): void;
  load(r: SnapshotReader, name: string, capacity: number): void;
  /** Restores buckets a checkpoint holds in another storage (an earlier layout): each value converted, saturating. */
  loadConverted(r: SnapshotReader, name: string, capacity: number, saved: RingArrayCtor, savedScale: number): void;
  clear(slot: number): void;
}

/**
 * `buckets` buckets of `widthMin` minutes each, per owner slot. A slot's buckets are anchored at its
 * latest event minute (`head`, kept by the caller), so a bucket's absolute index is derived, never stored.
 * The window at minute `now` covers the `n` most recent bucket indices up to floor(now / width).
 */
export class BucketRing implements Ring {
  private data: RingArray;
  private readonly max: number;

  constructor(
    readonly widthMin: number,
    readonly buckets: number,
    private readonly ctor: RingArrayCtor,
    capacity: number,
    /**
     * Fixed point for integer storage: amounts are kept as round(amount × scale), so a Uint16Array with scale 16 holds
     * weights in sixteenths up to 4095.9 per bucket in half the bytes of a Float32Array.
     */
    private readonly scale = 1,
  ) {
    this.data = sharedArray(ctor, capacity * buckets);
    // Integer rings saturate instead of wrapping: a count can stop at its ceiling, never fall to zero.
    this.max = ctor === Float32Array ? Number.POSITIVE_INFINITY : ctor === Uint16Array ? 0xffff : 0xff;
  }

  get bytesPerSlot(): number {
    return this.buckets * this.ctor.BYTES_PER_ELEMENT;
  }

  touch(slot: number): number {
    return this.data[slot * this.buckets];
  }

  get array(): RingArray {
    return this.data;
  }

  adopt(data: RingArray): this {
    this.data = data;
    return this;
  }

  grow(capacity: number): void {
    const next = sharedArray(this.ctor, capacity * this.buckets);
    next.set(this.data);
    this.data = next;
  }

  /** Clears the buckets a slot's head passes over when it moves from `oldHeadMin` to `newHeadMin`. */
  advance(slot: number, oldHeadMin: number, newHeadMin: number): void {
    const from = Math.floor(oldHeadMin / this.widthMin);
    const to = Math.floor(newHeadMin / this.widthMin);
    if (to <= from) return;
    const base = slot * this.buckets;
    const steps = Math.min(to - from, this.buckets);
    for (let i = 1; i <= steps; i++) this.data[base + (mod(from + i, this.buckets))] = 0;
  }

  /** Adds `amount` at event minute `tMin`; false when the minute is older than the ring reaches. */
  add(slot: number, headMin: number, tMin: number, amount: number): boolean {
    const idx = Math.floor(tMin / this.widthMin);
    const head = Math.floor(headMin / this.widthMin);
    if (idx <= head - this.buckets || idx > head) return false;
    const at = slot * this.buckets + mod(idx, this.buckets);
    const v = this.data[at] + (this.scale === 1 ? amount : Math.round(amount * this.scale));
    this.data[at] = v > this.max ? this.max : v;
    return true;
  }

  /** Sum of the `n` most recent buckets as of minute `nowMin` (n defaults to the whole ring). */
  sum(slot: number, headMin: number, nowMin: number, n = this.buckets): number {
    const head = Math.floor(headMin / this.widthMin);
    const newest = Math.floor(nowMin / this.widthMin);
    const from = Math.max(newest - n + 1, head - this.buckets + 1);
    const to = Math.min(head, newest);
    if (to < from) return 0;
    const base = slot * this.buckets;
    // One modulo for the first bucket, then a wrapping position: this runs many times per event.
    let at = mod(from, this.buckets);
    let total = 0;
    for (let k = to - from; k >= 0; k--) {
      total += this.data[base + at];
      if (++at === this.buckets) at = 0;
    }
    return this.scale === 1 ? total : total / this.scale;
  }

  /**
   * The `n` most recent buckets as of `nowMin`, oldest first (zeros where nothing happened); for trends. Fills
   * `into` when given (the live path reuses one array), else a new array.
   */
  series(slot: number, headMin: number, nowMin: number, n = this.buckets, into: number[] = new Array<number>(n)): number[] {
    const head = Math.floor(headMin / this.widthMin);
    const newest = Math.floor(nowMin / this.widthMin);
    const base = slot * this.buckets;
    into.length = n;
    for (let k = 0, idx = newest - n + 1; k < n; k++, idx++) {
      into[k] = idx > head || idx <= head - this.buckets ? 0 : this.data[base + mod(idx, this.buckets)] / this.scale;
    }
    return into;
  }

  /** Copies the buckets of the first `slots` owner slots into a checkpoint. */
  save(w: SnapshotWriter, name: string, slots: number): void {
    w.array(name, this.data.subarray(0, slots * this.buckets));
  }

  /** Restores what `save` wrote, into a ring of `capacity` slots. */
  load(r: SnapshotReader, name: string, capacity: number): void {
    const saved = r.array(name, this.ctor as unknown as Parameters<SnapshotReader['array']>[1]);
    this.data = sharedArray(this.ctor, capacity * this.buckets);
    if (saved) this.data.set(saved as unknown as ArrayLike<number>);
  }

  loadConverted(r: SnapshotReader, name: string, capacity: number, saved: RingArrayCtor, savedScale: number): void {
    const old = r.array(name, saved as unknown as Parameters<SnapshotReader['array']>[1]) as unknown as ArrayLike<number> | null;
    this.data = sharedArray(this.ctor, capacity * this.buckets);
    if (!old) return;
    for (let i = 0; i < old.length; i++) {
      const v = this.ctor === Float32Array ? (old[i] / savedScale) * this.scale : Math.round((old[i] / savedScale) * this.scale);
      this.data[i] = v > this.max ? this.max : v;
    }
  }

  clear(slot: number): void {
    this.data.fill(0, slot * this.buckets, (slot + 1) * this.buckets);
  }
}

/**
 * Counts of 0 to 15 per bucket, two buckets to a byte: touches and negative events per customer, where a count past
 * 15 in one bucket (15 emails in two hours) is far over any cap already. Saturates at 15, as BucketRing at its type's
 * ceiling; same bucket arithmetic as BucketRing.
 */
export class NibbleRing implements Ring {
  private data: Uint8Array;
  private readonly stride: number;

  constructor(
    readonly widthMin: number,
    readonly buckets: number,
    capacity: number,
  ) {
    this.stride = (buckets + 1) >> 1;
    this.data = sharedArray(Uint8Array, capacity * this.stride);
  }

  get bytesPerSlot(): number {
    return this.stride;
  }

  touch(slot: number): number {
    return this.data[slot * this.stride];
  }

  get array(): Uint8Array {
    return this.data;
  }

  adopt(data: RingArray): this {
    this.data = data as Uint8Array;
    return this;
  }

  private get(base: number, i: number): number {
    const b = this.data[base + (i >> 1)];
    return i & 1 ? b >> 4 : b & 15;
  }

  private set(base: number, i: number, v: number): void {
    const at = base + (i >> 1);
    this.data[at] = i & 1 ? (this.data[at] & 0x0f) | (v << 4) : (this.data[at] & 0xf0) | v;
  }

  grow(capacity: number): void {
    const next = sharedArray(Uint8Array, capacity * this.stride);
    next.set(this.data);
    this.data = next;
  }

  advance(slot: number, oldHeadMin: number, newHeadMin: number): void {
    const from = Math.floor(oldHeadMin / this.widthMin);
    const to = Math.floor(newHeadMin / this.widthMin);
    if (to <= from) return;
    const base = slot * this.stride;
    const steps = Math.min(to - from, this.buckets);
    for (let i = 1; i <= steps; i++) this.set(base, mod(from + i, this.buckets), 0);
  }

  add(slot: number, headMin: number, tMin: number, amount: number): boolean {
    const idx = Math.floor(tMin / this.widthMin);
    const head = Math.floor(headMin / this.widthMin);
    if (idx <= head - this.buckets || idx > head) return false;
    const base = slot * this.stride;
    const i = mod(idx, this.buckets);
    const v = this.get(base, i) + amount;
    this.set(base, i, v > 15 ? 15 : v);
    return true;
  }

  sum(slot: number, headMin: number, nowMin: number, n = this.buckets): number {
    const head = Math.floor(headMin / this.widthMin);
    const newest = Math.floor(nowMin / this.widthMin);
    const from = Math.max(newest - n + 1, head - this.buckets + 1);
    const to = Math.min(head, newest);
    if (to < from) return 0;
    const base = slot * this.stride;
    let at = mod(from, this.buckets);
    let total = 0;
    for (let k = to - from; k >= 0; k--) {
      total += this.get(base, at);
      if (++at === this.buckets) at = 0;
    }
    return total;
  }

  series(slot: number, headMin: number, nowMin: number, n = this.buckets, into: number[] = new Array<number>(n)): number[] {
    const head = Math.floor(headMin / this.widthMin);
    const newest = Math.floor(nowMin / this.widthMin);
    const base = slot * this.stride;
    into.length = n;
    for (let k = 0, idx = newest - n + 1; k < n; k++, idx++) into[k] = idx > head || idx <= head - this.buckets ? 0 : this.get(base, mod(idx, this.buckets));
    return into;
  }

  save(w: SnapshotWriter, name: string, slots: number): void {
    w.array(name, this.data.subarray(0, slots * this.stride));
  }

  load(r: SnapshotReader, name: string, capacity: number): void {
    const saved = r.array(name, Uint8Array);
    this.data = sharedArray(Uint8Array, capacity * this.stride);
    if (saved) this.data.set(saved);
  }

  loadConverted(r: SnapshotReader, name: string, capacity: number, saved: RingArrayCtor, savedScale: number): void {
    const old = r.array(name, saved as unknown as Parameters<SnapshotReader['array']>[1]) as unknown as ArrayLike<number> | null;
    this.data = sharedArray(Uint8Array, capacity * this.stride);
    if (!old) return;
    for (let i = 0; i < old.length; i++) {
      const slot = Math.floor(i / this.buckets);
      const v = Math.round(old[i] / savedScale);
      this.set(slot * this.stride, i % this.buckets, v > 15 ? 15 : v);
    }
  }

  clear(slot: number): void {
    this.data.fill(0, slot * this.stride, (slot + 1) * this.stride);
  }
}
