// The apply step: an admitted event into the live state. Customer windows, the minute activity rows, the channel,
// segment and campaign counts, the contact budget's view of the customer, and its brand experience evidence (the
// customer's, its product's and its segment's); drains the activity rows when due.
import type { VigilConfig } from '../config/schema.js';
import { categoryOf, EXPERIENCE_TYPES, touchChannel, type VigilEvent } from '../contract/event.js';
import type { PipelineOutputs } from '../contract/outputs.js';
import { ContactBudget } from '../budget/contactBudget.js';
import type { ConsentStore } from '../privacy/consent.js';
import { DAY_MS, MINUTE_MS, type Clock } from '../shared/clock.js';
import type { SnapshotReader, SnapshotWriter } from '../shared/snapshotCodec.js';
import { EntityStats, type EntityKind } from '../signals/entityStats.js';
import { CustomerWindows, emptyView, TOUCH_CHANNELS, type CustomerView, type TouchChannel } from './customerWindows.js';
import { MinuteActivity, type ActivityVisit } from './minuteActivity.js';
import { customerExperience, type ExperienceParams, type ProductVoice, type SegmentVoice } from '../signals/experience.js';
import type { ExperienceRead } from './customerExperience.js';
import { emptyEvidence, readEvidence } from './experienceEvidence.js';
import { ExperienceTable, type Voice } from './experienceTable.js';

/** Entity kinds by their index in the entity activity's keys (their names are what checkpoints hold). */
const ENTITY_KINDS: readonly EntityKind[] = ['channel', 'segment', 'campaign'];

export interface ApplyDeps {
  config: VigilConfig;
  clock: Clock;
  consent: ConsentStore;
}

export class ApplyStep {
  readonly windows: CustomerWindows;
  readonly entities: EntityStats;
  /** The contact budget senders ask before they touch a customer; it reads these windows. */
  readonly budget: ContactBudget;
  private readonly customerActivity = new MinuteActivity();
  private readonly entityActivity = new MinuteActivity(ENTITY_KINDS);
  /** The one view every derived customer's signals read (valid until the next call): reading allocates nothing. */
  private readonly scratchView = emptyView();
  /** Touches per channel in 24 h and 7 days of the customer a touch is applied for (TOUCH_CHANNELS order), reused. */
  private readonly touchH24 = new Float64Array(TOUCH_CHANNELS.length);
  private readonly touchD7 = new Float64Array(TOUCH_CHANNELS.length);
  private readonly weights: Map<string, number>;
  /** Brand experience per product (bounded by signals.experience.maxProducts) and per segment (windows.maxEntities). */
  readonly products: ExperienceTable;
  readonly segments: ExperienceTable;
  readonly experienceParams: ExperienceParams;
  /** The product table slot the last applied event named (-1: none): the pipeline marks it for the derive. */
  lastProductSlot = -1;
  /** The one evidence object every event is read into, and the one a product's voice is read into. */
  private readonly evidence = emptyEvidence();
  private readonly voiceScratch: Voice = { others: 0, weight: 0, ratingMean: 0, ratings: 0, bornAt: 0 };
  private readonly indexNow: (r: ExperienceRead) => number;
  private indexAt = 0;
  private indexSegment: string | null = null;

  constructor(private readonly deps: ApplyDeps) {
    const { config, clock, consent } = deps;
    const exp = config.signals.experience;
    this.experienceParams = { prior: exp.prior, halfLifeMs: exp.halfLifeMs };
    this.windows = new CustomerWindows({ maxCustomers: config.windows.maxCustomers, idleEvictMin: Math.ceil(config.windows.idleEvictMs / MINUTE_MS), experience: exp.halfLifeMs });
    this.products = new ExperienceTable('product', this.experienceParams, exp.maxProducts);
    this.segments = new ExperienceTable('segment', this.experienceParams, config.windows.maxEntities);
    // The index the customer's baseline takes when its reference day moves: its own P and C with O as of that moment.
    this.indexNow = (r) => customerExperience(r, this.voicesOf(r, this.indexAt), this.segmentVoice(this.indexSegment, this.indexAt), this.experienceParams, (i) => i, this.productName).index;
    this.entities = new EntityStats(config.signals.surge, config.windows.maxEntities);
    this.budget = new ContactBudget({ windows: this.windows, config, clock, consentWithdrawn: (id) => consent.isWithdrawn(id) });
    this.weights = new Map(Object.entries(defaultWeights()).concat(Object.entries(config.signals.eventWeights)));
  }

  /** The customer's minute activity row (every stored event has one, a withdrawal included). */
  activity(ev: VigilEvent, streamSeq: number): void {
    const revenue = ev.type === 'purchase' ? (ev.value ?? 0) : 0;
    this.customerActivity.add(ev.customerId, ev.type, ev.ts, revenue, streamSeq);
  }

  /**
   * The event into the windows, the budget and the entity counts; `replaying` keeps the budget's sends untold.
   * Returns the customer's slot; `touched` is told each channel, segment and campaign slot the event counted in.
   * Nothing derived (no view, no signals): that waits for the derive tick.
   */
  apply(ev: VigilEvent, streamSeq: number, nowMin: number, replaying: boolean, touched?: (entitySlot: number) => void): number {
    const slot = this.windows.slotFor(ev.customerId);
    // Said before the record, told after it (ContactBudget.mirror): a check on the budget's thread that reads the
    // windows in between decides again once the touch is told.
    this.budget.beforeRecord(ev, replaying);
    this.windows.record(slot, ev, this.weights.get(ev.type) ?? this.deps.config.signals.defaultWeight);
    // The latest segment named is the customer's: its purchase model's parameters are that segment's.
    if (ev.segment) this.windows.setSegment(slot, ev.segment);
    this.budget.onEvent(ev, slot, replaying);
    this.recordEntities(ev, slot, nowMin, streamSeq, touched);
    this.lastProductSlot = -1;
    // Most events carry no experience evidence: a set lookup and one props read tell.
    if (readEvidence(ev, this.evidence)) this.recordExperience(slot, ev);
    return slot;
  }

  /** What others say of a product now (its O), for the customer's memory of the worst product it bought; 0 for a free slot. */
  private readonly othersOf = (productSlot: number): number => this.products.voice(productSlot, this.indexAt, this.voiceScratch)?.others ?? 0;

  /** A product's id by its table slot (for reasons). */
  readonly productName = (productSlot: number): string => this.products.keyOf(productSlot) ?? '';

  /** Others' voice in the customer's segment (its O when it bought no product the table knows), or null. */
  segmentVoice(segment: string | null, atMs: number): SegmentVoice | null {
    const slot = segment === null ? -1 : this.segments.find(segment);
    const v = slot === -1 ? null : this.segments.voice(slot, atMs, this.voiceScratch);
    return v === null ? null : { others: v.others, weight: v.weight };
  }

  /** The event's experience evidence into its product's and segment's aggregates, then into the customer's. */
  private recordExperience(slot: number, ev: VigilEvent): void {
    const e = this.evidence;
    const productSlot = e.productId === null ? -1 : this.products.record(e.productId, ev.ts, e);
    this.lastProductSlot = productSlot;
    const segment = ev.segment ?? this.windows.segmentOf(slot);
    if (segment !== null) this.segments.record(segment, ev.ts, e);
    this.indexAt = ev.ts;
    this.indexSegment = segment;
    this.windows.recordExperience(slot, ev.ts, e, productSlot, this.indexNow, this.othersOf);
  }

  /**
   * What others say of the products a customer's read remembers, as of `atMs`. A product whose slot was taken by
   * another key after the customer's latest evidence day is not the customer's (evicted meanwhile): left out.
   */
  voicesOf(r: ExperienceRead, atMs: number): ProductVoice[] {
    const out: ProductVoice[] = [];
    for (let i = 0; i < 2; i++) {
      const productSlot = i === 0 ? r.product1 : r.product2;
      if (productSlot < 0) continue;
      const v = this.products.voice(productSlot, atMs, this.voiceScratch);
      if (v === null || v.bornAt >= r.baselineAt + DAY_MS) continue;
      out.push({ productSlot, others: v.others, weight: v.weight, ratingMean: v.ratingMean, ratings: v.ratings });
    }
    return out;
  }

  view(slot: number, nowMin: number): CustomerView {
    return this.windows.view(slot, nowMin, this.scratchView);
  }

  /** The customer's minute rows not yet written go with the rest of its live state (erasure). */
  forgetActivity(customerId: string): void {
    this.customerActivity.forget(customerId);
  }

  private recordEntities(ev: VigilEvent, slot: number, nowMin: number, streamSeq: number, touched?: (entitySlot: number) => void): void {
    const tMin = Math.floor(ev.ts / MINUTE_MS);
    const category = categoryOf(ev.type);
    const touch = category === 'touch';
    const negative = category === 'negative';
    let overloaded = false;
    let channel = ev.channel;
    if (touch) {
      const ch = touchChannel(ev.type, ev.channel) as TouchChannel;
      channel = ch;
      const caps = this.deps.config.signals.caps;
      // Only the 24 h touch sums, and only for a touch: the customer's whole view is the derive step's.
      const h24 = this.touchH24;
      this.windows.touchSums(slot, nowMin, h24, this.touchD7);
      const all = h24[0] + h24[1] + h24[2] + h24[3];
      const i = TOUCH_CHANNELS.indexOf(ch);
      const mine = i === -1 ? -1 : h24[i];
      // Count the touch that takes a customer over a cap, once per crossing: distinct customers pushed over.
      overloaded = (caps[ch] !== undefined && mine === caps[ch].perDay + 1) || (caps.all !== undefined && all === caps.all.perDay + 1);
    }
    const what = { touch, negative, overloaded };
    const revenue = ev.type === 'purchase' ? (ev.value ?? 0) : 0;
    if (channel) this.entityEvent('channel', channel, ev, tMin, what, revenue, streamSeq, touched);
    if (ev.segment) this.entityEvent('segment', ev.segment, ev, tMin, what, revenue, streamSeq, touched);
    if (ev.campaignId) this.entityEvent('campaign', ev.campaignId, ev, tMin, what, revenue, streamSeq, touched);
  }

  private entityEvent(kind: EntityKind, key: string, ev: VigilEvent, tMin: number, what: { touch: boolean; negative: boolean; overloaded: boolean }, revenue: number, streamSeq: number, touched?: (entitySlot: number) => void): void {
    const slot = this.entities.record(kind, key, tMin, what);
    touched?.(slot);
    this.entityActivity.add(key, ev.type, ev.ts, revenue, streamSeq, what.overloaded, ENTITY_KINDS.indexOf(kind));
  }

  /**
   * Hands every dirty minute to the outputs, then forgets the minutes before `closeBefore`; returns the rows. With
   * `more` (a slice's budget, ahead of a commit), only dirty minutes while it answers true, none forgotten; returns
   * -1 while some are left.
   */
  drain(closeBefore: number, outputs: PipelineOutputs, more?: () => boolean): number {
    let rows = 0;
    const customer: ActivityVisit = (customerId, eventType, _kind, minuteMs, events, revenue, _overloaded, writer, version) => {
      outputs.customerActivity({ customerId, eventType, minuteMs, events, revenue, writer, version });
      rows++;
    };
    const entity: ActivityVisit = (key, eventType, kind, minuteMs, events, revenue, overloaded, writer, version) => {
      outputs.entityActivity({ kind: ENTITY_KINDS[kind], key, eventType, minuteMs, events, revenue, overloaded, writer, version });
      rows++;
    };
    if (more !== undefined) return this.customerActivity.drainDirty(customer, more) && this.entityActivity.drainDirty(entity, more) ? rows : -1;
    this.customerActivity.drainEach(closeBefore, customer);
    this.entityActivity.drainEach(closeBefore, entity);
    return rows;
  }

  /** Windows and entity counts; the activity rows go separately (saveActivity), after the dedup, as checkpoints hold them. */
  save(w: SnapshotWriter): void {
    this.windows.save(w);
    this.entities.save(w);
    this.products.save(w, 'experience.products');
    this.segments.save(w, 'experience.segments');
  }

  load(r: SnapshotReader): void {
    this.windows.load(r);
    this.entities.load(r);
    this.products.load(r, 'experience.products');
    this.segments.load(r, 'experience.segments');
  }

  saveActivity(w: SnapshotWriter): void {
    this.customerActivity.save(w, 'customerActivity');
    this.entityActivity.save(w, 'entityActivity');
  }

  loadActivity(r: SnapshotReader): void {
    this.customerActivity.load(r, 'customerActivity');
    this.entityActivity.load(r, 'entityActivity');
  }
}

/** Engagement weights per type; config adds to or overrides them, and unknown types weigh `defaultWeight`. */
export function defaultWeights(): Record<string, number> {
  return {
    session_start: 1,
    app_open: 1,
    page_view: 0.5,
    click: 1,
    search: 1,
    add_to_cart: 2,
    purchase: 5,
    email_open: 1,
    email_click: 2,
    push_open: 1,
    // Touches, negatives and privacy events are not engagement.
    email_sent: 0,
    push_sent: 0,
    sms_sent: 0,
    unsubscribe: 0,
    complaint: 0,
    support_ticket: 0,
    payment_failed: 0,
    refund: 0,
    cancel_subscription: 0,
    consent_granted: 0,
    consent_withdrawn: 0,
    erase_request: 0,
    // Brand experience evidence is not engagement either (contract 1.1).
    ...Object.fromEntries(EXPERIENCE_TYPES.map((t) => [t, 0])),
  };
}
