// Brand experience end to end on real NATS: a month of a well liked product, then a defect wave, published as events;
// the processor raises product_experience_drop with the counts, and the wall's WebSocket carries the product's
// experience cell (and the snapshot field) with its fall and leading reason.
import { describe, expect, it } from 'vitest';
import type { AlertView, ExperienceCell } from '../../src/contract/frames.js';
import { processorSuite } from '../helpers/processor.js';
import { WallTestClient, type AnyMessage } from '../helpers/wallClient.js';

const enc = new TextEncoder();
const DAY = 86_400_000;

describe('brand experience on real NATS', () => {
  const suite = processorSuite();

  it('raises product_experience_drop for a defect wave and shows the product on the wall', async () => {
    const { config, nc, processor } = suite;
    const wall = await WallTestClient.connect(`ws://127.0.0.1:${processor.wallPort}/ws`);
    await wall.waitFor((m) => m.type === 'snapshot');
    let n = 0;
    const publish = (customerId: string, type: string, ts: number, props: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      nc.publish(`${config.nats.subjectPrefix}.${type}`, enc.encode(JSON.stringify({ id: `x${++n}`, customerId, type, ts, props, ...extra })));
    // Event time in the past, in order: 30 days of two happy buyers a day, then the wave yesterday.
    const start = Date.now() - 32 * DAY;
    for (let d = 0; d < 30; d++) {
      for (const c of ['a', 'b']) {
        publish(`${c}${d}`, 'purchase', start + d * DAY, { productId: 'kettle-9' }, { value: 25, segment: 'home' });
        publish(`${c}${d}`, 'product_rating', start + d * DAY + 1, { productId: 'kettle-9', rating: 5 }, { segment: 'home' });
      }
    }
    const wave = start + 31 * DAY;
    for (let i = 0; i < 15; i++) {
      publish(`w${i}`, 'purchase', wave + i * 60_000, { productId: 'kettle-9' }, { value: 25, segment: 'home' });
      publish(`w${i}`, 'defect_reported', wave + i * 60_000 + 1, { productId: 'kettle-9' });
      if (i < 10) publish(`w${i}`, 'refund', wave + i * 60_000 + 2, { productId: 'kettle-9' });
      if (i < 10) publish(`w${i}`, 'review_posted', wave + i * 60_000 + 3, { productId: 'kettle-9', rating: 1 });
    }
    // A malformed prop is no dead letter: the rating is ignored, the event counted.
    publish('w0', 'product_rating', wave + 16 * 60_000, { productId: 'kettle-9', rating: 11 });
    await nc.flush();

    const fired = await wall.waitFor<{ type: 'alert'; alert: AlertView }>((m) => m.type === 'alert' && (m.alert as AlertView).rule === 'product_experience_drop' && (m.alert as AlertView).state === 'firing', 20_000, 'product_experience_drop firing');
    expect(fired.alert.subject).toEqual({ kind: 'product', key: 'kettle-9' });
    expect(fired.alert.labels.product).toBe('kettle-9');
    expect(fired.alert.reasons[0]).toMatch(/^brand experience \d+\/100 against its usual \d+ \(\d+ purchases and ratings\)$/);
    // It fires within the wave, as soon as the fall passes 15 points: with the counts up to then.
    expect(fired.alert.reasons[1]).toMatch(/^(\d+ refunds?, )?\d+ defects? recently against \d+ purchases$/);

    const cellsOf = (m: AnyMessage) => (m.experience as ExperienceCell[] | undefined) ?? [];
    // Once the whole wave is in: its counts, and the fall against the month before.
    const whole = (c: ExperienceCell) => c.kind === 'product' && c.key === 'kettle-9' && (c.reason ?? '').startsWith('10 refunds, 15 defects recently against ');
    const frame = await wall.waitFor((m) => m.type === 'experience' && cellsOf(m).some(whole), 10_000, 'an experience frame with the whole wave');
    const kettle = cellsOf(frame).find(whole)!;
    expect(kettle.trend).toBeLessThan(-15);
    expect(kettle.volume).toBeGreaterThan(20);
    expect(cellsOf(frame).some((c) => c.kind === 'segment' && c.key === 'home')).toBe(true);
    expect(processor.pipeline.snapshot().experience.map((c) => c.key)).toContain('kettle-9');
    expect(processor.pipeline.counts.rejected).toBe(0);
    expect(processor.pipeline.counts.processed).toBe(n);
    wall.socket.close();
  });
});
