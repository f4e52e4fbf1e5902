// The contact budget on a real NATS: the service (discovery, stats, single and 10,000-id batch checks), the KV
// bucket of customers suppressed now with their expiry, a consent withdrawal, reservations under concurrent checks,
// and the HTTP routes behind the responder token.
import { randomBytes } from 'node:crypto';
import type { NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VigilConfig } from '../../src/config/schema.js';
import { startProcessor, type RunningProcessor } from '../../src/runtime/processor.js';
import { silentLogger } from '../../src/shared/logger.js';
import { eventually } from '../helpers/clickhouse.js';
import { cleanUp, isolatedConfig, natsConnection } from '../helpers/processor.js';
import { HOUR_MS as H, OffsetClock } from '../../src/shared/clock.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const RESPONDER = 'responder-token-budget';
const VIEWER = 'viewer-token-budget';

// Both ways of answering: on the processor's event loop, and on the budget's own thread (budget.thread) reading the
// windows through shared memory; every answer below must be the same.
describe.each([{ thread: false }, { thread: true }])('contact budget on NATS (budget.thread: $thread)', ({ thread }) => {
  let config: VigilConfig;
  let nc: NatsConnection;
  let proc: RunningProcessor;
  // The processor's clock runs ahead, so a suppression's expiry is reached without waiting hours; the budget's thread
  // reads the same offset from shared memory.
  const clock = new OffsetClock();
  let published = 0;
  const tag = randomBytes(3).toString('hex');

  async function publish(type: string, customerId: string, extra: Record<string, unknown> = {}): Promise<void> {
    const ev = { id: `b-${tag}-${++published}`, customerId, type, ts: clock.now(), ...extra };
    await nc.jetstream().publish(`${config.nats.subjectPrefix}.${type}`, enc.encode(JSON.stringify(ev)));
  }
  async function handled(): Promise<void> {
    await eventually('events handled', () => proc.pipeline.counts.processed >= published);
  }
  async function ask(endpoint: 'check' | 'batch', body: unknown): Promise<Record<string, any>> {
    const reply = await nc.request(`${config.budget.subject}.${endpoint}`, enc.encode(JSON.stringify(body)), { timeout: 10_000 });
    return JSON.parse(dec.decode(reply.data)) as Record<string, any>;
  }
  const kv = () => proc.suppressionBucket()!.kv;

  beforeAll(async () => {
    config = isolatedConfig({
      budget: { thread, subject: `t${tag}.pressure`, bucket: `supp_${tag}`, sweepIntervalMs: 100, negativeCooldownMs: 2 * H, quietHours: { start: 0, end: 0 } },
      wall: { tokens: { responder: [RESPONDER], viewer: [VIEWER] } },
    });
    nc = await natsConnection();
    proc = await startProcessor({ config, logger: silentLogger, clock });
  });
  afterAll(async () => {
    await proc?.stop();
    await nc.jetstreamManager().then((j) => j.streams.delete(`KV_${config.budget.bucket}`)).catch(() => undefined);
    await cleanUp(config, nc);
    await nc.close();
  });

  it('answers one check: the third email of the day is suppressed with its reason and until when; a fresh customer is allowed', async () => {
    await publish('email_sent', 'full', { channel: 'email', campaignId: 'c0' });
    await publish('email_sent', 'full', { channel: 'email', campaignId: 'c0' });
    await handled();
    const suppressed = await ask('check', { customerId: 'full', channel: 'email', campaignId: 'spring' });
    expect(suppressed).toMatchObject({ decision: 'suppress', reasons: ['2 emails in 24 h against an allowance of 2'], codes: ['allowance_24h'] });
    expect(Date.parse(suppressed.until)).toBeGreaterThan(Date.now());
    expect(await ask('check', { customerId: 'fresh', channel: 'email', campaignId: 'spring' })).toMatchObject({ decision: 'allow', reasons: [] });
    expect(await ask('check', { customerId: 'full', channel: 'email', priority: 'transactional' })).toMatchObject({ decision: 'allow' });
  });

  it('answers on a NATS connection of its own: on the main thread beside the processor\'s, or on the budget\'s thread', async () => {
    const { processor, budget } = proc.natsConnections();
    if (thread) expect(budget).toBeNull();
    else {
      expect(budget).not.toBeNull();
      expect(budget).not.toBe(processor);
    }
    const ready = (await (await fetch(`http://127.0.0.1:${proc.wallPort}/readyz`, { headers: { authorization: `Bearer ${VIEWER}` } })).json()) as { checks: Record<string, { ok: boolean }> };
    expect(ready.checks.budget?.ok).toBe(thread ? true : undefined);
  });

  it('is a discoverable NATS service with stats, and rejects a bad request with a reason', async () => {
    const bad = await nc.request(`${config.budget.subject}.check`, enc.encode(JSON.stringify({ customerId: 'x', channel: 'fax' })));
    expect(bad.headers?.get('Nats-Service-Error-Code')).toBe('400');
    const infos = [];
    for await (const info of await nc.services.client().info('vigil-pressure')) infos.push(info);
    const ours = infos.find((i) => i.endpoints.some((e) => e.subject === `${config.budget.subject}.check`));
    expect(ours?.endpoints.map((e) => e.subject).sort()).toEqual([`${config.budget.subject}.batch`, `${config.budget.subject}.check`]);
    const stats = [];
    for await (const s of await nc.services.client().stats('vigil-pressure', ours!.id)) stats.push(s);
    const check = stats[0].endpoints!.find((e) => e.name === 'check')!;
    expect(check.num_requests).toBeGreaterThanOrEqual(4);
  });

  it('answers a batch of 10,000 ids in one request: the 10 at their allowance are suppressed, the rest allowed and reserved', async () => {
    const over = Array.from({ length: 10 }, (_, i) => `camp-over-${i}`);
    for (const id of over) for (let k = 0; k < 2; k++) await publish('email_sent', id, { channel: 'email' });
    await handled();
    const ids = [...over, ...Array.from({ length: 9_990 }, (_, i) => `camp-${i}`)];
    const started = performance.now();
    const answer = await ask('batch', { customerIds: ids, channel: 'email', campaignId: 'big-send' });
    const ms = performance.now() - started;
    expect(answer.checked).toBe(10_000);
    expect(answer.allowed).toHaveLength(9_990);
    expect(answer.suppressed.map((s: { customerId: string }) => s.customerId).sort()).toEqual([...over].sort());
    expect(answer.reasons).toEqual(['2 emails in 24 h against an allowance of 2']);
    // On its own thread the budget tells the processor's copy of the reservations after it answered.
    await eventually('the slots reserved', () => proc.pipeline.budget.reservations.size >= 9_990);
    console.log(`batch of 10,000 ids answered in ${ms.toFixed(0)} ms`);
  });

  it('mirrors suppressions into the KV bucket with their expiry, and deletes the key when they expire', async () => {
    await publish('complaint', 'angry', { channel: 'email' });
    await handled();
    await proc.suppressionBucket()!.flush();
    const entry = await kv().get('all.angry');
    const value = entry!.json<{ until: string; reasons: string[] }>();
    expect(value.reasons).toEqual(['complaint 0 min ago']);
    expect(Date.parse(value.until)).toBeGreaterThan(clock.now() + H);
    expect((await kv().get('email.full'))?.json<{ reasons: string[] }>().reasons).toEqual(['2 emails in 24 h against an allowance of 2']);
    // Two hours and a minute later (the cooldown is 2 h): the sweeper removes the key.
    clock.set(clock.offsetMs + 2 * H + 60_000);
    await eventually('the expired key to leave the bucket', async () => {
      await proc.suppressionBucket()!.flush();
      const e = await kv().get('all.angry');
      return e === null || e.operation !== 'PUT';
    });
    expect((await ask('check', { customerId: 'angry', channel: 'email' })).decision).toBe('allow');
  });

  it('a consent withdrawal suppresses at once, on every channel, in the service and the bucket', async () => {
    expect((await ask('check', { customerId: 'leaver', channel: 'push', priority: 'marketing' })).decision).toBe('allow');
    await publish('consent_withdrawn', 'leaver');
    await handled();
    expect(await ask('check', { customerId: 'leaver', channel: 'sms' })).toMatchObject({ decision: 'suppress', reasons: ['consent withdrawn'], until: null });
    await proc.suppressionBucket()!.flush();
    expect((await kv().get('all.leaver'))?.json<{ until: string | null }>().until).toBeNull();
    await publish('consent_granted', 'leaver');
    await handled();
    expect((await ask('check', { customerId: 'leaver', channel: 'sms' })).decision).toBe('allow');
  });

  it('concurrent checks for one customer: 50 requests at once for the last slot, exactly one is allowed; the touch consumes it', async () => {
    await publish('email_sent', 'race', { channel: 'email' });
    await handled();
    const answers = await Promise.all(Array.from({ length: 50 }, () => ask('check', { customerId: 'race', channel: 'email', campaignId: 'race' })));
    expect(answers.filter((a) => a.decision === 'allow')).toHaveLength(1);
    expect(answers.find((a) => a.decision === 'suppress')!.reasons).toEqual(['2 emails in 24 h (1 reserved) against an allowance of 2']);
    await publish('email_sent', 'race', { channel: 'email' });
    await handled();
    expect((await ask('check', { customerId: 'race', channel: 'email' })).reasons).toEqual(['2 emails in 24 h against an allowance of 2']);
  });

  it('HTTP: GET /customers/{id}/pressure and POST /pressure/check answer responders, refuse viewers', async () => {
    const base = `http://127.0.0.1:${proc.wallPort}`;
    const get = await fetch(`${base}/api/v1/customers/full/pressure`, { headers: { authorization: `Bearer ${RESPONDER}` } });
    expect(get.status).toBe(200);
    const body = (await get.json()) as { channels: Record<string, { decision: string; reasons: string[] }> };
    expect(body.channels.email.decision).toBe('suppress');
    expect(body.channels.push.decision).toBe('allow');
    expect((await fetch(`${base}/api/v1/customers/full/pressure`, { headers: { authorization: `Bearer ${VIEWER}` } })).status).toBe(403);
    expect((await fetch(`${base}/api/v1/customers/full/pressure`)).status).toBe(401);
    // An id no event could carry (a lone surrogate, a control character) is refused as the event edge refuses it.
    for (const bad of ['%ED%A0%80x', 'a%00b', 'a%1Fb']) {
      const refused = await fetch(`${base}/api/v1/customers/${bad}/pressure`, { headers: { authorization: `Bearer ${RESPONDER}` } });
      expect(refused.status, bad).toBe(400);
    }
    const post = await fetch(`${base}/api/v1/pressure/check`, {
      method: 'POST',
      headers: { authorization: `Bearer ${RESPONDER}`, 'content-type': 'application/json' },
      body: JSON.stringify({ customerIds: ['full', 'http-1'], channel: 'email', campaignId: 'web' }),
    });
    expect(post.status).toBe(200);
    expect(await post.json()).toMatchObject({ checked: 2, allowed: ['http-1'], suppressed: [{ customerId: 'full' }] });
  });

  it('a campaign suppressed for many customers raises the campaign_suppressed alert with the top reasons, and the wall counts it', async () => {
    proc.reloadRules([...config.alerts.rules.filter((r) => r.name !== 'campaign_suppressed'), { ...config.alerts.rules.find((r) => r.name === 'campaign_suppressed')!, threshold: 5, resolveThreshold: 2 }]);
    const ids = Array.from({ length: 8 }, (_, i) => `full-${i}`);
    for (const id of ids) for (let k = 0; k < 2; k++) await publish('email_sent', id, { channel: 'email' });
    await handled();
    await ask('batch', { customerIds: ids, channel: 'email', campaignId: 'tired' });
    await eventually('the campaign alert', () => proc.pipeline.alerts.views().some((a) => a.rule === 'campaign_suppressed' && a.subject.key === 'tired' && a.state === 'firing'));
    const alert = proc.pipeline.alerts.views().find((a) => a.rule === 'campaign_suppressed' && a.subject.key === 'tired')!;
    expect(alert.reasons).toEqual(['8 of 8 customers checked were suppressed in the last 60 min (email 8)', 'top reasons: 24 h allowance reached (8)']);
    const cell = proc.pipeline.snapshot().overload.find((c) => c.kind === 'campaign' && c.key === 'tired')!;
    expect(cell).toMatchObject({ checked: 8, suppressed: 8, suppressedByChannel: { email: 8 } });
  });
});
