// The analysts' saved queries (sql/queries) against a world built in code, on both engines: the ClickHouse 18.16
// server scripts/services.sh runs and the current engine in chdb. Every expected row below is worked out by hand
// from tests/helpers/analyticsFixture.ts; `T-k` is k days before today (UTC).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '../../src/sinks/clickhouse/client.js';
import { migrate } from '../../src/sinks/clickhouse/migrate.js';
import { FixtureClock, writeAnalyticsFixture } from '../helpers/analyticsFixture.js';
import { ChdbClient } from '../helpers/clickhouse-chdb.js';
import { savedQueries, testClickHouseClient, testDatabaseName } from '../helpers/clickhouse.js';

type Row = Record<string, unknown>;

/** 64-bit integers come back as strings (docs/clickhouse.md); compare them as numbers. */
function norm(rows: Row[]): Row[] {
  return rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v])));
}

const engines: [string, (db: string) => ClickHouseClient][] = [
  ['ClickHouse server (18.16 here)', (db) => testClickHouseClient(db)],
  ['current ClickHouse (chdb)', (db) => new ChdbClient(db)],
];

describe.each(engines)('saved queries on %s', (_name, makeClient) => {
  const db = testDatabaseName();
  let client: ClickHouseClient;
  let t: FixtureClock;
  let now: number;
  const run = async (name: string): Promise<Row[]> => {
    const q = savedQueries(db).find((s) => s.name === `${name}.sql`);
    if (!q) throw new Error(`no saved query ${name}`);
    return norm(await client.query<Row>(q.sql));
  };

  beforeAll(async () => {
    client = makeClient(db);
    await migrate(client, { database: db });
    t = await FixtureClock.of(client);
    now = Date.now();
    await writeAnalyticsFixture(client, t, now);
  });

  afterAll(async () => {
    await client.command(`DROP DATABASE IF EXISTS ${db}`);
    await client.close();
  });

  it('every saved query is covered here', () => {
    const covered = [
      'active_customers', 'alert_history', 'alert_time_to_ack', 'at_risk_customers', 'churn_risk_distribution', 'contact_pressure',
      'customer_activity_daily', 'erasures', 'experience_by_segment_and_product', 'lifecycle', 'model_tracking', 'overload_by_channel_and_campaign', 'rejected_by_reason', 'retention_cohorts',
      'value_at_risk_by_segment',
    ];
    expect(savedQueries(db).map((q) => q.name.replace(/\.sql$/, ''))).toEqual(covered);
  });

  it('active_customers: DAU and the rolling 7-day WAU', async () => {
    // DAU: T-9 A; T-8 A B; T-6 A C; T-5 C; T-2 E; T-1 A D; T A. WAU(d) = anyone active in [d-6, d].
    const d = (k: number, dau: number, wau: number) => ({ day: t.day(k), active_customers: dau, weekly_active_customers: wau });
    expect(await run('active_customers')).toEqual([
      d(9, 1, 1), d(8, 2, 2), d(7, 0, 2), d(6, 2, 3), d(5, 1, 3), d(4, 0, 3), d(3, 0, 3), d(2, 1, 4), d(1, 2, 4), d(0, 1, 4),
    ]);
  });

  it('retention_cohorts: weekly cohorts by first active week, share active in week N', async () => {
    const rows = (await run('retention_cohorts')).filter((r) => String(r.cohort_week).startsWith('2025-'));
    // Cohort of March 3: R1 (weeks 0, 1, 3), R2 (0, 1), R3 (0 on Sunday the 9th, 2). Cohort of March 10: R4 (0, 2), R5 (0: its touch did not count).
    const c = (cohort_week: string, weeks_since: number, customers: number, cohort_size: number, share: number) => ({ cohort_week, weeks_since, customers, cohort_size, share });
    expect(rows).toEqual([
      c('2025-03-03', 0, 3, 3, 1),
      c('2025-03-03', 1, 2, 3, 0.6667),
      c('2025-03-03', 2, 1, 3, 0.3333),
      c('2025-03-03', 3, 1, 3, 0.3333),
      c('2025-03-10', 0, 2, 2, 1),
      c('2025-03-10', 2, 1, 2, 0.5),
    ]);
  });

  it('lifecycle: new, returning, resurrecting and dormant per day as PostHog defines them', async () => {
    // A {T-9,T-8,T-6,T-1,T}, B {T-8}, C {T-6,T-5}, D {T-1}, E {T-40,T-2}; dormant = active the day before, not that day.
    const d = (k: number, n: number, ret: number, res: number, dorm: number) => ({
      day: t.day(k), new_customers: n, returning_customers: ret, resurrecting_customers: res, dormant_customers: dorm,
    });
    expect(await run('lifecycle')).toEqual([
      d(9, 1, 0, 0, 0), // A new
      d(8, 1, 1, 0, 0), // B new, A returning
      d(7, 0, 0, 0, 2), // A and B dormant
      d(6, 1, 0, 1, 0), // C new, A resurrecting
      d(5, 0, 1, 0, 1), // C returning, A dormant
      d(4, 0, 0, 0, 1), // C dormant
      d(2, 0, 0, 1, 0), // E resurrecting (first seen T-40)
      d(1, 1, 0, 1, 1), // D new, A resurrecting, E dormant
      d(0, 0, 1, 0, 1), // A returning, D dormant (its complaint today is not activity)
    ]);
  });

  it('churn_risk_distribution: latest snapshot per customer, by segment and tenth of risk', async () => {
    // Latest in 30 days: A 0.85 (vip since T-1), B 0.65 (vip), C 0.3 and D 0.05 (regular), F 1.0 (no segment); E is older.
    const r = (segment: string, risk_bucket: number, customers: number, value_at_risk: number) => ({ segment, risk_bucket, customers, value_at_risk });
    expect(await run('churn_risk_distribution')).toEqual([
      r('(none)', 0.9, 1, 10),
      r('regular', 0, 1, 1),
      r('regular', 0.3, 1, 15),
      r('vip', 0.6, 1, 65),
      r('vip', 0.8, 1, 170),
    ]);
  });

  it('value_at_risk_by_segment: customers, at risk, mean risk, value and value at risk', async () => {
    const r = (segment: string, customers: number, at_risk_customers: number, avg_churn_risk: number, customer_value: number, value_at_risk: number) => ({
      segment, customers, at_risk_customers, avg_churn_risk, customer_value, value_at_risk,
    });
    expect(await run('value_at_risk_by_segment')).toEqual([
      r('vip', 2, 2, 0.75, 300, 235), // A 0.85/200/170, B 0.65/100/65
      r('regular', 2, 0, 0.175, 70, 16), // C 0.3/50/15, D 0.05/20/1
      r('(none)', 1, 1, 1, 10, 10), // F
    ]);
  });

  it('at_risk_customers: latest risk >= 0.6, most value at risk first', async () => {
    const rows = await run('at_risk_customers');
    expect(rows.map((r) => [r.customer_id, r.latest_value_at_risk])).toEqual([['A', 170], ['E', 90], ['B', 65], ['F', 10]]);
    expect(rows[0]).toMatchObject({ latest_churn_risk: 0.85, latest_reasons: ['risk 0.85'], as_of: `${t.day(1)} 12:00:00` });
  });

  it('contact_pressure: touches, distinct customers and the most one customer got, per day, channel and campaign', async () => {
    // T-3 spring: B 2 emails (no channel: email), A 1 email (its redelivery collapses) and 1 push; T-1: C 1 sms; T-10 is outside.
    const r = (k: number, channel: string, campaign_id: string, touches: number, customers: number, per: number, max: number) => ({
      day: t.day(k), channel, campaign_id, touches, customers, touches_per_customer: per, max_touches_per_customer: max,
    });
    expect(await run('contact_pressure')).toEqual([r(1, 'sms', '', 1, 1, 1, 1), r(3, 'email', 'spring', 3, 2, 1.5, 2), r(3, 'push', 'spring', 1, 1, 1, 1)]);
  });

  it('overload_by_channel_and_campaign: touches, customers pushed over a cap and negatives', async () => {
    // Campaign spring at T-3: 3 emails (version 2 replaces 1) + 1 push, 1 overloaded; T-2: 1 unsubscribe. Segments and T-10 are outside.
    const r = (kind: string, key: string, k: number, touches: number, overloaded_customers: number, negatives: number) => ({ kind, key, day: t.day(k), touches, overloaded_customers, negatives });
    expect(await run('overload_by_channel_and_campaign')).toEqual([
      r('campaign', 'spring', 2, 0, 0, 1),
      r('channel', 'email', 2, 0, 0, 1),
      r('campaign', 'spring', 3, 4, 1, 0),
      r('channel', 'email', 3, 3, 1, 0),
    ]);
  });

  it('alert_history: fired, resolved and acknowledged alerts (not rows) per rule and day', async () => {
    const r = (k: number, rule: string, severity: string, fired: number, resolved: number, acknowledged: number, subjects: number) => ({ day: t.day(k), rule, severity, fired, resolved, acknowledged, subjects });
    expect(await run('alert_history')).toEqual([
      r(1, 'customer_churn_risk', 'warning', 2, 0, 1, 2), // a3 (acked), a4
      r(1, 'campaign_overload', 'critical', 1, 0, 1, 1), // a5
      r(1, 'customer_contact_fatigue', 'warning', 0, 0, 0, 1), // a6 only pending
      r(2, 'customer_churn_risk', 'warning', 2, 1, 2, 2), // a1 fired, acked, resolved; a2 acked twice
    ]);
  });

  it('alert_time_to_ack: median, p90 and longest wait from firing to the first acknowledgement', async () => {
    // churn: a1 60 s, a2 120 s (its second ack is ignored), a3 300 s, a4 never; sorted [60, 120, 300]:
    // quantileExact takes position floor(level x 3): 0.5 -> 1 -> 120, 0.9 -> 2 -> 300. a7 fired 40 days ago: outside.
    expect(await run('alert_time_to_ack')).toEqual([
      { rule: 'customer_churn_risk', severity: 'warning', fired: 4, acknowledged: 3, median_ack_s: 120, p90_ack_s: 300, max_ack_s: 300 },
      { rule: 'campaign_overload', severity: 'critical', fired: 1, acknowledged: 1, median_ack_s: 30, p90_ack_s: 30, max_ack_s: 30 },
    ]);
  });

  it('customer_activity_daily: exact events under FINAL, revenue and customers per day and type', async () => {
    const r = (k: number, event_type: string, events: number, revenue: number) => ({ day: t.day(k), event_type, events, revenue, customers: 1 });
    expect(await run('customer_activity_daily')).toEqual([
      r(9, 'page_view', 4, 0), // A: incarnation 11 at version 2 (3) + incarnation 12 (1)
      r(8, 'page_view', 1, 0),
      r(8, 'purchase', 1, 40),
      r(6, 'click', 2, 0),
      r(6, 'session_start', 1, 0),
      r(5, 'page_view', 4, 0),
      r(3, 'email_sent', 2, 0),
      r(2, 'purchase', 1, 10),
      r(1, 'app_open', 1, 0),
      r(1, 'page_view', 1, 0),
      r(0, 'complaint', 1, 0),
      r(0, 'purchase', 2, 25.5),
    ]);
  });

  it('rejected_by_reason: dead letters of the last day by hour and reason', async () => {
    const hour = new Date(Math.floor((now - 2 * 3_600_000) / 3_600_000) * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
    // The three of two hours ago could straddle an hour boundary by up to 2 s; the test runs far from one almost always.
    const rows = await run('rejected_by_reason');
    expect(rows.map((r) => ({ ...r, hour: r.hour === hour ? 'H' : r.hour }))).toEqual([
      { hour: 'H', reason: 'INVALID_JSON', messages: 2, bytes: 30, sample_detail: 'Unexpected token' },
      { hour: 'H', reason: 'LATE_EVENT', messages: 1, bytes: 100, sample_detail: 'event time is 400 s behind the watermark' },
    ]);
  });

  it('experience_by_segment_and_product: per day, product and segment, the worst first; a retried row counts once', async () => {
    const row = (k: number, scope: string, key: string, avg: number, min: number, last: number, components: [number, number, number], volume: number, reasons: string, snapshots: number) => ({
      day: t.day(k), scope, key, avg_index: avg, min_index: min, last_index: last, product: components[0], interactive: components[1], others: components[2], volume, reasons, snapshots,
    });
    // Yesterday P1 went 40 then 24 (its last row inserted twice: FINAL keeps one); the customer's row and OLD (40 days) are not here.
    expect(await run('experience_by_segment_and_product')).toEqual([
      row(1, 'product', 'P1', 32, 24, 24, [-0.75, -0.25, -0.5], 212, '14 refunds in 7 days; rated 1.8 by 212', 2),
      row(1, 'product', 'P2', 71.5, 71.5, 71.5, [0.5, 0, 0.25], 30, 'rated 4.4 by 30', 1),
      row(1, 'segment', 'vip', 47.5, 47.5, 47.5, [0, -0.125, 0], 120, '5 customers below 35', 1),
      row(3, 'product', 'P1', 62, 62, 62, [0.25, 0.125, 0.5], 40, '', 1),
    ]);
  });

  it('erasures: erasures and rows removed per day and path', async () => {
    expect(await run('erasures')).toEqual([
      { day: t.day(1), via: 'cli', erasures: 1, rows_removed: 1, longest_ms: 80 },
      { day: t.day(1), via: 'event', erasures: 1, rows_removed: 5, longest_ms: 120 },
    ]);
  });

  it('model_tracking: the latest fit\'s weeks, actual against expected, weekly and cumulated, calibration then holdout', async () => {
    const end = (daysAgo: number) => `${t.day(daysAgo)} 00:00:00`;
    const week = (daysAgo: number, period: string, actual: number, expected: number, cumulative: [number, number]) => ({
      period_end: end(daysAgo), period, model: 'mbg_nbd', actual_weekly: actual, expected_weekly: expected, actual_cumulative: cumulative[0], expected_cumulative: cumulative[1],
    });
    // the older bgnbd fit is not shown; the week ending at the calibration's end is calibration, the one after holdout
    expect(await run('model_tracking')).toEqual([week(14, 'calibration', 4, 3.5, [4, 3.5]), week(7, 'calibration', 6, 6.25, [10, 9.75]), week(0, 'holdout', 5, 5, [15, 14.75])]);
  });

  it('customer_segments keeps the latest segment, customer_days one row per active day', async () => {
    const seg = norm(await client.query(`SELECT customer_id, segment FROM ${db}.customer_segments FINAL ORDER BY customer_id`));
    expect(seg).toEqual([
      { customer_id: 'A', segment: 'vip' },
      { customer_id: 'B', segment: 'vip' },
      { customer_id: 'C', segment: 'regular' },
      { customer_id: 'D', segment: 'regular' },
      { customer_id: 'E', segment: 'vip' },
    ]);
    const [days] = norm(await client.query(`SELECT count() AS n, uniqExact(customer_id, day) AS u FROM ${db}.customer_days FINAL WHERE customer_id = 'A'`));
    expect(days).toEqual({ n: 5, u: 5 });
  });
});
