// `GET /api/v1/customers/{id}/export` on the wall, over both transports: who may ask (a responder or a privacy
// token), 503 while the runtime has not configured exports, 400 for malformed ids, 410 for an erased customer, and
// a large export streamed to the client chunk by chunk from a real ClickHouse.
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { VigilConfig } from '../../src/config/schema.js';
import { customerExporter, redisConsent, type ExportOutcome } from '../../src/privacy/export.js';
import { keyedHash } from '../../src/privacy/pseudonym.js';
import { silentLogger } from '../../src/shared/logger.js';
import { toChDateTime, type ClickHouseClient } from '../../src/sinks/clickhouse/client.js';
import { migrate } from '../../src/sinks/clickhouse/migrate.js';
import type { EventRow } from '../../src/sinks/clickhouse/tables.js';
import { createWallServer, type WallServer } from '../../src/wall/server.js';
import { testClickHouseClient, testDatabaseName } from '../helpers/clickhouse.js';
import { REDIS_URL } from '../helpers/processor.js';
import { FakeWallSource } from '../helpers/wallFakeSource.js';
import { buildWallConfig } from '../helpers/wallFixtures.js';

const VIEWER = 'viewer-token-0001';
const RESPONDER = 'responder-token-0001';
const PRIVACY = 'privacy-token-0001';
const KEY = 'export-route-key-0123456789-0123456789';
const db = testDatabaseName();
const prefix = `vigil_${db}:`;
let ch: ClickHouseClient;
let redis: Redis;

beforeAll(async () => {
  ch = testClickHouseClient(db);
  await migrate(ch, { database: db });
  redis = new Redis(REDIS_URL);
  const t0 = Date.UTC(2024, 0, 1);
  const rows: EventRow[] = Array.from({ length: 20_000 }, (_, i) => ({
    id: `r-${String(i).padStart(5, '0')}`, customer_id: 'route-c1', type: 'page_view', ts: toChDateTime(t0 + i * 1_000), ts_ms: t0 + i * 1_000,
    channel: 'web', value: 0, segment: '', campaign_id: '', props: '{"path":"/a"}', received_at: toChDateTime(t0), stream_seq: 0,
  }));
  await ch.insert('events', rows);
  // An erased customer: the audit row (by keyed hash) and nothing else.
  await ch.insert('erasure_audit', [{
    erased_at: toChDateTime(t0), erased_ms: t0, request_id: 'erase-route-gone', requested_at: toChDateTime(t0), requested_by: 'ticket-7', via: 'cli',
    subject_hash: keyedHash(KEY, 'route-gone'), tables: ['events'], rows: ['3'], redis_entries: 0, stream_messages: 3, live_state: 0, duration_ms: 10,
  }]);
});

afterAll(async () => {
  await ch.command(`DROP DATABASE IF EXISTS ${db}`);
  await ch.close();
  redis.disconnect();
});

const exporter = () =>
  customerExporter({ ch, database: db, consent: redisConsent(redis, prefix), live: null, liveNote: 'no live state in this test', pseudonymKey: KEY, pseudonymize: false, pageSize: 500, log: silentLogger });

describe.each(['uws', 'ws'] as const)('the export route over %s', (transport) => {
  let wall: WallServer | null = null;
  afterEach(async () => {
    await wall?.close();
    wall = null;
  });
  async function start(overrides: Partial<VigilConfig['wall']>, withExporter?: (id: string, by: string) => Promise<ExportOutcome>): Promise<string> {
    wall = createWallServer({ config: buildWallConfig({ transport, ...overrides }), source: new FakeWallSource(), logger: silentLogger, exporter: withExporter });
    return `http://127.0.0.1:${await wall.listen()}`;
  }
  const get = (url: string, token?: string) => fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const tokens = { tokens: { viewer: [VIEWER], responder: [RESPONDER] }, privacyTokens: [PRIVACY] };

  it('asks for a token (401), refuses a viewer (403), takes a responder or a privacy token; 503 while exports are not configured', async () => {
    const base = await start(tokens);
    const url = `${base}/api/v1/customers/route-c1/export`;
    expect((await get(url)).status).toBe(401);
    expect((await get(url, 'not-a-token-at-all')).status).toBe(401);
    const viewer = await get(url, VIEWER);
    expect(viewer.status).toBe(403);
    expect(await viewer.json()).toMatchObject({ error: { code: 'FORBIDDEN' } });
    for (const token of [RESPONDER, PRIVACY]) {
      const r = await get(url, token);
      expect(r.status).toBe(503);
      expect(await r.json()).toEqual({ error: { code: 'UNAVAILABLE', message: 'export not configured: this processor was started without a customer export' } });
    }
    // The privacy token opens nothing else.
    expect((await get(`${base}/api/v1/snapshot`, PRIVACY)).status).toBe(401);
  });

  it('on an open wall with privacy tokens set, only the privacy token exports', async () => {
    const base = await start({ privacyTokens: [PRIVACY] }, exporter());
    expect((await get(`${base}/api/v1/customers/route-c1/export`)).status).toBe(401);
    const r = await get(`${base}/api/v1/customers/nobody/export`, PRIVACY);
    expect(r.status).toBe(200);
    expect(((await r.json()) as { summary: string[] }).summary).toEqual(['We hold no events about you.', 'We did not contact you in the last 7 days.', 'Your live scores are not in this export: no live state in this test.']);
  });

  it('on a wall opened to the network, nobody exports without a token; on loopback, the open wall\'s visitor may', async () => {
    const open = await start({ host: '0.0.0.0', allowOpen: true }, exporter());
    const refused = await get(`${open}/api/v1/customers/nobody/export`);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ error: { message: 'this wall is open to the network: an export needs a privacy token (wall.privacyTokens)' } });
    await wall?.close();
    const loopback = await start({}, exporter());
    expect((await get(`${loopback}/api/v1/customers/nobody/export`)).status).toBe(200);
  });

  it('answers malformed ids, methods and ?by= with an error, never an exception', async () => {
    const base = await start(tokens, exporter());
    for (const id of ['%E0%A4%A', '%00abc', '%ED%A0%80', 'x'.repeat(129), '%20'.repeat(0)]) {
      const r = await get(`${base}/api/v1/customers/${id}/export`, RESPONDER);
      expect(r.status, id).toBe(id === '' ? 404 : 400);
    }
    expect((await get(`${base}/api/v1/customers/route-c1/export?by=`, RESPONDER)).status).toBe(400);
    const post = await fetch(`${base}/api/v1/customers/route-c1/export`, { method: 'POST', headers: { authorization: `Bearer ${RESPONDER}` } });
    expect(post.status).toBe(405);
  });

  it('streams a 20,000-event export chunk by chunk, and answers 410 with the erasure record for an erased customer', async () => {
    const base = await start(tokens, exporter());
    const r = await get(`${base}/api/v1/customers/route-c1/export?by=ticket-9`, PRIVACY);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(r.headers.get('content-length')).toBeNull(); // chunked: never assembled whole
    let text = '';
    let chunks = 0;
    for await (const chunk of r.body!) {
      text += Buffer.from(chunk).toString('utf8');
      chunks++;
    }
    expect(chunks).toBeGreaterThan(1);
    const doc = JSON.parse(text);
    expect(doc.counts.events).toBe(20_000);
    expect(doc.tables.events).toHaveLength(20_000);
    expect(doc.tables.events[19_999]).toMatchObject({ id: 'r-19999', customer_id: 'route-c1', props: '{"path":"/a"}' });
    const [audit] = await ch.query<{ requested_by: string; via: string; outcome: string }>(`SELECT requested_by, via, outcome FROM ${db}.export_audit WHERE export_id = {id:String}`, { id: doc.exportId });
    expect(audit).toEqual({ requested_by: 'http:privacy:ticket-9', via: 'http', outcome: 'exported' });

    const gone = await get(`${base}/api/v1/customers/route-gone/export`, RESPONDER);
    expect(gone.status).toBe(410);
    expect(await gone.json()).toMatchObject({ erased: true, erasures: [{ request_id: 'erase-route-gone', requested_by: 'ticket-7' }] });
  });
});
