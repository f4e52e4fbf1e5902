import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import type { AlertView, ModelState, WallFrame } from '../contract/frames.js';
import { Pipeline } from '../pipeline.js';
import { configuredPurchaseModel } from '../signals/purchaseModel.js';
import { ManualClock } from '../shared/clock.js';
import { EntityStats } from '../signals/entityStats.js';
import { MemoryAlertStore } from './alertStore.js';
import { EntityRuleEvaluator } from './entityRuleEvaluator.js';

const NOW = Date.parse('2026-11-23T12:00:00Z');

function setup(samples: { campaignId: string; value: number; reasons: string[] }[] = [], model?: () => ModelState) {
  const clock = new ManualClock(NOW);
  const config = parseConfig({});
  const entities = new EntityStats(config.signals.surge, 100);
  const published: AlertView[] = [];
  const leader = new EntityRuleEvaluator({ config, clock, alertStore: new MemoryAlertStore(), outputs: { alert: () => undefined }, entities, campaignSuppressions: () => samples, onAlert: (a) => published.push(a), model });
  return { leader, entities, clock, published };
}

describe('EntityRuleEvaluator (the cluster leader)', () => {
  it('fires the campaign suppression rule on the counts given to it', () => {
    const samples = [{ campaignId: 'spring', value: 600, reasons: ['600 of 900 customers checked were suppressed'] }, { campaignId: 'autumn', value: 20, reasons: ['20 of 40'] }];
    const { leader, published } = setup(samples);
    leader.tick();
    expect(leader.alerts.views().map((a) => [a.rule, a.subject.key, a.state, a.value, a.reasons])).toEqual([['campaign_suppressed', 'spring', 'firing', 600, ['600 of 900 customers checked were suppressed']]]);
    expect(published.map((a) => a.rule)).toEqual(['campaign_suppressed']);
  });

  it('evaluates the channel rules on the combined entity counts, and shows them on its snapshot', () => {
    const { leader, entities, clock } = setup();
    const nowMin = Math.floor(NOW / 60_000);
    // A quiet hour, then a burst of complaints: a negative surge on email.
    for (let m = 60; m > 5; m--) entities.record('channel', 'email', nowMin - m, { negative: m % 10 === 0 });
    for (let i = 0; i < 40; i++) entities.record('channel', 'email', nowMin, { negative: true });
    const frames: WallFrame[] = [];
    leader.subscribe((f) => frames.push(f));
    leader.tick();
    clock.advance(61_000);
    leader.tick();
    const surge = leader.alerts.views().find((a) => a.rule === 'channel_negative_surge');
    expect(surge).toMatchObject({ subject: { kind: 'channel', key: 'email' }, state: 'firing' });
    expect(leader.snapshot().overload.find((c) => c.kind === 'channel' && c.key === 'email')).toBeDefined();
    expect(frames.map((f) => f.type)).toContain('alert');
    expect(leader.counts.processed).toBe(0);
  });

  it("raises model_drift once for the cluster, on the leader's refit; the partitions' pipelines never do", () => {
    const refit = { drifted: true, reasons: ['r 0.250 → 0.600 (+140 %, limit ±50 %)'] };
    let state: ModelState = { version: 'bgnbd-gg:2026-11-23T11:00:00Z', fittedAt: '2026-11-23T11:00:00Z', chosen: null, drift: 'unknown', driftReasons: [] };
    const { leader, clock, published } = setup([], () => state);
    const config = parseConfig({});
    // Two partitions of the leader's processor, whose stats carry the same drift verdict.
    const partitions = [0, 1].map((partition) => new Pipeline({ config, clock, outputs: { event() {}, customerActivity() {}, entityActivity() {}, signals() {}, alert() {}, rejected() {} }, model: configuredPurchaseModel(config.signals.model), trend: () => null, alertStore: new MemoryAlertStore(), partition, refit: () => ({ refits: 1, accepted: null, chosen: null, drift: refit, recent: [], lastError: null }) }));
    const tickAll = () => [leader, ...partitions].forEach((p) => p.tick());
    // no verdict yet on the leader (it has not refitted since it leads): no sample, no alert
    tickAll();
    expect(published).toEqual([]);
    state = { ...state, drift: 'drifted', driftReasons: refit.reasons };
    clock.advance(1_000);
    tickAll();
    const drifts = [leader, ...partitions].flatMap((p) => p.alerts.views()).filter((a) => a.rule === 'model_drift');
    expect(drifts.map((a) => [a.subject, a.state, a.reasons])).toEqual([[{ kind: 'processor', key: 'cluster' }, 'firing', [`bgnbd-gg:2026-11-23T11:00:00Z: ${refit.reasons[0]}`]]]);
    // the next refit without drift resolves it
    state = { ...state, drift: 'ok', driftReasons: [] };
    clock.advance(1_000);
    tickAll();
    expect(leader.alerts.views().find((a) => a.rule === 'model_drift')?.state ?? 'resolved').toBe('resolved');
  });
});
