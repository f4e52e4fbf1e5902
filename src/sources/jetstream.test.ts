// The durable consumer's timing on the manual clock, over a fake JetStream: the pending count read every 2 s, and a
// consumer paused by backpressure that asks again every 50 ms. What a real NATS delivers is tests/integration/.
import type { JsMsg, NatsConnection } from 'nats';
import { describe, expect, it } from 'vitest';
import { settle } from '../../tests/helpers/wait.js';
import { parseConfig } from '../config/load.js';
import type { InboundMessage } from '../contract/pipeline.js';
import { ManualClock } from '../shared/clock.js';
import { Precedence } from '../shared/slices.js';
import { silentLogger } from '../shared/logger.js';
import { JetStreamSource } from './jetstream.js';

/** A consumer whose messages are pushed by the test (to its consume callback, as nats.js does while it parses a
 * socket read), and whose pending count the test sets. */
function fakeJetStream() {
  let deliver: ((m: JsMsg) => void) | null = null;
  let stopped = false;
  let close!: () => void;
  const closed = new Promise<void>((resolve) => (close = resolve));
  const server = { pending: 7, infoReads: 0 };
  const messages = {
    stop() {
      stopped = true;
      close();
    },
    closed: () => closed,
  };
  const consumer = {
    consume: async (opts: { callback?: (m: JsMsg) => void }) => ((deliver = opts.callback ?? null), messages),
    info: async () => (server.infoReads++, { num_pending: server.pending }),
  };
  const nc = {
    jetstreamManager: async () => ({ consumers: { delete: async () => true, add: async () => ({}) } }),
    jetstream: () => ({ consumers: { get: async () => consumer } }),
  } as unknown as NatsConnection;
  const push = (seq: number) => {
    if (!stopped) deliver?.({ seq, subject: 'events.click', data: new Uint8Array() } as unknown as JsMsg);
  };
  return { nc, server, push };
}

function setup(failAt = -1) {
  const clock = new ManualClock(0);
  const { nc, server, push } = fakeJetStream();
  const handled: InboundMessage[] = [];
  const flags = { full: false };
  const precedence = new Precedence(50, clock);
  const source = new JetStreamSource({
    nc, config: parseConfig({}).nats, log: silentLogger, clock, now: () => clock.now(),
    handle: (m) => {
      if (m.streamSeq === failAt) throw new Error('a bug');
      handled.push(m);
    },
    backpressure: () => flags.full,
    precedence,
    // A turn of the loop before every message: where the consumer looks whether work waited on goes first.
    sliceMs: 0,
  });
  return { clock, server, push, handled, flags, precedence, source };
}

describe('JetStreamSource timing', () => {
  it('reads the pending count at start and every 2 s, and no more after stop', async () => {
    const { clock, server, source } = setup();
    await source.start(1);
    expect(source.pending()).toBe(7);
    server.pending = 3;
    clock.advance(1_999);
    await settle();
    expect(source.pending()).toBe(7);
    clock.advance(1);
    await settle();
    expect(source.pending()).toBe(3);
    await source.stop();
    const reads = server.infoReads;
    clock.advance(60_000);
    await settle();
    expect(server.infoReads).toBe(reads);
    expect(clock.pending()).toBe(0);
  });

  it('pauses while the outputs are full and asks again every 50 ms', async () => {
    const { clock, push, handled, flags, source } = setup();
    await source.start(1);
    push(1);
    flags.full = true;
    push(2);
    push(3);
    await settle();
    expect(handled.map((m) => m.streamSeq)).toEqual([1]);
    clock.advance(50);
    await settle();
    expect(handled.map((m) => m.streamSeq)).toEqual([1]);
    flags.full = false;
    clock.advance(49);
    await settle();
    expect(handled.map((m) => m.streamSeq)).toEqual([1]);
    clock.advance(1);
    await settle();
    expect(handled.map((m) => m.streamSeq)).toEqual([1, 2, 3]);
    await source.stop();
  });

  it('waits while a budget batch holds precedence, until it is released or its 50 ms are up', async () => {
    const { clock, push, handled, precedence, source } = setup();
    await source.start(1);
    /** The sequences handled once `ms` of the manual clock and the work it set off have run. */
    const handledAfter = async (ms: number) => {
      clock.advance(ms);
      await settle();
      return handled.map((m) => m.streamSeq);
    };
    const release = precedence.hold();
    push(1);
    expect(await handledAfter(0)).toEqual([]);
    release();
    expect(await handledAfter(0)).toEqual([1]);
    // A batch that runs longer than its precedence: the stream goes on after 50 ms though it is still held.
    const longer = precedence.hold();
    push(2);
    expect(await handledAfter(0)).toEqual([1]);
    expect(await handledAfter(49)).toEqual([1]);
    expect(await handledAfter(1)).toEqual([1, 2]);
    longer();
    await source.stop();
  });

  it('stops consuming, and says so, when handling a message throws (a bug: bad input is dead-lettered)', async () => {
    const { push, handled, source } = setup(2);
    await source.start(1);
    push(1);
    push(2);
    push(3);
    await settle();
    expect(handled.map((m) => m.streamSeq)).toEqual([1]);
    expect(source.consuming).toBe(false);
    await source.stop();
  });
});
