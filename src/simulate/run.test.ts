// The live stream's pacing on the manual clock: `rate` events per second of the clock, stamped with its time, and
// nothing after durationS. NATS is a fake that records what is published.
import type { NatsConnection } from 'nats';
import { describe, expect, it } from 'vitest';
import { settle } from '../../tests/helpers/wait.js';
import { ManualClock } from '../shared/clock.js';
import { silentLogger } from '../shared/logger.js';
import { simulate } from './run.js';

interface Published {
  ts: number;
  type: string;
  props?: Record<string, unknown>;
}

function fakeNats() {
  const stamps: number[] = [];
  const events: Published[] = [];
  const dec = new TextDecoder();
  const nc = {
    publish: (_subject: string, data: Uint8Array) => {
      const e = JSON.parse(dec.decode(data)) as Published;
      stamps.push(e.ts);
      events.push(e);
    },
    flush: async () => undefined,
  } as unknown as NatsConnection;
  return { nc, stamps, events };
}

describe('simulate', () => {
  it('publishes rate events a second of the clock, stamped with its time, and stops after durationS', async () => {
    const start = Date.parse('2026-11-23T12:00:00Z');
    const clock = new ManualClock(start);
    const { nc, stamps } = fakeNats();
    const opts = { customers: 50, rate: 20, historyDays: 0, durationS: 2, seed: 7, subjectPrefix: 'events', outOfOrder: 0 };
    let result: { published: number } | null = null;
    void simulate(nc, opts, silentLogger, undefined, undefined, clock).then((r) => (result = r));
    await settle();
    for (let t = 0; t < 1_000; t += 50) {
      clock.advance(50);
      await settle();
    }
    expect(stamps).toHaveLength(20);
    expect(stamps.every((ts) => ts > start && ts <= start + 1_000)).toBe(true);
    for (let t = 0; t < 1_050; t += 50) {
      clock.advance(50);
      await settle();
    }
    // The loop ends at durationS, before the events due in its last 50 ms: 2 s × 20 less one.
    expect(result).toEqual({ published: 39 });
    expect(stamps).toHaveLength(39);
    expect(clock.pending()).toBe(0);
  });

  it('publishes the experience model always, and the defect wave on the product and days asked for', async () => {
    const clock = new ManualClock(Date.parse('2026-11-23T12:00:00Z'));
    const history = async (defectWave: { productId: string; startDay: number; days: number } | null) => {
      const { nc, events } = fakeNats();
      await simulate(nc, { customers: 400, rate: 0, historyDays: 12, durationS: 0, seed: 3, subjectPrefix: 'events', outOfOrder: 0, defectWave }, silentLogger, undefined, undefined, clock);
      return events;
    };
    const calm = await history(null);
    const wave = await history({ productId: 'prod-06', startDay: 2, days: 5 });
    expect(calm.filter((e) => e.type === 'purchase').every((e) => typeof e.props?.productId === 'string')).toBe(true);
    expect(calm.some((e) => e.type === 'product_rating')).toBe(true);
    const defects = (events: Published[]) => events.filter((e) => e.type === 'defect_reported' && e.props?.productId === 'prod-06').length;
    expect(defects(wave)).toBeGreaterThan(5);
    expect(defects(calm)).toBeLessThan(defects(wave) / 5);
  });
});
