// The wall's edge rules over a real socket, on both transports: Host (DNS rebinding), Origin (CSRF and cross-site
// WebSocket hijacking), JSON content type for state changes, ?token= on /ws only, /readyz without details for
// strangers, the connection cap, the per-client rate limit and no echo of a client's input.
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { WallTestClient } from '../helpers/wallClient.js';
import { FakeWallSource } from '../helpers/wallFakeSource.js';
import { wallHarness } from '../helpers/wallHarness.js';
import { buildAlert, buildWallConfig } from '../helpers/wallFixtures.js';
import { eventually } from '../helpers/wait.js';

const VIEWER = 'viewer-token-0001';
const RESPONDER = 'responder-token-0001';
const MARKER = 'ECHO-MARKER-7f3a';

/** fetch() cannot set Host: a plain node:http request can. */
function raw(port: number, method: string, path: string, headers: Record<string, string>, body = ''): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe.each(['uws', 'ws'] as const)('the wall edge over %s', (transport) => {
  const harness = wallHarness(transport);
  const { start, connect } = harness;

  const silenceBody = JSON.stringify({ matchers: [{ name: 'alertname', op: '=', value: 'x' }], endsAt: Date.now() + 3_600_000, comment: 'why' });

  it('refuses state changes and the WebSocket from another origin, and text/plain bodies (CSRF)', async () => {
    const source = new FakeWallSource({ alerts: [buildAlert({ id: 'a1' })] });
    const { port, ws } = await start(source, { allowedOrigins: ['https://ops.example'] });
    const own = `http://127.0.0.1:${port}`;
    const json = { 'content-type': 'application/json' };

    // What a web page elsewhere can send without a preflight: a form or text/plain POST, or a JSON one with its Origin.
    expect((await raw(port, 'POST', '/api/v1/silences', { 'content-type': 'text/plain' }, silenceBody)).status).toBe(415);
    expect((await raw(port, 'POST', '/api/v1/silences', { 'content-type': 'application/x-www-form-urlencoded' }, silenceBody)).status).toBe(415);
    expect((await raw(port, 'POST', '/api/v1/silences', { ...json, origin: 'https://evil.example' }, silenceBody)).status).toBe(403);
    expect((await raw(port, 'POST', '/api/v1/alerts/a1/ack', { origin: 'https://evil.example' })).status).toBe(403);
    expect((await raw(port, 'DELETE', '/api/v1/silences/s1', { origin: 'null' })).status).toBe(403);
    expect(source.silenceRequests).toEqual([]);
    expect(source.acknowledgements).toEqual([]);
    await expect(WallTestClient.connect(ws, { origin: 'https://evil.example' })).rejects.toMatchObject({ status: 403 });
    expect(harness.wall.clientCount()).toBe(0);

    // The wall's own origin, a listed one, and a client that sends no Origin (curl, a script) are served.
    expect((await raw(port, 'POST', '/api/v1/silences', { ...json, origin: own }, silenceBody)).status).toBe(201);
    expect((await raw(port, 'POST', '/api/v1/silences', { ...json, origin: 'https://ops.example' }, silenceBody)).status).toBe(201);
    expect((await raw(port, 'POST', '/api/v1/silences', json, silenceBody)).status).toBe(201);
    // An empty-body ack may leave the content type out.
    expect((await raw(port, 'POST', '/api/v1/alerts/a1/ack', { origin: own })).status).toBe(200);
    await connect(ws, { origin: own });
    await connect(ws, { origin: 'https://ops.example' });
    await connect(ws);
    expect(harness.wall.clientCount()).toBe(3);
  });

  it('serves only loopback Host names while bound to loopback, plus allowedHosts (DNS rebinding)', async () => {
    const { port } = await start(new FakeWallSource(), { allowedHosts: ['wall.internal'] });
    for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1.nip.io:${port}`]) {
      for (const path of ['/', '/assets/wall.js', '/api/v1/snapshot', '/metrics']) expect((await raw(port, 'GET', path, { host })).status, `${host} ${path}`).toBe(421);
      await expect(WallTestClient.connect(`ws://127.0.0.1:${port}/ws`, { host })).rejects.toMatchObject({ status: 421 });
      // Probes name the pod's address: health checks answer any Host, but readiness without its details.
      expect((await raw(port, 'GET', '/healthz', { host })).status).toBe(200);
      const ready = await raw(port, 'GET', '/readyz', { host });
      expect(ready.status).toBe(200);
      expect(JSON.parse(ready.body)).toEqual({ ready: true });
    }
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, 'wall.localhost', `wall.internal:${port}`]) {
      expect((await raw(port, 'GET', '/api/v1/snapshot', { host })).status, host).toBe(200);
    }
    await connect(`ws://127.0.0.1:${port}/ws`, { host: `localhost:${port}` });
  });

  it('takes ?token= on the /ws upgrade only, and tells strangers only whether it is ready', async () => {
    const source = new FakeWallSource();
    const { http, ws } = await start(source, { tokens: { viewer: [VIEWER], responder: [RESPONDER] } });
    expect(await (await connect(`${ws}?token=${VIEWER}`)).waitFor((m) => m.type === 'hello')).toMatchObject({ role: 'viewer' });
    for (const path of ['/api/v1/snapshot', '/api/v1/silences', '/metrics']) {
      expect((await fetch(`${http}${path}?token=${RESPONDER}`)).status, path).toBe(401);
      expect((await fetch(`${http}${path}`, { headers: { authorization: `Bearer ${RESPONDER}` } })).status, path).toBe(200);
    }

    source.checks = { nats: { ok: true, detail: 'connected' }, clickhouse: { ok: false, detail: 'ECONNREFUSED 10.0.0.7:8123 (internal)' } };
    const stranger = await fetch(`${http}/readyz`);
    expect(stranger.status).toBe(503);
    expect(await stranger.json()).toEqual({ ready: false });
    const withQuery = await fetch(`${http}/readyz?token=${VIEWER}`);
    expect(await withQuery.json()).toEqual({ ready: false });
    const operator = await fetch(`${http}/readyz`, { headers: { authorization: `Bearer ${VIEWER}` } });
    expect(operator.status).toBe(503);
    expect(await operator.json()).toEqual({ ready: false, checks: source.checks });
    source.checks = { nats: { ok: true, detail: 'connected' } };
    const ready = await fetch(`${http}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true });
  });

  it('caps the open WebSockets at maxConnections (503 over it)', async () => {
    const { ws } = await start(new FakeWallSource(), { maxConnections: 2 });
    const first = await connect(ws);
    await connect(ws);
    await expect(WallTestClient.connect(ws)).rejects.toMatchObject({ status: 503 });
    first.socket.terminate();
    await first.waitForClose();
    await eventually('the wall to count the closed client out', () => harness.wall.clientCount() === 1);
    await connect(ws);
    expect(harness.wall.clientCount()).toBe(2);
  });

  it('drops commands over maxMessagesPerSecond with one RATE_LIMITED error, and closes a client that keeps on (1008)', async () => {
    const { ws } = await start(new FakeWallSource(), { maxMessagesPerSecond: 5 });
    const client = await connect(ws);
    await client.waitFor((m) => m.type === 'snapshot');
    // A burst of 4 seconds' worth (20) passes; the rest of 30 sent at once is dropped.
    for (let i = 0; i < 30; i++) client.send({ type: 'ping' });
    const error = await client.waitFor((m) => m.type === 'error');
    expect(error).toMatchObject({ code: 'RATE_LIMITED' });
    client.send({ type: 'ping' });
    const closed = new Promise<number>((resolve) => client.socket.once('close', (code: number) => resolve(code)));
    for (let i = 0; i < 200; i++) client.send({ type: 'ping' });
    expect(await closed).toBe(1008);
    const pongs = client.items.filter((m) => m.type === 'pong').length;
    expect(pongs).toBeGreaterThanOrEqual(20);
    expect(pongs).toBeLessThan(60);
    expect(client.items.filter((m) => m.type === 'error').length).toBeLessThanOrEqual(5);
  });

  it('echoes no input in its errors, over HTTP or the WebSocket', async () => {
    const { http, ws, port } = await start(new FakeWallSource());
    for (const path of [`/${MARKER}`, `/assets/${MARKER}.js`, `/api/v1/silences/${MARKER}`]) {
      const response = await fetch(`${http}${path}`);
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(await response.text(), path).not.toContain(MARKER);
    }
    const silence = (name: string, op: string) => JSON.stringify({ matchers: [{ name, op, value: 'v' }], endsAt: Date.now() + 60_000, comment: 'c' });
    for (const body of [silence('alertname', MARKER), silence(`a_${MARKER.replace(/-/g, '_')}`, MARKER)]) {
      const response = await raw(port, 'POST', '/api/v1/silences', { 'content-type': 'application/json' }, body);
      expect(response.status).toBe(400);
      expect(response.body).not.toContain(MARKER.replace(/-/g, '_'));
    }
    const client = await connect(ws);
    await client.waitFor((m) => m.type === 'snapshot');
    client.send({ type: MARKER });
    client.send({ type: 'silence', matchers: [{ name: `a_${MARKER.replace(/-/g, '_')}`, op: MARKER, value: 'v' }], endsAt: Date.now() + 60_000, comment: 'c' });
    client.send({ type: 'expire_silence', id: MARKER });
    await client.until(() => (client.items.filter((m) => m.type === 'error').length >= 3 ? true : undefined), 5_000, 'three errors');
    for (const error of client.items.filter((m) => m.type === 'error')) {
      expect(String(error.message)).not.toContain(MARKER);
      expect(String(error.message)).not.toContain(MARKER.replace(/-/g, '_'));
    }
  });
});
