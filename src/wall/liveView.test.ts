import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import type { WallFrame } from '../contract/frames.js';
import type { CustomerSignals, Outcome } from '../contract/pipeline.js';
import { AlertDesk } from '../alerts/alertDesk.js';
import { MemoryAlertStore } from '../alerts/alertStore.js';
import { ManualClock } from '../shared/clock.js';
import { LiveView, overloadWithSuppressions } from './liveView.js';

const NOW = Date.parse('2026-11-23T12:00:00Z');
const at = (risk: number, valueAtRisk: number) => ({ churn: { risk, pAlive: 0.5, valueAtRisk, reasons: ['quiet'] } }) as unknown as CustomerSignals;

function setup() {
  const clock = new ManualClock(NOW);
  const config = parseConfig({ wall: { atRiskListSize: 2 } });
  const desk = new AlertDesk({ config, clock, alertStore: new MemoryAlertStore(), outputs: { alert: () => undefined } });
  const counts: Record<Outcome, number> = { processed: 0, duplicate: 0, late: 0, rejected: 0, dropped_consent: 0 };
  const live = new LiveView({ config, clock, desk, counts, activeCustomers: () => 7, pending: () => 3, overload: () => [], watermark: (now) => now });
  const frames: WallFrame[] = [];
  live.subscribe((f) => frames.push(f));
  return { live, clock, counts, frames, desk };
}

const INTERVALS = {
  pAlive: { estimate: 0.31, lower: 0.24, upper: 0.39, level: 0.9 },
  expectedPurchases90d: { estimate: 0.8, lower: 0.6, upper: 1.1, level: 0.9 },
  valueAtRisk: { estimate: 40, lower: 30, upper: 52, level: 0.9 },
};

describe('LiveView', () => {
  it('works out an entry’s intervals when a list shows it, once, and never for entries the list leaves out', () => {
    const { live } = setup();
    const calls: string[] = [];
    const withIntervals = (id: string, valueAtRisk: number) =>
      ({ churn: { risk: 0.9, pAlive: 0.3, valueAtRisk, reasons: ['quiet'], intervals: () => (calls.push(id), INTERVALS) } }) as unknown as CustomerSignals;
    live.trackAtRisk('a', withIntervals('a', 40), NOW);
    live.trackAtRisk('b', withIntervals('b', 5), NOW);
    live.trackAtRisk('c', at(0.9, 30), NOW);
    expect(calls).toEqual([]);
    const shown = live.snapshot().atRisk;
    expect(shown.map((e) => [e.customerId, e.intervals])).toEqual([['a', INTERVALS], ['c', undefined]]);
    expect(calls).toEqual(['a']);
    live.snapshot();
    expect(calls).toEqual(['a']);
    // kept with the entry, for the checkpoint too; a new signal for the customer is worked out again when shown
    expect(live.savedAtRisk().find((e) => e.customerId === 'a')?.intervals).toEqual(INTERVALS);
    live.trackAtRisk('a', withIntervals('a', 41), NOW);
    expect(live.snapshot().atRisk[0].intervals).toEqual(INTERVALS);
    expect(calls).toEqual(['a', 'a']);
  });


  it('measures throughput, median lag and pending per tick, and keeps the history', () => {
    const { live, clock, counts } = setup();
    counts.processed = 20;
    for (const ms of [100, 300, 200]) live.lag(ms);
    clock.advance(10_000);
    const stats = live.measure(clock.now());
    expect(stats).toMatchObject({ eventsPerSec: 2, eventsTotal: 20, lagMs: 200, pending: 3, activeCustomers: 7, uptimeS: 10 });
    expect(live.snapshot().statsHistory).toHaveLength(2);
  });

  it('lists the customers most at risk by value, drops those who recover or leave', () => {
    const { live } = setup();
    live.trackAtRisk('a', at(0.9, 10), NOW);
    live.trackAtRisk('b', at(0.9, 50), NOW);
    live.trackAtRisk('c', at(0.9, 30), NOW);
    expect(live.snapshot().atRisk.map((e) => e.customerId)).toEqual(['b', 'c']);
    live.trackAtRisk('b', at(0.01, 50), NOW);
    expect(live.forget('c')).toBe(true);
    expect(live.snapshot().atRisk.map((e) => e.customerId)).toEqual(['a']);
  });

  it('sends stats with alert totals, at-risk and overload frames at the end of a tick, and a frame per alert change', () => {
    const { live, frames, desk } = setup();
    const rule = desk.customerRules[0];
    desk.engine.observe(rule, { kind: 'customer', key: 'c1' }, { value: 5, reasons: ['r'], trigger: null }, NOW);
    live.tickFrames(live.measure(NOW), Math.floor(NOW / 60_000), NOW);
    expect(frames.map((f) => f.type)).toEqual(['alert', 'stats', 'at_risk', 'overload']);
    expect(live.stats.alerts).toMatchObject({ firing: 1, unattended: 1 });
  });

  it('adds the budget\'s suppressions to the overload cells per campaign and channel', () => {
    const cells = overloadWithSuppressions([{ kind: 'channel', key: 'email', touches24h: 9, overloadedCustomers: 1, negatives1h: 0, surgeZ: 0 }], [{ campaignId: 'spring', channel: 'email', suppressed: 4, checked: 10 }]);
    expect(cells).toEqual([
      { kind: 'channel', key: 'email', touches24h: 9, overloadedCustomers: 1, negatives1h: 0, surgeZ: 0, suppressed: 4, checked: 10, suppressedByChannel: { email: 4 } },
      { kind: 'campaign', key: 'spring', touches24h: 0, overloadedCustomers: 0, negatives1h: 0, surgeZ: 0, suppressed: 4, checked: 10, suppressedByChannel: { email: 4 } },
    ]);
  });
});
