// Per-customer live state: sliding event-time windows over 5 min, 1 h, 24 h and 7 days, packed in typed arrays.
// Over 400 lines on purpose: it is the hot path, one slot index into fields of one class (record, view, eviction,
// growth and the snapshot all walk the same arrays); split into classes per field group, each event would pay an
// indirection per group, and growth and the snapshot would have to reach into every one of them.
// The arrays and the id table are on SharedArrayBuffers, written inside sequence locks (shared/sharedArrays.ts), so
// that another thread reads what the contact budget needs without waiting for this one (share(), windowsReader.ts).
import { categoryOf, RESPONSE_TYPES, touchChannel, type VigilEvent } from '../contract/event.js';
import type { SnapshotReader, SnapshotWriter } from '../shared/snapshotCodec.js';
import { BucketRing, NibbleRing, type Ring, type RingArrayCtor } from './bucketRing.js';
import { IdTable, type IdTableArrays } from '../shared/idTable.js';
import { bump, endStructure, GENERATION, grownShared, sharedArray, STRUCTURE, stripeOf, versionWords } from '../shared/sharedArrays.js';
import { DAY_MS } from '../shared/clock.js';
import { CustomerExperience, emptyExperienceRead, type ExperienceHalfLives, type ExperienceRead } from './customerExperience.js';
import type { ExperienceEvidence } from './experienceEvidence.js';

export const TOUCH_CHANNELS = ['email', 'push', 'sms', 'other'] as const;
export type TouchChannel = (typeof TOUCH_CHANNELS)[number];

export const NEGATIVE_KINDS = ['unsubscribe', 'complaint', 'support_ticket', 'payment_failed', 'refund', 'cancel_subscription', 'other'] as const;
export type NegativeKind = (typeof NEGATIVE_KINDS)[number];

const NONE = -1;
/** Engagement weights are kept in sixteenths (exact for the default weights, halves to fives). */
const ENGAGEMENT_SCALE = 16;
/** Storage of each ring, in `rings` order, in checkpoints written before the packed layout (`customers.ringN`). */
const FIRST_LAYOUT: [RingArrayCtor, number][] = [
  ...Array.from({ length: 4 }, (): [RingArrayCtor, number] => [Float32Array, 1]),
  ...Array.from({ length: 10 }, (): [RingArrayCtor, number] => [Uint8Array, 1]),
  [Uint16Array, 1],
];
const FLAG_CONSENT_WITHDRAWN = 1;
/**
 * A quarter more when full, not double nor half again: the arrays hold every customer, so slack is bytes per customer
 * (at most 25 %, 11 % on average); the copies this costs add up to 4 × the final size, once, as customers arrive.
 */
const GROWTH = 1.25;
/** A score moved past the snapshot step inside the snapshot interval: its row is owed at the next checkpoint. */
const FLAG_SNAPSHOT_OWED = 2;
/** The last snapshot's scores in Uint16 fixed point, 1/4096 a unit (0 to 16): 2 bytes a score instead of 4 or 8. */
const SCORE_SCALE = 4096;
const SCORE_MAX = 0xffff / SCORE_SCALE;
/** The scores a snapshot keeps, in the order of `snapshotScores` (engagement as a fraction: score / 100). */
export const SNAPSHOT_SCORES = ['engagement', 'churnRisk', 'fatigue', 'pAlive'] as const;
/** A customer with no snapshot yet compares against the scores of one with no events: all 0, P(alive) 1. */
const SCORE_BASELINE = [0, 0, 0, 1];

/** A plain read of one customer's windows at a moment; what the signal functions take. */
export interface CustomerView {
  customerId: string;
  nowMin: number;
  headMin: number;
  engagement: { m5: number; h1: number; h24: number; d7: number };
  /** Weighted engagement per day, oldest first, the last entry being today. */
  engagementDaily: number[];
  touches24h: Record<TouchChannel, number>;
  touches7d: Record<TouchChannel, number>;
  responses7d: number;
  negatives24h: number;
  negatives7d: number;
  purchases: number;
  revenue: number;
  /** Value of the first purchase (the earliest by event time): revenue minus it is the repeat purchases' spend. */
  firstPurchaseValue: number;
  firstPurchaseMin: number | null;
  lastPurchaseMin: number | null;
  lastResponseMin: number | null;
  lastNegative: { kind: NegativeKind; min: number } | null;
  consentWithdrawn: boolean;
  /** The segment the customer's latest event with one named (its purchase model's), or null. */
  segment: string | null;
  /** Brand experience evidence decayed to `nowMin` (customerExperience.ts); O is read from the product table. */
  experience: ExperienceRead;
}

/** A view with nothing in it, to be filled by CustomerWindows.view. */
export function emptyView(): CustomerView {
  return {
    customerId: '',
    nowMin: 0,
    headMin: 0,
    engagement: { m5: 0, h1: 0, h24: 0, d7: 0 },
    engagementDaily: [],
    touches24h: { email: 0, push: 0, sms: 0, other: 0 },
    touches7d: { email: 0, push: 0, sms: 0, other: 0 },
    responses7d: 0,
    negatives24h: 0,
    negatives7d: 0,
    purchases: 0,
    revenue: 0,
    firstPurchaseValue: 0,
    firstPurchaseMin: null,
    lastPurchaseMin: null,
    lastResponseMin: null,
    lastNegative: null,
    consentWithdrawn: false,
    segment: null,
    experience: emptyExperienceRead(),
  };
}

export interface CustomerWindowsOptions {
  initialCapacity?: number;
  maxCustomers: number;
  idleEvictMin: number;
  /** Half-lives of the brand experience evidence (signals.experience.halfLifeMs); the defaults' when absent. */
  experience?: ExperienceHalfLives;
}

/**
 * What a reader in another thread is handed of the windows (CustomerWindows.share, WindowsReader): the id table and
 * the arrays the contact budget reads, all on SharedArrayBuffers, the zone names, and the version words that say
 * when a read raced a write (sharedArrays.ts). A new one is handed over whenever the arrays are replaced; its
 * `generation` is the value the generation word takes once it is.
 */
export interface SharedWindows {
  generation: number;
  versions: Int32Array;
  ids: IdTableArrays;
  head: Int32Array;
  lastResponse: Int32Array;
  lastNegative: Int32Array;
  lastNegativeKind: Uint8Array;
  zone: Uint16Array;
  /** Per TOUCH_CHANNELS: NibbleRing(120, 12) and NibbleRing(1440, 7) buckets. */
  touch24h: Uint8Array[];
  touch7d: Uint8Array[];
  /** BucketRing(1440, 7, Uint8Array). */
  resp7d: Uint8Array;
  zones: string[];
}

export { NONE as NO_MINUTE };

const DEFAULT_HALF_LIVES: ExperienceHalfLives = { product: 14 * DAY_MS, interactive: 7 * DAY_MS, baseline: 60 * DAY_MS };

export class CustomerWindows {
  /** Customer id to slot, in typed arrays: no JS string or Map entry per customer for the collector to walk. */
  private readonly ids: IdTable;
  private capacity: number;
  /** Customers evicted at the maxCustomers bound and for being idle, since start. */
  readonly evictions = { bound: 0, idle: 0 };

  // One anchor per customer: the latest event minute; every ring derives its buckets' indices from it.
  private head: Int32Array;
  private firstPurchase: Int32Array;
  /** Milliseconds of the first purchase within its minute: orders purchases that arrive out of order in that minute. */
  private firstPurchaseMs: Uint16Array;
  /** A single purchase's value: Float32 keeps it to 7 significant digits in half the bytes (the model's spend input). */
  private firstPurchaseValue: Float32Array;
  private lastPurchase: Int32Array;
  private purchases: Uint32Array;
  private revenue: Float64Array;
  private lastResponse: Int32Array;
  private lastNegative: Int32Array;
  private lastNegativeKind: Uint8Array;
  private flags: Uint8Array;
  private snapshotMin: Int32Array;
  /** The last snapshot's scores (SNAPSHOT_SCORES), fixed point: what the snapshot step compares against. */
  private snapshotScores: Uint16Array[];
  /** Milliseconds of the latest event within the head minute: the latest event time without 8 bytes per customer. */
  private headMs: Uint16Array;
  /** The customer's time zone as an index into `zones` (0 = none seen): 2 bytes instead of a string per customer. */
  private zone: Uint16Array;
  private zones: string[] = [''];
  private readonly zoneIndex = new Map<string, number>();
  /** The customer's segment as an index into `segments` (0 = none seen), as the zone: the purchase model's key. */
  private segment: Uint16Array;
  private segments: string[] = [''];
  private readonly segmentIndex = new Map<string, number>();

  private readonly eng5m: Ring;
  private readonly eng1h: Ring;
  private readonly eng24h: Ring;
  private readonly engDaily: Ring;
  private readonly touch24h: Ring[];
  private readonly touch7d: Ring[];
  private readonly neg24h: Ring;
  private readonly neg7d: Ring;
  private readonly resp7d: Ring;
  private readonly rings: Ring[];
  /** Brand experience evidence per slot (16 bytes), kept, grown, cleared and saved with the rest. */
  readonly experience: CustomerExperience;
  /**
   * Generation, structure lock and stripes (sharedArrays.ts): a write to a slot's values is inside its stripe, an
   * insert, removal, growth or load inside the structure lock, and the generation moves once the arrays are replaced.
   */
  private readonly versions = versionWords();
  private readonly sharers: ((s: SharedWindows) => void)[] = [];

  constructor(private readonly opts: CustomerWindowsOptions) {
    this.capacity = Math.max(16, Math.min(opts.initialCapacity ?? 1024, opts.maxCustomers));
    const c = this.capacity;
    this.ids = new IdTable({ initialSlots: c, growth: GROWTH });
    this.head = sharedArray(Int32Array, c);
    this.firstPurchase = sharedArray(Int32Array, c, NONE);
    this.firstPurchaseMs = sharedArray(Uint16Array, c);
    this.firstPurchaseValue = sharedArray(Float32Array, c);
    this.lastPurchase = sharedArray(Int32Array, c, NONE);
    this.purchases = sharedArray(Uint32Array, c);
    this.revenue = sharedArray(Float64Array, c);
    this.lastResponse = sharedArray(Int32Array, c, NONE);
    this.lastNegative = sharedArray(Int32Array, c, NONE);
    this.lastNegativeKind = sharedArray(Uint8Array, c);
    this.flags = sharedArray(Uint8Array, c);
    this.snapshotMin = sharedArray(Int32Array, c, NONE);
    this.snapshotScores = SCORE_BASELINE.map((b) => sharedArray(Uint16Array, c, b * SCORE_SCALE));
    this.headMs = sharedArray(Uint16Array, c);
    this.zone = sharedArray(Uint16Array, c);
    this.segment = sharedArray(Uint16Array, c);
    // Engagement in sixteenths of a weight, 2 bytes a bucket (up to 4095.9 per bucket, where the score has long saturated).
    this.eng5m = new BucketRing(1, 5, Uint16Array, c, ENGAGEMENT_SCALE);
    this.eng1h = new BucketRing(10, 6, Uint16Array, c, ENGAGEMENT_SCALE);
    this.eng24h = new BucketRing(120, 12, Uint16Array, c, ENGAGEMENT_SCALE);
    // 14 daily buckets: the 7-day window is the last 7, the trend reads all 14.
    this.engDaily = new BucketRing(1440, 14, Uint16Array, c, ENGAGEMENT_SCALE);
    // Touch and negative counts in half a byte a bucket (saturating at 15): 4 channels × 19 buckets in 40 bytes.
    this.touch24h = TOUCH_CHANNELS.map(() => new NibbleRing(120, 12, c));
    this.touch7d = TOUCH_CHANNELS.map(() => new NibbleRing(1440, 7, c));
    this.neg24h = new NibbleRing(120, 12, c);
    this.neg7d = new NibbleRing(1440, 7, c);
    this.resp7d = new BucketRing(1440, 7, Uint8Array, c);
    this.rings = [this.eng5m, this.eng1h, this.eng24h, this.engDaily, ...this.touch24h, ...this.touch7d, this.neg24h, this.neg7d, this.resp7d];
    this.experience = new CustomerExperience(c, opts.experience ?? DEFAULT_HALF_LIVES);
  }

  get size(): number {
    return this.ids.size;
  }

  /** Bytes of typed-array state per customer slot: the windows, and the id table with its share of the id bytes. */
  get bytesPerSlot(): number {
    return this.rings.reduce((n, r) => n + r.bytesPerSlot, 0) + this.scalars().reduce((n, [, a]) => n + a.BYTES_PER_ELEMENT, 0) + this.experience.bytesPerSlot + this.ids.bytesPerSlot;
  }

  find(customerId: string): number {
    return this.ids.find(customerId);
  }

  /** The slot of the customer whose id is the UTF-8 `bytes[start, end)`, or -1; without making a string. */
  findUtf8(bytes: Uint8Array, start: number, end: number): number {
    return this.ids.findUtf8(bytes, start, end);
  }

  /** Every customer held now (each id decoded: for cold paths). */
  customerIds(): IterableIterator<string> {
    return this.ids.ids();
  }

  /** The customer id of a slot, decoded (a new string: for cold paths), or undefined for a free slot. */
  idOf(slot: number): string | undefined {
    return this.ids.idOf(slot);
  }

  /** Whether the slot holds this customer (not evicted or erased since), without decoding its id. */
  holds(slot: number, customerId: string): boolean {
    return this.ids.holds(slot, customerId);
  }

  /** The slot of a customer, creating it; at the bound, the least recently active of a sample is evicted first. */
  slotFor(customerId: string, evicted?: (id: string) => void): number {
    const existing = this.ids.find(customerId);
    if (existing !== NONE) return existing;
    let id: string | undefined;
    let slot: number;
    this.beginStructure();
    try {
      if (this.ids.size >= this.opts.maxCustomers) {
        const victim = this.sampleOldest();
        id = this.ids.idOf(victim)!;
        this.removeSlot(victim);
        this.evictions.bound++;
      }
      slot = this.ids.insert(customerId);
      if (slot >= this.capacity) this.grow(Math.max(slot + 1, Math.min(Math.ceil(this.capacity * GROWTH), this.opts.maxCustomers)));
      this.head[slot] = 0;
      this.headMs[slot] = 0;
    } finally {
      // Even when the insert throws (an id over the table's bytes): a lock left odd would hold every reader.
      this.endStructure();
    }
    if (id !== undefined) evicted?.(id);
    return slot;
  }

  /** Folds one event into the customer's windows. Returns false when its minute is older than every window. */
  record(slot: number, ev: VigilEvent, weight: number): boolean {
    const stripe = stripeOf(slot);
    bump(this.versions, stripe);
    try {
      return this.fold(slot, ev, weight);
    } finally {
      bump(this.versions, stripe);
    }
  }

  private fold(slot: number, ev: VigilEvent, weight: number): boolean {
    const tMin = Math.floor(ev.ts / 60_000);
    const head = this.head[slot];
    const msInHead = Math.floor(ev.ts) - tMin * 60_000;
    if (tMin > head) {
      for (const ring of this.rings) ring.advance(slot, head, tMin);
      this.head[slot] = tMin;
      this.headMs[slot] = msInHead;
    } else if (tMin === head && msInHead > this.headMs[slot]) this.headMs[slot] = msInHead;
    const h = this.head[slot];
    const category = categoryOf(ev.type);
    let landed = false;
    if (weight > 0 && category !== 'touch' && category !== 'negative' && category !== 'privacy') {
      landed = this.engDaily.add(slot, h, tMin, weight);
      this.eng24h.add(slot, h, tMin, weight);
      this.eng1h.add(slot, h, tMin, weight);
      this.eng5m.add(slot, h, tMin, weight);
    }
    if (category === 'purchase') {
      this.purchases[slot]++;
      this.revenue[slot] += ev.value ?? 0;
      const msInMinute = Math.floor(ev.ts) - tMin * 60_000;
      const first = this.firstPurchase[slot];
      if (first === NONE || tMin < first || (tMin === first && msInMinute < this.firstPurchaseMs[slot])) {
        this.firstPurchase[slot] = tMin;
        this.firstPurchaseMs[slot] = msInMinute;
        this.firstPurchaseValue[slot] = ev.value ?? 0;
      }
      if (tMin > this.lastPurchase[slot]) this.lastPurchase[slot] = tMin;
      landed = true;
    } else if (category === 'touch') {
      const ch = TOUCH_CHANNELS.indexOf(touchChannel(ev.type, ev.channel) as TouchChannel);
      const i = ch === -1 ? TOUCH_CHANNELS.length - 1 : ch;
      landed = this.touch7d[i].add(slot, h, tMin, 1);
      this.touch24h[i].add(slot, h, tMin, 1);
    } else if (category === 'negative') {
      landed = this.neg7d.add(slot, h, tMin, 1);
      this.neg24h.add(slot, h, tMin, 1);
      if (tMin >= this.lastNegative[slot]) {
        this.lastNegative[slot] = tMin;
        const k = NEGATIVE_KINDS.indexOf(ev.type as NegativeKind);
        this.lastNegativeKind[slot] = k === -1 ? NEGATIVE_KINDS.length - 1 : k;
      }
    }
    if (RESPONSE_TYPES.has(ev.type)) {
      this.resp7d.add(slot, h, tMin, 1);
      if (tMin > this.lastResponse[slot]) this.lastResponse[slot] = tMin;
    }
    return landed || category === 'privacy' || category === 'experience' || category === 'other';
  }

  /**
   * Folds an event's brand experience evidence (already read from it) into the customer's; `productSlot` is the
   * product it names in the product table (-1: none), `indexNow` the index of a read with O added (the baseline's).
   */
  recordExperience(slot: number, ts: number, e: ExperienceEvidence, productSlot: number, indexNow: (r: ExperienceRead) => number, othersOf: (productSlot: number) => number): void {
    this.experience.add(slot, ts, e, productSlot, indexNow, this.experienceScratch, othersOf);
  }
  private readonly experienceScratch = emptyExperienceRead();

  setConsentWithdrawn(slot: number, withdrawn: boolean): void {
    this.flags[slot] = withdrawn ? this.flags[slot] | FLAG_CONSENT_WITHDRAWN : this.flags[slot] & ~FLAG_CONSENT_WITHDRAWN;
  }

  /** The event-time minute of the customer's last signal snapshot written to ClickHouse, or null. */
  lastSnapshotMin(slot: number): number | null {
    return this.snapshotMin[slot] === NONE ? null : this.snapshotMin[slot];
  }

  /** Records a snapshot written at event minute `min` with its scores (SNAPSHOT_SCORES order); nothing owed after it. */
  markSnapshot(slot: number, min: number, scores?: ArrayLike<number>): void {
    this.snapshotMin[slot] = min;
    if (scores) for (let i = 0; i < SNAPSHOT_SCORES.length; i++) this.snapshotScores[i][slot] = Math.round(Math.min(SCORE_MAX, Math.max(0, scores[i])) * SCORE_SCALE);
    this.flags[slot] &= ~FLAG_SNAPSHOT_OWED;
  }

  /** The largest move of a score (SNAPSHOT_SCORES order) since the last snapshot, or since no events for a customer without one. */
  snapshotMove(slot: number, scores: ArrayLike<number>): number {
    let move = 0;
    for (let i = 0; i < SNAPSHOT_SCORES.length; i++) {
      const now = Math.min(SCORE_MAX, Math.max(0, scores[i]));
      move = Math.max(move, Math.abs(now - this.snapshotScores[i][slot] / SCORE_SCALE));
    }
    return move;
  }

  /** Marks (or clears) a snapshot owed at the next checkpoint: a move past the step came inside the interval. */
  setSnapshotOwed(slot: number, owed: boolean): void {
    this.flags[slot] = owed ? this.flags[slot] | FLAG_SNAPSHOT_OWED : this.flags[slot] & ~FLAG_SNAPSHOT_OWED;
  }

  snapshotOwed(slot: number): boolean {
    return (this.flags[slot] & FLAG_SNAPSHOT_OWED) !== 0;
  }

  /** Slots visitSnapshotOwed has visited so far: how many owed rows were paid (a checkpoint's preparation reads it). */
  owedVisits = 0;

  /**
   * The live slots with a snapshot owed, from slot `from` on, while `more()` (asked after each visit) says so: a scan
   * of one byte per slot (a millisecond at 1 M). Returns the slot to go on from, or -1 once the scan reached the end.
   * The arrays are read afresh at every call, so a scan spread over turns of the event loop survives their growth.
   */
  visitSnapshotOwed(from: number, visit: (slot: number) => void, more: () => boolean = () => true): number {
    const flags = this.flags;
    for (let slot = from, high = this.ids.high; slot < high; slot++) {
      if ((flags[slot] & FLAG_SNAPSHOT_OWED) === 0 || !this.ids.has(slot)) continue;
      this.owedVisits++;
      visit(slot);
      if (!more()) return slot + 1;
    }
    return -1;
  }

  /** The customer's latest event minute (its windows' anchor). */
  headMin(slot: number): number {
    return this.head[slot];
  }

  /** The time of the customer's latest event (by event time) in milliseconds. */
  latestTs(slot: number): number {
    return this.head[slot] * 60_000 + this.headMs[slot];
  }

  consentWithdrawn(slot: number): boolean {
    return (this.flags[slot] & FLAG_CONSENT_WITHDRAWN) !== 0;
  }

  /** Records the customer's time zone (a name the caller has validated); false when the table of names is full. */
  setZone(slot: number, name: string): boolean {
    let i = this.zoneIndex.get(name);
    if (i === undefined) {
      if (this.zones.length > 0xffff) return false;
      i = this.zones.length;
      this.zones.push(name);
      this.zoneIndex.set(name, i);
      // Readers learn the name before any slot holds its index.
      this.reshare();
    }
    this.zone[slot] = i;
    return true;
  }

  /** The customer's time zone name, or null when no event carried one. */
  zoneOf(slot: number): string | null {
    return this.zone[slot] === 0 ? null : this.zones[this.zone[slot]];
  }

  /** Records the customer's segment; false when the table of names is full (the customer keeps its last one). */
  setSegment(slot: number, name: string): boolean {
    // Most events repeat the customer's segment: a compare, not a hash of the event's fresh string.
    if (this.segment[slot] !== 0 && this.segments[this.segment[slot]] === name) return true;
    let i = this.segmentIndex.get(name);
    if (i === undefined) {
      if (this.segments.length > 0xffff) return false;
      i = this.segments.length;
      this.segments.push(name);
      this.segmentIndex.set(name, i);
    }
    this.segment[slot] = i;
    return true;
  }

  /** The customer's segment, or null when no event named one. */
  segmentOf(slot: number): string | null {
    return this.segment[slot] === 0 ? null : this.segments[this.segment[slot]];
  }

  /**
   * Touches per bucket as of `nowMin`, oldest first: 12 × 2 h over 24 h and 7 × 1 day over 7 days. The contact
   * budget reads them to say when a window's count falls back under an allowance.
   */
  touchBuckets(slot: number, channel: TouchChannel, nowMin: number): { h24: number[]; d7: number[] } {
    const i = TOUCH_CHANNELS.indexOf(channel);
    const h = this.head[slot];
    return { h24: this.touch24h[i].series(slot, h, nowMin), d7: this.touch7d[i].series(slot, h, nowMin) };
  }

  /**
   * Touches per channel (indexed as TOUCH_CHANNELS) in 24 h and in 7 days as of `nowMin`, written into `h24` and
   * `d7`: the budget's per-touch check reads these sums without building the bucket series.
   */
  touchSums(slot: number, nowMin: number, h24: Float64Array, d7: Float64Array): void {
    const h = this.head[slot];
    for (let i = 0; i < TOUCH_CHANNELS.length; i++) {
      h24[i] = this.touch24h[i].sum(slot, h, nowMin);
      d7[i] = this.touch7d[i].sum(slot, h, nowMin);
    }
  }

  /** The kind of the last negative event, or null; lastNegativeOf() without building an object. */
  lastNegativeKindOf(slot: number): NegativeKind | null {
    return this.lastNegative[slot] === NONE ? null : NEGATIVE_KINDS[this.lastNegativeKind[slot]];
  }

  /** The minute of the last negative event, or null. */
  lastNegativeMinOf(slot: number): number | null {
    return this.lastNegative[slot] === NONE ? null : this.lastNegative[slot];
  }

  /** Responses (opens, clicks) in the last 7 days as of `nowMin`. */
  responses7d(slot: number, nowMin: number): number {
    return this.resp7d.sum(slot, this.head[slot], nowMin);
  }

  lastResponseMin(slot: number): number | null {
    return this.lastResponse[slot] === NONE ? null : this.lastResponse[slot];
  }

  lastNegativeOf(slot: number): { kind: NegativeKind; min: number } | null {
    const kind = this.lastNegativeKindOf(slot);
    return kind === null ? null : { kind, min: this.lastNegative[slot] };
  }

  /** Touches on one channel in the last 24 hours as of `nowMin` (the hot check of the fatigue signal). */
  touches24h(slot: number, channel: TouchChannel, nowMin: number): number {
    return this.touch24h[TOUCH_CHANNELS.indexOf(channel)].sum(slot, this.head[slot], nowMin);
  }

  /**
   * A plain read of the customer's windows as of `nowMin`. With `into`, that view is filled in place and returned:
   * the pipeline reads one customer per event and reuses one view, so reading allocates nothing.
   */
  view(slot: number, nowMin: number, into?: CustomerView, customerId?: string): CustomerView {
    const v = into ?? emptyView();
    const h = this.head[slot];
    this.touched = this.touchAll(slot);
    // The caller that has the id (every event) passes it: decoding it from the table would make a string per event.
    v.customerId = customerId ?? this.ids.idOf(slot)!;
    v.nowMin = nowMin;
    v.headMin = h;
    v.engagement.m5 = this.eng5m.sum(slot, h, nowMin);
    v.engagement.h1 = this.eng1h.sum(slot, h, nowMin);
    v.engagement.h24 = this.eng24h.sum(slot, h, nowMin);
    v.engagement.d7 = this.engDaily.sum(slot, h, nowMin, 7);
    this.engDaily.series(slot, h, nowMin, this.engDaily.buckets, v.engagementDaily);
    for (let i = 0; i < TOUCH_CHANNELS.length; i++) {
      v.touches24h[TOUCH_CHANNELS[i]] = this.touch24h[i].sum(slot, h, nowMin);
      v.touches7d[TOUCH_CHANNELS[i]] = this.touch7d[i].sum(slot, h, nowMin);
    }
    v.responses7d = this.resp7d.sum(slot, h, nowMin);
    v.negatives24h = this.neg24h.sum(slot, h, nowMin);
    v.negatives7d = this.neg7d.sum(slot, h, nowMin);
    v.purchases = this.purchases[slot];
    v.revenue = this.revenue[slot];
    v.firstPurchaseValue = this.firstPurchaseValue[slot];
    v.firstPurchaseMin = this.firstPurchase[slot] === NONE ? null : this.firstPurchase[slot];
    v.lastPurchaseMin = this.lastPurchase[slot] === NONE ? null : this.lastPurchase[slot];
    v.lastResponseMin = this.lastResponse[slot] === NONE ? null : this.lastResponse[slot];
    if (this.lastNegative[slot] === NONE) v.lastNegative = null;
    else {
      const kind = NEGATIVE_KINDS[this.lastNegativeKind[slot]];
      // A view given to fill keeps its lastNegative object too.
      if (into && v.lastNegative) {
        v.lastNegative.kind = kind;
        v.lastNegative.min = this.lastNegative[slot];
      } else v.lastNegative = { kind, min: this.lastNegative[slot] };
    }
    v.consentWithdrawn = this.consentWithdrawn(slot);
    v.segment = this.segment[slot] === 0 ? null : this.segments[this.segment[slot]];
    this.experience.read(slot, nowMin * 60_000, v.experience);
    return v;
  }

  /** What touchAll() read last: kept so that the reads are not optimised away. */
  private touched = 0;

  /**
   * Reads one value of each ring and of each per-customer field that view() reads for the slot, back to back before
   * any of its sums: at 1,000,000 customers each is a cache miss, and loads with nothing between them are in flight
   * together, where the sums would wait for them one after another (bench/viewCost.ts: a view 2.9–3.0 → 1.6–1.7 µs
   * there). The brand experience's arrays are read as before.
   */
  private touchAll(slot: number): number {
    let t = 0;
    const rings = this.rings;
    for (let i = 0; i < rings.length; i++) t += rings[i].touch(slot);
    return (
      t +
      this.purchases[slot] +
      this.revenue[slot] +
      this.firstPurchaseValue[slot] +
      this.firstPurchase[slot] +
      this.lastPurchase[slot] +
      this.lastResponse[slot] +
      this.lastNegative[slot] +
      this.lastNegativeKind[slot] +
      this.flags[slot] +
      this.segment[slot]
    );
  }

  /** Evicts customers whose latest event is older than the idle bound; visits at most `budget` slots per call. */
  evictIdle(nowMin: number, budget: number, onEvict?: (id: string, slot: number) => void): number {
    let evicted = 0;
    const limit = nowMin - this.opts.idleEvictMin;
    for (let i = 0; i < budget && this.ids.high > 0; i++) {
      this.sweepCursor = (this.sweepCursor + 1) % this.ids.high;
      if (this.ids.has(this.sweepCursor) && this.head[this.sweepCursor] < limit) {
        onEvict?.(this.ids.idOf(this.sweepCursor)!, this.sweepCursor);
        this.removeSlotLocked(this.sweepCursor);
        this.evictions.idle++;
        evicted++;
      }
    }
    return evicted;
  }
  private sweepCursor = 0;

  /** Every live customer id with its slot; for periodic scoring and the at-risk list. */
  entries(): IterableIterator<[string, number]> {
    return this.ids.entries();
  }

  remove(customerId: string): boolean {
    const slot = this.ids.find(customerId);
    if (slot === NONE) return false;
    this.removeSlotLocked(slot);
    return true;
  }

  /**
   * The id table, the arrays the contact budget reads and the version words, for a reader in another thread
   * (WindowsReader); `onChange` is handed the new ones whenever they are replaced, before the generation word moves.
   */
  share(onChange: (s: SharedWindows) => void): SharedWindows {
    this.sharers.push(onChange);
    return this.shared(Atomics.load(this.versions, GENERATION));
  }

  /** Stops handing `onChange` the arrays (its reader's thread has ended). */
  unshare(onChange: (s: SharedWindows) => void): void {
    const i = this.sharers.indexOf(onChange);
    if (i !== -1) this.sharers.splice(i, 1);
  }

  private shared(generation: number): SharedWindows {
    const array = (r: Ring) => r.array as Uint8Array;
    return {
      generation,
      versions: this.versions,
      ids: this.ids.arrays(),
      head: this.head,
      lastResponse: this.lastResponse,
      lastNegative: this.lastNegative,
      lastNegativeKind: this.lastNegativeKind,
      zone: this.zone,
      touch24h: this.touch24h.map(array),
      touch7d: this.touch7d.map(array),
      resp7d: array(this.resp7d),
      zones: this.zones.slice(),
    };
  }

  /** The id table's layout when readers were last handed it. */
  private sharedIdsLayout = 0;

  /** Hands readers the arrays as they are now, then moves the generation word: they take them before their next read. */
  private reshare(): void {
    this.sharedIdsLayout = this.ids.layout;
    const generation = Atomics.load(this.versions, GENERATION) + 1;
    if (this.sharers.length > 0) {
      const s = this.shared(generation);
      for (const sharer of this.sharers) sharer(s);
    }
    Atomics.store(this.versions, GENERATION, generation);
  }

  /** Starts an insert, removal, growth or load: readers go round again until it ends. */
  private beginStructure(): void {
    bump(this.versions, STRUCTURE);
  }

  /** Ends it; readers are handed the arrays again if any was replaced (growth does it itself). */
  private endStructure(): void {
    if (this.ids.layout !== this.sharedIdsLayout) this.reshare();
    endStructure(this.versions);
  }

  /** removeSlot inside the structure lock. */
  private removeSlotLocked(slot: number): void {
    this.beginStructure();
    try {
      this.removeSlot(slot);
    } finally {
      this.endStructure();
    }
  }

  /** Empties a slot and frees it for the next new customer (inside the structure lock). */
  private removeSlot(slot: number): void {
    this.ids.remove(slot);
    for (const ring of this.rings) ring.clear(slot);
    for (const [, a, empty] of this.scalars()) a[slot] = empty;
    this.experience.clear(slot);
  }

  /** Writes the whole live state into a checkpoint. */
  save(w: SnapshotWriter): void {
    const n = this.ids.high;
    w.json.customers = { nextSlot: n, zones: this.zones, segments: this.segments };
    // The layout of SnapshotWriter.strings, as checkpoints held the ids before the id table: either reads the other's.
    this.ids.save(w, 'customers.ids');
    for (const [name, a] of this.scalars()) w.array(`customers.${name}`, a.subarray(0, n));
    this.rings.forEach((ring, i) => ring.save(w, `customers.v2.ring${i}`, n));
    this.experience.save(w, n);
  }

  /** Replaces the live state with a checkpoint's. */
  load(r: SnapshotReader): void {
    const meta = r.json.customers as { nextSlot: number; ids?: (string | null)[]; zones?: string[]; segments?: string[] } | undefined;
    if (!meta) return;
    this.beginStructure();
    try {
      this.loadStructure(r, meta);
    } finally {
      this.reshare();
      this.endStructure();
    }
  }

  private loadStructure(r: SnapshotReader, meta: { nextSlot: number; ids?: (string | null)[]; zones?: string[]; segments?: string[] }): void {
    this.zones = meta.zones ?? [''];
    this.zoneIndex.clear();
    this.zones.forEach((z, i) => i > 0 && this.zoneIndex.set(z, i));
    // Checkpoints before the segment was held have none: each customer's comes back with its next event.
    this.segments = meta.segments ?? [''];
    this.segmentIndex.clear();
    this.segments.forEach((g, i) => i > 0 && this.segmentIndex.set(g, i));
    this.grow(Math.max(this.capacity, meta.nextSlot));
    for (const [name, a, empty] of this.scalars()) {
      a.fill(empty);
      // firstPurchaseValue was a Float64Array in checkpoints written before it became a Float32Array.
      const ctor = a instanceof Float32Array && r.elementBytes(`customers.${name}`) === 8 ? Float64Array : a.constructor;
      const saved = r.array(`customers.${name}`, ctor as never) as ArrayLike<number> | null;
      if (saved) a.set(saved);
    }
    if (r.has('customers.v2.ring0')) this.rings.forEach((ring, i) => ring.load(r, `customers.v2.ring${i}`, this.capacity));
    // A checkpoint of the first layout (Float32 engagement, a byte per touch and negative, Uint16 responses), converted.
    else this.rings.forEach((ring, i) => ring.loadConverted(r, `customers.ring${i}`, this.capacity, ...FIRST_LAYOUT[i]));
    this.experience.load(r);
    // Checkpoints before `strings` held the ids as a JSON array.
    if (!this.ids.load(r, 'customers.ids')) this.ids.loadList((meta.ids ?? []).concat(Array<null>(Math.max(0, meta.nextSlot - (meta.ids?.length ?? 0))).fill(null)));
  }

  /** Every per-customer scalar array with the value of an empty slot. */
  private scalars(): [string, Int32Array | Uint32Array | Float64Array | Float32Array | Uint16Array | Uint8Array, number][] {
    return [
      ['head', this.head, 0],
      ['firstPurchase', this.firstPurchase, NONE],
      ['firstPurchaseMs', this.firstPurchaseMs, 0],
      ['firstPurchaseValue', this.firstPurchaseValue, 0],
      ['lastPurchase', this.lastPurchase, NONE],
      ['purchases', this.purchases, 0],
      ['revenue', this.revenue, 0],
      ['lastResponse', this.lastResponse, NONE],
      ['lastNegative', this.lastNegative, NONE],
      ['lastNegativeKind', this.lastNegativeKind, 0],
      ['flags', this.flags, 0],
      ['snapshotMin', this.snapshotMin, NONE],
      ...SNAPSHOT_SCORES.map((name, i): [string, Uint16Array, number] => [`snapshot.${name}`, this.snapshotScores[i], SCORE_BASELINE[i] * SCORE_SCALE]),
      ['headMs', this.headMs, 0],
      ['zone', this.zone, 0],
      ['segment', this.segment, 0],
    ];
  }

  private sampleOldest(): number {
    // Sampled LRU, as Redis does: 16 random live slots, evict the one idle longest. O(1), no list to maintain.
    let victim = -1;
    for (let tries = 0; tries < 64 && (victim === -1 || tries < 16); tries++) {
      const s = Math.floor(Math.random() * this.ids.high);
      if (this.ids.has(s) && (victim === -1 || this.head[s] < this.head[victim])) victim = s;
    }
    // 64 misses in a mostly free table: the first live slot.
    for (let s = 0; victim === -1; s++) if (this.ids.has(s)) victim = s;
    return victim;
  }

  private grow(capacity: number): void {
    if (capacity < this.capacity) return;
    const grow32 = <T extends Int32Array | Uint32Array | Float64Array | Float32Array | Uint16Array | Uint8Array>(a: T, fill?: number): T => grownShared(a, capacity, fill);
    this.head = grow32(this.head);
    this.firstPurchase = grow32(this.firstPurchase, NONE);
    this.firstPurchaseMs = grow32(this.firstPurchaseMs);
    this.firstPurchaseValue = grow32(this.firstPurchaseValue);
    this.lastPurchase = grow32(this.lastPurchase, NONE);
    this.purchases = grow32(this.purchases);
    this.revenue = grow32(this.revenue);
    this.lastResponse = grow32(this.lastResponse, NONE);
    this.lastNegative = grow32(this.lastNegative, NONE);
    this.lastNegativeKind = grow32(this.lastNegativeKind);
    this.flags = grow32(this.flags);
    this.snapshotMin = grow32(this.snapshotMin, NONE);
    this.snapshotScores = this.snapshotScores.map((a, i) => grow32(a, SCORE_BASELINE[i] * SCORE_SCALE));
    this.headMs = grow32(this.headMs);
    this.zone = grow32(this.zone);
    this.segment = grow32(this.segment);
    for (const ring of this.rings) ring.grow(capacity);
    this.experience.grow(capacity);
    this.capacity = capacity;
    this.reshare();
  }
}
