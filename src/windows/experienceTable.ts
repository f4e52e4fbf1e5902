// Brand experience per product (or per segment): decayed purchases, problems by kind, service evidence, ratings and
// others' voice, with a slow baseline, in one Float64Array keyed by an id table; bounded, least recently seen evicted.
import { IdTable } from '../shared/idTable.js';
import type { SnapshotReader, SnapshotWriter } from '../shared/snapshotCodec.js';
import { aggregateExperience, aggregateIndex, aggregateVolume, othersComponent, voiceWeight, type AggregateEvidence, type AggregateExperience, type ExperienceParams } from '../signals/experience.js';
import type { ExperienceEvidence } from './experienceEvidence.js';

// Fields of a slot, FIELDS apart. REF: the time (ms) the values are as of; BORN: when its key took the slot; BASE
// and WARM: the slow baseline as a debiased moving average of the index (BASE / WARM), as of REF.
const REF = 0;
const BORN = 1;
const BASE = 2;
// Decayed with the product half-life.
const P_BAD = 3;
const P_GOOD = 4;
const BUYERS = 5;
const REFUNDS = 6;
const RETURNS = 7;
const DEFECTS = 8;
// With the interactive half-life.
const C_BAD = 9;
const C_GOOD = 10;
// With the others' half-life.
const O_BAD = 11;
const O_GOOD = 12;
const R_SUM = 13;
const R_COUNT = 14;
/** How much of the baseline is history (1 − the product of its keeps): dividing by it debiases a young key's baseline. */
const WARM = 15;
const FIELDS = 16;
const NEUTRAL = 50;

export function emptyAggregate(): AggregateEvidence {
  return { pBad: 0, pGood: 0, cBad: 0, cGood: 0, oBad: 0, oGood: 0, ratingSum: 0, ratings: 0, buyers: 0, refunds: 0, returns: 0, defects: 0, baseline: NEUTRAL };
}

/** What other customers say of a product now: its O component and its ratings. */
export interface Voice {
  others: number;
  /** Its confidence (evidence against the prior). */
  weight: number;
  ratingMean: number;
  ratings: number;
  /** When the product took its slot (ms): a customer's memory of the slot from before then names another product. */
  bornAt: number;
}

/**
 * Exact decay in event time: each slot's values are held as of REF (its latest event); an event at t ≥ REF first
 * decays them to t (and moves the baseline toward the index then), an older one adds its weight × 2^(−(REF − t) / h).
 * Float64 per field: at most `maxEntries` slots (10,000 products: 1.2 MB), so exactness costs nothing per customer.
 */
export class ExperienceTable {
  private readonly ids: IdTable;
  private data: Float64Array;
  /** 1 when the slot had evidence since its last snapshot row (rowsDue). */
  private touched: Uint8Array;
  private capacity: number;
  private readonly ln: Float64Array;
  /** Keys dropped at the bound, least recently seen first. */
  evicted = 0;
  private readonly scratch = emptyAggregate();

  constructor(
    readonly kind: 'product' | 'segment',
    private readonly params: ExperienceParams,
    private readonly maxEntries: number,
    /** Told the slot of a key dropped at the bound before the slot is reused. */
    private readonly onEvict?: (slot: number) => void,
  ) {
    this.capacity = Math.min(64, maxEntries);
    this.ids = new IdTable({ initialSlots: this.capacity });
    this.data = new Float64Array(this.capacity * FIELDS);
    this.touched = new Uint8Array(this.capacity);
    const hl = params.halfLifeMs;
    // Decay rates per field: P fields the product half-life, C the interactive, O the others', the baseline its own.
    this.ln = new Float64Array(FIELDS);
    for (let f = P_BAD; f <= DEFECTS; f++) this.ln[f] = Math.LN2 / hl.product;
    this.ln[C_BAD] = this.ln[C_GOOD] = Math.LN2 / hl.interactive;
    for (let f = O_BAD; f <= R_COUNT; f++) this.ln[f] = Math.LN2 / hl.others;
  }

  get size(): number {
    return this.ids.size;
  }

  find(key: string): number {
    return this.ids.find(key);
  }

  keyOf(slot: number): string | undefined {
    return this.ids.idOf(slot);
  }

  /** Folds one event's evidence at `ts` into the key's aggregates; returns its slot. */
  record(key: string, ts: number, e: ExperienceEvidence): number {
    let slot = this.ids.find(key);
    if (slot === -1) slot = this.insert(key, ts);
    const d = this.data;
    const o = slot * FIELDS;
    const ref = d[o + REF];
    if (ts > ref) {
      // The baseline follows the index with its own half-life: it takes the index as of ts, before this event.
      const index = aggregateIndex(this.readInto(slot, ts, this.scratch), this.params.prior);
      const keep = this.baselineKeep(ts - ref);
      d[o + BASE] = keep * d[o + BASE] + (1 - keep) * index;
      d[o + WARM] = keep * d[o + WARM] + (1 - keep);
      for (let f = P_BAD; f < FIELDS; f++) d[o + f] *= Math.exp(-this.ln[f] * (ts - ref));
      d[o + REF] = ts;
    }
    const back = Math.min(0, ts - d[o + REF]);
    const wp = back === 0 ? 1 : Math.exp(this.ln[P_BAD] * back);
    const wc = back === 0 ? 1 : Math.exp(this.ln[C_BAD] * back);
    const wo = back === 0 ? 1 : Math.exp(this.ln[O_BAD] * back);
    d[o + P_BAD] += e.pBad * wp;
    d[o + P_GOOD] += e.pGood * wp;
    d[o + BUYERS] += e.purchase * wp;
    if (e.problem === 'refund') d[o + REFUNDS] += wp;
    else if (e.problem === 'return') d[o + RETURNS] += wp;
    else if (e.problem === 'defect') d[o + DEFECTS] += wp;
    d[o + C_BAD] += e.cBad * wc;
    d[o + C_GOOD] += e.cGood * wc;
    d[o + O_BAD] += e.oBad * wo;
    d[o + O_GOOD] += e.oGood * wo;
    if (e.rating !== 0) {
      d[o + R_SUM] += e.rating * wo;
      d[o + R_COUNT] += wo;
    }
    this.touched[slot] = 1;
    return slot;
  }

  /**
   * The slot's aggregates decayed to `atMs`, into `into`, with the baseline as of then: the moving average taking the
   * index then for the time since REF (so a quiet product's trend fades to 0), divided by its warmth, so a product
   * a month old compares against its month, not against a neutral 50 it never was.
   */
  readInto(slot: number, atMs: number, into: AggregateEvidence): AggregateEvidence {
    const d = this.data;
    const o = slot * FIELDS;
    const dt = atMs - d[o + REF];
    const p = Math.exp(-this.ln[P_BAD] * dt);
    const c = Math.exp(-this.ln[C_BAD] * dt);
    const w = Math.exp(-this.ln[O_BAD] * dt);
    into.pBad = d[o + P_BAD] * p;
    into.pGood = d[o + P_GOOD] * p;
    into.buyers = d[o + BUYERS] * p;
    into.refunds = d[o + REFUNDS] * p;
    into.returns = d[o + RETURNS] * p;
    into.defects = d[o + DEFECTS] * p;
    into.cBad = d[o + C_BAD] * c;
    into.cGood = d[o + C_GOOD] * c;
    into.oBad = d[o + O_BAD] * w;
    into.oGood = d[o + O_GOOD] * w;
    into.ratingSum = d[o + R_SUM] * w;
    into.ratings = d[o + R_COUNT] * w;
    into.baseline = NEUTRAL;
    const index = aggregateIndex(into, this.params.prior);
    const keep = this.baselineKeep(dt);
    const warm = keep * d[o + WARM] + (1 - keep);
    into.baseline = warm > 0 ? (keep * d[o + BASE] + (1 - keep) * index) / warm : index;
    return into;
  }

  /** The key's experience now (its reasons built): for a rule's sample, a snapshot row, a wall cell. */
  signalAt(slot: number, atMs: number): AggregateExperience | null {
    const key = this.ids.idOf(slot);
    return key === undefined ? null : aggregateExperience(this.kind, key, this.readInto(slot, atMs, emptyAggregate()), this.params.prior);
  }

  signal(key: string, atMs: number): AggregateExperience | null {
    const slot = this.ids.find(key);
    return slot === -1 ? null : this.signalAt(slot, atMs);
  }

  /** What others say of the product in `slot` now (a customer's O), or null for a free slot. */
  voice(slot: number, atMs: number, into: Voice): Voice | null {
    if (!this.ids.has(slot)) return null;
    const a = this.readInto(slot, atMs, this.scratch);
    into.others = othersComponent(a.ratingSum, a.ratings, a.oGood, a.oBad, this.params.prior);
    into.weight = voiceWeight(a, this.params.prior);
    into.ratingMean = a.ratings > 0 ? a.ratingSum / a.ratings : 0;
    into.ratings = a.ratings;
    into.bornAt = this.data[slot * FIELDS + BORN];
    return into;
  }

  /** The `n` lowest indices now among keys with at least `minVolume`, the worst first. */
  worst(n: number, atMs: number, minVolume: number): AggregateExperience[] {
    const picked: { slot: number; index: number }[] = [];
    for (let slot = 0, high = this.ids.high; slot < high; slot++) {
      if (!this.ids.has(slot)) continue;
      const a = this.readInto(slot, atMs, this.scratch);
      if (aggregateVolume(a) < minVolume) continue;
      const index = aggregateIndex(a, this.params.prior);
      if (picked.length === n && index >= picked[n - 1].index) continue;
      picked.push({ slot, index });
      picked.sort((x, y) => x.index - y.index);
      if (picked.length > n) picked.pop();
    }
    return picked.map((p) => this.signalAt(p.slot, atMs)!);
  }

  /** Every key with evidence since its last row, once: visited (slot, its latest event time), then no longer due. */
  rowsDue(visit: (slot: number, latestTs: number) => void): void {
    for (let slot = 0, high = this.ids.high; slot < high; slot++) {
      if (this.touched[slot] === 0) continue;
      this.touched[slot] = 0;
      if (this.ids.has(slot)) visit(slot, this.data[slot * FIELDS + REF]);
    }
  }

  save(w: SnapshotWriter, name: string): void {
    const n = this.ids.high;
    this.ids.save(w, `${name}.ids`);
    w.array(`${name}.data`, this.data.subarray(0, n * FIELDS));
    w.array(`${name}.touched`, this.touched.subarray(0, n));
  }

  /** A checkpoint from before the table leaves it empty: products come back with their next events. */
  load(r: SnapshotReader, name: string): void {
    this.ids.clear();
    this.data.fill(0);
    this.touched.fill(0);
    if (!r.has(`${name}.data`)) return;
    this.ids.load(r, `${name}.ids`);
    this.ensure(this.ids.high);
    this.data.set(r.array(`${name}.data`, Float64Array) ?? []);
    this.touched.set(r.array(`${name}.touched`, Uint8Array) ?? []);
  }

  private baselineKeep(dt: number): number {
    return Math.exp((-Math.LN2 / this.params.halfLifeMs.baseline) * Math.max(0, dt));
  }

  private insert(key: string, ts: number): number {
    if (this.ids.size >= this.maxEntries) this.evictOldest();
    const slot = this.ids.insert(key);
    this.ensure(slot + 1);
    const o = slot * FIELDS;
    this.data.fill(0, o, o + FIELDS);
    this.data[o + REF] = ts;
    this.data[o + BORN] = ts;
    this.touched[slot] = 0;
    return slot;
  }

  /** Sampled LRU, as for customers and entities: of 16 random live keys, the one whose latest event is oldest goes. */
  private evictOldest(): void {
    let victim = -1;
    const high = this.ids.high;
    for (let tries = 0; tries < 64 && (victim === -1 || tries < 16); tries++) {
      const s = Math.floor(Math.random() * high);
      if (this.ids.has(s) && (victim === -1 || this.data[s * FIELDS + REF] < this.data[victim * FIELDS + REF])) victim = s;
    }
    for (let s = 0; victim === -1 && s < high; s++) if (this.ids.has(s)) victim = s;
    if (victim === -1) return;
    this.onEvict?.(victim);
    this.ids.remove(victim);
    this.data.fill(0, victim * FIELDS, (victim + 1) * FIELDS);
    this.touched[victim] = 0;
    this.evicted++;
  }

  private ensure(slots: number): void {
    if (slots <= this.capacity) return;
    const capacity = Math.min(Math.max(slots, this.capacity * 2), Math.max(slots, this.maxEntries));
    const data = new Float64Array(capacity * FIELDS);
    data.set(this.data);
    const touched = new Uint8Array(capacity);
    touched.set(this.touched);
    this.data = data;
    this.touched = touched;
    this.capacity = capacity;
  }
}
