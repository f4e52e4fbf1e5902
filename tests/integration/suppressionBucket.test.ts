// The KV mirror of suppressed customers on a real NATS: a stop that comes while a large write is in flight waits for
// it before the connection closes, so no key is lost at shutdown, and failures are logged per batch, not per key; at a
// start, what an earlier run left is decided again, each customer once, and only keys that change are written.
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { connect } from 'nats';
import { describe, expect, it } from 'vitest';
import type { ContactBudget, Suppression, SuppressionChange } from '../../src/budget/contactBudget.js';
import { openSuppressionBucket, suppressionValue } from '../../src/budget/suppressionBucket.js';
import { parseConfig } from '../../src/config/load.js';
import { systemClock } from '../../src/shared/clock.js';
import { createLogger } from '../../src/shared/logger.js';
import { eventually } from '../helpers/clickhouse.js';
import { NATS_URL } from '../helpers/processor.js';

/** The part of the budget the mirror reads: its change feed and the set it holds now (empty at start here). */
function feed() {
  let listener: (c: SuppressionChange) => void = () => undefined;
  const budget = {
    onChange: (l: (c: SuppressionChange) => void) => ((listener = l), () => (listener = () => undefined)),
    suppressions: () => [][Symbol.iterator](),
    suppressedCustomerCount: 0,
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

  /**
   * What an earlier run left (a customer since under every allowance, two unchanged keys of one customer, a value
   * since changed, a key deleted before), the bucket opened with the processor's clock `aheadMs` past NATS's, and
   * rebuilt: the keys' revisions and values after, each customer's rechecks, and the rebuild's log line.
   */
  async function rebuild(aheadMs: number) {
    const tag = randomBytes(3).toString('hex');
    const cfg = parseConfig({ budget: { bucket: `supp_rebuild_${tag}`, bucketMaxAgeMs: 60_000 } }).budget;
    const nc = await connect({ servers: NATS_URL });
    const until = Date.now() + 50_000;
    const same: Suppression = { customerId: 'same', scope: 'email', until, reasons: ['2 emails in 24 h against an allowance of 2'] };
    const sameAll: Suppression = { ...same, scope: 'all', reasons: ['6 touches in 24 h against an allowance of 6'] };
    const changed: Suppression = { customerId: 'changed', scope: 'sms', until, reasons: ['2 sms in 24 h against an allowance of 1'] };
    const fresh: Suppression = { customerId: 'fresh', scope: 'push', until, reasons: ['4 push in 24 h against an allowance of 3'] };
    const json = (s: Suppression) => JSON.stringify(suppressionValue(s));
    try {
      const before = await nc.jetstream().views.kv(cfg.bucket, { history: 1 });
      await before.put('email.gone', json({ ...same, customerId: 'gone' }));
      const revisions = { same: await before.put('email.same', json(same)), sameAll: await before.put('all.same', json(sameAll)) };
      await before.put('sms.changed', json({ ...changed, reasons: ['1 sms in 24 h against an allowance of 1'] }));
      await before.put('push.erased', json({ ...fresh, customerId: 'erased' }));
      await before.delete('push.erased');

      // The budget after the restart: what it holds now, and each customer's recheck counted.
      const held = [same, sameAll, changed, fresh];
      const rechecked = new Map<string, number>();
      const budget = {
        onChange: () => () => undefined,
        suppressions: () => held[Symbol.iterator](),
        suppressedCustomerCount: held.length,
        recheck: (id: string) => void rechecked.set(id, (rechecked.get(id) ?? 0) + 1),
        isSuppressed: (id: string, scope: string) => held.some((s) => s.customerId === id && s.scope === scope),
        sweepSteps: function* () {
          return { reservations: 0, suppressions: 0 };
        },
      } as unknown as ContactBudget;
      const lines: string[] = [];
      const log = createLogger('info', false, new Writable({ write: (chunk, _e, done) => (lines.push(String(chunk)), done()) }) as never);
      const clock = { now: () => Date.now() + aheadMs, schedule: systemClock.schedule };
      const bucket = await openSuppressionBucket(nc, cfg, budget, log, 1, undefined, clock);
      await bucket.rebuilt;
      await bucket.flush();
      await bucket.stop();

      const kv = await nc.jetstream().views.kv(cfg.bucket);
      return {
        json: { changed: json(changed), fresh: json(fresh) },
        revisions,
        rechecked: Object.fromEntries(rechecked),
        after: {
          gone: (await kv.get('email.gone'))?.operation,
          same: (await kv.get('email.same'))?.revision,
          sameAll: (await kv.get('all.same'))?.revision,
          changed: (await kv.get('sms.changed'))?.string(),
          fresh: (await kv.get('push.fresh'))?.string(),
        },
        line: lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'suppression bucket rebuilt'),
      };
    } finally {
      await (await nc.jetstreamManager()).streams.delete(`KV_${cfg.bucket}`).catch(() => undefined);
      await nc.close();
    }
  }

  it("rebuilds an earlier run's keys at a start: each customer decided once, stale keys deleted, unchanged values not rewritten", async () => {
    const r = await rebuild(0);
    expect(r.rechecked).toEqual({ gone: 1, same: 1, changed: 1 });
    expect(r.after.gone).toBe('DEL');
    expect(r.after.same).toBe(r.revisions.same);
    expect(r.after.sameAll).toBe(r.revisions.sameAll);
    expect(r.after.changed).toBe(r.json.changed);
    expect(r.after.fresh).toBe(r.json.fresh);
    expect(r.line).toMatchObject({ keys: 4, customers: 3, written: 2, deleted: 1, unchanged: 2 });
  });

  it('rewrites an unchanged key once it is half max_age old, so that max_age never drops it before the next rewrite', async () => {
    // The processor's clock 40 s past the server's: every key read is older than half the bucket's max_age of 60 s.
    const r = await rebuild(40_000);
    expect(r.after.same).toBeGreaterThan(r.revisions.same);
    expect(r.after.sameAll).toBeGreaterThan(r.revisions.sameAll);
    expect(r.after.gone).toBe('DEL');
    expect(r.line).toMatchObject({ keys: 4, customers: 3, written: 4, deleted: 1, unchanged: 0 });
  });
});
