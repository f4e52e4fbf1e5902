// The apply step: an admitted event into the live state. Customer windows, the minute activity rows, the channel,
// segment and campaign counts, and the contact budget's view of the customer; drains the activity rows when due.
import type { VigilConfig } from '../config/schema.js';
import { categoryOf, touchChannel, type VigilEvent } from '../contract/event.js';
import type { PipelineOutputs } from '../contract/outputs.js';
import { ContactBudget } from '../budget/contactBudget.js';
import type { ConsentStore } from '../privacy/consent.js';
import { MINUTE_MS, type Clock } from '../shared/clock.js';
import type { SnapshotReader, SnapshotWriter } from '../shared/snapshotCodec.js';
import { EntityStats, type EntityKind } from '../signals/entityStats.js';
import { CustomerWindows, emptyView, type CustomerView, type TouchChannel } from './customerWindows.js';
import { MinuteActivity } from './minuteActivity.js';

export interface ApplyDeps {
  config: VigilConfig;
  clock: Clock;
  consent: ConsentStore;
}

/** The customer's slot in the windows and its view as of the event-time minute (valid until the next call). */
export interface Applied {
  slot: number;
  view: CustomerView;
}

export class ApplyStep {
  readonly windows: CustomerWindows;
  readonly entities: EntityStats;
  /** The contact budget senders ask before they touch a customer; it reads these windows. */
  readonly budget: ContactBudget;
  private readonly customerActivity = new MinuteActivity();
  private readonly entityActivity = new MinuteActivity();
  /** The one view every event's signals read (valid until the next call): reading allocates nothing. */
  private readonly scratchView = emptyView();
  private readonly weights: Map<string, number>;

  constructor(private readonly deps: ApplyDeps) {
    const { config, clock, consent } = deps;
    this.windows = new CustomerWindows({ maxCustomers: config.windows.maxCustomers, idleEvictMin: Math.ceil(config.windows.idleEvictMs / MINUTE_MS) });
    this.entities = new EntityStats(config.signals.surge, config.windows.maxEntities);
    this.budget = new ContactBudget({ windows: this.windows, config, clock, consentWithdrawn: (id) => consent.isWithdrawn(id) });
    this.weights = new Map(Object.entries(defaultWeights()).concat(Object.entries(config.signals.eventWeights)));
  }

  /** The customer's minute activity row (every stored event has one, a withdrawal included). */
  activity(ev: VigilEvent, streamSeq: number): void {
    const revenue = ev.type === 'purchase' ? (ev.value ?? 0) : 0;
    this.customerActivity.add(`${ev.customerId}\u0000${ev.type}`, ev.ts, revenue, streamSeq);
  }

  /** The event into the windows, the budget and the entity counts; `replaying` keeps the budget's sends untold. */
  apply(ev: VigilEvent, streamSeq: number, nowMin: number, replaying: boolean): Applied {
    const slot = this.windows.slotFor(ev.customerId);
    this.windows.record(slot, ev, this.weights.get(ev.type) ?? this.deps.config.signals.defaultWeight);
    // The latest segment named is the customer's: its purchase model's parameters are that segment's.
    if (ev.segment) this.windows.setSegment(slot, ev.segment);
    this.budget.onEvent(ev, slot, replaying);
    const view = this.view(slot, nowMin);
    this.recordEntities(ev, view, streamSeq);
    return { slot, view };
  }

  view(slot: number, nowMin: number): CustomerView {
    return this.windows.view(slot, nowMin, this.scratchView);
  }

  /** The customer's minute rows not yet written go with the rest of its live state (erasure). */
  forgetActivity(customerId: string): void {
    this.customerActivity.forget(`${customerId}\u0000`);
  }

  private recordEntities(ev: VigilEvent, view: CustomerView, streamSeq: number): void {
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
      const all = view.touches24h.email + view.touches24h.push + view.touches24h.sms + view.touches24h.other;
      // Count the touch that takes a customer over a cap, once per crossing: distinct customers pushed over.
      overloaded = (caps[ch] !== undefined && view.touches24h[ch] === caps[ch].perDay + 1) || (caps.all !== undefined && all === caps.all.perDay + 1);
    }
    const what = { touch, negative, overloaded };
    const revenue = ev.type === 'purchase' ? (ev.value ?? 0) : 0;
    if (channel) this.entityEvent('channel', channel, ev, tMin, what, revenue, streamSeq);
    if (ev.segment) this.entityEvent('segment', ev.segment, ev, tMin, what, revenue, streamSeq);
    if (ev.campaignId) this.entityEvent('campaign', ev.campaignId, ev, tMin, what, revenue, streamSeq);
  }

  private entityEvent(kind: EntityKind, key: string, ev: VigilEvent, tMin: number, what: { touch: boolean; negative: boolean; overloaded: boolean }, revenue: number, streamSeq: number): void {
    this.entities.record(kind, key, tMin, what);
    this.entityActivity.add(`${kind}\u0000${key}\u0000${ev.type}`, ev.ts, revenue, streamSeq, what.overloaded);
  }

  /** Hands every dirty minute before `closeBefore` to the outputs, then forgets those minutes; returns the rows. */
  drain(closeBefore: number, outputs: PipelineOutputs): number {
    let rows = 0;
    // Keys are `customer\0type` and `kind\0key\0type`, cut at their separators (split would make an array per row);
    // the type is cut at the last one, as it is the only part that never holds a \0 (parse.ts checks its pattern).
    this.customerActivity.drainEach(closeBefore, (k, minuteMs, events, revenue, _overloaded, writer, version) => {
      const at = k.lastIndexOf('\u0000');
      outputs.customerActivity({ customerId: k.slice(0, at), eventType: k.slice(at + 1), minuteMs, events, revenue, writer, version });
      rows++;
    });
    this.entityActivity.drainEach(closeBefore, (k, minuteMs, events, revenue, overloaded, writer, version) => {
      const a = k.indexOf('\u0000');
      const b = k.lastIndexOf('\u0000');
      outputs.entityActivity({ kind: k.slice(0, a) as EntityKind, key: k.slice(a + 1, b), eventType: k.slice(b + 1), minuteMs, events, revenue, overloaded, writer, version });
      rows++;
    });
    return rows;
  }

  /** Windows and entity counts; the activity rows go separately (saveActivity), after the dedup, as checkpoints hold them. */
  save(w: SnapshotWriter): void {
    this.windows.save(w);
    this.entities.save(w);
  }

  load(r: SnapshotReader): void {
    this.windows.load(r);
    this.entities.load(r);
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
  };
}
