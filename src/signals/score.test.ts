import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import type { VigilEvent } from '../contract/event.js';
import { CustomerWindows, emptyView } from '../windows/customerWindows.js';
import type { PurchaseModel } from './churn.js';
import { purchaseModelSet } from './purchaseModel.js';
import { Scorer } from './score.js';

const NOW = Date.parse('2026-11-23T12:00:00Z');
const NOW_MIN = Math.floor(NOW / 60_000);
const model: PurchaseModel = { name: 'test', pAlive: () => 1, expectedPurchases: () => 0, customerValue: () => 100 };

function setup() {
  const windows = new CustomerWindows({ maxCustomers: 10, idleEvictMin: 60 * 24 * 30 });
  const slot = windows.slotFor('c1');
  for (let i = 0; i < 4; i++) windows.record(slot, { id: `e${i}`, customerId: 'c1', type: 'email_sent', channel: 'email', ts: NOW - 1000 - i } as VigilEvent, 0);
  const scorer = new Scorer({ config: parseConfig({ signals: { snapshotIntervalMs: 10 * 60_000 } }), model: purchaseModelSet(model), trend: () => null });
  return { windows, slot, scorer };
}

describe('Scorer', () => {
  it('scores a customer\'s view: four emails in a day are fatigue', () => {
    const { windows, slot, scorer } = setup();
    const s = scorer.score(windows.view(slot, NOW_MIN, emptyView()));
    expect(s.view.customerId).toBe('c1');
    expect(s.fatigue.touches24h).toBe(4);
    expect(s.fatigue.score).toBeGreaterThan(0);
    expect(s.churn.pAlive).toBe(1);
  });

  it('writes a snapshot row as of the latest event when a score moved past the step, named after the model in use', () => {
    const { windows, slot, scorer } = setup();
    const s = scorer.score(windows.view(slot, NOW_MIN, emptyView()));
    // Four emails against a cap of 2 a day: fatigue far from the 0 of a customer with no events.
    expect(scorer.snapshotDecision(windows, slot, s)).toBe('write');
    expect(scorer.snapshotRow(windows, slot, s)).toMatchObject({ customerId: 'c1', ts: NOW - 1000, model: 'test', touches24h: 4 });
    // Nothing moved since: no row, however late.
    expect(scorer.snapshotDecision(windows, slot, s)).toBe('none');
  });

  it('owes a move past the step that comes inside the interval, and writes it once the interval has passed', () => {
    const { windows, slot, scorer } = setup();
    const first = scorer.score(windows.view(slot, NOW_MIN, emptyView()));
    scorer.snapshotRow(windows, slot, first);
    const email = (i: number, ts: number) => windows.record(slot, { id: `f${i}`, customerId: 'c1', type: 'email_sent', channel: 'email', ts } as VigilEvent, 0);
    email(1, NOW + 5 * 60_000);
    const sooner = scorer.score(windows.view(slot, NOW_MIN + 5, emptyView()));
    expect(scorer.snapshotDecision(windows, slot, sooner)).toBe('owe');
    email(2, NOW + 10 * 60_000);
    const later = scorer.score(windows.view(slot, NOW_MIN + 10, emptyView()));
    expect(scorer.snapshotDecision(windows, slot, later)).toBe('write');
    scorer.model = purchaseModelSet({ ...model, name: 'fitted' });
    expect(scorer.snapshotRow(windows, slot, later)).toMatchObject({ ts: NOW + 10 * 60_000, model: 'fitted', touches24h: 6 });
  });

  it('writes no row for a move within the step, and compares a new customer with one that has no events', () => {
    const windows = new CustomerWindows({ maxCustomers: 10, idleEvictMin: 60 * 24 * 30 });
    const slot = windows.slotFor('c2');
    // One page view (weight 0.5 of a 20 scale): engagement 2.5, under the 5 points of the step.
    windows.record(slot, { id: 'v', customerId: 'c2', type: 'page_view', ts: NOW } as VigilEvent, 0.5);
    const scorer = new Scorer({ config: parseConfig({}), model: purchaseModelSet(model), trend: () => null });
    const s = scorer.score(windows.view(slot, NOW_MIN, emptyView()));
    expect(s.engagement.score).toBeGreaterThan(0);
    expect(scorer.snapshotDecision(windows, slot, s)).toBe('none');
    const strict = new Scorer({ config: parseConfig({ signals: { snapshotStep: 0.01 } }), model: purchaseModelSet(model), trend: () => null });
    expect(strict.snapshotDecision(windows, slot, s)).toBe('write');
  });
});
