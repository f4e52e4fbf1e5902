// A receiver's delivery queue on the manual clock: each failure waits its backoff (doubling, capped) on the clock,
// an item is given up on after the last attempt, and what is queued at stop is given up on too, never dropped.
import { describe, expect, it } from 'vitest';
import { settle } from '../../tests/helpers/wait.js';
import { ManualClock } from '../shared/clock.js';
import { silentLogger } from '../shared/logger.js';
import { DeliveryQueue } from './deliveryQueue.js';

/** A receiver answering each post with the next of `answers` (null is a success; the last one from then on). */
function setup(answers: (string | null)[], maxAttempts = 5) {
  const clock = new ManualClock(0);
  const posts: string[] = [];
  const givenUp: string[] = [];
  const q = new DeliveryQueue<string>(
    { maxAttempts, initialBackoffMs: 1_000, maxBackoffMs: 3_000, timeoutMs: 5_000, queueSize: 10 },
    async (item) => (posts.push(item), answers[Math.min(posts.length - 1, answers.length - 1)]),
    (item, reason) => givenUp.push(`${item}: ${reason}`),
    silentLogger,
    clock,
  );
  return { clock, posts, givenUp, q };
}

describe('DeliveryQueue retries', () => {
  it('waits 1 s, then 2 s on the clock between attempts, and delivers on the third', async () => {
    const { clock, posts, q } = setup(['HTTP 500', 'HTTP 503', null]);
    q.push('n1');
    await settle();
    expect(posts).toHaveLength(1);
    clock.advance(999);
    await settle();
    expect(posts).toHaveLength(1);
    clock.advance(1);
    await settle();
    expect(posts).toHaveLength(2);
    clock.advance(1_999);
    await settle();
    expect(posts).toHaveLength(2);
    clock.advance(1);
    await settle();
    expect(q.stats).toMatchObject({ delivered: 1, attempts: 3, failures: 2, deadLettered: 0, queued: 0 });
  });

  it('caps the backoff, and gives the item up after maxAttempts with why', async () => {
    const { clock, posts, givenUp, q } = setup(['HTTP 500'], 4);
    q.push('n1');
    await settle();
    for (const wait of [1_000, 2_000, 3_000]) {
      const before = posts.length;
      clock.advance(wait - 1);
      await settle();
      expect(posts).toHaveLength(before);
      clock.advance(1);
      await settle();
      expect(posts).toHaveLength(before + 1);
    }
    expect(givenUp).toEqual(['n1: gave up after 4 attempts: HTTP 500']);
    expect(clock.pending()).toBe(0);
  });

  it('gives up what is still queued at stop', async () => {
    const { givenUp, q } = setup(['HTTP 500']);
    q.push('n1');
    q.push('n2');
    await settle();
    q.stop();
    expect(givenUp).toEqual(['n1: processor stopped before delivery', 'n2: processor stopped before delivery']);
    expect(q.stats.queued).toBe(0);
  });
});
