// What the processor hands to its sinks, as domain records; the sinks decide tables and encodings.
import type { VigilEvent } from './event.js';
import type { AlertView } from './frames.js';

export interface EventMeta {
  streamSeq: number;
  receivedAt: number;
}

export interface ActivityRecord {
  minuteMs: number;
  events: number;
  revenue: number;
  /** The stream sequence of the event that opened the bucket (below 2^53, so a number: no BigInt per row). */
  writer: number;
  version: number;
}

export interface CustomerActivityRecord extends ActivityRecord {
  customerId: string;
  eventType: string;
}

export interface EntityActivityRecord extends ActivityRecord {
  kind: 'channel' | 'segment' | 'campaign';
  key: string;
  eventType: string;
  /** Customers pushed over a contact cap by this minute's touches. */
  overloaded: number;
}

export interface SignalSnapshot {
  ts: number;
  customerId: string;
  engagement: number;
  engagementTrend: number | null;
  churnRisk: number;
  pAlive: number;
  expectedPurchases30d: number;
  expectedPurchases90d: number;
  customerValue: number;
  valueAtRisk: number;
  fatigue: number;
  touches24h: number;
  negatives7d: number;
  reasons: string[];
  model: string;
}

export interface RejectedRecord {
  receivedAt: number;
  reason: string;
  detail: string;
  subject: string;
  streamSeq: number;
  /** As stored: pseudonymized, or a marker in its place when the id could not be located to pseudonymize. */
  payload: Uint8Array;
  /** The customer the payload names (the pseudonym under pseudonymization), '' when none could be read; read from the payload when absent. */
  customerId?: string;
  /** The original payload's size, when `payload` is a marker standing in for it. */
  payloadBytes?: number;
}

/**
 * A customer's stream message that is in no table: a duplicate delivered under a new stream sequence, a repeated or
 * late privacy event, or an event dropped because consent is withdrawn. Kept so erasure can delete that message too.
 */
export interface UnstoredRecord {
  /** As stored: the pseudonym when ids are pseudonymized. */
  customerId: string;
  streamSeq: number;
  receivedAt: number;
  reason: 'duplicate' | 'consent_withdrawn' | 'privacy_repeat';
}

/** A customer to erase everywhere; the pipeline has already dropped them from live state when it hands this over. */
export interface ErasureRequest {
  /** As stored: the pseudonym when ids are pseudonymized. */
  customerId: string;
  /** The erase_request event's id (or the CLI's request id). */
  requestId: string;
  /** Event time of the request, epoch ms. */
  requestedAt: number;
  /** `props.requestedBy` of the request: who asked (an operator, a ticket); '' when not given. */
  requestedBy: string;
  /** `event`: an erase_request published by anyone; `cli`: `vigil forget`. */
  via: 'event' | 'cli';
  /** The request message's stream sequence, deleted from the stream once the erasure is durable; 0 for none. */
  streamSeq: number;
  /** Whether live state held the customer. */
  liveState: boolean;
  /** Entries of Redis-backed state the pipeline dropped (active alerts, notification groups, silences, consent). */
  redisEntries: number;
  /** Rows whose delete was already submitted, per table: a retried erasure adds to these instead of counting 0. */
  removed?: Record<string, number>;
}

/** Everything the processor writes; implemented by the ClickHouse sink, and by an in-memory one in unit tests. */
export interface PipelineOutputs {
  event(ev: VigilEvent, meta: EventMeta): void;
  customerActivity(r: CustomerActivityRecord): void;
  entityActivity(r: EntityActivityRecord): void;
  signals(s: SignalSnapshot): void;
  alert(a: AlertView, at: number): void;
  rejected(r: RejectedRecord): void;
  /** Where this is absent (tests, benchmarks) such stream messages are simply not indexed. */
  unstored?(r: UnstoredRecord): void;
  /** Brand experience snapshots (experience_snapshots); where absent, not written. */
  experience?(r: ExperienceSnapshot): void;
}

/**
 * A brand experience snapshot: a customer's (when its index moved past the snapshot step), or a product's or a
 * segment's (on the entity cadence). Components in [-1, 1], negative meaning bad; index in [0, 100], 50 neutral.
 */
export interface ExperienceSnapshot {
  ts: number;
  scope: 'customer' | 'product' | 'segment';
  key: string;
  /** The customer's segment, or the segment itself; null when none is known. */
  segment: string | null;
  index: number;
  product: number;
  interactive: number;
  others: number;
  /** Evidence behind it: experience events counted (decayed) for a customer, buyers or raters for a product/segment. */
  volume: number;
  reasons: string[];
}
