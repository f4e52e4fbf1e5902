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

  it('gives a snapshot row at most once per interval of event time, named after the model in use', () => {
    const { windows, slot, scorer } = setup();
    const s = scorer.score(windows.view(slot, NOW_MIN, emptyView()));
    expect(scorer.snapshotDue(windows, slot, s, NOW)).toMatchObject({ customerId: 'c1', ts: NOW, model: 'test', touches24h: 4 });
    expect(scorer.snapshotDue(windows, slot, s, NOW + 5 * 60_000)).toBeNull();
    scorer.model = purchaseModelSet({ ...model, name: 'fitted' });
    expect(scorer.snapshotDue(windows, slot, s, NOW + 10 * 60_000)).toMatchObject({ model: 'fitted' });
  });
});
