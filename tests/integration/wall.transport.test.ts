// The wall's behaviour over a real socket, run once per transport: both must behave the same to the page and to scrapers.
import { afterEach, describe, expect, it } from 'vitest';
import { FakeWallSource } from '../helpers/wallFakeSource.js';
import { wallHarness } from '../helpers/wallHarness.js';
import { buildAlert, buildAtRisk, buildStats, buildWallConfig } from '../helpers/wallFixtures.js';
import { WallTestClient, type AnyMessage } from '../helpers/wallClient.js';

const VIEWER = 'viewer-token-0001';
const RESPONDER = 'responder-token-0001';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(['uws', 'ws'] as const)('wall over %s', (transport) => {
  const harness = wallHarness(transport);
  const { start, connect } = harness;

  it('reports the transport it was asked for', async () => {
    await start(new FakeWallSource());
    expect(harness.wall.transportName).toBe(transport);
  });

  it('serves healthz, readyz, metrics and the snapshot', async () => {
    const source = new FakeWallSource({ stats: buildStats({ eventsPerSec: 4_321 }) });
    const { http } = await start(source);

    expect((await fetch(`${http}/healthz`)).status).toBe(200);
    const ready = await fetch(`${http}/readyz`);
    expect(ready.status).toBe(200);
    // An open wall: every caller holds the (absent) token, so readiness comes with its details.
    expect(await ready.json()).toEqual({ ready: true, checks: source.checks });

    const metrics = await fetch(`${http}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(await metrics.text()).toContain('vigil_events_total');

    const snapshot = await fetch(`${http}/api/v1/snapshot`);
    expect(snapshot.status).toBe(200);
    const body = (await snapshot.json()) as { type: string; stats: { eventsPerSec: number } };
    expect(body.type).toBe('snapshot');
    expect(body.stats.eventsPerSec).toBe(4_321);

    source.isLive = false;
    source.checks = { ...source.checks, clickhouse: { ok: false, detail: 'connection refused' } };
    expect((await fetch(`${http}/healthz`)).status).toBe(503);
    const notReady = await fetch(`${http}/readyz`);
    expect(notReady.status).toBe(503);
    expect(((await notReady.json()) as { checks: Record<string, { ok: boolean }> }).checks.clickhouse.ok).toBe(false);
  });

  it('serves the page, its assets and uPlot, and 404s anything else', async () => {
    const { http } = await start(new FakeWallSource());
    const page = await fetch(`${http}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('data-testid="alert-feed"');
    for (const asset of ['wall.js', 'wall.css', 'uPlot.esm.js', 'uPlot.min.css']) {
      expect((await fetch(`${http}/assets/${asset}`)).status, asset).toBe(200);
    }
    expect((await fetch(`${http}/assets/../../package.json`)).status).toBe(404);
    expect((await fetch(`${http}/assets/missing.js`)).status).toBe(404);
    expect((await fetch(`${http}/nothing-here`)).status).toBe(404);
    expect((await fetch(`${http}/ws`)).status).toBe(426);
  });

  it('greets a WebSocket client with hello and the snapshot, then forwards pushed frames', async () => {
    const source = new FakeWallSource({ atRisk: [buildAtRisk({ customerId: 'c-9' })] });
    const { ws } = await start(source);
    const client = await connect(ws);

    const [hello, snapshot] = await client.until(() => (client.messages.length >= 2 ? client.messages : undefined), 5_000, 'hello and snapshot');
    expect(hello).toMatchObject({ type: 'hello', role: 'responder', frameIntervalMs: 50 });
    expect(snapshot).toMatchObject({ type: 'snapshot', atRisk: [{ customerId: 'c-9' }] });
    expect(harness.wall.clientCount()).toBe(1);

    source.push({ type: 'alert', alert: buildAlert({ id: 'a-pushed', summary: 'pushed by the source' }) });
    const frame = await client.waitFor((item) => item.type === 'alert');
    expect((frame as unknown as { alert: { id: string } }).alert.id).toBe('a-pushed');
    // Incremental frames travel as one JSON array per flush.
    expect(Array.isArray(client.messages.at(-1))).toBe(true);
  });

  it('coalesces a burst: 1000 stats frames become a few messages that end on the latest value', async () => {
    const source = new FakeWallSource();
    const { ws } = await start(source, { frameIntervalMs: 50 });
    const client = await connect(ws);
    await client.waitFor((item) => item.type === 'snapshot');
    const before = client.messages.length;

    // Ten bursts of 100, each pushed once the screen shows the last one: the burst spans several flush intervals, not
    // one tick, however fast or slow the machine is.
    for (let burst = 0; burst < 10; burst++) {
      for (let i = burst * 100; i < (burst + 1) * 100; i++) source.push({ type: 'stats', stats: buildStats({ eventsPerSec: i }) });
      const last = burst * 100 + 99;
      await client.waitFor((item) => item.type === 'stats' && (item.stats as { eventsPerSec: number }).eventsPerSec === last, 5_000, `stats ${last}`);
    }
    // Nothing more after the latest value: the next message is a marker alert pushed now, on its own.
    source.push({ type: 'alert', alert: buildAlert({ id: 'a-marker' }) });
    await client.waitFor((item) => item.type === 'alert', 5_000, 'the marker alert');
    expect(client.messages.at(-1)).toEqual([expect.objectContaining({ type: 'alert', alert: expect.objectContaining({ id: 'a-marker' }) })]);

    const flushes = client.messages.slice(before, -1);
    expect(flushes.length).toBeGreaterThan(0);
    expect(flushes.length).toBeLessThan(40);
    for (const flush of flushes) {
      expect(Array.isArray(flush)).toBe(true);
      expect((flush as AnyMessage[]).filter((frame) => frame.type === 'stats')).toHaveLength(1);
    }
    const stats = client.items.filter((item) => item.type === 'stats');
    expect((stats.at(-1)!.stats as { eventsPerSec: number }).eventsPerSec).toBe(999);
  });

  it('keeps one frame per alert id within a flush, with the latest state', async () => {
    const source = new FakeWallSource();
    const { ws } = await start(source, { frameIntervalMs: 200 });
    const client = await connect(ws);
    await client.waitFor((item) => item.type === 'snapshot');
    // The first frame after a quiet spell leaves at once; the rest of the burst waits for the interval.
    source.push({ type: 'stats', stats: buildStats() });
    await client.waitFor((item) => item.type === 'stats');
    const before = client.messages.length;

    source.push({ type: 'alert', alert: buildAlert({ id: 'a1', state: 'pending' }) });
    source.push({ type: 'alert', alert: buildAlert({ id: 'a2', state: 'firing' }) });
    source.push({ type: 'alert', alert: buildAlert({ id: 'a1', state: 'firing' }) });
    source.push({ type: 'alert', alert: buildAlert({ id: 'a1', state: 'resolved' }) });

    const flush = await client.until(() => (client.messages.length > before ? client.messages[before] : undefined), 2_000, 'the flush');
    expect(Array.isArray(flush)).toBe(true);
    const alerts = (flush as AnyMessage[]).map((frame) => frame.alert as { id: string; state: string });
    expect(alerts).toEqual([expect.objectContaining({ id: 'a1', state: 'resolved' }), expect.objectContaining({ id: 'a2', state: 'firing' })]);
  });

  // The hub's timing, to the millisecond, is specified on the manual clock in src/wall/clientHub.test.ts; here the same
  // over a real socket, by order alone: the interval is a minute, so a change held behind it could not arrive in time.
  it.each(['alert', 'silences'] as const)('sends %s changes on the next turn while stats wait out the interval, carrying them along', async (urgent) => {
    const source = new FakeWallSource();
    const { ws } = await start(source, { frameIntervalMs: 60_000 });
    const client = await connect(ws);
    await client.waitFor((item) => item.type === 'snapshot');
    // The first stats frame after a quiet spell leaves at once; the next one is held for the minute...
    source.push({ type: 'stats', stats: buildStats({ eventsPerSec: 1 }) });
    await client.waitFor((item) => item.type === 'stats');
    const afterFirst = client.messages.length;
    source.push({ type: 'stats', stats: buildStats({ eventsPerSec: 2 }) });
    // ...as a round trip shows: had it been sent on the next turn it would come before the pong on the same socket.
    client.send({ type: 'ping' });
    await client.waitFor((item) => item.type === 'pong', 10_000, 'the pong');

    // ...but an urgent change reaches the screen now, carrying the held stats rather than costing a second message.
    if (urgent === 'alert') source.push({ type: 'alert', alert: buildAlert({ id: 'a-now', state: 'firing' }) });
    else await source.addSilence({ matchers: [{ name: 'alertname', op: '=', value: 'customer_churn_risk' }], startsAt: Date.now(), endsAt: Date.now() + 60_000, createdBy: 'sam', comment: 'test' });
    await client.waitFor((item) => item.type === urgent, 10_000, `the ${urgent} frame`);
    expect(client.messages.slice(afterFirst).map((message) => (Array.isArray(message) ? message.map((frame) => frame.type) : message.type))).toEqual(['pong', ['stats', urgent]]);
    expect(((client.messages.at(-1) as AnyMessage[])[0].stats as { eventsPerSec: number }).eventsPerSec).toBe(2);
  });

  it('holds alerts back and coalesces them per id only while they come faster than the interval', async () => {
    const source = new FakeWallSource();
    const { ws } = await start(source, { frameIntervalMs: 200, alertFrameIntervalMs: 200 });
    const client = await connect(ws);
    await client.waitFor((item) => item.type === 'snapshot');
    const before = client.messages.length;

    // A storm: 5 alerts changing round after round, each round a turn of the loop (so the server may flush between any
    // two), until the screen has had four messages: the leading edge and three intervals, about 600 ms.
    const deadline = Date.now() + 30_000;
    let round = 0;
    while (client.messages.length - before < 4 && Date.now() < deadline) {
      round++;
      for (let id = 0; id < 5; id++) source.push({ type: 'alert', alert: buildAlert({ id: `s${id}`, value: round }) });
      await new Promise((resolve) => setImmediate(resolve));
    }
    const lastRound = round;
    await client.waitFor((item) => item.type === 'alert' && item.alert !== undefined && (item.alert as { id: string; value: number }).id === 's4' && (item.alert as { value: number }).value === lastRound, 2_000, 'the last round');
    const flushes = client.messages.slice(before) as AnyMessage[][];
    // About one message per interval (3 in 600 ms, plus the leading edge and the tail), not one per change.
    expect(flushes.length).toBeGreaterThanOrEqual(2);
    expect(flushes.length).toBeLessThanOrEqual(6);
    for (const flush of flushes) {
      const ids = flush.map((frame) => (frame.alert as { id: string }).id);
      expect(new Set(ids).size).toBe(ids.length);
    }
    expect(lastRound).toBeGreaterThan(20);
  });

  it('lists, adds and expires silences over HTTP, and pushes each change to the screens', async () => {
    const source = new FakeWallSource({ alerts: [buildAlert({ id: 'a1', rule: 'customer_contact_fatigue', labels: { alertname: 'customer_contact_fatigue', campaign: 'spring-sale' } })] });
    const { ws, http } = await start(source, { frameIntervalMs: 1_000 });
    const client = await connect(ws);
    const snapshot = await client.waitFor((item) => item.type === 'snapshot');
    expect(snapshot.silences).toEqual([]);
    expect(await (await fetch(`${http}/api/v1/silences`)).json()).toEqual({ silences: [] });

    const now = Date.now();
    const body = {
      matchers: [
        { name: 'alertname', op: '=', value: 'customer_contact_fatigue' },
        { name: 'campaign', op: '=', value: 'spring-sale' },
      ],
      endsAt: now + 3_600_000,
      comment: 'the send is paused; marketing knows',
      by: 'kim',
    };
    const created = await fetch(`${http}/api/v1/silences`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(created.status).toBe(201);
    const { silence } = (await created.json()) as { silence: { id: string; createdBy: string; startsAt: number; endsAt: number; comment: string } };
    expect(silence).toMatchObject({ createdBy: 'kim', endsAt: body.endsAt, comment: body.comment });
    expect(silence.startsAt).toBeGreaterThanOrEqual(now);
    const frame = await client.waitFor((item) => item.type === 'silences', 500, 'the silences frame');
    expect((frame.silences as { id: string }[]).map((s) => s.id)).toEqual([silence.id]);
    expect(((await (await fetch(`${http}/api/v1/silences`)).json()) as { silences: { id: string }[] }).silences.map((s) => s.id)).toEqual([silence.id]);

    // Malformed bodies are refused by the wall; silences that would hide everything, by the source.
    const post = (value: unknown) => fetch(`${http}/api/v1/silences`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof value === 'string' ? value : JSON.stringify(value) });
    for (const bad of ['not json', { ...body, comment: '' }, { ...body, matchers: [] }, { ...body, endsAt: now - 1 }, { ...body, matchers: [{ name: 'alertname', op: '=~', value: '.*' }] }]) {
      const response = await post(bad);
      expect(response.status, JSON.stringify(bad)).toBe(400);
      expect(await response.json()).toMatchObject({ error: { code: 'BAD_REQUEST', message: expect.any(String) } });
    }
    expect(source.silences.size).toBe(1);

    const expired = await fetch(`${http}/api/v1/silences/${encodeURIComponent(silence.id)}`, { method: 'DELETE' });
    expect(expired.status).toBe(200);
    expect(await expired.json()).toEqual({ ok: true, id: silence.id });
    // Within one interval of the previous change this counts as a storm, so it may wait out the rest of that interval.
    const ended = await client.waitFor((item) => item.type === 'silences' && (item.silences as { endsAt: number }[])[0].endsAt <= Date.now(), 1_500, 'the expired silence');
    expect((ended.silences as unknown[]).length).toBe(1);
    expect((await fetch(`${http}/api/v1/silences/nope`, { method: 'DELETE' })).status).toBe(404);
    expect((await fetch(`${http}/api/v1/silences`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(405);
    expect((await fetch(`${http}/api/v1/silences/${silence.id}`)).status).toBe(405);
  });

  it('serves a reconnect storm from one snapshot, and a fresh one after the next flush', async () => {
    const source = new FakeWallSource({ stats: buildStats({ eventsPerSec: 1 }) });
    const { ws } = await start(source, { frameIntervalMs: 50 });
    const storm = await Promise.all(Array.from({ length: 20 }, () => connect(ws)));
    await Promise.all(storm.map((client) => client.waitFor((item) => item.type === 'snapshot')));
    expect(source.snapshotCalls).toBe(1);

    // After a flush the cached snapshot is stale: the next client gets a new one with the change in it.
    source.push({ type: 'stats', stats: buildStats({ eventsPerSec: 2 }) });
    await storm[0].waitFor((item) => item.type === 'stats');
    const late = await connect(ws);
    const snapshot = await late.waitFor((item) => item.type === 'snapshot');
    expect((snapshot.stats as { eventsPerSec: number }).eventsPerSec).toBe(2);
    expect(source.snapshotCalls).toBe(2);
  });

  it('answers ping with pong and a malformed message with an error frame', async () => {
    const { ws } = await start(new FakeWallSource());
    const client = await connect(ws);
    client.send({ type: 'ping' });
    const pong = await client.waitFor((item) => item.type === 'pong');
    expect(typeof pong.serverTime).toBe('number');
    client.socket.send('not json');
    expect(await client.waitFor((item) => item.type === 'error')).toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('bounds the at-risk list to atRiskListSize, highest risk first', async () => {
    const atRisk = Array.from({ length: 30 }, (_, i) => buildAtRisk({ customerId: `c-${i}`, risk: i / 30 }));
    const source = new FakeWallSource({ atRisk });
    const { ws, http } = await start(source, { atRiskListSize: 5 });
    const client = await connect(ws);
    const snapshot = await client.waitFor((item) => item.type === 'snapshot');
    expect((snapshot.atRisk as { customerId: string }[]).map((entry) => entry.customerId)).toEqual(['c-29', 'c-28', 'c-27', 'c-26', 'c-25']);
    const api = (await (await fetch(`${http}/api/v1/snapshot`)).json()) as { atRisk: unknown[] };
    expect(api.atRisk).toHaveLength(5);
    source.push({ type: 'at_risk', atRisk });
    const frame = await client.waitFor((item) => item.type === 'at_risk');
    expect(frame.atRisk as unknown[]).toHaveLength(5);
  });

  describe('with tokens', () => {
    const tokens = { viewer: [VIEWER], responder: [RESPONDER] };

    it('refuses an upgrade without a valid token, and never sends it a frame', async () => {
      const { ws } = await start(new FakeWallSource(), { tokens });
      await expect(WallTestClient.connect(ws)).rejects.toMatchObject({ status: 401 });
      await expect(WallTestClient.connect(`${ws}?token=not-a-valid-token`)).rejects.toMatchObject({ status: 401 });
      expect(harness.wall.clientCount()).toBe(0);
    });

    it('guards the API and metrics but leaves health checks and the page open', async () => {
      const { http } = await start(new FakeWallSource(), { tokens });
      for (const path of ['/api/v1/snapshot', '/metrics']) {
        const response = await fetch(`${http}${path}`);
        expect(response.status, path).toBe(401);
        expect(await response.json()).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
      }
      expect((await fetch(`${http}/api/v1/snapshot`, { headers: { authorization: 'Bearer wrong-token-123' } })).status).toBe(401);
      expect((await fetch(`${http}/api/v1/snapshot`, { headers: { authorization: `Bearer ${VIEWER}` } })).status).toBe(200);
      expect((await fetch(`${http}/metrics`, { headers: { authorization: `Bearer ${VIEWER}` } })).status).toBe(200);
      // ?token= is for the /ws upgrade only (a browser WebSocket cannot set headers): anywhere else it is no token.
      expect((await fetch(`${http}/metrics?token=${VIEWER}`)).status).toBe(401);
      expect((await fetch(`${http}/api/v1/snapshot?token=${RESPONDER}`)).status).toBe(401);
      for (const path of ['/healthz', '/readyz', '/', '/assets/wall.js']) expect((await fetch(`${http}${path}`)).status, path).toBe(200);
    });

    it('lets a viewer watch but not acknowledge', async () => {
      const source = new FakeWallSource({ alerts: [buildAlert({ id: 'a1' })] });
      const { ws, http } = await start(source, { tokens });
      const viewer = await connect(`${ws}?token=${VIEWER}`);
      expect(await viewer.waitFor((item) => item.type === 'hello')).toMatchObject({ role: 'viewer' });
      viewer.send({ type: 'ack', alertId: 'a1' });
      expect(await viewer.waitFor((item) => item.type === 'error')).toMatchObject({ code: 'FORBIDDEN', alertId: 'a1' });

      const response = await fetch(`${http}/api/v1/alerts/a1/ack`, { method: 'POST', headers: { authorization: `Bearer ${VIEWER}` } });
      expect(response.status).toBe(403);
      expect(await response.json()).toMatchObject({ error: { code: 'FORBIDDEN' } });
      expect(source.acknowledgements).toEqual([]);
    });

    it('lets a viewer see silences but neither add nor expire one, over HTTP or the WebSocket', async () => {
      const source = new FakeWallSource();
      const { ws, http } = await start(source, { tokens });
      const body = JSON.stringify({ matchers: [{ name: 'alertname', op: '=', value: 'x' }], endsAt: Date.now() + 60_000, comment: 'why' });
      expect((await fetch(`${http}/api/v1/silences`)).status).toBe(401);
      expect((await fetch(`${http}/api/v1/silences`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).status).toBe(401);
      expect((await fetch(`${http}/api/v1/silences/s1`, { method: 'DELETE' })).status).toBe(401);
      const auth = { authorization: `Bearer ${VIEWER}` };
      expect(await (await fetch(`${http}/api/v1/silences`, { headers: auth })).json()).toEqual({ silences: [] });
      const post = await fetch(`${http}/api/v1/silences`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body });
      expect(post.status).toBe(403);
      expect(await post.json()).toMatchObject({ error: { code: 'FORBIDDEN' } });
      expect((await fetch(`${http}/api/v1/silences/s1`, { method: 'DELETE', headers: auth })).status).toBe(403);

      const viewer = await connect(`${ws}?token=${VIEWER}`);
      await viewer.waitFor((item) => item.type === 'snapshot');
      viewer.send({ type: 'silence', matchers: [{ name: 'alertname', op: '=', value: 'x' }], endsAt: Date.now() + 60_000, comment: 'why' });
      expect(await viewer.waitFor((item) => item.type === 'error')).toMatchObject({ code: 'FORBIDDEN', command: 'silence' });
      viewer.send({ type: 'expire_silence', id: 's1' });
      expect(await viewer.waitFor((item) => item.type === 'error' && item.command === 'expire_silence')).toMatchObject({ code: 'FORBIDDEN', silenceId: 's1' });
      expect(source.silenceRequests).toEqual([]);
    });

    it('lets a responder silence and expire over the WebSocket, createdBy defaulting to its by', async () => {
      const source = new FakeWallSource();
      const { ws } = await start(source, { tokens });
      const responder = await connect(`${ws}?token=${RESPONDER}`);
      await responder.waitFor((item) => item.type === 'snapshot');
      responder.send({ type: 'silence', matchers: [{ name: 'alertname', op: '=', value: 'x' }, { name: 'subject_key', op: '=', value: 'c-1' }], endsAt: Date.now() + 60_000, comment: 'on it', by: 'dana' });
      const silenced = await responder.waitFor((item) => item.type === 'silenced');
      const silence = silenced.silence as { id: string; createdBy: string };
      expect(silence.createdBy).toBe('dana');
      await responder.waitFor((item) => item.type === 'silences');
      responder.send({ type: 'silence', matchers: [{ name: 'alertname', op: '!=', value: 'x' }], endsAt: Date.now() + 60_000, comment: 'everything' });
      expect(await responder.waitFor((item) => item.type === 'error' && item.command === 'silence')).toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/select something/) });
      responder.send({ type: 'expire_silence', id: silence.id });
      expect(await responder.waitFor((item) => item.type === 'silence_expired')).toMatchObject({ id: silence.id });
      responder.send({ type: 'expire_silence', id: 'nope' });
      expect(await responder.waitFor((item) => item.type === 'error' && item.command === 'expire_silence')).toMatchObject({ code: 'NOT_FOUND', silenceId: 'nope' });
    });

    it('lets a responder acknowledge over the WebSocket and over HTTP', async () => {
      const source = new FakeWallSource({ alerts: [buildAlert({ id: 'a1' }), buildAlert({ id: 'a2' })] });
      const { ws, http } = await start(source, { tokens });
      // The bearer header works for the upgrade as well as the query parameter.
      const responder = await connect(ws, { authorization: `Bearer ${RESPONDER}` });
      expect(await responder.waitFor((item) => item.type === 'hello')).toMatchObject({ role: 'responder' });

      responder.send({ type: 'ack', alertId: 'a1', by: 'sam' });
      expect(await responder.waitFor((item) => item.type === 'acked')).toMatchObject({ alertId: 'a1', by: 'sam' });
      const updated = await responder.waitFor((item) => item.type === 'alert' && (item.alert as { acknowledged: unknown }).acknowledged !== null);
      expect((updated.alert as { acknowledged: { by: string } }).acknowledged.by).toBe('sam');

      const response = await fetch(`${http}/api/v1/alerts/a2/ack`, {
        method: 'POST',
        headers: { authorization: `Bearer ${RESPONDER}`, 'content-type': 'application/json' },
        body: JSON.stringify({ by: 'kim' }),
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ ok: true, alertId: 'a2', by: 'kim' });
      expect(source.acknowledgements).toEqual([
        { alertId: 'a1', by: 'sam' },
        { alertId: 'a2', by: 'kim' },
      ]);

      const bearer = { authorization: `Bearer ${RESPONDER}` };
      const missing = await fetch(`${http}/api/v1/alerts/nope/ack`, { method: 'POST', headers: bearer });
      expect(missing.status).toBe(404);
      expect(await missing.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'no such alert' } });
      const badBody = await fetch(`${http}/api/v1/alerts/a1/ack`, { method: 'POST', headers: { ...bearer, 'content-type': 'application/json' }, body: '{"by": 42}' });
      expect(badBody.status).toBe(400);
      expect((await fetch(`${http}/api/v1/alerts/a1/ack?token=${RESPONDER}`, { method: 'POST' })).status).toBe(401);
    });
  });

  it('skips a slow client without slowing the others, then resyncs it with a fresh snapshot', async () => {
    const source = new FakeWallSource();
    const { ws } = await start(source, { frameIntervalMs: 16, maxBufferedBytes: 64 * 1024 });
    const fast = await connect(ws);
    const slow = await connect(ws);
    await fast.waitFor((item) => item.type === 'snapshot');
    await slow.waitFor((item) => item.type === 'snapshot');
    slow.socket.pause();

    // Eight alerts of ~64 KB each, rewritten over and over: a flush is ~0.5 MB while the source's state stays small.
    const reason = 'x'.repeat(64 * 1024);
    let round = 0;
    const deadline = Date.now() + 15_000;
    // Push until the kernel buffers of the paused socket are full and the server has had to hold bytes back.
    while (fast.bytes < 64 * 1024 * 1024 && Date.now() < deadline) {
      round++;
      for (let id = 0; id < 8; id++) source.push({ type: 'alert', alert: buildAlert({ id: `a${id}`, reasons: [reason], value: round }) });
      await sleep(20);
    }
    const lastRound = round;
    await fast.waitFor((item) => item.type === 'alert' && (item.alert as { value: number }).value === lastRound, 10_000, 'the fast client to see the last round');

    const slowBefore = slow.messages.length;
    slow.socket.resume();
    const resync = await slow.until(
      () => slow.messages.slice(slowBefore).find((message) => !Array.isArray(message) && message.type === 'snapshot'),
      10_000,
      'a fresh snapshot on the slow client',
    );
    const values = (resync as unknown as { alerts: { value: number }[] }).alerts.map((alert) => alert.value);
    expect(values.every((value) => value === lastRound)).toBe(true);
    // The slow client missed most rounds instead of receiving all of them late.
    const slowRounds = slow.items.filter((item) => item.type === 'alert').length / 8;
    expect(slowRounds).toBeLessThan(lastRound);
  });

  it('closes every WebSocket with 1001 when it closes', async () => {
    const { ws } = await start(new FakeWallSource());
    const client = await connect(ws);
    await client.waitFor((item) => item.type === 'snapshot');
    const code = new Promise<number>((resolve) => client.socket.once('close', (closeCode: number) => resolve(closeCode)));
    // The harness closes it again after the test: a second close does nothing.
    await harness.wall.close();
    expect(await code).toBe(1001);
  });
});
