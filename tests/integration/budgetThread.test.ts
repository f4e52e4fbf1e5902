// The contact budget's own thread (budget.thread) on a real NATS, driven from this thread as the processor drives it:
// the windows written here are read there through shared memory; touches, consent flips and erasures are told in
// order; what it settles comes back to this thread's tally and reservation copy; an erasure that races a check leaves
// nothing of the customer here; a thread that dies is started again and answers; a stop ends it.
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import fc from 'fast-check';
import type { Worker } from 'node:worker_threads';
import type { NatsConnection } from 'nats';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BudgetThread } from '../../src/budget/budgetThread.js';
import { ContactBudget } from '../../src/budget/contactBudget.js';
import { pressureDurations } from '../../src/budget/natsService.js';
import type { VigilConfig } from '../../src/config/schema.js';
import { MemoryConsentStore } from '../../src/privacy/consent.js';
import { OffsetClock } from '../../src/shared/clock.js';
import { silentLogger } from '../../src/shared/logger.js';
import { spawnModuleWorker } from '../../src/shared/worker.js';
import { CustomerWindows } from '../../src/windows/customerWindows.js';
import { ev } from '../../src/windows/events.testing.js';
import { eventually } from '../helpers/clickhouse.js';
import { hostileHttpRequests } from '../helpers/hostileHttp.js';
import { rawExchange, rawUpgrade, statusOf } from '../helpers/rawWire.js';
import { isolatedConfig, natsConnection } from '../helpers/processor.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const budgetModule = new URL('../../src/budget/budgetThread.ts', import.meta.url).href;

describe("the contact budget's thread", () => {
  let nc: NatsConnection;
  let config: VigilConfig;
  const clock = new OffsetClock();
  let windows: CustomerWindows;
  let budget: ContactBudget;
  let consent: MemoryConsentStore;
  let thread: BudgetThread | null = null;
  const workers: Worker[] = [];

  beforeAll(async () => {
    nc = await natsConnection();
  });
  afterAll(async () => {
    await nc.close();
  });
  afterEach(async () => {
    await thread?.stop();
    thread = null;
  });

  /** A thread over fresh windows, a fresh budget and a consent store holding `withdrawn`; `over` merged into the config. */
  async function start(withdrawn: string[] = [], over: { budget?: Record<string, unknown>; wall?: Record<string, unknown> } = {}): Promise<BudgetThread> {
    config = isolatedConfig({ budget: { thread: true, subject: `t${randomBytes(3).toString('hex')}.pressure`, quietHours: { start: 0, end: 0 }, ...over.budget }, wall: over.wall ?? {} });
    windows = new CustomerWindows({ maxCustomers: 1_000, idleEvictMin: 8 * 1440, initialCapacity: 4 });
    consent = new MemoryConsentStore();
    for (const id of withdrawn) consent.withdraw(id, clock.now());
    budget = new ContactBudget({ windows, config, clock, consentWithdrawn: (id) => consent.isWithdrawn(id) });
    thread = await BudgetThread.start({
      config,
      windows,
      budget,
      consent,
      clockOffset: clock.cell,
      log: silentLogger,
      // The worker as the thread starts it, kept so a test can end it as a crash would.
      spawn: (data, transfer) => {
        const w = spawnModuleWorker(budgetModule, 'budgetWorker', data, transfer);
        workers.push(w);
        return w;
      },
    });
    return thread;
  }

  /**
   * An event applied as the pipeline applies it: said to the budget, into the windows, then the budget (which tells
   * the thread), and a turn of the loop after it.
   */
  async function apply(customerId: string, type: string, channel: string | null = null): Promise<void> {
    const e = ev(type, clock.now(), { customerId, channel });
    const slot = windows.slotFor(customerId);
    budget.beforeRecord(e, false);
    windows.record(slot, e, 1);
    budget.onEvent(e, slot, false);
    await new Promise((r) => setImmediate(r));
  }

  async function check(customerId: string, channel = 'email', campaignId = 'spring'): Promise<Record<string, any>> {
    const reply = await nc.request(`${config.budget.subject}.check`, enc.encode(JSON.stringify({ customerId, channel, campaignId })), { timeout: 10_000 });
    return JSON.parse(dec.decode(reply.data)) as Record<string, any>;
  }

  it('answers from the windows written here, uses a reservation when the touch comes, and this thread learns what it settled', async () => {
    await start();
    const before = pressureDurations.check.count;
    await apply('ann', 'email_sent', 'email');
    // One email of the two a day: the next is allowed and reserved, the one after is over with the slot counted.
    expect(await check('ann')).toMatchObject({ decision: 'allow' });
    expect(await check('ann')).toMatchObject({ decision: 'suppress', reasons: ['2 emails in 24 h (1 reserved) against an allowance of 2'] });
    await eventually('the checks settled here', () => budget.counts.allowed === 1 && budget.counts.suppressed === 1);
    expect(budget.reservations.count('ann', 'email', clock.now())).toBe(1);
    expect(budget.campaignCounts().find((c) => c.campaignId === 'spring')).toMatchObject({ checked: 2, suppressed: 1 });
    expect(pressureDurations.check.count - before).toBe(2);
    // The touch the slot was for: counted in the windows, its reservation used on both threads.
    await apply('ann', 'email_sent', 'email');
    expect(budget.reservations.count('ann', 'email', clock.now())).toBe(0);
    expect((await check('ann')).reasons).toEqual(['2 emails in 24 h against an allowance of 2']);
  });

  it('tells the thread of a touch only where a slot of the customer may be held: its count there, or this copy', async () => {
    const t = await start();
    // No slot anywhere: the touch changes nothing there, and is neither said nor told.
    await apply('bea', 'email_sent', 'email');
    expect(t.touchesSaid).toBe(0);
    expect(await check('bea')).toMatchObject({ decision: 'allow' });
    await eventually('the slot told here', () => budget.reservations.count('bea', 'email', clock.now()) === 1);
    // This copy lets it go: only the thread's count of the customers holding slots says to tell the touch.
    budget.reservations.forget('bea');
    await apply('bea', 'email_sent', 'email');
    expect(t.touchesSaid).toBe(1);
    await eventually('the touch told', () => t.touchesUntold === 0);
    // It used the slot there: two emails and none reserved.
    expect((await check('bea')).reasons).toEqual(['2 emails in 24 h against an allowance of 2']);
    // Its last slot gone there, the next touch is not said again.
    await apply('bea', 'email_sent', 'email');
    expect(t.touchesSaid).toBe(1);
  });

  it('a consent withdrawal holds from the next answer, and a grant lifts it', async () => {
    await start();
    expect((await check('bea', 'push')).decision).toBe('allow');
    consent.withdraw('bea', clock.now());
    expect(await check('bea', 'sms')).toMatchObject({ decision: 'suppress', reasons: ['consent withdrawn'] });
    consent.grant('bea', clock.now() + 1);
    expect((await check('bea', 'sms')).decision).toBe('allow');
  });

  it('starts with the customers withdrawn before it', async () => {
    await start(['cid']);
    expect(await check('cid')).toMatchObject({ decision: 'suppress', reasons: ['consent withdrawn'] });
    expect((await check('other')).decision).toBe('allow');
  });

  it('an erasure right after a check leaves nothing of the customer here, even when the check is told after it', async () => {
    await start();
    await apply('dan', 'email_sent', 'email');
    expect((await check('dan')).decision).toBe('allow');
    // Erased at once: the thread tells this thread of the check a few milliseconds later, after the erasure.
    budget.forget('dan');
    windows.remove('dan');
    await eventually('the check told here', () => budget.counts.allowed === 1);
    expect(budget.reservations.count('dan', 'email', clock.now())).toBe(0);
    expect(budget.reservations.size).toBe(0);
    expect([...budget.suppressions()].filter((s) => s.customerId === 'dan')).toEqual([]);
    // And on the thread: no slot held for it, no history.
    expect(await check('dan')).toMatchObject({ decision: 'allow', used: { channel: { h24: 0 } } });
  });

  it('a touch right after a check uses its slot on both threads, even when the check is told here after the touch', async () => {
    const t = await start();
    await apply('fay', 'email_sent', 'email');
    expect((await check('fay')).decision).toBe('allow');
    // The touch the slot was for, sent at once: this thread's copy has no slot to use yet (the check is told a few
    // milliseconds later); the thread's has, and uses it.
    await apply('fay', 'email_sent', 'email');
    await eventually('the check told here and the touch applied there', () => budget.counts.allowed === 1 && t.touchesInFlight === 0);
    expect(budget.reservations.count('fay', 'email', clock.now())).toBe(0);
    expect(budget.reservations.size).toBe(0);
    // On the thread: the two emails counted, no slot held (a third is over the allowance of two, with nothing reserved).
    expect((await check('fay')).reasons).toEqual(['2 emails in 24 h against an allowance of 2']);
  });

  it('lets an erased id go here once the thread has applied the erasure, with no check to come', async () => {
    const t = await start();
    await apply('ida', 'email_sent', 'email');
    budget.forget('ida');
    expect(t.erasuresInFlight).toBe(1);
    await eventually('the erasure applied there', () => t.erasuresInFlight === 0);
  });

  it('a thread that dies is started again from this thread\'s copy of its reservations; readiness says so meanwhile', async () => {
    const t = await start();
    expect(t.check().ok).toBe(true);
    await apply('eve', 'email_sent', 'email');
    // A slot taken on the thread that is about to die, and told here.
    expect((await check('eve')).decision).toBe('allow');
    await eventually('the slot told here', () => budget.reservations.count('eve', 'email', clock.now()) === 1);
    const first = workers.at(-1)!;
    await first.terminate();
    expect(t.check().ok).toBe(false);
    await eventually('the thread started again', () => t.restarts === 1 && t.check().ok);
    expect(workers.at(-1)).not.toBe(first);
    // The new thread reads the same windows, and holds the slot the first one took.
    expect(await check('eve')).toMatchObject({ decision: 'suppress', reasons: ['2 emails in 24 h (1 reserved) against an allowance of 2'] });
    // It counts the restored slot among the ones held: with this copy's let go, the touch is still told and uses it.
    budget.reservations.forget('eve');
    await apply('eve', 'email_sent', 'email');
    expect(t.touchesSaid).toBe(1);
    await eventually('the touch told', () => t.touchesUntold === 0);
    expect((await check('eve')).reasons).toEqual(['2 emails in 24 h against an allowance of 2']);
  });

  it('600 touches of one turn each use their own slot on the thread, every one told', async () => {
    const t = await start();
    // 600 customers with one email each and a slot reserved for the second (more than the buffer's first 256).
    const ids = Array.from({ length: 600 }, (_, i) => `bulk${i}`);
    for (const id of ids) await apply(id, 'email_sent', 'email');
    const batch = { customerIds: ids, channel: 'email' as const, campaignId: 'bulk', priority: 'marketing' as const };
    expect(((await t.batch(batch)) as { allowed: string[] }).allowed).toHaveLength(600);
    expect(budget.reservations.size).toBe(600);
    // The second emails, all in one synchronous stretch as a slice of the stream applies them, then the turn.
    for (const id of ids) {
      const e = ev('email_sent', clock.now(), { customerId: id, channel: 'email' });
      const slot = windows.slotFor(id);
      budget.beforeRecord(e, false);
      windows.record(slot, e, 1);
      budget.onEvent(e, slot, false);
    }
    expect(budget.reservations.size).toBe(0);
    await new Promise((r) => setImmediate(r));
    // Every touch said before the windows took it was told to the thread.
    await eventually('every touch told', () => t.touchesUntold === 0);
    // Every slot used on the thread: two emails and none reserved, where an unused slot would say "(1 reserved)".
    const after = (await t.batch({ ...batch, campaignId: 'after' })) as { suppressed: unknown[]; reasons: string[] };
    expect(after.suppressed).toHaveLength(600);
    expect(after.reasons).toEqual(['2 emails in 24 h against an allowance of 2']);
  });

  it("answers the wall's forwarded routes: a customer's pressure and a batch, and refuses them once stopped", async () => {
    const t = await start();
    await apply('fay', 'email_sent', 'email');
    await apply('fay', 'email_sent', 'email');
    const pressure = (await t.pressure('fay')) as { channels: Record<string, { decision: string }> };
    expect(pressure.channels.email.decision).toBe('suppress');
    expect(pressure.channels.push.decision).toBe('allow');
    const batch = (await t.batch({ customerIds: ['fay', 'gus'], channel: 'email', campaignId: 'web', priority: 'marketing' })) as Record<string, unknown>;
    expect(batch).toMatchObject({ checked: 2, allowed: ['gus'], suppressed: [{ customerId: 'fay' }] });
    // Told before the answer: the slot is here already.
    expect(budget.reservations.count('gus', 'email', clock.now())).toBe(1);
    await t.stop();
    thread = null;
    await expect(t.pressure('fay')).rejects.toThrow(/not running/);
    await expect(nc.request(`${config.budget.subject}.check`, enc.encode('{}'), { timeout: 500 })).rejects.toThrow();
  });

  describe('its own HTTP port (budget.httpPort)', () => {
    const RESPONDER = 'budget-port-responder';
    const VIEWER = 'budget-port-viewer';
    const MARKER = 'ECHO-MARKER-b7e1';
    const tokens = { tokens: { responder: [RESPONDER], viewer: [VIEWER] } };
    const base = () => `http://127.0.0.1:${thread!.httpPort}`;
    const post = (body: string | Buffer, headers: Record<string, string> = {}) =>
      fetch(`${base()}/api/v1/pressure/check`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${RESPONDER}`, ...headers }, body });

    it('answers both routes to responders from the thread, and this thread learns what they settled', async () => {
      const t = await start([], { budget: { httpPort: 0 }, wall: tokens });
      expect(t.httpPort).toBeGreaterThan(0);
      const timed = pressureDurations.http.count;
      await apply('hal', 'email_sent', 'email');
      await apply('hal', 'email_sent', 'email');
      const pressure = await fetch(`${base()}/api/v1/customers/hal/pressure`, { headers: { authorization: `Bearer ${RESPONDER}` } });
      expect(pressure.status).toBe(200);
      expect(((await pressure.json()) as { channels: Record<string, { decision: string }> }).channels.email.decision).toBe('suppress');
      const checked = await post(JSON.stringify({ customerIds: ['hal', 'ivy'], channel: 'email', campaignId: 'web' }));
      expect(checked.status).toBe(200);
      expect(await checked.json()).toMatchObject({ checked: 2, allowed: ['ivy'], suppressed: [{ customerId: 'hal' }] });
      await eventually('the slot told here', () => budget.reservations.count('ivy', 'email', clock.now()) === 1 && budget.counts.allowed === 1);
      // Its answer time too (vigil_budget_check_duration_seconds{endpoint="http"}): the check, not the lookup.
      await eventually('the check timed here', () => pressureDurations.http.count === timed + 1);
      // The slot the port took is the one NATS sees: ivy's second email of two is reserved, a third is over.
      const natsTimed = pressureDurations.check.count;
      expect((await check('ivy')).decision).toBe('allow');
      expect((await check('ivy')).reasons).toEqual(['2 emails in 24 h (2 reserved) against an allowance of 2']);
      // Every timing sent before those two has come: one for the HTTP check, none for the lookup.
      await eventually('the NATS checks timed here', () => pressureDurations.check.count === natsTimed + 2);
      expect(pressureDurations.http.count).toBe(timed + 1);
      expect((await fetch(`${base()}/healthz`)).status).toBe(200);
      const port = t.httpPort!;
      await t.stop();
      thread = null;
      await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    });

    it('holds at most budget.httpMaxConnections open: one more is closed as it comes, and served once one of them closes', async () => {
      const t = await start([], { budget: { httpPort: 0, httpMaxConnections: 2 } });
      const port = t.httpPort!;
      const healthz = Buffer.from('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      // A connection the server has taken (its first request answered) and holds (a second request half sent: no
      // keep-alive timeout runs while a request's headers are on their way).
      const hold = () =>
        new Promise<Socket>((resolve, reject) => {
          const s = connect(port, '127.0.0.1');
          let got = '';
          s.once('error', reject);
          s.on('data', (d: Buffer) => {
            got += d.toString('latin1');
            if (statusOf(got) === 200) resolve(s);
          });
          s.on('connect', () => s.write(Buffer.concat([healthz, Buffer.from('GET /healthz HTTP/1.1\r\nHost: 127')])));
        });
      const held = [await hold(), await hold()];
      try {
        // The third: closed as it is accepted, no answer.
        expect(await rawExchange(port, healthz)).toBe('');
        held[0].destroy();
        await eventually('a connection served once one of the two closed', async () => statusOf(await rawExchange(port, healthz)) === 200);
        expect(t.check().ok).toBe(true);
      } finally {
        for (const s of held) s.destroy();
      }
    });

    it("holds the wall's edge and tokens, answers every malformed request with a 4xx, and serves nothing else", async () => {
      await start([], { budget: { httpPort: 0, maxBatch: 3 }, wall: tokens });
      const body = JSON.stringify({ customerIds: ['joy'], channel: 'push' });
      const status = async (r: Promise<Response>) => (await r).status;
      expect(await status(post(body))).toBe(200);
      expect(await status(post(body, { authorization: '' }))).toBe(401);
      expect(await status(post(body, { authorization: 'Bearer wrong' }))).toBe(401);
      expect(await status(post(body, { authorization: `Bearer ${VIEWER}` }))).toBe(403);
      expect(await status(post(body, { origin: 'https://evil.example' }))).toBe(403);
      expect(await status(post(body, { 'content-type': 'text/plain' }))).toBe(415);
      // DNS rebinding: a name the wall does not serve.
      expect(statusOf(await rawExchange(thread!.httpPort!, Buffer.from(`GET /api/v1/customers/joy/pressure HTTP/1.1\r\nHost: evil.example\r\nAuthorization: Bearer ${RESPONDER}\r\n\r\n`)))).toBe(421);
      for (const bad of [Buffer.from([0x7b, 0xc3, 0x28, 0x7d]), '['.repeat(64) + ']'.repeat(64), '{}', 'not json', JSON.stringify({ customerIds: ['a', 'b', 'c', 'd'], channel: 'push' }), JSON.stringify({ customerIds: [MARKER], channel: MARKER })]) {
        const r = await post(bad);
        expect(r.status, String(bad)).toBe(400);
        expect(await r.text()).not.toContain(MARKER);
      }
      expect(await status(post(Buffer.alloc(2 * 1024 * 1024, 0x20)))).toBe(413);
      expect(await status(fetch(`${base()}/api/v1/pressure/check`, { headers: { authorization: `Bearer ${RESPONDER}` } }))).toBe(405);
      expect(await status(fetch(`${base()}/api/v1/customers/%E0%A4%A/pressure`, { headers: { authorization: `Bearer ${RESPONDER}` } }))).toBe(400);
      for (const path of ['/', '/api/v1/snapshot', '/metrics', '/readyz', '/api/v1/silences', '/ws']) {
        expect(await status(fetch(`${base()}${path}`, { headers: { authorization: `Bearer ${RESPONDER}` } })), path).toBe(404);
      }
      expect(await rawUpgrade(thread!.httpPort!)).toBeNull();
      expect(thread!.restarts).toBe(0);
    });

    it('survives generated raw HTTP requests without its thread dying, answering /healthz after each', async () => {
      await start([], { budget: { httpPort: 0 }, wall: tokens });
      const routes = ['/healthz', '/api/v1/pressure/check', '/api/v1/customers/c1/pressure', '/ws', '/'];
      await fc.assert(
        fc.asyncProperty(hostileHttpRequests(routes, MARKER), async (bytes) => {
          const response = await rawExchange(thread!.httpPort!, bytes);
          const code = statusOf(response);
          if (code !== null && code >= 400) expect(response.split('\r\n\r\n').slice(1).join(''), 'an error answer echoed its input').not.toContain(MARKER);
          expect(code === null || code < 500, `a 5xx: ${response.slice(0, 200)}`).toBe(true);
          expect(thread!.restarts, 'the thread died').toBe(0);
          expect((await fetch(`${base()}/healthz`)).status).toBe(200);
        }),
        { seed: 2718, numRuns: 120, endOnFailure: true },
      );
    });

    it('a thread started again listens again', async () => {
      const t = await start([], { budget: { httpPort: 0 }, wall: tokens });
      await workers.at(-1)!.terminate();
      expect(t.httpPort).toBeNull();
      await eventually('the thread started again', () => t.restarts === 1 && t.check().ok);
      expect(t.httpPort).toBeGreaterThan(0);
      const r = await post(JSON.stringify({ customerIds: ['kim'], channel: 'sms' }));
      expect(await r.json()).toMatchObject({ allowed: ['kim'] });
    });
  });
});
