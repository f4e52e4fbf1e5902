import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import type { VigilEvent } from '../contract/event.js';
import type { AlertView, ProcessorStats } from '../contract/frames.js';
import type { CustomerSignals } from '../contract/pipeline.js';
import { EntityStats } from '../signals/entityStats.js';
import { ManualClock } from '../shared/clock.js';
import { emptyView } from '../windows/customerWindows.js';
import { AlertDesk } from './alertDesk.js';
import { MemoryAlertStore } from './alertStore.js';
import { customerSample, evaluateCustomer } from './customerRules.js';
import { ruleSampler } from './sampler.js';

const NOW = Date.parse('2026-11-23T12:00:00Z');
const ev = { id: 'e1', customerId: 'c1', type: 'email_sent', channel: 'email', campaignId: 'spring', ts: NOW - 1000 } as VigilEvent;

function signals(fatigue: number): CustomerSignals {
  return {
    view: { ...emptyView(), customerId: 'c1' },
    engagement: { score: 0.5, trendRelative: 0 } as CustomerSignals['engagement'],
    churn: { risk: 0.1, pAlive: 1, valueAtRisk: 0, customerValue: 0, expectedPurchases30d: 0, expectedPurchases90d: 0, reasons: [] } as unknown as CustomerSignals['churn'],
    fatigue: { score: fatigue, touches24h: 4, reasons: ['4 emails in 24 h'] } as CustomerSignals['fatigue'],
    experience: { index: 50, product: 0, interactive: 0, others: 0, trend: 0, reasons: [] },
  };
}

function setup() {
  const clock = new ManualClock(NOW);
  const changes: AlertView[] = [];
  const desk = new AlertDesk({ config: parseConfig({}), clock, alertStore: new MemoryAlertStore(), outputs: { alert: (a) => changes.push(a) } });
  return { desk, changes, clock };
}

describe('evaluate (customer rules)', () => {
  it('gives the churn alert the value at risk with its 90 % interval when the model has one, the bare figure otherwise', () => {
    const rule = parseConfig({}).alerts.rules.find((r) => r.signal === 'churn_risk')!;
    const churn = { risk: 0.8, pAlive: 0.2, valueAtRisk: 1240.4, customerValue: 1550.5, expectedPurchases30d: 0, expectedPurchases90d: 0, reasons: ['no purchase for 41 days'] };
    const valueAtRisk = { estimate: 1240.4, lower: 980.2, upper: 1510.7, level: 0.9 };
    const sure = { ...signals(0), churn: { ...churn, intervals: () => ({ pAlive: valueAtRisk, expectedPurchases90d: valueAtRisk, valueAtRisk }) } } as unknown as CustomerSignals;
    expect(customerSample(rule, sure)!.reasons).toEqual(['no purchase for 41 days', 'customer value 1551, at risk 1240, 90 % 980–1511']);
    const plain = { ...signals(0), churn } as unknown as CustomerSignals;
    expect(customerSample(rule, plain)!.reasons).toEqual(['no purchase for 41 days', 'customer value 1551, at risk 1240']);
  });

  it('fires on a breaching event, the event its trigger and its campaign and channel the alert\'s labels', () => {
    const { desk, changes } = setup();
    evaluateCustomer(desk.engine, desk.customerRules, ev, signals(2), NOW);
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ rule: 'customer_contact_fatigue', state: 'firing', subject: { kind: 'customer', key: 'c1' }, trigger: { eventId: 'e1' }, reasons: ['4 emails in 24 h'] });
    expect(changes[0].labels).toMatchObject({ campaign: 'spring', channel: 'email' });
  });

  it('resolves an open alert at the event that brings its value back, with no tick between, whatever the other rules say', () => {
    const { desk, changes } = setup();
    evaluateCustomer(desk.engine, desk.customerRules, ev, signals(2), NOW);
    expect(desk.engine.activeCount).toBe(1);
    // Below the resolve threshold now: the fatigue rule is not the first rule looked at, and none of them breaches.
    evaluateCustomer(desk.engine, desk.customerRules, { ...ev, id: 'e2' }, signals(0.5), NOW + 1000);
    expect(changes.map((c) => c.state)).toEqual(['firing', 'resolved']);
    expect(desk.engine.activeCount).toBe(0);
  });

  it('changes nothing for a sample below threshold with no alert open', () => {
    const { desk, changes } = setup();
    evaluateCustomer(desk.engine, desk.customerRules, ev, signals(0.2), NOW);
    expect(changes).toEqual([]);
    expect(desk.engine.activeCount).toBe(0);
  });

  it('at a tick, the sampler it is given resolves the alert of a customer whose signals fell back, and leaves an unknown one', () => {
    const { desk, changes } = setup();
    evaluateCustomer(desk.engine, desk.customerRules, ev, signals(2), NOW);
    evaluateCustomer(desk.engine, desk.customerRules, { ...ev, customerId: 'c2' }, signals(2), NOW);
    const sources = {
      customer: (id: string) => (id === 'c1' ? signals(0.5) : null),
      stats: () => ({ lagMs: 0, pending: 0 }) as ProcessorStats,
      suppressions: { all: () => [], one: () => null },
      entities: new EntityStats(parseConfig({}).signals.surge, 10),
    };
    desk.engine.tick(NOW + 1000, ruleSampler(sources, Math.floor(NOW / 60_000)));
    expect(changes.slice(2).map((a) => [a.subject.key, a.state])).toEqual([['c1', 'resolved']]);
    expect(desk.engine.activeCount).toBe(1);
  });
});
