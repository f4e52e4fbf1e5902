// The live-lookup adapter over a real Pipeline on the manual clock: what the export's live part holds, as plain data.
import { describe, expect, it } from 'vitest';
import { MemoryAlertStore } from '../alerts/alertStore.js';
import { parseConfig } from '../config/load.js';
import type { PipelineOutputs } from '../contract/outputs.js';
import { Pipeline } from '../pipeline.js';
import { ManualClock } from '../shared/clock.js';
import { purchaseModelSet } from '../signals/purchaseModel.js';
import { pipelineLookup, type LiveCustomer } from './liveLookup.js';

const NOW = Date.parse('2026-11-23T12:00:00Z');
const enc = new TextEncoder();
const outputs: PipelineOutputs = { event() {}, customerActivity() {}, entityActivity() {}, signals() {}, alert() {}, rejected() {} };
const model = purchaseModelSet({ name: 'test', pAlive: () => 0.4, expectedPurchases: () => 1, customerValue: () => 80 });

function setup() {
  const clock = new ManualClock(NOW);
  const config = parseConfig({ budget: { quietHours: { start: 0, end: 0 } } });
  const p = new Pipeline({ config, clock, outputs, model, trend: () => null, alertStore: new MemoryAlertStore() });
  let n = 0;
  const send = (customerId: string, type: string, over: Record<string, unknown> = {}) => {
    const outcome = p.handle({ subject: `events.${type}`, data: enc.encode(JSON.stringify({ id: `e${++n}`, customerId, type, ts: NOW - 60_000 + n, ...over })), streamSeq: n, receivedAt: clock.now() });
    // Each event derived on its own, as if a derive tick came between any two events.
    p.derive();
    return outcome;
  };
  return { p, send };
}

describe('pipelineLookup', () => {
  it('reads a held customer: windows, the three signals with their reasons, the budget holding back after a complaint', async () => {
    const { p, send } = setup();
    send('c1', 'purchase', { value: 40 });
    for (let i = 0; i < 3; i++) send('c1', 'email_sent', { campaignId: 'spring' });
    send('c1', 'complaint', { channel: 'email' });
    const live = (await pipelineLookup(() => [p]).signals('c1')) as LiveCustomer;
    expect(live).toMatchObject({ storedId: 'c1', windows: { customerId: 'c1', purchases: 1, revenue: 40 } });
    expect(live.windows.touches7d.email).toBe(3);
    expect(live.churn.pAlive).toBeCloseTo(0.4);
    expect(live.churn.reasons.some((r) => /complaint/.test(r))).toBe(true);
    expect(live.fatigue.touches7d).toBe(3);
    expect(live.engagement.score).toBeGreaterThan(0);
    expect(live.budget!.channels.email).toMatchObject({ decision: 'suppress' });
    expect(live.budget!.suppressions.length).toBeGreaterThan(0);
    expect(live.budget!.suppressions.every((s) => s.customerId === 'c1')).toBe(true);
    expect(live.budget!.suppressions.some((s) => s.reasons.some((r) => /complaint/.test(r)))).toBe(true);
    // Plain data, detached from the pipeline: JSON round-trips it unchanged, and later events do not change it.
    expect(JSON.parse(JSON.stringify(live))).toEqual(live);
    send('c1', 'page_view');
    expect(live.windows.purchases).toBe(1);
    expect(live.windows.engagement.d7).not.toBe((await pipelineLookup(() => [p]).signals('c1'))!.windows.engagement.d7);
  });

  it('is null for a customer no pipeline holds, and asks each pipeline in turn', async () => {
    const a = setup();
    const b = setup();
    b.send('only-in-b', 'page_view');
    const lookup = pipelineLookup(() => [a.p, b.p]);
    expect(await lookup.signals('nobody')).toBeNull();
    expect((await lookup.signals('only-in-b'))?.storedId).toBe('only-in-b');
    expect((await pipelineLookup(() => [b.p], false).signals('only-in-b'))?.budget).toBeNull();
  });
});
