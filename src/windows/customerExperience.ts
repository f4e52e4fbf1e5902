// Each customer's brand experience state in 16 bytes: decayed P and C evidence (good and bad) in Uint16 fixed point as
// of a reference day, the slow baseline and the last snapshot's index in a byte each, the last two products bought.
import type { SnapshotReader, SnapshotWriter } from '../shared/snapshotCodec.js';
import type { ExperienceEvidence } from './experienceEvidence.js';
import { DAY_MS } from '../shared/clock.js';

/** Evidence in 1/64 of an event: 2 bytes hold up to 1,023.98 decayed events, past where more moves a component (P −0.997). */
const EVIDENCE_SCALE = 64;
const EVIDENCE_MAX = 0xffff;
/** Indices (0–100) in half points, a byte each. */
const INDEX_SCALE = 2;
const NEUTRAL = 50 * INDEX_SCALE;
/** Products a customer's O reads: the latest it bought, and the worst (by others' voice) of those it bought before. */
export const PRODUCTS_PER_CUSTOMER = 2;

export interface ExperienceHalfLives {
  product: number;
  interactive: number;
  baseline: number;
}

/** A customer's experience evidence as of a moment (decayed), with what its O and trend need. */
export interface ExperienceRead {
  pBad: number;
  pGood: number;
  cBad: number;
  cGood: number;
  /** The slow baseline index decayed toward `index` is the caller's (it knows O): as stored, and when (ms). */
  baseline: number;
  baselineAt: number;
  /** False for a customer with no experience evidence yet: index 50, no trend. */
  any: boolean;
  /** Product table slots of the latest product bought and of the worst one bought before it, -1 for none. */
  product1: number;
  product2: number;
}

export function emptyExperienceRead(): ExperienceRead {
  return { pBad: 0, pGood: 0, cBad: 0, cGood: 0, baseline: 50, baselineAt: 0, any: false, product1: -1, product2: -1 };
}

/**
 * Exact decay in event time with one 2-byte time per customer: the values are held as of the start of a reference
 * day, and evidence at time t adds its weight × 2^((t − ref) / halfLife) (more than its weight within that day,
 * less for an event older than it), so a read at any time T is the values × 2^(−(T − ref) / halfLife), exactly the
 * sum of every event's decayed weight. The reference moves forward only when a later day's event arrives: the values
 * are then decayed to it once (one fixed-point rounding per customer per day with evidence).
 */
export class CustomerExperience {
  private pBad: Uint16Array;
  private pGood: Uint16Array;
  private cBad: Uint16Array;
  private cGood: Uint16Array;
  /** Reference day (days since the epoch) of the values above; 0 = no evidence yet. */
  private day: Uint16Array;
  private baseline: Uint8Array;
  private snapshotIndex: Uint8Array;
  /**
   * Product table slot + 1 of the latest product bought, then of the worst (lowest others' voice when it was
   * displaced) of those bought before it; 0 = none. A frequent buyer replaces its latest product within days; the
   * worst is remembered while it stays the worst, so a defective product's voice reaches its buyer for as long as
   * the product is bad (read live from the product table), not just until the next order.
   */
  private products: Uint16Array;
  private readonly lnP: number;
  private readonly lnC: number;
  private readonly lnB: number;

  constructor(capacity: number, halfLives: ExperienceHalfLives) {
    this.pBad = new Uint16Array(capacity);
    this.pGood = new Uint16Array(capacity);
    this.cBad = new Uint16Array(capacity);
    this.cGood = new Uint16Array(capacity);
    this.day = new Uint16Array(capacity);
    this.baseline = new Uint8Array(capacity).fill(NEUTRAL);
    this.snapshotIndex = new Uint8Array(capacity).fill(NEUTRAL);
    this.products = new Uint16Array(capacity * PRODUCTS_PER_CUSTOMER);
    this.lnP = Math.LN2 / halfLives.product;
    this.lnC = Math.LN2 / halfLives.interactive;
    this.lnB = Math.LN2 / halfLives.baseline;
  }

  get bytesPerSlot(): number {
    return this.scalars().reduce((n, [, a]) => n + a.BYTES_PER_ELEMENT, 0) + PRODUCTS_PER_CUSTOMER * this.products.BYTES_PER_ELEMENT;
  }

  /**
   * Folds one event's evidence at `ts` into the customer's values. `productSlot` (≥ 0) is the product table slot of
   * the product it names; a purchase of it makes it the customer's latest product, and the latest before it is kept
   * instead of the one held beside it if `othersOf` (a product slot's voice now, in [−1, 1]) says it is worse.
   * `indexNow(read)` is the index of a read (the caller adds O): the baseline takes it when the reference day moves.
   */
  add(slot: number, ts: number, e: ExperienceEvidence, productSlot: number, indexNow: (r: ExperienceRead) => number, scratch: ExperienceRead, othersOf: (productSlot: number) => number): void {
    const d = Math.floor(ts / DAY_MS);
    const ref = this.day[slot];
    if (ref === 0) this.day[slot] = d;
    else if (d > ref) {
      // The baseline follows the index with its slow half-life: the index as of the new day, before this event.
      this.read(slot, d * DAY_MS, scratch);
      const index = indexNow(scratch);
      const keep = Math.exp(-this.lnB * (d - ref) * DAY_MS);
      this.baseline[slot] = Math.round((index + (this.baseline[slot] / INDEX_SCALE - index) * keep) * INDEX_SCALE);
      this.pBad[slot] = fixed(scratch.pBad);
      this.pGood[slot] = fixed(scratch.pGood);
      this.cBad[slot] = fixed(scratch.cBad);
      this.cGood[slot] = fixed(scratch.cGood);
      this.day[slot] = d;
    }
    const at = ts - this.day[slot] * DAY_MS;
    if (e.pBad !== 0 || e.pGood !== 0) {
      const w = Math.exp(this.lnP * at);
      if (e.pBad !== 0) this.pBad[slot] = fixed(this.pBad[slot] / EVIDENCE_SCALE + e.pBad * w);
      if (e.pGood !== 0) this.pGood[slot] = fixed(this.pGood[slot] / EVIDENCE_SCALE + e.pGood * w);
    }
    if (e.cBad !== 0 || e.cGood !== 0) {
      const w = Math.exp(this.lnC * at);
      if (e.cBad !== 0) this.cBad[slot] = fixed(this.cBad[slot] / EVIDENCE_SCALE + e.cBad * w);
      if (e.cGood !== 0) this.cGood[slot] = fixed(this.cGood[slot] / EVIDENCE_SCALE + e.cGood * w);
    }
    if (e.purchase !== 0 && productSlot >= 0) {
      const i = slot * PRODUCTS_PER_CUSTOMER;
      const latest = this.products[i];
      const held = this.products[i + 1];
      // The same product bought again stays where it is. Another becomes the latest; the one it displaces takes the
      // second place if nothing is held there, if it was the held one's place, or if others say it is worse.
      if (latest !== productSlot + 1) {
        if (held === productSlot + 1 || held === 0 || (latest !== 0 && othersOf(latest - 1) < othersOf(held - 1))) this.products[i + 1] = latest;
        this.products[i] = productSlot + 1;
      }
    }
  }

  /** The customer's evidence decayed to `atMs`, into `into`. */
  read(slot: number, atMs: number, into: ExperienceRead): ExperienceRead {
    const ref = this.day[slot];
    const i = slot * PRODUCTS_PER_CUSTOMER;
    into.product1 = this.products[i] - 1;
    into.product2 = this.products[i + 1] - 1;
    into.baseline = this.baseline[slot] / INDEX_SCALE;
    into.any = ref !== 0;
    if (ref === 0) {
      into.pBad = into.pGood = into.cBad = into.cGood = 0;
      into.baselineAt = atMs;
      return into;
    }
    const dt = atMs - ref * DAY_MS;
    into.baselineAt = ref * DAY_MS;
    const p = Math.exp(-this.lnP * dt) / EVIDENCE_SCALE;
    const c = Math.exp(-this.lnC * dt) / EVIDENCE_SCALE;
    into.pBad = this.pBad[slot] * p;
    into.pGood = this.pGood[slot] * p;
    into.cBad = this.cBad[slot] * c;
    into.cGood = this.cGood[slot] * c;
    return into;
  }

  /** The index of the customer's last experience snapshot row (50 before any). */
  lastSnapshotIndex(slot: number): number {
    return this.snapshotIndex[slot] / INDEX_SCALE;
  }

  markSnapshot(slot: number, index: number): void {
    this.snapshotIndex[slot] = Math.round(Math.min(100, Math.max(0, index)) * INDEX_SCALE);
  }

  clear(slot: number): void {
    for (const [, a, empty] of this.scalars()) a[slot] = empty;
    this.products.fill(0, slot * PRODUCTS_PER_CUSTOMER, (slot + 1) * PRODUCTS_PER_CUSTOMER);
  }

  grow(capacity: number): void {
    const g = <T extends Uint16Array | Uint8Array>(a: T, n: number, fill: number): T => {
      const next = new (a.constructor as new (n: number) => T)(n);
      if (fill !== 0) next.fill(fill);
      next.set(a);
      return next;
    };
    this.pBad = g(this.pBad, capacity, 0);
    this.pGood = g(this.pGood, capacity, 0);
    this.cBad = g(this.cBad, capacity, 0);
    this.cGood = g(this.cGood, capacity, 0);
    this.day = g(this.day, capacity, 0);
    this.baseline = g(this.baseline, capacity, NEUTRAL);
    this.snapshotIndex = g(this.snapshotIndex, capacity, NEUTRAL);
    this.products = g(this.products, capacity * PRODUCTS_PER_CUSTOMER, 0);
  }

  save(w: SnapshotWriter, slots: number): void {
    for (const [name, a] of this.scalars()) w.array(`customers.experience.${name}`, a.subarray(0, slots));
    w.array('customers.experience.products', this.products.subarray(0, slots * PRODUCTS_PER_CUSTOMER));
  }

  /** A checkpoint from before the experience state leaves every customer without evidence (neutral). */
  load(r: SnapshotReader): void {
    for (const [name, a, empty] of this.scalars()) {
      a.fill(empty);
      const saved = r.array(`customers.experience.${name}`, a.constructor as never) as ArrayLike<number> | null;
      if (saved) a.set(saved);
    }
    this.products.fill(0);
    const products = r.array('customers.experience.products', Uint16Array);
    if (products) this.products.set(products);
  }

  private scalars(): [string, Uint16Array | Uint8Array, number][] {
    return [
      ['pBad', this.pBad, 0],
      ['pGood', this.pGood, 0],
      ['cBad', this.cBad, 0],
      ['cGood', this.cGood, 0],
      ['day', this.day, 0],
      ['baseline', this.baseline, NEUTRAL],
      ['snapshotIndex', this.snapshotIndex, NEUTRAL],
    ];
  }
}

function fixed(v: number): number {
  return Math.min(EVIDENCE_MAX, Math.round(v * EVIDENCE_SCALE));
}
