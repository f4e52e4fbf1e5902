// The KV mirror of suppressed customers on a real NATS: a stop that comes while a large write is in flight waits for
// it before the connection closes, so no key is lost at shutdown, and failures are logged per batch, not per key.
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { connect } from 'nats';
import { describe, expect, it } from 'vitest';
import type { ContactBudget, SuppressionChange } from '../../src/budget/contactBudget.js';
import { openSuppressionBucket } from '../../src/budget/suppressionBucket.js';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/shared/logger.js';
import { eventually } from '../helpers/clickhouse.js';
import { NATS_URL } from '../helpers/processor.js';

/** The part of the budget the mirror reads: its change feed and the set it holds now (empty at start here). */
function feed() {
  let listener: (c: SuppressionChange) => void = () => undefined;
  const budget = {
    onChange: (l: (c: SuppressionChange) => void) => ((listener = l), () => (listener = () => undefined)),
    suppressions: () => [][Symbol.iterator](),
    recheck: () => undefined,
    isSuppressed: () => false,
    sweep: () => ({ reservations: 0, suppressions: 0 }),
  } as unknown as ContactBudget;
  return { budget, emit: (c: SuppressionChange) => listener(c) };
}

describe('suppression bucket', () => {
  it('writes every key before a stop returns, even when the stop comes in the middle of a write', async () => {
    const tag = randomBytes(3).toString('hex');
    const cfg = parseConfig({ budget: { bucket: `supp_stop_${tag}` } }).budget;
    const nc = await connect({ servers: NATS_URL });
    const lines: string[] = [];
    const log = createLogger('warn', false, new Writable({ write: (chunk, _e, done) => (lines.push(String(chunk)), done()) }) as never);
    const { budget, emit } = feed();
    const bucket = await openSuppressionBucket(nc, cfg, budget, log);
    const N = 20_000;
    for (let i = 0; i < N; i++) emit({ op: 'put', suppression: { customerId: `c${i}`, scope: 'email', until: Date.now() + 3_600_000, reasons: ['3 emails in 24 h against an allowance of 2'] } });
    // The first key in the bucket: the write of all 20,000 (in chunks of 256) is under way.
    await eventually('the write to start', async () => (await bucket.kv.get('email.c0').catch(() => null)) !== null, 10_000);
    await bucket.stop();
    // What the processor does right after: the connection drains, and nothing more can be published on it.
    await nc.drain();

    const reader = await connect({ servers: NATS_URL });
    try {
      const kv = await reader.jetstream().views.kv(cfg.bucket);
      let keys = 0;
      for await (const _ of await kv.keys()) keys++;
      expect(keys).toBe(N);
      expect(lines.filter((l) => l.includes('suppression bucket'))).toEqual([]);
    } finally {
      await (await reader.jetstreamManager()).streams.delete(`KV_${cfg.bucket}`).catch(() => undefined);
      await reader.close();
    }
  });
});
