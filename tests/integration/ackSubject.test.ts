// The consumer reads each message's stream sequence from its ack subject (src/sources/ackSubject.ts): against the
// real server, every message takes that path and it gives what nats.js's own parse gives.
import { randomBytes } from 'node:crypto';
import { AckPolicy, DeliverPolicy, StorageType, type JsMsg, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ackStreamSeq, ackStreamSeqBytes, streamSeqOf } from '../../src/sources/ackSubject.js';
import { natsConnection } from '../helpers/processor.js';

describe('stream sequences from the real server\'s ack subjects', () => {
  const tag = randomBytes(4).toString('hex').toUpperCase();
  const stream = `ACKSUBJ_${tag}`;
  let nc: NatsConnection;

  beforeAll(async () => {
    nc = await natsConnection();
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: stream, subjects: [`acksubj${tag}.>`], storage: StorageType.Memory });
    for (let i = 0; i < 20; i++) await nc.jetstream().publish(`acksubj${tag}.${i % 3}`, new Uint8Array([i]));
    // Sequences that do not start at 1 and are not the delivery's: a consumer from the 6th message on.
    await jsm.consumers.add(stream, { durable_name: 'reader', ack_policy: AckPolicy.All, opt_start_seq: 6, deliver_policy: DeliverPolicy.StartSequence });
  });

  afterAll(async () => {
    await (await nc.jetstreamManager()).streams.delete(stream).catch(() => false);
    await nc.close();
  });

  it('reads every delivered message on the fast path, and agrees with JsMsg.info', async () => {
    const consumer = await nc.jetstream().consumers.get(stream, 'reader');
    const got: JsMsg[] = [];
    const messages = await consumer.consume({ max_messages: 8 });
    for await (const m of messages) {
      got.push(m);
      if (got.length === 15) break;
    }
    messages.stop();
    // The bytes nats.js parsed the reply subject into are where streamSeqOf reads it: if a version of nats.js moves
    // them, this says so (streamSeqOf would still answer, from the string).
    const raw = got.map((m) => (m as JsMsg & { msg: { _msg: { reply: unknown } } }).msg._msg.reply);
    expect(raw.every((b) => b instanceof Uint8Array && ackStreamSeqBytes(b) > 0)).toBe(true);
    const replies = got.map((m) => (m as JsMsg & { reply: string }).reply);
    expect(replies.map(ackStreamSeq).every((s) => s > 0)).toBe(true);
    expect(got.map(streamSeqOf)).toEqual(got.map((m) => m.info.streamSequence));
    expect(got.map(streamSeqOf)).toEqual(Array.from({ length: 15 }, (_, i) => 6 + i));
  });
});
