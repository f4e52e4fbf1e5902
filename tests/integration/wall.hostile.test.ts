// The wall against hostile clients, on both transports, with the wall in a child process so that a crash is an exit
// the test sees: property-based fuzzing (fast-check, fixed seeds, bounded runs) of raw HTTP requests, of WebSocket
// frames and of the API's bodies, each case followed by /healthz; and a client that floods commands without reading,
// whose cost to the server stays within a stated bound.
import fc from 'fast-check';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostileHttpRequests } from '../helpers/hostileHttp.js';
import { encodeFrame, rawExchange, rawUpgrade, sendAndClose, statusOf, textFrame } from '../helpers/rawWire.js';
import { WallChild } from '../helpers/wallChild.js';

const MiB = 1024 * 1024;
/** The stated bound (docs/wall.md): a flooding client that reads nothing grows the server by less than this. */
const FLOOD_RSS_BOUND = 128 * MiB;
const MARKER = 'ECHO-MARKER-7f3a';

const ROUTES = ['/', '/index.html', '/healthz', '/readyz', '/metrics', '/ws', '/assets/wall.js', '/api/v1/snapshot', '/api/v1/silences', '/api/v1/silences/s1', '/api/v1/alerts/a1/ack', '/api/v1/pressure/check', '/api/v1/customers/c1/pressure'];

const httpRequest = hostileHttpRequests(ROUTES, MARKER);

/** A client command as the page would send it, or almost: right types, wrong values, unknown fields. */
const command = fc.oneof(
  fc.constant({ type: 'ping' }),
  fc.record({ type: fc.constant('ack'), alertId: fc.oneof(fc.constantFrom('a1', 'a2', MARKER), fc.string({ maxLength: 300 })), by: fc.option(fc.oneof(fc.string({ maxLength: 80 }), fc.integer())) }),
  fc.record({ type: fc.constant('expire_silence'), id: fc.oneof(fc.string({ maxLength: 300 }), fc.integer()) }),
  fc.record({
    type: fc.constant('silence'),
    matchers: fc.array(fc.record({ name: fc.oneof(fc.constantFrom('alertname', 'campaign', MARKER), fc.string({ maxLength: 10 })), op: fc.constantFrom('=', '!=', '=~', '!~', '~', 1), value: fc.string({ maxLength: 30 }) }), { maxLength: 20 }),
    endsAt: fc.oneof(fc.integer(), fc.constant(Date.now() + 60_000), fc.constant('soon')),
    comment: fc.string({ maxLength: 30 }),
  }),
  fc.record({ type: fc.oneof(fc.string({ maxLength: 30 }), fc.constant(MARKER)), extra: fc.jsonValue({ maxDepth: 2 }) }),
  fc.jsonValue({ maxDepth: 3 }),
);
const wsFrame = fc.oneof(
  { weight: 4, arbitrary: command.map((c) => textFrame(JSON.stringify(c) ?? 'null')) },
  { weight: 1, arbitrary: fc.string({ maxLength: 100 }).map((s) => textFrame(s)) },
  // Invalid UTF-8 in a text frame, binary frames, an oversized message (the limit is 16 KiB), control frames with and
  // without valid payloads, reserved bits and opcodes, unmasked frames, fragments.
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((a) => encodeFrame({ fin: true, rsv: 0, opcode: 1, masked: true, payload: Buffer.concat([Buffer.from([0xc3, 0x28]), Buffer.from(a)]) })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((a) => encodeFrame({ fin: true, rsv: 0, opcode: 2, masked: true, payload: Buffer.from(a) })) },
  { weight: 1, arbitrary: fc.integer({ min: 16 * 1024 + 1, max: 70_000 }).map((n) => textFrame(`{"type":"${'x'.repeat(n)}"}`)) },
  { weight: 2, arbitrary: fc.record({ fin: fc.boolean(), rsv: fc.integer({ min: 0, max: 7 }), opcode: fc.integer({ min: 0, max: 15 }), masked: fc.boolean(), payload: fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)) }).map(encodeFrame) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 30 }).map((a) => Buffer.from(a)) },
);

describe.each(['uws', 'ws'] as const)('the wall over %s against hostile clients', (transport) => {
  let child: WallChild;
  const base = () => `http://127.0.0.1:${child.port}`;

  async function expectAlive(what: string): Promise<void> {
    expect(child.alive, `${what}: the wall process exited (${JSON.stringify(child.exitInfo)}):\n${child.log.join('').slice(-2_000)}`).toBe(true);
    const status = await fetch(`${base()}/healthz`).then((r) => r.status, (err: unknown) => `unreachable: ${String(err)}`);
    expect(status, what).toBe(200);
  }

  beforeAll(async () => {
    child = await WallChild.start({ transport });
  });
  afterAll(async () => {
    await child?.stop();
  });

  it('answers 400 to the request that ended the process (GET //[), on a route and on the upgrade', async () => {
    expect(statusOf(await rawExchange(child.port, Buffer.from(`GET //[ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)))).toBe(400);
    await expectAlive('GET //[');
    const upgrade = `GET //[ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`;
    const refused = await rawExchange(child.port, Buffer.from(upgrade));
    expect([400, 404]).toContain(statusOf(refused));
    await expectAlive('an upgrade to //[');
  });

  it('survives generated raw HTTP requests, answering /healthz after each, and echoes none of them', async () => {
    await fc.assert(
      fc.asyncProperty(httpRequest, async (bytes) => {
        const response = await rawExchange(child.port, bytes);
        const status = statusOf(response);
        if (status !== null && status >= 400) expect(response.split('\r\n\r\n').slice(1).join(''), 'an error answer echoed its input').not.toContain(MARKER);
        expect(status === null || status < 500, `a 5xx: ${response.slice(0, 200)}`).toBe(true);
        await expectAlive(JSON.stringify(bytes.toString('latin1').slice(0, 200)));
      }),
      { seed: 13, numRuns: 150, endOnFailure: true },
    );
  });

  it('survives generated WebSocket frames, answering /healthz after each sequence', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(wsFrame, { minLength: 1, maxLength: 6 }), async (frames) => {
        const socket = await rawUpgrade(child.port);
        expect(socket, 'the upgrade was refused').not.toBeNull();
        await sendAndClose(socket!, Buffer.concat([...frames, textFrame('{"type":"ping"}')]));
        await expectAlive(`${frames.length} frames`);
      }),
      { seed: 1313, numRuns: 80, endOnFailure: true },
    );
    await expectAlive('after the frames');
  });

  it('answers generated API bodies with 2xx or 4xx, never an echo of the input, and stays up', async () => {
    const routes: [string, string][] = [
      ['POST', '/api/v1/silences'],
      ['POST', '/api/v1/alerts/a1/ack'],
      ['POST', '/api/v1/pressure/check'],
      ['DELETE', '/api/v1/silences/s1'],
    ];
    const apiBody = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
      fc.record({ matchers: fc.array(fc.record({ name: fc.constantFrom('alertname', MARKER, ''), op: fc.constantFrom('=', '=~', '!~', MARKER), value: fc.string({ maxLength: 20 }) }), { maxLength: 17 }), endsAt: fc.oneof(fc.constant(Date.now() + 60_000), fc.integer()), comment: fc.oneof(fc.constant('why'), fc.string()), by: fc.option(fc.string({ maxLength: 70 })) }).map((v) => JSON.stringify(v)),
      fc.record({ customerIds: fc.array(fc.oneof(fc.string({ maxLength: 130 }), fc.integer()), { maxLength: 5 }), channel: fc.constantFrom('email', 'sms', 'push', MARKER), priority: fc.constantFrom('marketing', 'transactional', MARKER) }).map((v) => JSON.stringify(v)),
      fc.string({ maxLength: 100 }),
      fc.constant(`{"by":"${'y'.repeat(20_000)}"}`),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), apiBody, async ([method, path], text) => {
        const response = await fetch(`${base()}${path}`, { method, headers: { 'content-type': 'application/json' }, body: text });
        const answer = await response.text();
        expect(response.status, answer).toBeLessThan(500);
        if (response.status >= 400) expect(answer, 'an error answer echoed its input').not.toContain(MARKER);
        await expectAlive(`${method} ${path} ${text.slice(0, 100)}`);
      }),
      { seed: 131313, numRuns: 150, endOnFailure: true },
    );
  });
});

describe.each(['uws', 'ws'] as const)('a client that floods without reading, over %s', (transport) => {
  /** A client that stops reading at once, then sends each message `count` times as fast as it can. */
  async function flood(port: number, messages: [string, number][]): Promise<WebSocket> {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    socket.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    socket.pause();
    for (const [message, count] of messages) {
      for (let i = 0; i < count && socket.readyState === WebSocket.OPEN; i++) {
        socket.send(message);
        // Let the client's own buffer drain now and then, so it is the server that holds (or drops) the backlog.
        if (i % 1_000 === 999) await new Promise((resolve) => setImmediate(resolve));
      }
    }
    return socket;
  }

  /** The wall logs each client it closes with 1008; the client itself reads nothing, so it cannot tell. */
  const closedWith1008 = (child: WallChild): boolean => child.log.some((line) => line.includes('closing a wall client (1008)'));

  async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = await probe();
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it(`is closed by the rate limit, and the server stays within ${FLOOD_RSS_BOUND / MiB} MiB (100,000 pings)`, async () => {
    const child = await WallChild.start({ transport });
    try {
      const before = await child.stats();
      const socket = await flood(child.port, [['{"type":"ping"}', 100_000]]);
      await until('the flooding client to be closed (1008)', async () => ((await child.stats()).clients === 0 && closedWith1008(child) ? true : undefined));
      const after = await child.stats();
      expect(after.rss - before.rss).toBeLessThan(FLOOD_RSS_BOUND);
      socket.terminate();
      expect((await fetch(`http://127.0.0.1:${child.port}/healthz`)).status).toBe(200);
    } finally {
      await child.stop();
    }
  });

  it(`with no rate limit, gets no replies past maxBufferedBytes, is closed (1008), and the server stays within ${FLOOD_RSS_BOUND / MiB} MiB`, async () => {
    // 1,000,000 pings (45 MB of pongs: far more than the kernel's socket buffers on loopback hold, so the server's own queue
    // passes maxBufferedBytes), then 6,000 unknown commands of 15 KB whose error replies once echoed them: over 100 MB
    // of replies before the fix, all of them queued for a client that reads nothing.
    const child = await WallChild.start({ transport, maxMessagesPerSecond: 10_000_000, maxBufferedBytes: MiB });
    try {
      const before = await child.stats();
      const socket = await flood(child.port, [
        ['{"type":"ping"}', 1_000_000],
        [`{"type":"${'x'.repeat(15_000)}"}`, 6_000],
      ]);
      const peak = { rss: 0 };
      await until('the flooding client to be closed', async () => {
        const stats = await child.stats();
        peak.rss = Math.max(peak.rss, stats.rss);
        return stats.clients === 0 && closedWith1008(child) ? true : undefined;
      });
      expect(peak.rss - before.rss).toBeLessThan(FLOOD_RSS_BOUND);
      socket.terminate();
      expect((await fetch(`http://127.0.0.1:${child.port}/healthz`)).status).toBe(200);
    } finally {
      await child.stop();
    }
  });
});
