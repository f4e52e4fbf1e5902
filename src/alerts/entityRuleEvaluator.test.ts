import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import type { AlertView, WallFrame } from '../contract/frames.js';
import { ManualClock } from '../shared/clock.js';
import { EntityStats } from '../signals/entityStats.js';
import { MemoryAlertStore } from './alertStore.js';
import { EntityRuleEvaluator } from './entityRuleEvaluator.js';

const NOW = Date.parse('2026-11-23T12:00:00Z');

function setup(samples: { campaignId: string; value: number; reasons: string[] }[] = []) {
  const clock = new ManualClock(NOW);
  const config = parseConfig({});
  const entities = new EntityStats(config.signals.surge, 100);
  const published: AlertView[] = [];
  const leader = new EntityRuleEvaluator({ config, clock, alertStore: new MemoryAlertStore(), outputs: { alert: () => undefined }, entities, campaignSuppressions: () => samples, onAlert: (a) => published.push(a) });
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
});
