// The contact budget while events flow: checks and batches over NATS and HTTP (the wall's port, forwarded, and the
// budget's own, budget.httpPort) are answered exactly (allowances, reservations) while the processor takes a backlog
// published between them, on the budget's own thread and NATS connection, which the processor ends when it stops. Correctness only: how fast is the benchmark's (bench/pressure.ts).
import { randomBytes } from 'node:crypto';
import type { NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VigilConfig } from '../../src/config/schema.js';
import { startProcessor, type RunningProcessor } from '../../src/runtime/processor.js';
import { silentLogger } from '../../src/shared/logger.js';
import { cleanUp, isolatedConfig, natsConnection } from '../helpers/processor.js';
import { eventually } from '../helpers/wait.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const RESPONDER = 'responder-token-underload';
/** Customers with two emails each at the start: at the default allowance of 2 a day, every marketing email is refused. */
const FULL = Array.from({ length: 50 }, (_, i) => `full-${i}`);
/** Customers the backlog keeps touching on other channels (push): their email allowance stays free. */
const BUSY = Array.from({ length: 200 }, (_, i) => `busy-${i}`);

describe('contact budget while the processor consumes a backlog', () => {
  let config: VigilConfig;
  let nc: NatsConnection;
  let proc: RunningProcessor;
  const tag = randomBytes(3).toString('hex');
  let published = 0;

  function publish(type: string, customerId: string, extra: Record<string, unknown> = {}): void {
    const ev = { id: `u-${tag}-${++published}`, customerId, type, ts: Date.now(), ...extra };
    nc.publish(`${config.nats.subjectPrefix}.${type}`, enc.encode(JSON.stringify(ev)));
  }
  /** A slice of backlog: push opens and page views of the busy customers, no email to anyone asked about. */
  async function backlog(events: number): Promise<void> {
    for (let i = 0; i < events; i++) {
      const id = BUSY[i % BUSY.length];
      if (i % 3 === 0) publish('push_open', id, { channel: 'push' });
      else publish('page_view', id, { channel: 'web' });
    }
    await nc.flush();
  }
  const handled = () => proc.pipeline.counts.processed + proc.pipeline.counts.duplicate + proc.pipeline.counts.rejected;
  async function ask(endpoint: 'check' | 'batch', body: unknown): Promise<Record<string, any>> {
    const reply = await nc.request(`${config.budget.subject}.${endpoint}`, enc.encode(JSON.stringify(body)), { timeout: 20_000 });
    return JSON.parse(dec.decode(reply.data)) as Record<string, any>;
  }
  /** A check on the wall's port (forwarded to the budget's thread), or on the budget's own. */
  async function askHttp(body: unknown, port = proc.wallPort): Promise<{ status: number; body: Record<string, any> }> {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/pressure/check`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${RESPONDER}` }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  }

  beforeAll(async () => {
    config = isolatedConfig({
      // No quiet hours: the answers must not depend on the time of day the test runs at.
      budget: { subject: `t${tag}.pressure`, bucket: `supp_${tag}`, quietHours: { start: 0, end: 0 }, httpPort: 0 },
      wall: { tokens: { responder: [RESPONDER], viewer: [] } },
    });
    nc = await natsConnection();
    proc = await startProcessor({ config, logger: silentLogger });
    for (const id of FULL) {
      publish('email_sent', id, { channel: 'email', campaignId: 'c0' });
      publish('email_sent', id, { channel: 'email', campaignId: 'c0' });
    }
    await nc.flush();
    await eventually('the full customers handled', () => handled() >= published, 30_000);
  }, 60_000);
  afterAll(async () => {
    await proc?.stop();
    await nc.jetstreamManager().then((j) => j.streams.delete(`KV_${config.budget.bucket}`)).catch(() => undefined);
    await cleanUp(config, nc);
    await nc.close();
  });

  it('answers on a thread of its own, with a NATS connection of its own there: the main thread holds none', async () => {
    expect(proc.natsConnections().budget).toBeNull();
    const ready = (await (await fetch(`http://127.0.0.1:${proc.wallPort}/readyz`, { headers: { authorization: `Bearer ${RESPONDER}` } })).json()) as { checks: Record<string, { ok: boolean; detail: string }> };
    expect(ready.checks.budget).toEqual({ ok: true, detail: 'answering on its own thread' });
  });

  it('answers single checks, batches and HTTP checks exactly while each round publishes more backlog', async () => {
    for (let round = 0; round < 8; round++) {
      // Published, not yet handled: the answers below are given while the processor works through it.
      await backlog(2_000);
      const fresh = `fresh-${round}`;
      const full = FULL[round];
      const [first, second, third, suppressed, batch, http, own] = await Promise.all([
        ask('check', { customerId: fresh, channel: 'email', campaignId: 'load' }),
        ask('check', { customerId: fresh, channel: 'email', campaignId: 'load' }),
        ask('check', { customerId: fresh, channel: 'email', campaignId: 'load' }),
        ask('check', { customerId: full, channel: 'email', campaignId: 'load' }),
        ask('batch', { customerIds: [...FULL.slice(25, 35), ...Array.from({ length: 1_000 }, (_, i) => `batch-${round}-${i}`)], channel: 'email', campaignId: 'load' }),
        askHttp({ customerIds: [FULL[40 + round], `http-${round}`], channel: 'email', campaignId: 'load' }),
        // Another customer's slots over the budget's own port, and fresh's third: at most two of the four get one.
        askHttp({ customerIds: [FULL[10 + round], `own-${round}`, fresh], channel: 'email', campaignId: 'load' }, proc.budgetHttpPort()!),
      ]);
      // Two slots a day: whichever two of the four asks for fresh came first took them (one at a time, never three).
      const fourth = own.body.allowed.includes(fresh) ? 'allow' : 'suppress';
      expect([first, second, third].map((a) => a.decision).concat(fourth).sort()).toEqual(['allow', 'allow', 'suppress', 'suppress']);
      expect(suppressed).toMatchObject({ customerId: full, decision: 'suppress', codes: ['allowance_24h'] });
      expect(batch.checked).toBe(1_010);
      expect(batch.allowed).toHaveLength(1_000);
      // FULL[25..34] are at their allowance in every round: suppressed, in the order asked.
      expect(batch.suppressed.map((s: { customerId: string }) => s.customerId)).toEqual(FULL.slice(25, 35));
      expect(batch.reasons).toEqual(['2 emails in 24 h against an allowance of 2']);
      expect(http.status).toBe(200);
      expect(http.body.allowed).toEqual([`http-${round}`]);
      expect(http.body.suppressed.map((s: { customerId: string }) => s.customerId)).toEqual([FULL[40 + round]]);
      expect(own.status).toBe(200);
      expect(own.body.allowed.filter((id: string) => id !== fresh)).toEqual([`own-${round}`]);
      expect(own.body.suppressed.map((s: { customerId: string }) => s.customerId).filter((id: string) => id !== fresh)).toEqual([FULL[10 + round]]);
    }
    await eventually('the backlog handled', () => handled() >= published, 60_000);
    expect(proc.pipeline.counts.processed).toBeGreaterThanOrEqual(16_000);
  }, 120_000);

  it('answers malformed requests with an error on both transports while events flow', async () => {
    await backlog(2_000);
    const bad = await nc.request(`${config.budget.subject}.batch`, enc.encode('{"customerIds": [1, 2], "channel": "email"}'), { timeout: 20_000 });
    expect(bad.headers?.get('Nats-Service-Error-Code')).toBe('400');
    const garbage = await nc.request(`${config.budget.subject}.check`, new Uint8Array([0xff, 0xfe, 0x7b]), { timeout: 20_000 });
    expect(garbage.headers?.get('Nats-Service-Error-Code')).toBe('400');
    for (const port of [proc.wallPort, proc.budgetHttpPort()!]) {
      const http = await askHttp({ customerIds: 'nope', channel: 'email' }, port);
      expect(http.status).toBe(400);
      expect(http.body.error.code).toBe('BAD_REQUEST');
    }
  });

  it('stops the budget with the processor: the service and its port no longer answer', async () => {
    const port = proc.budgetHttpPort()!;
    await proc.stop();
    await expect(nc.request(`${config.budget.subject}.check`, enc.encode(JSON.stringify({ customerId: 'x', channel: 'email' })), { timeout: 2_000 })).rejects.toThrow();
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });
});
