import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import type { VigilEvent } from '../contract/event.js';
import type { CustomerActivityRecord, EntityActivityRecord, PipelineOutputs } from '../contract/outputs.js';
import { MemoryConsentStore } from '../privacy/consent.js';
import { ManualClock } from '../shared/clock.js';
import { ApplyStep } from './apply.js';

const NOW = Date.parse('2026-11-23T12:00:00Z');
const NOW_MIN = Math.floor(NOW / 60_000);
const ev = (id: string, type: string, over: Partial<VigilEvent> = {}): VigilEvent => ({ id, customerId: 'c1', type, ts: NOW - 1000, ...over }) as VigilEvent;

function setup() {
  const config = parseConfig({ budget: { quietHours: { start: 0, end: 0 } } });
  return new ApplyStep({ config, clock: new ManualClock(NOW), consent: new MemoryConsentStore() });
}

describe('ApplyStep', () => {
  it('records the event in the customer\'s windows and returns its slot, and its entities\' slots to `touched`', () => {
    const step = setup();
    const touched: number[] = [];
    const slot = step.apply(ev('a', 'email_sent', { channel: 'email', campaignId: 'spring' }), 1, NOW_MIN, false, (s) => touched.push(s));
    expect(touched).toHaveLength(2);
    expect(touched.map((s) => step.entities.signalAt(s, NOW_MIN)?.key)).toEqual(['email', 'spring']);
    const view = step.view(slot, NOW_MIN);
    expect(step.windows.find('c1')).toBe(slot);
    expect(view.customerId).toBe('c1');
    expect(view.touches24h.email).toBe(1);
  });

  it('counts a customer pushed over the email cap (2 a day) at the crossing, in the channel and campaign counts', () => {
    const step = setup();
    for (let i = 0; i < 3; i++) step.apply(ev(`t${i}`, 'email_sent', { channel: 'email', campaignId: 'spring', ts: NOW - 5000 + i }), i + 1, NOW_MIN, false);
    const campaign = step.entities.signal('campaign', 'spring', NOW_MIN)!;
    expect(campaign.touches24h).toBe(3);
    expect(campaign.overloadedCustomers).toBe(1);
    expect(step.entities.signal('channel', 'email', NOW_MIN)!.overloadedCustomers).toBe(1);
  });

  it('drains the customer and entity minute rows once they close, and nothing twice', () => {
    const step = setup();
    const e1 = ev('p', 'purchase', { value: 40, campaignId: 'spring' });
    step.activity(e1, 7);
    step.apply(e1, 7, NOW_MIN, false);
    const customers: CustomerActivityRecord[] = [];
    const entities: EntityActivityRecord[] = [];
    const outputs = { customerActivity: (r: CustomerActivityRecord) => customers.push(r), entityActivity: (r: EntityActivityRecord) => entities.push(r) } as unknown as PipelineOutputs;
    expect(step.drain(NOW + 60_000, outputs)).toBe(2);
    expect(customers).toMatchObject([{ customerId: 'c1', eventType: 'purchase', events: 1, revenue: 40 }]);
    expect(entities).toMatchObject([{ kind: 'campaign', key: 'spring', eventType: 'purchase', events: 1, revenue: 40 }]);
    expect(step.drain(NOW + 60_000, outputs)).toBe(0);
  });

  it('writes one entity row per touched (entity, minute, type) per drain, however many events it counted', () => {
    const step = setup();
    for (let i = 0; i < 50; i++) step.apply(ev(`v${i}`, 'page_view', { customerId: `c${i}`, campaignId: 'spring', ts: NOW - 30_000 + i }), i + 1, NOW_MIN, false);
    step.apply(ev('late', 'page_view', { customerId: 'c0', campaignId: 'spring', ts: NOW - 90_000 }), 51, NOW_MIN, false);
    const entities: EntityActivityRecord[] = [];
    const outputs = { customerActivity: () => undefined, entityActivity: (r: EntityActivityRecord) => entities.push(r) } as unknown as PipelineOutputs;
    step.drain(NOW - 600_000, outputs);
    expect(entities.map((r) => [r.key, r.minuteMs, r.events])).toEqual([
      ['spring', Math.floor((NOW - 30_000) / 60_000) * 60_000, 50],
      ['spring', Math.floor((NOW - 90_000) / 60_000) * 60_000, 1],
    ]);
    // Touched again: its cumulative row once more at the next drain.
    step.apply(ev('again', 'page_view', { customerId: 'c1', campaignId: 'spring', ts: NOW - 30_000 }), 52, NOW_MIN, false);
    step.drain(NOW - 600_000, outputs);
    expect(entities.slice(2).map((r) => r.events)).toEqual([51]);
  });

  it('forgets a customer\'s minute rows not yet written (erasure)', () => {
    const step = setup();
    step.activity(ev('a', 'click'), 1);
    step.forgetActivity('c1');
    const rows: unknown[] = [];
    step.drain(NOW + 60_000, { customerActivity: (r: unknown) => rows.push(r), entityActivity: () => undefined } as unknown as PipelineOutputs);
    expect(rows).toEqual([]);
  });
});
