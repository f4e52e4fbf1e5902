// The pipelined publisher on a fake connection and the manual clock: each ack settles its own message, whatever the
// order; a refusal, a no-responders status or an ack that says nothing stored rejects; the sweep fails what had no
// ack in time, and a late ack is then ignored; close fails the rest. Real NATS: tests/integration/pipelinedPublisher.test.ts.
import type { Msg, MsgHdrs, NatsConnection } from 'nats';
import { describe, expect, it } from 'vitest';
import { settle } from '../../tests/helpers/wait.js';
import { ManualClock } from './clock.js';
import { ackProblem, PipelinedPublisher } from './pipelinedPublisher.js';

const enc = new TextEncoder();
const ackOf = (body: string, headers?: Partial<MsgHdrs>) => ({ data: enc.encode(body), headers }) as Msg;

function fakeConnection() {
  const sent: { subject: string; reply: string; headers?: MsgHdrs }[] = [];
  let deliver: (err: Error | null, msg: Msg) => void = () => undefined;
  const state = { subscribed: '', unsubscribed: false, throwOnPublish: false };
  const nc = {
    subscribe: (subject: string, opts: { callback: typeof deliver }) => {
      state.subscribed = subject;
      deliver = opts.callback;
      return { unsubscribe: () => (state.unsubscribed = true) };
    },
    publish: (subject: string, _data: Uint8Array, opts: { reply: string; headers?: MsgHdrs }) => {
      if (state.throwOnPublish) throw new Error('connection draining');
      sent.push({ subject, reply: opts.reply, headers: opts.headers });
    },
  } as unknown as NatsConnection;
  const answer = (i: number, body: string, headers?: Partial<MsgHdrs>) => deliver(null, { ...ackOf(body, headers), subject: sent[i].reply } as Msg);
  return { nc, sent, state, answer, fail: (err: Error) => deliver(err, {} as Msg) };
}

/** Each promise's outcome as it stands: 'ok', the rejection's message, or 'waiting'. */
function track(p: Promise<void>) {
  const out = { v: 'waiting' };
  p.then(
    () => (out.v = 'ok'),
    (e: Error) => (out.v = e.message),
  );
  return out;
}

describe('ackProblem', () => {
  it('accepts a stored message and says why one was not', () => {
    expect(ackProblem(ackOf('{"stream":"KV_b","seq":12}'))).toBeNull();
    expect(ackProblem(ackOf('{"error":{"code":400,"err_code":10054,"description":"maximum messages exceeded"}}'))).toBe('JetStream refused the message: maximum messages exceeded');
    expect(ackProblem(ackOf('', { hasError: true, code: 503, description: 'No Responders' }))).toBe('no stream answers on the subject (no responders)');
    expect(ackProblem(ackOf('', { hasError: true, code: 408, description: 'Request Timeout' }))).toBe('status 408 Request Timeout');
    expect(ackProblem(ackOf('not json'))).toBe('the ack is not JSON');
    expect(ackProblem(ackOf('7'))).toBe('the ack is not an object');
    expect(ackProblem(ackOf('{"stream":"KV_b"}'))).toBe('the ack names no stream sequence');
  });
});

describe('PipelinedPublisher', () => {
  it('matches each ack to its message by the reply subject, in any order, under one subscription', async () => {
    const clock = new ManualClock(0);
    const c = fakeConnection();
    const pub = new PipelinedPublisher(c.nc, 5_000, clock);
    const a = track(pub.publish('$KV.b.k1', enc.encode('1')));
    const b = track(pub.publish('$KV.b.k2', enc.encode('2')));
    const d = track(pub.publish('$KV.b.k3', enc.encode('3')));
    expect(c.state.subscribed).toMatch(/^_INBOX\.[A-Za-z0-9]+\.\*$/);
    expect(new Set(c.sent.map((s) => s.reply)).size).toBe(3);
    expect(c.sent.every((s) => s.reply.startsWith(c.state.subscribed.slice(0, -1)))).toBe(true);
    expect(pub.inFlight).toBe(3);
    c.answer(2, '{"stream":"KV_b","seq":3}');
    c.answer(0, '{"error":{"code":503,"description":"insufficient resources"}}');
    await settle();
    expect([a.v, b.v, d.v]).toEqual(['JetStream refused the message: insufficient resources', 'waiting', 'ok']);
    c.answer(1, '{"stream":"KV_b","seq":4}');
    await settle();
    expect(b.v).toBe('ok');
    expect(pub.inFlight).toBe(0);
    pub.close();
  });

  it('fails a message without an ack once the timeout has passed, ignores its late ack, and keeps the others', async () => {
    const clock = new ManualClock(0);
    const c = fakeConnection();
    const pub = new PipelinedPublisher(c.nc, 1_000, clock);
    const early = track(pub.publish('s', enc.encode('')));
    clock.advance(600);
    const later = track(pub.publish('s', enc.encode('')));
    clock.advance(500);
    await settle();
    expect([early.v, later.v]).toEqual(['no ack within 1000 ms', 'waiting']);
    c.answer(0, '{"stream":"S","seq":1}');
    c.answer(1, '{"stream":"S","seq":2}');
    await settle();
    expect([early.v, later.v]).toEqual(['no ack within 1000 ms', 'ok']);
    pub.close();
  });

  it('rejects a publish the connection refuses, fails all on a subscription error, and closes cleanly', async () => {
    const clock = new ManualClock(0);
    const c = fakeConnection();
    const pub = new PipelinedPublisher(c.nc, 1_000, clock);
    c.state.throwOnPublish = true;
    const refused = track(pub.publish('s', enc.encode('')));
    c.state.throwOnPublish = false;
    const lost = track(pub.publish('s', enc.encode('')));
    c.fail(new Error('permissions violation'));
    const open = track(pub.publish('s', enc.encode('')));
    pub.close();
    const afterClose = track(pub.publish('s', enc.encode('')));
    await settle();
    expect([refused.v, lost.v, open.v, afterClose.v]).toEqual(['connection draining', 'permissions violation', 'the publisher closed before the ack came', 'the publisher is closed']);
    expect(c.state.unsubscribed).toBe(true);
    expect(clock.pending()).toBe(0);
  });
});
