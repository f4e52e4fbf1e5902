// Merging snapshots, by hand: two processors' (or two partitions') frames and the one frame a wall shows for both.
import { describe, expect, it } from 'vitest';
import type { AlertTotals, AlertView, AtRiskEntry, ExperienceCell, OverloadCell, ProcessorStats, Silence, SnapshotFrame } from '../contract/frames.js';
import { mergeExperience, mergeSnapshots, withBudgetCounts } from './snapshotMerge.js';

function stats(ts: number, over: Partial<ProcessorStats> = {}): ProcessorStats {
  return { ts, eventsPerSec: 0, eventsTotal: 0, rejectedTotal: 0, lateTotal: 0, lagMs: 0, pending: 0, activeCustomers: 0, clickhouseBufferedRows: 0, uptimeS: 0, ...over };
}

function frame(over: Partial<SnapshotFrame>): SnapshotFrame {
  return { type: 'snapshot', serverTime: 0, stats: stats(0), statsHistory: [], atRisk: [], overload: [], experience: [], alerts: [], silences: [], ...over };
}

const risk = (customerId: string, valueAtRisk: number, r: number, updatedAt: number): AtRiskEntry => ({ customerId, risk: r, pAlive: 1 - r, valueAtRisk, reasons: [], updatedAt });

function alert(id: string, over: Partial<AlertView> = {}): AlertView {
  return {
    id,
    fingerprint: `fp-${id}`,
    rule: 'churn',
    severity: 'warning',
    state: 'firing',
    subject: { kind: 'customer', key: id },
    value: 1,
    threshold: 0.5,
    reasons: [],
    labels: {},
    summary: '',
    startsAt: 0,
    updatedAt: 0,
    endsAt: null,
    acknowledged: null,
    trigger: null,
    ...over,
  };
}

const silence = (id: string, endsAt: number): Silence => ({ id, matchers: [{ name: 'campaign', value: 'spring', op: '=' }], startsAt: 0, endsAt, createdBy: 'ops', comment: '', createdAt: 0 });

describe('mergeSnapshots', () => {
  const totalsA: AlertTotals = {
    firing: 2,
    pending: 1,
    acknowledged: 1,
    silenced: 0,
    unattended: 1,
    customerGroups: [
      { rule: 'churn', campaign: 'spring', firing: 2, pending: 0, acknowledged: 1, silenced: 0 },
      { rule: 'fatigue', campaign: null, firing: 0, pending: 1, acknowledged: 0, silenced: 0 },
    ],
  };
  const totalsB: AlertTotals = {
    firing: 1,
    pending: 2,
    acknowledged: 0,
    silenced: 1,
    unattended: 0,
    customerGroups: [{ rule: 'churn', campaign: 'spring', firing: 1, pending: 2, acknowledged: 0, silenced: 1 }],
  };
  const a = frame({
    stats: stats(10_500, { eventsPerSec: 100, eventsTotal: 1000, rejectedTotal: 5, lateTotal: 2, lagMs: 40, pending: 10, activeCustomers: 300, clickhouseBufferedRows: 50, uptimeS: 120, alerts: totalsA }),
    statsHistory: [stats(8_100, { eventsPerSec: 1 }), stats(9_100, { eventsPerSec: 2 }), stats(9_800, { eventsPerSec: 3, lagMs: 5 }), stats(10_500, { eventsPerSec: 4 })],
    atRisk: [risk('c1', 100, 0.9, 1), risk('c2', 80, 0.95, 1)],
    overload: [
      { kind: 'campaign', key: 'spring', touches24h: 10, overloadedCustomers: 1, negatives1h: 2, surgeZ: 1.5, checked: 4, suppressed: 1, suppressedByChannel: { email: 1 } },
      { kind: 'channel', key: 'email', touches24h: 5, overloadedCustomers: 0, negatives1h: 1, surgeZ: 0.3 },
    ],
    alerts: [alert('a1', { updatedAt: 5 }), alert('a2', { updatedAt: 3 })],
    silences: [silence('s1', 9_000), silence('s2', 9_000)],
  });
  const b = frame({
    stats: stats(10_900, { eventsPerSec: 50, eventsTotal: 400, rejectedTotal: 1, lateTotal: 0, lagMs: 90, pending: 3, activeCustomers: 200, clickhouseBufferedRows: 0, uptimeS: 60, alerts: totalsB }),
    statsHistory: [stats(8_900, { eventsPerSec: 10 }), stats(9_900, { eventsPerSec: 20, lagMs: 7 }), stats(10_900, { eventsPerSec: 30 }), stats(11_050, { eventsPerSec: 40 })],
    atRisk: [risk('c3', 90, 0.5, 1), risk('c1', 120, 0.92, 2)],
    overload: [
      { kind: 'campaign', key: 'spring', touches24h: 7, overloadedCustomers: 2, negatives1h: 0, surgeZ: 2.5, checked: 3, suppressed: 2, suppressedByChannel: { email: 1, sms: 1 } },
      { kind: 'segment', key: 'vip', touches24h: 0, overloadedCustomers: 0, negatives1h: 4, surgeZ: -1 },
    ],
    alerts: [alert('a1', { updatedAt: 7, acknowledged: { by: 'ann', at: 7 } }), alert('a3', { updatedAt: 1 })],
    silences: [silence('s1', 8_000)],
  });
  const merged = mergeSnapshots([a, b], { atRiskLimit: 3, now: 12_345 });

  it('sums the counts, takes the worst lag and the longest uptime', () => {
    expect(merged.type).toBe('snapshot');
    expect(merged.serverTime).toBe(12_345);
    const { alerts, ...rest } = merged.stats;
    expect(rest).toEqual(stats(10_900, { eventsPerSec: 150, eventsTotal: 1400, rejectedTotal: 6, lateTotal: 2, lagMs: 90, pending: 13, activeCustomers: 500, clickhouseBufferedRows: 50, uptimeS: 120 }));
    expect(alerts).toEqual({
      firing: 3,
      pending: 3,
      acknowledged: 1,
      silenced: 1,
      unattended: 1,
      customerGroups: [
        { rule: 'churn', campaign: 'spring', firing: 3, pending: 2, acknowledged: 1, silenced: 1 },
        { rule: 'fatigue', campaign: null, firing: 0, pending: 1, acknowledged: 0, silenced: 0 },
      ],
    });
  });

  it('adds history points up per second, one point per frame and second (the latest)', () => {
    expect(merged.statsHistory.map((p) => [p.ts, p.eventsPerSec, p.lagMs])).toEqual([
      [8_900, 11, 0],
      [9_900, 23, 7], // A's 9_100 gives way to its later 9_800 in the same second
      [10_900, 34, 0],
      [11_050, 40, 0],
    ]);
    expect(merged.statsHistory.every((p) => p.alerts === undefined)).toBe(true);
  });

  it('lists each customer at risk once, its latest entry, highest value at risk first, cut to the limit', () => {
    expect(merged.atRisk.map((e) => [e.customerId, e.valueAtRisk])).toEqual([
      ['c1', 120],
      ['c3', 90],
      ['c2', 80],
    ]);
    expect(mergeSnapshots([a, b], { atRiskLimit: 2, now: 0 }).atRisk.map((e) => e.customerId)).toEqual(['c1', 'c3']);
  });

  it("keeps an entry's intervals through the merge", () => {
    const intervals = { pAlive: { estimate: 0.1, lower: 0.07, upper: 0.14, level: 0.9 }, expectedPurchases90d: { estimate: 0.2, lower: 0.15, upper: 0.27, level: 0.9 }, valueAtRisk: null };
    const sure = { ...a, atRisk: [{ ...risk('c9', 500, 0.9, 1), intervals }] };
    expect(mergeSnapshots([sure, b], { atRiskLimit: 5, now: 0 }).atRisk.find((e) => e.customerId === 'c9')?.intervals).toEqual(intervals);
  });

  it('adds overload cells of the same entity, with the strongest surge and suppressions per channel', () => {
    expect(merged.overload).toEqual<OverloadCell[]>([
      { kind: 'campaign', key: 'spring', touches24h: 17, overloadedCustomers: 3, negatives1h: 2, surgeZ: 2.5, checked: 7, suppressed: 3, suppressedByChannel: { email: 2, sms: 1 } },
      { kind: 'channel', key: 'email', touches24h: 5, overloadedCustomers: 0, negatives1h: 1, surgeZ: 0.3 },
      { kind: 'segment', key: 'vip', touches24h: 0, overloadedCustomers: 0, negatives1h: 4, surgeZ: -1 },
    ]);
    // The inputs are left as they were.
    expect(a.overload[0]).toMatchObject({ touches24h: 10, suppressedByChannel: { email: 1 } });
  });

  it('shows each alert once, its latest update, and each silence once, as ended if one part has it ended', () => {
    expect(merged.alerts.map((x) => [x.id, x.updatedAt])).toEqual([
      ['a1', 7],
      ['a2', 3],
      ['a3', 1],
    ]);
    expect(merged.alerts[0].acknowledged).toEqual({ by: 'ann', at: 7 });
    expect(merged.silences.map((s) => [s.id, s.endsAt])).toEqual([
      ['s1', 8_000],
      ['s2', 9_000],
    ]);
  });

  it('with an alert limit keeps the alert engine order: firing, pending, then resolved; entities before customers; newest first', () => {
    const alerts = [
      alert('old-resolved', { state: 'resolved', updatedAt: 1 }),
      alert('customer-firing', { updatedAt: 9 }),
      alert('campaign-firing', { subject: { kind: 'campaign', key: 'spring' }, updatedAt: 2 }),
      alert('pending', { state: 'pending', updatedAt: 10 }),
      alert('new-resolved', { state: 'resolved', updatedAt: 8 }),
      alert('customer-firing-old', { updatedAt: 3 }),
    ];
    const cut = mergeSnapshots([frame({ alerts })], { atRiskLimit: 10, now: 0, alertLimit: 5 });
    expect(cut.alerts.map((x) => x.id)).toEqual(['campaign-firing', 'customer-firing', 'customer-firing-old', 'pending', 'new-resolved']);
  });

  it('of nothing is an empty frame at now; of one frame is that frame', () => {
    const empty = mergeSnapshots([], { atRiskLimit: 5, now: 777 });
    expect(empty).toEqual(frame({ serverTime: 777, stats: stats(777) }));
    const one = mergeSnapshots([a], { atRiskLimit: 5, now: 12_345 });
    expect(one.stats).toEqual(a.stats);
    expect(one.atRisk).toEqual(a.atRisk);
    expect(one.overload).toEqual(a.overload);
    expect(one.alerts).toEqual(a.alerts);
    expect(one.statsHistory.map((p) => p.ts)).toEqual([8_100, 9_800, 10_500]);
  });
});

describe('mergeExperience', () => {
  const cell = (kind: ExperienceCell['kind'], key: string, index: number, trend: number, volume: number, reason: string | null = null): ExperienceCell => ({ kind, key, index, trend, volume, reason });

  it('weighs the partitions\' cells of one product by their volume, adds the volumes, and takes the leading reason of the largest', () => {
    const merged = mergeExperience([cell('product', 'kettle', 40, -20, 30, '9 defects'), cell('product', 'kettle', 80, 0, 10, 'rated 4.5 by 10'), cell('segment', 'home', 60, -2, 5)]);
    expect(merged).toEqual([cell('product', 'kettle', 50, -15, 40, '9 defects'), cell('segment', 'home', 60, -2, 5)]);
  });

  it('keeps the worst ten of each kind, lowest index first, the steeper fall on a tie; a frame without cells (an older processor) adds none', () => {
    const products = Array.from({ length: 14 }, (_, i) => cell('product', `p${i}`, 90 - i, i % 2 === 0 ? -1 : -5, 10));
    const segments = [cell('segment', 's1', 50, 0, 1), cell('segment', 's2', 50, -3, 1)];
    const merged = mergeExperience([...products, ...segments]);
    expect(merged.map((c) => c.key)).toEqual(['p13', 'p12', 'p11', 'p10', 'p9', 'p8', 'p7', 'p6', 'p5', 'p4', 's2', 's1']);
    const older = { ...frame({}) } as Partial<SnapshotFrame>;
    delete older.experience;
    expect(mergeSnapshots([older as SnapshotFrame, frame({ experience: segments })], { atRiskLimit: 5, now: 0 }).experience).toEqual([segments[1], segments[0]]);
  });
});

describe('withBudgetCounts', () => {
  it('takes the entity counts from the combined cells and the contact budget counts from the processors', () => {
    const combined: OverloadCell[] = [
      { kind: 'campaign', key: 'spring', touches24h: 20, overloadedCustomers: 3, negatives1h: 4, surgeZ: 3 },
      { kind: 'channel', key: 'email', touches24h: 9, overloadedCustomers: 0, negatives1h: 0, surgeZ: 0 },
    ];
    const summed: OverloadCell[] = [
      { kind: 'campaign', key: 'spring', touches24h: 17, overloadedCustomers: 3, negatives1h: 2, surgeZ: 2.5, checked: 7, suppressed: 3, suppressedByChannel: { email: 2, sms: 1 } },
      { kind: 'channel', key: 'email', touches24h: 5, overloadedCustomers: 0, negatives1h: 1, surgeZ: 0.3 },
      { kind: 'channel', key: 'sms', touches24h: 0, overloadedCustomers: 0, negatives1h: 0, surgeZ: 0, checked: 2, suppressed: 0, suppressedByChannel: { sms: 0 } },
    ];
    expect(withBudgetCounts(combined, summed)).toEqual<OverloadCell[]>([
      { kind: 'campaign', key: 'spring', touches24h: 20, overloadedCustomers: 3, negatives1h: 4, surgeZ: 3, checked: 7, suppressed: 3, suppressedByChannel: { email: 2, sms: 1 } },
      { kind: 'channel', key: 'email', touches24h: 9, overloadedCustomers: 0, negatives1h: 0, surgeZ: 0 },
      { kind: 'channel', key: 'sms', touches24h: 0, overloadedCustomers: 0, negatives1h: 0, surgeZ: 0, checked: 2, suppressed: 0, suppressedByChannel: { sms: 0 } },
    ]);
  });
});
