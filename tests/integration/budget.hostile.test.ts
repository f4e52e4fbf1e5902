// Hostile requests to the contact budget's NATS service, against a real processor (a child process) on a real NATS:
// generated bodies (garbage bytes, wrong types, ill-formed ids, deep JSON, huge batches) each get an answer or an
// error answer, never silence, and the processor's /healthz answers after every group of cases. Ids never seen
// reserve at most budget.maxUnknownReservations slots.
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import type { NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VigilConfig } from '../../src/config/schema.js';
import { envFor, ProcessorChild } from '../helpers/child.js';
import { eventually } from '../helpers/clickhouse.js';
import { cleanUp, isolatedConfig, natsConnection } from '../helpers/processor.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const MAX_UNKNOWN = 1_000;
const TTL_MS = 5_000;
const MARKER = 'zqx';

interface Answer {
  status: string | null;
  body: Record<string, any>;
}

describe('contact budget service under hostile requests', () => {
  let config: VigilConfig;
  let nc: NatsConnection;
  let child: ProcessorChild;
  const tag = randomBytes(3).toString('hex');
  const subject = `t${tag}.pressure`;

  async function ask(endpoint: 'check' | 'batch', data: Uint8Array): Promise<Answer> {
    // A request that gets no answer rejects with a timeout, and fails the test.
    const reply = await nc.request(`${subject}.${endpoint}`, data, { timeout: 20_000 });
    return { status: reply.headers?.get('Nats-Service-Error-Code') || null, body: JSON.parse(dec.decode(reply.data)) as Record<string, any> };
  }
  const json = (v: unknown) => enc.encode(JSON.stringify(v));
  async function healthy(): Promise<void> {
    const res = await fetch(`http://127.0.0.1:${child.port}/healthz`);
    expect(res.status).toBe(200);
    expect(child.proc.exitCode).toBeNull();
  }

  beforeAll(async () => {
    config = isolatedConfig({ budget: { subject, bucket: `supp_${tag}`, quietHours: { start: 0, end: 0 } } });
    nc = await natsConnection();
    child = await ProcessorChild.start(
      envFor(config, {
        VIGIL_BUDGET__SUBJECT: subject,
        VIGIL_BUDGET__BUCKET: `supp_${tag}`,
        VIGIL_BUDGET__MAX_UNKNOWN_RESERVATIONS: String(MAX_UNKNOWN),
        VIGIL_BUDGET__RESERVATION_TTL_MS: String(TTL_MS),
        VIGIL_BUDGET__SWEEP_INTERVAL_MS: '100',
        // No quiet hours: the answers must not depend on the time of day the test runs at.
        VIGIL_BUDGET__QUIET_HOURS__START: '0',
        VIGIL_BUDGET__QUIET_HOURS__END: '0',
      }),
    );
  }, 90_000);
  afterAll(async () => {
    if (child && child.proc.exitCode === null) await child.kill('SIGTERM');
    await nc.jetstreamManager().then((j) => j.streams.delete(`KV_supp_${tag}`)).catch(() => undefined);
    await cleanUp(config, nc);
    await nc.close();
  }, 60_000);

  it(`checks for ids never seen reserve at most budget.maxUnknownReservations (${MAX_UNKNOWN}); the rest are refused with reservations_full`, async () => {
    // One request: its 5,000 checks run in one synchronous step (about 50 ms), far inside the 5 s TTL.
    const ids = Array.from({ length: 5_000 }, (_, i) => `never-seen-${tag}-${i}`);
    const a = await ask('batch', json({ customerIds: ids, channel: 'email', campaignId: 'flood' }));
    expect(a.status).toBeNull();
    expect(a.body.checked).toBe(5_000);
    expect(a.body.allowed).toHaveLength(MAX_UNKNOWN);
    expect(a.body.suppressed).toHaveLength(5_000 - MAX_UNKNOWN);
    expect(a.body.reasons).toEqual([`no room to reserve for a customer with no history: ${MAX_UNKNOWN} such reservations held (budget.maxUnknownReservations)`]);
    const one = await ask('check', json({ customerId: `another-${tag}`, channel: 'email' }));
    expect(one.body).toMatchObject({ decision: 'suppress', codes: ['reservations_full'] });
    expect(Date.parse(one.body.until)).toBeGreaterThan(Date.now());
    expect((await ask('check', json({ customerId: `another-${tag}`, channel: 'email', priority: 'transactional' }))).body.decision).toBe('allow');
    await healthy();
    // Once the reservations expire, fresh ids are allowed again (and the fuzz below reaches the allowing path).
    await eventually('the reservations to expire', async () => (await ask('check', json({ customerId: `later-${tag}`, channel: 'sms' }))).body.decision === 'allow', 60_000);
  }, 120_000);

  it('a batch of 10,000 ids is answered; one more than budget.maxBatch is refused with a reason', async () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => `b${i}`);
    const ok = await ask('batch', json({ customerIds: ids(10_000), channel: 'push' }));
    expect(ok.status).toBeNull();
    expect(ok.body.checked).toBe(10_000);
    expect(ok.body.allowed.length + ok.body.suppressed.length).toBe(10_000);
    const over = await ask('batch', json({ customerIds: ids(10_001), channel: 'push' }));
    expect(over.status).toBe('400');
    expect(over.body).toEqual({ error: { code: 'BAD_REQUEST', message: 'at most 10000 customerIds per request (budget.maxBatch)' } });
    await healthy();
  }, 60_000);

  it('an answer that would exceed NATS max_payload is an error answer that says so, not silence', async () => {
    // 9,000 ids of 110 characters fit one request; suppressed, each with its until, they do not fit one answer.
    const ids = Array.from({ length: 9_000 }, (_, i) => `${String(i).padStart(6, '0')}-${'l'.repeat(103)}`);
    await ask('batch', json({ customerIds: ids.slice(0, MAX_UNKNOWN), channel: 'sms', campaignId: 'fill' }));
    const a = await ask('batch', json({ customerIds: ids, channel: 'sms' }));
    // At least 8,000 of them are refused (the unknown cap is full), each answer entry about 160 bytes: over 1 MiB.
    expect(a.status).toBe('413');
    expect(a.body.error.code).toBe('ANSWER_TOO_LARGE');
    expect(a.body.error.message).toMatch(/^the answer would be \d+ bytes, over the NATS max_payload of \d+: send fewer or shorter ids per batch$/);
    await healthy();
  }, 60_000);

  it('generated hostile bodies: every request is answered (or refused with a reason, never echoing it) and the processor stays up', async () => {
    // Text with lone surrogates and control characters, marked so that an echo would show.
    const units = fc
      .array(fc.oneof(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0xd800, max: 0xdfff }), fc.integer({ min: 0, max: 0x9f }), fc.integer({ min: 0x61, max: 0x7a })), { minLength: 1, maxLength: 30 })
      .map((u) => MARKER + String.fromCharCode(...u));
    const validId = fc.stringMatching(/^[a-z0-9-]{1,24}$/);
    const idish = fc.oneof(
      { arbitrary: validId, weight: 6 },
      { arbitrary: units, weight: 2 },
      { arbitrary: fc.string({ minLength: 1, maxLength: 20 }).map((t) => MARKER + t), weight: 1 },
      { arbitrary: fc.oneof(fc.string({ minLength: 129, maxLength: 200 }), fc.integer(), fc.constant(null), fc.jsonValue()), weight: 1 },
    );
    const channel = fc.oneof({ arbitrary: fc.constantFrom('email', 'push', 'sms'), weight: 8 }, { arbitrary: fc.oneof(fc.string({ maxLength: 8 }), fc.jsonValue()), weight: 1 });
    const fields = {
      channel,
      priority: fc.oneof({ arbitrary: fc.constantFrom('marketing', 'transactional', undefined), weight: 8 }, { arbitrary: fc.jsonValue(), weight: 1 }),
      campaignId: fc.oneof({ arbitrary: fc.constant(undefined), weight: 4 }, { arbitrary: idish, weight: 4 }),
    };
    const check = fc.record({ customerId: idish, ...fields }, { requiredKeys: ['customerId'] }).map((o) => ({ endpoint: 'check' as const, data: json(o), body: o as Record<string, unknown> }));
    const batch = fc
      .record({ customerIds: fc.oneof(fc.array(idish, { maxLength: 5 }), fc.array(validId, { minLength: 1, maxLength: 50 }), fc.array(fc.string({ minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 2_000 }), fc.jsonValue()), ...fields }, { requiredKeys: ['customerIds'] })
      .map((o) => ({ endpoint: 'batch' as const, data: json(o), body: o as Record<string, unknown> }));
    const raw = fc.tuple(fc.constantFrom('check' as const, 'batch' as const), fc.oneof(fc.uint8Array({ maxLength: 2_000 }), fc.jsonValue().map((v) => json(v ?? null)))).map(([endpoint, data]) => ({ endpoint, data, body: undefined }));
    // Up to NATS's 1 MiB max_payload of nesting (JSON.parse alone spends about 0.6 s on 1 MiB of `[`).
    const deep = fc.tuple(fc.constantFrom('check' as const, 'batch' as const), fc.integer({ min: 9, max: 500_000 }), fc.constantFrom('[', '{"customerIds":')).map(([endpoint, n, open]) => {
      const levels = Math.min(n, Math.floor(1_000_000 / (open.length + 1)));
      return { endpoint, data: enc.encode(open.repeat(levels) + (open === '[' ? ']' : '}').repeat(levels)), body: undefined };
    });
    const cases = fc.sample(fc.oneof({ arbitrary: check, weight: 4 }, { arbitrary: batch, weight: 3 }, { arbitrary: raw, weight: 2 }, { arbitrary: deep, weight: 1 }), { numRuns: 400, seed: 13 });

    const clean = (v: unknown) => typeof v === 'string' && Buffer.from(v, 'utf8').toString('utf8') === v && !/[\u0000-\u001f\u007f-\u009f]/.test(v);
    let answered = 0;
    let refused = 0;
    for (let group = 0; group < cases.length; group += 25) {
      const answers = await Promise.all(cases.slice(group, group + 25).map(async (c) => ({ c, a: await ask(c.endpoint, c.data) })));
      for (const { c, a } of answers) {
        if (a.status !== null) {
          refused++;
          expect(['400', '413']).toContain(a.status);
          expect(Object.keys(a.body)).toEqual(['error']);
          expect(a.body.error.message).not.toContain(MARKER);
          continue;
        }
        answered++;
        if (c.body === undefined) {
          expect(typeof a.body).toBe('object');
          continue;
        }
        // An answered request had well-formed ids only.
        const ids = c.endpoint === 'check' ? [c.body.customerId] : (c.body.customerIds as unknown[]);
        for (const id of ids) expect(clean(id)).toBe(true);
        if (c.body.campaignId !== undefined && c.body.campaignId !== null) expect(clean(c.body.campaignId)).toBe(true);
        if (c.endpoint === 'check') expect(['allow', 'suppress']).toContain(a.body.decision);
        else expect(a.body.checked).toBe(ids.length);
      }
      await healthy();
    }
    // Both paths were exercised, not only the refusals.
    expect(answered).toBeGreaterThan(40);
    expect(refused).toBeGreaterThan(40);
    // Still a working budget after it all.
    expect((await ask('check', json({ customerId: `after-${tag}`, channel: 'email', priority: 'transactional' }))).body.decision).toBe('allow');
  }, 300_000);
});
