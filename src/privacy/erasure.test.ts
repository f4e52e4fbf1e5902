// The wait for ClickHouse's deletes on the manual clock: a poll every 100 ms until no mutation is left, and an
// ERASURE_INCOMPLETE error once the timeout has passed. The erasure itself runs on real ClickHouse in tests/integration.
import { describe, expect, it } from 'vitest';
import { settle } from '../../tests/helpers/wait.js';
import { ManualClock } from '../shared/clock.js';
import type { ClickHouseClient } from '../sinks/clickhouse/client.js';
import { waitForMutations } from './erasure.js';

/** system.mutations answering `left` unfinished mutations, one fewer per poll, down to `floor`. */
function mutations(left: number, floor = 0) {
  const seen = { polls: 0 };
  const ch = { query: async () => [{ n: String(Math.max(floor, left - seen.polls++)) }] } as unknown as ClickHouseClient;
  return { ch, seen };
}

describe('waitForMutations', () => {
  it('polls every 100 ms of the clock until the deletes are done', async () => {
    const clock = new ManualClock(0);
    const { ch, seen } = mutations(2);
    let done = false;
    const waiting = waitForMutations({ ch, timeoutMs: 60_000, clock }, 'vigil', ['events'], 0).then(() => (done = true));
    await settle();
    expect(seen.polls).toBe(1);
    clock.advance(99);
    await settle();
    expect(seen.polls).toBe(1);
    clock.advance(1);
    await settle();
    expect(seen.polls).toBe(2);
    expect(done).toBe(false);
    clock.advance(100);
    await waiting;
    expect(seen.polls).toBe(3);
  });

  it('gives up with ERASURE_INCOMPLETE once the timeout has passed on the clock', async () => {
    const clock = new ManualClock(0);
    const { ch } = mutations(5, 1);
    const waiting = waitForMutations({ ch, timeoutMs: 1_000, clock }, 'vigil', ['events', 'signals'], 0);
    const outcome = waiting.then(() => 'done', (err: { code?: string; message: string }) => `${err.code}: ${err.message}`);
    for (let i = 0; i < 11; i++) {
      await settle();
      clock.advance(100);
    }
    expect(await outcome).toMatch(/^ERASURE_INCOMPLETE: ClickHouse has not finished deleting the customer from events, signals after 1 s/);
  });
});
