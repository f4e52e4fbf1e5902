// Maps the processor's records onto ClickHouse rows, one table each; the sink batches and writes them.
import type { VigilEvent } from '../contract/event.js';
import type { AlertView } from '../contract/frames.js';
import type { CustomerActivityRecord, EntityActivityRecord, EventMeta, ExperienceSnapshot, PipelineOutputs, RejectedRecord, SignalSnapshot, UnstoredRecord } from '../contract/outputs.js';
import { readCustomerId } from '../privacy/payloadId.js';
import { toChDateTime } from './clickhouse/client.js';
import type { RowOf, TableName } from './clickhouse/tables.js';

/** Dead letters keep at most this much of the payload: enough to see what was wrong, bounded for a megabyte flood. */
export const MAX_DEAD_LETTER_PAYLOAD = 4_096;

export interface RowPusher {
  push<T extends TableName>(table: T, row: RowOf<T>): void;
}

const decoder = new TextDecoder('utf-8', { fatal: false });
// Float32 columns take JSON numbers; non-finite values (no trend yet) are stored as 0 and documented.
const f = (v: number | null) => (v === null || !Number.isFinite(v) ? 0 : v);
// UInt32 columns take whole counts: a decayed count is rounded, and kept in the column's range.
const u32 = (v: number) => (Number.isFinite(v) ? Math.min(0xffff_ffff, Math.max(0, Math.round(v))) : 0);

export class ClickHouseOutputs implements PipelineOutputs {
  constructor(private readonly sink: RowPusher) {}

  event(ev: VigilEvent, meta: EventMeta): void {
    this.sink.push('events', {
      id: ev.id,
      customer_id: ev.customerId,
      type: ev.type,
      ts: toChDateTime(ev.ts),
      ts_ms: ev.ts,
      channel: ev.channel ?? '',
      value: ev.value ?? 0,
      segment: ev.segment ?? '',
      campaign_id: ev.campaignId ?? '',
      props: ev.props ? JSON.stringify(ev.props) : '',
      received_at: toChDateTime(meta.receivedAt),
      stream_seq: meta.streamSeq,
    });
  }

  customerActivity(r: CustomerActivityRecord): void {
    this.sink.push('customer_activity', {
      customer_id: r.customerId,
      minute: toChDateTime(r.minuteMs),
      event_type: r.eventType,
      events: r.events,
      revenue: r.revenue,
      writer: r.writer,
      version: r.version,
    });
  }

  entityActivity(r: EntityActivityRecord): void {
    this.sink.push('entity_activity', {
      kind: r.kind,
      key: r.key,
      minute: toChDateTime(r.minuteMs),
      event_type: r.eventType,
      events: r.events,
      overloaded: r.overloaded,
      revenue: r.revenue,
      writer: r.writer,
      version: r.version,
    });
  }

  signals(s: SignalSnapshot): void {
    this.sink.push('customer_signals', {
      ts: toChDateTime(s.ts),
      ts_ms: s.ts,
      customer_id: s.customerId,
      engagement: f(s.engagement),
      engagement_trend: f(s.engagementTrend),
      churn_risk: f(s.churnRisk),
      p_alive: f(s.pAlive),
      expected_purchases_30d: f(s.expectedPurchases30d),
      expected_purchases_90d: f(s.expectedPurchases90d),
      customer_value: f(s.customerValue),
      value_at_risk: f(s.valueAtRisk),
      fatigue: f(s.fatigue),
      touches_24h: s.touches24h,
      negatives_7d: s.negatives7d,
      reasons: s.reasons,
      model: s.model,
    });
  }

  experience(r: ExperienceSnapshot): void {
    this.sink.push('experience_snapshots', {
      ts: toChDateTime(r.ts),
      ts_ms: r.ts,
      scope: r.scope,
      key: r.key,
      segment: r.segment ?? '',
      experience_index: f(r.index),
      product: f(r.product),
      interactive: f(r.interactive),
      others: f(r.others),
      volume: u32(r.volume),
      reasons: r.reasons,
    });
  }

  alert(a: AlertView, at: number): void {
    this.sink.push('alerts', {
      ts: toChDateTime(at),
      ts_ms: at,
      alert_id: a.id,
      fingerprint: a.fingerprint,
      rule: a.rule,
      severity: a.severity,
      state: a.state,
      subject_kind: a.subject.kind,
      subject_key: a.subject.key,
      value: f(a.value),
      threshold: f(a.threshold),
      reasons: a.reasons,
      labels: JSON.stringify(a.labels),
      summary: a.summary,
      starts_at: toChDateTime(a.startsAt),
      acknowledged_by: a.acknowledged?.by ?? '',
      trigger_event_id: a.trigger?.eventId ?? '',
      trigger_event_ts_ms: a.trigger?.eventTs ?? 0,
    });
  }

  rejected(r: RejectedRecord): void {
    this.sink.push('rejected_events', {
      received_at: toChDateTime(r.receivedAt),
      received_ms: r.receivedAt,
      reason: r.reason,
      detail: r.detail,
      subject: r.subject,
      stream_seq: r.streamSeq,
      // Invalid UTF-8 is shown with replacement characters here; the NATS dead letter keeps the exact bytes.
      payload: decoder.decode(r.payload.subarray(0, MAX_DEAD_LETTER_PAYLOAD)),
      payload_bytes: r.payloadBytes ?? r.payload.byteLength,
      // Erasure finds dead letters by this column (payloads are truncated, escaped and spaced as producers please).
      customer_id: r.customerId ?? readCustomerId(decoder.decode(r.payload)),
    });
  }

  unstored(r: UnstoredRecord): void {
    this.sink.push('unstored_events', {
      received_at: toChDateTime(r.receivedAt),
      customer_id: r.customerId,
      stream_seq: r.streamSeq,
      reason: r.reason,
    });
  }
}
