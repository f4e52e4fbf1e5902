// The suppression mirror's timing on the manual clock, over an in-memory KV: changes written together after a short
// pause, the budget swept every sweepIntervalMs, entries without an end rewritten before max_age, nothing after stop.
// What a real NATS does with the writes is tests/integration/suppressionBucket.test.ts.
import type { KV, Msg, MsgHdrs, NatsConnection } from 'nats';
import { describe, expect, it } from 'vitest';
import { settle } from '../../tests/helpers/wait.js';
import { parseConfig } from '../config/load.js';
import { ManualClock } from '../shared/clock.js';
import { silentLogger } from '../shared/logger.js';
import type { ContactBudget, Suppression, SuppressionChange } from './contactBudget.js';
import { openSuppressionBucket, type SuppressionBucket } from './suppressionBucket.js';

/** A NATS whose KV bucket stores every write at once: the mirror's publishes are acked on the next microtask. */
function fakeNats() {
  const puts: string[] = [];
  // An empty bucket: nothing an earlier run left to rebuild.
  const kv = { status: async () => ({ values: 0 }) } as unknown as KV;
  let acks: (err: Error | null, msg: Msg) => void = () => undefined;
  const ack = new TextEncoder().encode('{"stream":"KV_vigil_suppressed","seq":1}');
  const nc = {
    jetstream: () => ({ views: { kv: async () => kv } }),
    subscribe: (_subject: string, opts: { callback: typeof acks }) => ((acks = opts.callback), { unsubscribe: () => undefined }),
    publish: (subject: string, _data: Uint8Array, opts: { reply: string; headers?: MsgHdrs }) => {
      if (!opts.headers) puts.push(subject.replace('$KV.vigil_suppressed.', ''));
      queueMicrotask(() => acks(null, { subject: opts.reply, data: ack } as Msg));
    },
  } as unknown as NatsConnection;
  return { nc, puts };
}

function fakeBudget(held: Suppression[]) {
  let listener: (c: SuppressionChange) => void = () => undefined;
  const calls = { sweeps: 0 };
  const budget = {
    onChange: (l: (c: SuppressionChange) => void) => ((listener = l), () => (listener = () => undefined)),
    suppressions: () => held[Symbol.iterator](),
    suppressedCustomerCount: held.length,
    recheck: () => undefined,
    isSuppressed: () => true,
    sweepSteps: function* () {
      calls.sweeps++;
      return { reservations: 0, suppressions: 0 };
    },
  } as unknown as ContactBudget;
  return { budget, calls, emit: (c: SuppressionChange) => listener(c) };
}

/** A suppression that has no end: consent withdrawn. */
const withdrawn = (id: string): Suppression => ({ customerId: id, scope: 'all', until: null, reasons: ['consent withdrawn'] });

/** Whether the bucket's rebuild has ended, watched from now on. */
function watchRebuilt(bucket: SuppressionBucket): () => boolean {
  let rebuilt = false;
  void bucket.rebuilt.then(() => (rebuilt = true));
  return () => rebuilt;
}

/** Lets the writes go round (their 20 ms pause on the manual clock) until `done` or `rounds` have passed; `done()`. */
async function writeRoundsUntil(done: () => boolean, clock: ManualClock, rounds: number): Promise<boolean> {
  for (let i = 0; i < rounds && !done(); i++) {
    clock.advance(20);
    await settle();
  }
  return done();
}

describe('suppression bucket timing', () => {
  it('writes changes after a short pause, sweeps every interval, rewrites open-ended entries at half max_age, and stops', async () => {
    const HOUR = 3_600_000;
    const cfg = parseConfig({ budget: { sweepIntervalMs: 10_000, bucketMaxAgeMs: 2 * HOUR } }).budget;
    const clock = new ManualClock(0);
    const { nc, puts } = fakeNats();
    const { budget, calls, emit } = fakeBudget([withdrawn('w1')]);
    const bucket = await openSuppressionBucket(nc, cfg, budget, silentLogger, 1, undefined, clock);

    // What the budget holds at open is written after the pause, not before.
    await settle();
    expect(puts).toEqual([]);
    clock.advance(20);
    await settle();
    expect(puts).toEqual(['all.w1']);

    emit({ op: 'put', suppression: { customerId: 'c1', scope: 'email', until: 5 * HOUR, reasons: ['3 emails'] } });
    emit({ op: 'put', suppression: { customerId: 'c2', scope: 'email', until: 5 * HOUR, reasons: ['3 emails'] } });
    await settle(); // the pause starts once the write before it has settled
    clock.advance(19);
    await settle();
    expect(puts).toHaveLength(1);
    clock.advance(1);
    await settle();
    expect(puts).toEqual(['all.w1', 'email.c1', 'email.c2']);

    // Sweeps every 10 s; the open-ended entry is put again once half the bucket's max age (1 h) has gone by.
    clock.advance(10_000 - 40);
    expect(calls.sweeps).toBe(1);
    clock.advance(HOUR - 10_000);
    expect(calls.sweeps).toBe(360);
    clock.advance(10_000);
    await settle();
    clock.advance(20);
    await settle();
    expect(calls.sweeps).toBe(361);
    expect(puts).toEqual(['all.w1', 'email.c1', 'email.c2', 'all.w1']);

    await bucket.stop();
    expect(clock.pending()).toBe(0);
    clock.advance(10 * HOUR);
    expect(calls.sweeps).toBe(361);
  });

  it('walks only the entries the set held at open, however the set grows while the walk goes', async () => {
    const cfg = parseConfig({}).budget;
    const clock = new ManualClock(0);
    const { nc, puts } = fakeNats();
    const held = ['h0', 'h1', 'h2'].map(withdrawn);
    // Events flowing between the slices add to the set: past the three it held at open, an endless walk.
    const budget = {
      ...fakeBudget(held).budget,
      suppressions: function* () {
        for (let i = 0; ; i++) yield held[i] ?? withdrawn(`later${i}`);
      },
      suppressedCustomerCount: held.length,
    } as unknown as ContactBudget;
    const bucket = await openSuppressionBucket(nc, cfg, budget, silentLogger, 1, undefined, clock);
    expect(await writeRoundsUntil(watchRebuilt(bucket), clock, 20)).toBe(true);
    expect(puts.sort()).toEqual(['all.h0', 'all.h1', 'all.h2']);
    await bucket.stop();
  });

  it('walks every customer the set held at open, though one of them gained an entry since (the walk counts customers)', async () => {
    const clock = new ManualClock(0);
    const { nc, puts } = fakeNats();
    // h0 is suppressed on email too now: four entries for the three customers held at open, then one that came later.
    const entries = [{ ...withdrawn('h0'), scope: 'email' as const }, withdrawn('h0'), withdrawn('h1'), withdrawn('h2'), withdrawn('later')];
    const budget = {
      ...fakeBudget(entries).budget,
      suppressions: () => entries[Symbol.iterator](),
      suppressedCustomerCount: 3,
    } as unknown as ContactBudget;
    const bucket = await openSuppressionBucket(nc, parseConfig({}).budget, budget, silentLogger, 1, undefined, clock);
    expect(await writeRoundsUntil(watchRebuilt(bucket), clock, 20)).toBe(true);
    expect(puts.sort()).toEqual(['all.h0', 'all.h1', 'all.h2', 'email.h0']);
    await bucket.stop();
  });

  it('ends its rebuild with the write of what it decided, while changes keep coming (a backlog flowing)', async () => {
    const clock = new ManualClock(0);
    const { nc, puts } = fakeNats();
    const { budget, emit } = fakeBudget([withdrawn('h0')]);
    // Every write brings another change with it: the bucket is never quiet. Before, the rebuild waited for a quiet
    // bucket (up to a hundred writes), holding every key written meanwhile.
    const publish = nc.publish.bind(nc);
    let changes = 0;
    let flowing = true;
    nc.publish = ((subject: string, data: Uint8Array, opts: never) => {
      publish(subject, data, opts);
      if (flowing) emit({ op: 'put', suppression: withdrawn(`c${++changes}`) });
    }) as typeof nc.publish;
    const bucket = await openSuppressionBucket(nc, parseConfig({}).budget, budget, silentLogger, 1, undefined, clock);
    expect(await writeRoundsUntil(watchRebuilt(bucket), clock, 5)).toBe(true);
    expect(puts).toContain('all.h0');
    // The flow stops; the last change is written after its pause, and the stop finds nothing left.
    flowing = false;
    clock.advance(20);
    await settle();
    await bucket.stop();
  });

  it('ends its rebuild at the next slice once cut (a stop is coming), what it decided so far written', async () => {
    const clock = new ManualClock(0);
    const { nc, puts } = fakeNats();
    // A set too large to walk before the stop: the walk would go on for as long as the test.
    const budget = {
      ...fakeBudget([]).budget,
      suppressions: function* () {
        for (let i = 0; ; i++) yield withdrawn(`c${i}`);
      },
      suppressedCustomerCount: Number.MAX_SAFE_INTEGER,
    } as unknown as ContactBudget;
    const bucket = await openSuppressionBucket(nc, parseConfig({}).budget, budget, silentLogger, 1, undefined, clock);
    const rebuilt = watchRebuilt(bucket);
    await settle();
    expect(rebuilt()).toBe(false);
    bucket.cut();
    expect(await writeRoundsUntil(rebuilt, clock, 20)).toBe(true);
    expect(puts.length).toBeGreaterThan(0);
    await bucket.stop();
  });
});
