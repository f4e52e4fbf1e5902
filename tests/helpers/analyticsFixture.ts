// A small world for the analysts' saved queries and dashboards, built in code relative to the engine's today():
// six customers (A to F) with activity, events, signals, touches, overload, alerts, dead letters and erasures
// whose query results are worked out by hand in tests/integration/analytics.test.ts.
import { toChDateTime, type ClickHouseClient } from '../../src/sinks/clickhouse/client.js';
import type { AlertRow, CustomerActivityRow, CustomerSignalsRow, EntityActivityRow, ErasureAuditRow, EventRow, ExperienceSnapshotRow, RejectedEventRow } from '../../src/sinks/clickhouse/tables.js';
import { DAY_MS } from '../../src/shared/clock.js';

/** Days and times relative to the engine's today (UTC midnight). */
export class FixtureClock {
  constructor(readonly todayMs: number) {}

  static async of(client: ClickHouseClient): Promise<FixtureClock> {
    const [row] = await client.query<{ d: string }>('SELECT toString(today()) AS d');
    return new FixtureClock(Date.parse(`${row.d}T00:00:00Z`));
  }

  /** Epoch ms of `daysAgo` days before today at hh:mm:ss UTC. */
  at(daysAgo: number, hh = 12, mm = 0, ss = 0): number {
    return this.todayMs - daysAgo * DAY_MS + ((hh * 60 + mm) * 60 + ss) * 1000;
  }

  /** 'YYYY-MM-DD' of `daysAgo` days before today. */
  day(daysAgo: number): string {
    return new Date(this.todayMs - daysAgo * DAY_MS).toISOString().slice(0, 10);
  }
}

export function activity(customer: string, tsMs: number, eventType: string, events: number, over: Partial<CustomerActivityRow> = {}): CustomerActivityRow {
  const minute = tsMs - (tsMs % 60_000);
  return { customer_id: customer, minute: toChDateTime(minute), event_type: eventType, events, revenue: 0, writer: '1', version: 1, ...over };
}

export function event(id: string, customer: string, type: string, tsMs: number, over: Partial<EventRow> = {}): EventRow {
  return {
    id, customer_id: customer, type, ts: toChDateTime(tsMs), ts_ms: tsMs, channel: '', value: 0, segment: '', campaign_id: '', props: '',
    received_at: toChDateTime(tsMs), stream_seq: 1, ...over,
  };
}

export function signal(customer: string, tsMs: number, churnRisk: number, customerValue: number, valueAtRisk: number): CustomerSignalsRow {
  return {
    ts: toChDateTime(tsMs), ts_ms: tsMs, customer_id: customer, engagement: 10, engagement_trend: 0, churn_risk: churnRisk, p_alive: 1 - churnRisk,
    expected_purchases_30d: 0.1, expected_purchases_90d: 0.3, customer_value: customerValue, value_at_risk: valueAtRisk, fatigue: 0, touches_24h: 0,
    negatives_7d: 0, reasons: [`risk ${churnRisk}`], model: 'bgnbd',
  };
}

export function entity(kind: string, key: string, tsMs: number, eventType: string, events: number, overloaded: number, writer: string, version = 1): EntityActivityRow {
  return { kind, key, minute: toChDateTime(tsMs - (tsMs % 60_000)), event_type: eventType, events, overloaded, revenue: 0, writer, version };
}

export function alertRow(alertId: string, rule: string, severity: string, state: string, subject: [string, string], tsMs: number, acknowledgedBy = ''): AlertRow {
  return {
    ts: toChDateTime(tsMs), ts_ms: tsMs, alert_id: alertId, fingerprint: `fp-${alertId}`, rule, severity, state, subject_kind: subject[0], subject_key: subject[1],
    value: 1, threshold: 0.8, reasons: [], labels: '{}', summary: `${rule} ${subject[1]}`, starts_at: toChDateTime(tsMs), acknowledged_by: acknowledgedBy,
    trigger_event_id: '', trigger_event_ts_ms: 0,
  };
}

export function rejected(seq: number, tsMs: number, reason: string, detail: string, bytes: number): RejectedEventRow {
  return { received_at: toChDateTime(tsMs), received_ms: tsMs, reason, detail, subject: 'events.x', stream_seq: seq, payload: 'x'.repeat(Math.min(bytes, 16)), payload_bytes: bytes, customer_id: '' };
}

/** A brand experience snapshot; components chosen as binary fractions so every engine prints them exactly. */
export function experience(scope: string, key: string, tsMs: number, index: number, over: Partial<ExperienceSnapshotRow> = {}): ExperienceSnapshotRow {
  return {
    ts: toChDateTime(tsMs), ts_ms: tsMs, scope, key, segment: scope === 'segment' ? key : '', experience_index: index, product: 0, interactive: 0, others: 0,
    volume: 10, reasons: [], ...over,
  };
}

export function audit(tsMs: number, via: string, tables: string[], rows: number[], durationMs: number): ErasureAuditRow {
  return {
    erased_at: toChDateTime(tsMs), erased_ms: tsMs, request_id: `req-${tsMs}-${via}`, requested_at: toChDateTime(tsMs - 1000), requested_by: 'privacy-desk', via,
    subject_hash: 'f'.repeat(32), tables, rows: rows.map(String), redis_entries: 0, stream_messages: 0, live_state: 0, duration_ms: durationMs,
  };
}

/** Writes the whole world into `client`'s database (migrated before). `now` anchors the dead letters. */
export async function writeAnalyticsFixture(client: ClickHouseClient, t: FixtureClock, now: number): Promise<void> {
  // Activity: A..E as laid out in the test; A's first page views were written by two incarnations, one of them twice.
  await client.insert('customer_activity', [
    activity('A', t.at(9), 'page_view', 2, { writer: '11', version: 1 }),
    activity('A', t.at(9), 'page_view', 3, { writer: '11', version: 2 }),
    activity('A', t.at(9), 'page_view', 1, { writer: '12', version: 1 }),
    activity('A', t.at(8), 'purchase', 1, { revenue: 40 }),
    activity('A', t.at(6), 'click', 2),
    activity('A', t.at(1), 'page_view', 1),
    activity('A', t.at(0), 'purchase', 2, { revenue: 25.5 }),
    activity('B', t.at(8), 'page_view', 1),
    activity('B', t.at(3), 'email_sent', 2),
    activity('C', t.at(6), 'session_start', 1),
    activity('C', t.at(5), 'page_view', 4),
    activity('D', t.at(1), 'app_open', 1),
    activity('D', t.at(0), 'complaint', 1),
    activity('E', t.at(40), 'page_view', 1),
    activity('E', t.at(2), 'purchase', 1, { revenue: 10 }),
  ]);
  // Retention: absolute weeks in March 2025 (Mondays 3, 10, 17, 24), customers R1..R5.
  const march = (d: number) => Date.UTC(2025, 2, d, 12);
  await client.insert('customer_activity', [
    activity('R1', march(3), 'page_view', 1),
    activity('R1', march(5), 'click', 1),
    activity('R1', march(12), 'page_view', 1),
    activity('R1', march(26), 'purchase', 1, { revenue: 5 }),
    activity('R2', march(4), 'page_view', 1),
    activity('R2', march(11), 'page_view', 1),
    activity('R3', march(9), 'page_view', 1), // a Sunday: still the week of March 3
    activity('R3', march(17), 'page_view', 1),
    activity('R4', march(10), 'page_view', 1),
    activity('R4', march(24), 'page_view', 1),
    activity('R5', march(3), 'email_sent', 1), // a touch is not activity: R5's cohort is March 10
    activity('R5', march(12), 'purchase', 1, { revenue: 3 }),
  ]);
  // Events: segments (latest wins) and touches (one redelivered).
  const touchA = event('a-t1', 'A', 'email_sent', t.at(3), { channel: 'email', campaign_id: 'spring' });
  await client.insert('events', [
    event('a1', 'A', 'page_view', t.at(9), { segment: 'regular' }),
    event('a2', 'A', 'page_view', t.at(1), { segment: 'vip' }),
    event('b1', 'B', 'page_view', t.at(8), { segment: 'vip' }),
    event('c1', 'C', 'session_start', t.at(6), { segment: 'regular' }),
    event('d1', 'D', 'app_open', t.at(1), { segment: 'regular' }),
    event('e1', 'E', 'page_view', t.at(40), { segment: 'vip' }),
    event('b-t1', 'B', 'email_sent', t.at(3), { campaign_id: 'spring' }),
    event('b-t2', 'B', 'email_sent', t.at(3, 12, 5), { campaign_id: 'spring' }),
    touchA,
    event('a-t2', 'A', 'push_sent', t.at(3, 13), { campaign_id: 'spring' }),
    event('c-t1', 'C', 'sms_sent', t.at(1), { channel: 'sms' }),
    event('d-t1', 'D', 'email_sent', t.at(10), { campaign_id: 'spring' }),
  ]);
  await client.insert('events', [touchA]);
  await client.insert('customer_signals', [
    signal('A', t.at(5), 0.2, 25, 5),
    signal('A', t.at(1), 0.85, 200, 170),
    signal('B', t.at(2), 0.65, 100, 65),
    signal('C', t.at(3), 0.3, 50, 15),
    signal('D', t.at(1), 0.05, 20, 1),
    signal('E', t.at(40), 0.9, 100, 90),
    signal('F', t.at(1), 1, 10, 10),
  ]);
  await client.insert('entity_activity', [
    entity('campaign', 'spring', t.at(3), 'email_sent', 2, 0, '1', 1),
    entity('campaign', 'spring', t.at(3), 'email_sent', 3, 1, '1', 2),
    entity('campaign', 'spring', t.at(3, 13), 'push_sent', 1, 0, '2'),
    entity('campaign', 'spring', t.at(2), 'unsubscribe', 1, 0, '3'),
    entity('channel', 'email', t.at(3), 'email_sent', 3, 1, '4'),
    entity('channel', 'email', t.at(2), 'complaint', 1, 0, '5'),
    entity('segment', 'vip', t.at(3), 'email_sent', 3, 0, '6'),
    entity('campaign', 'old', t.at(10), 'email_sent', 5, 2, '7'),
  ]);
  const churn = ['customer_churn_risk', 'warning'] as const;
  await client.insert('alerts', [
    alertRow('a1', ...churn, 'pending', ['customer', 'A'], t.at(2, 10)),
    alertRow('a1', ...churn, 'firing', ['customer', 'A'], t.at(2, 10, 0, 5)),
    alertRow('a1', ...churn, 'firing', ['customer', 'A'], t.at(2, 10, 1, 5), 'ops'),
    alertRow('a1', ...churn, 'resolved', ['customer', 'A'], t.at(2, 10, 10, 5), 'ops'),
    alertRow('a2', ...churn, 'firing', ['customer', 'B'], t.at(2, 11)),
    alertRow('a2', ...churn, 'firing', ['customer', 'B'], t.at(2, 11, 2), 'ana'),
    alertRow('a2', ...churn, 'firing', ['customer', 'B'], t.at(2, 11, 5), 'bob'),
    alertRow('a3', ...churn, 'firing', ['customer', 'C'], t.at(1, 9)),
    alertRow('a3', ...churn, 'firing', ['customer', 'C'], t.at(1, 9, 5), 'ops'),
    alertRow('a4', ...churn, 'firing', ['customer', 'D'], t.at(1, 10)),
    alertRow('a5', 'campaign_overload', 'critical', 'firing', ['campaign', 'spring'], t.at(1, 8)),
    alertRow('a5', 'campaign_overload', 'critical', 'firing', ['campaign', 'spring'], t.at(1, 8, 0, 30), 'ops'),
    alertRow('a6', 'customer_contact_fatigue', 'warning', 'pending', ['customer', 'A'], t.at(1, 7)),
    alertRow('a7', 'processor_lag', 'critical', 'firing', ['processor', 'vigil'], t.at(40)),
  ]);
  const twoHoursAgo = now - 2 * 3_600_000;
  await client.insert('rejected_events', [
    rejected(1, twoHoursAgo, 'INVALID_JSON', 'Unexpected token', 10),
    rejected(2, twoHoursAgo + 1000, 'INVALID_JSON', 'Unexpected token', 20),
    rejected(3, twoHoursAgo + 2000, 'LATE_EVENT', 'event time is 400 s behind the watermark', 100),
    rejected(4, now - 30 * 3_600_000, 'INVALID_JSON', 'Unexpected token', 5),
  ]);
  await client.insert('erasure_audit', [
    audit(t.at(1), 'event', ['events', 'customer_activity'], [3, 2], 120),
    audit(t.at(1, 13), 'cli', ['events', 'customer_activity'], [0, 1], 80),
  ]);
  // Brand experience: product P1's defect (62 three days ago, then 40 and 24 yesterday, the last row written twice),
  // P2 steady, segment vip, a customer's own row (left out of the by-product query) and a product 40 days ago.
  const p1Last = experience('product', 'P1', t.at(1, 15), 24, { product: -0.75, interactive: -0.25, others: -0.5, volume: 212, reasons: ['14 refunds in 7 days', 'rated 1.8 by 212'] });
  await client.insert('experience_snapshots', [
    experience('product', 'P1', t.at(3, 10), 62, { product: 0.25, interactive: 0.125, others: 0.5, volume: 40 }),
    experience('product', 'P1', t.at(1, 9), 40, { product: -0.25, volume: 150, reasons: ['9 refunds in 7 days'] }),
    p1Last,
    experience('product', 'P2', t.at(1, 12), 71.5, { product: 0.5, others: 0.25, volume: 30, reasons: ['rated 4.4 by 30'] }),
    experience('segment', 'vip', t.at(1, 12), 47.5, { interactive: -0.125, volume: 120, reasons: ['5 customers below 35'] }),
    experience('customer', 'A', t.at(1, 12), 30, { segment: 'vip', product: -0.5, volume: 4, reasons: ['3 refunds in 30 days'] }),
    experience('product', 'OLD', t.at(40), 10),
  ]);
  await client.insert('experience_snapshots', [p1Last]);
  // Two fits' tracking plots: three weeks each, the calibration ending after the second; the later fit is the one shown.
  const week = (fittedAt: number, model: string, k: number, actual: number, expected: number, cumulative: [number, number]) => ({
    fitted_at: toChDateTime(fittedAt),
    model,
    period_end: toChDateTime(t.at(21 - 7 * (k + 1), 0)),
    calibration_end: toChDateTime(t.at(7, 0)),
    actual,
    expected,
    actual_cumulative: cumulative[0],
    expected_cumulative: cumulative[1],
  });
  await client.insert('model_tracking', [
    week(t.at(2), 'bgnbd', 0, 1, 1, [1, 1]),
    week(t.at(1), 'mbg_nbd', 0, 4, 3.5, [4, 3.5]),
    week(t.at(1), 'mbg_nbd', 1, 6, 6.25, [10, 9.75]),
    week(t.at(1), 'mbg_nbd', 2, 5, 5.004, [15, 14.754]),
  ]);
}
