// A customer's export on the real services: a processor consuming NATS, writing ClickHouse (18.16 here) and keeping
// consent in Redis. The export holds exactly what the stores hold, is refused (and says why) after an erasure, finds
// a pseudonymized customer by the original id, and reads a 100,000-event history a page at a time.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import type { NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VigilConfig } from '../../src/config/schema.js';
import type { RunningProcessor } from '../../src/runtime/processor.js';
import { redisConsent, startExport, type ExportDeps, type ExportOutcome } from '../../src/privacy/export.js';
import { exportTables } from '../../src/privacy/exportTables.js';
import { pipelineLookup } from '../../src/privacy/liveLookup.js';
import { keyedHash } from '../../src/privacy/pseudonym.js';
import { silentLogger } from '../../src/shared/logger.js';
import { createClickHouseClient, toChDateTime, type ClickHouseClient } from '../../src/sinks/clickhouse/client.js';
import type { EventRow } from '../../src/sinks/clickhouse/tables.js';
import { eventually } from '../helpers/clickhouse.js';
import { chQuery, cleanUp, isolatedConfig, natsConnection, startTestProcessor } from '../helpers/processor.js';
import { freePort } from '../helpers/ownServices.js';

const enc = new TextEncoder();
const KEY = 'export-key-for-the-privacy-tests-0123456789';

async function collect(outcome: ExportOutcome): Promise<Record<string, any>> {
  if (outcome.kind === 'refused') return outcome.document;
  let text = '';
  for await (const chunk of outcome.chunks) text += chunk;
  return JSON.parse(text) as Record<string, any>;
}

interface Suite {
  config: VigilConfig;
  nc: NatsConnection;
  processor: RunningProcessor;
  ch: ClickHouseClient;
  redis: Redis;
  deps: (over?: Partial<ExportDeps>) => ExportDeps;
  publish: (ev: Record<string, unknown>) => void;
}

function suite(privacy: Record<string, unknown>): Suite {
  const s = {} as Suite;
  beforeAll(async () => {
    const base = isolatedConfig({ processor: { checkpointIntervalMs: 300 }, privacy: { pseudonymKey: KEY, ...privacy }, budget: { quietHours: { start: 0, end: 0 } } });
    s.config = { ...base, processor: { ...base.processor, checkpointBucket: `cp_${base.nats.consumer}` } };
    s.nc = await natsConnection();
    s.processor = await startTestProcessor(s.config);
    s.ch = createClickHouseClient(s.config.clickhouse);
    s.redis = new Redis(s.config.redis.url);
    s.publish = (ev) => s.nc.publish(`${s.config.nats.subjectPrefix}.${String(ev.type)}`, enc.encode(JSON.stringify(ev)));
    s.deps = (over = {}) => ({
      ch: s.ch,
      database: s.config.clickhouse.database,
      consent: redisConsent(s.redis, s.config.redis.keyPrefix),
      live: pipelineLookup(() => [s.processor.pipeline]),
      pseudonymKey: KEY,
      pseudonymize: s.config.privacy.pseudonymize,
      log: silentLogger,
      ...over,
    });
  });
  afterAll(async () => {
    await s.processor?.stop();
    s.redis?.disconnect();
    await s.ch?.close();
    await cleanUp(s.config, s.nc);
    await (await s.nc.jetstreamManager()).streams.delete(`OBJ_${s.config.processor.checkpointBucket}`).catch(() => undefined);
    await s.nc.close();
  });
  return s;
}

/** Events, a dead letter, three emails and a complaint: rows in every table that names a customer, and a fatigue alert. */
async function footprint(s: Suite, who: string, tag: string): Promise<void> {
  const now = Date.now();
  const stored = s.config.privacy.pseudonymize ? keyedHash(KEY, who) : who;
  s.publish({ id: `${tag}-p1`, customerId: who, type: 'purchase', ts: now - 30_000, value: 40, segment: 'vip', channel: 'web' });
  for (let i = 0; i < 3; i++) s.publish({ id: `${tag}-m${i}`, customerId: who, type: 'email_sent', ts: now - 20_000 + i, campaignId: 'blast' });
  s.publish({ id: `${tag}-c1`, customerId: who, type: 'complaint', ts: now - 10_000, channel: 'email' });
  s.publish({ id: `${tag}-late`, customerId: who, type: 'click', ts: now - 3_600_000 }); // a dead letter: LATE_EVENT
  s.publish({ id: `${tag}-b1`, customerId: `${tag}-bystander`, type: 'purchase', ts: now - 10_000, value: 5 });
  await s.nc.flush();
  const db = s.config.clickhouse.database;
  await eventually('the alert stored', async () => (await chQuery(`SELECT 1 FROM ${db}.alerts WHERE subject_key = '${stored}'`)).length > 0, 15_000);
  await eventually('the dead letter stored', async () => (await chQuery(`SELECT 1 FROM ${db}.rejected_events WHERE customer_id = '${stored}'`)).length > 0, 15_000);
  await eventually('every event stored', async () => (await chQuery(`SELECT 1 FROM ${db}.events FINAL WHERE customer_id = '${stored}'`)).length === 5, 15_000);
  // Every minute written (purchase, email_sent, complaint), and the alert past pending: the stores are at rest.
  await eventually('every activity row', async () => (await chQuery(`SELECT DISTINCT event_type FROM ${db}.customer_activity WHERE customer_id = '${stored}'`)).length === 3, 15_000);
  await eventually('the alert firing', async () => (await chQuery(`SELECT 1 FROM ${db}.alerts WHERE subject_key = '${stored}' AND state = 'firing'`)).length > 0, 15_000);
  for (const table of ['customer_signals', 'customer_days', 'customer_segments']) {
    await eventually(`${table} rows`, async () => (await chQuery(`SELECT 1 FROM ${db}.${table} WHERE customer_id = '${stored}'`)).length > 0, 15_000);
  }
}

/** `vigil export` as a person runs it, with the suite's config in a file whose wall is at `wallPort`. */
function cli(s: Suite, wallPort: number, args: string[]): Promise<{ stdout: string; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-export-'));
  const file = join(dir, 'vigil.json');
  // The config as a file, minus the secret (only the environment may carry it).
  writeFileSync(file, JSON.stringify({ ...s.config, wall: { ...s.config.wall, port: wallPort }, privacy: { ...s.config.privacy, pseudonymKey: undefined } }));
  const env = { ...process.env, VIGIL_PRIVACY__PSEUDONYM_KEY: KEY };
  return promisify(execFile)('npx', ['tsx', 'src/cli/vigil.ts', 'export', ...args, '--config', file], { env, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
}

describe('a customer export on real services', () => {
  const s = suite({});

  it('holds exactly what every store holds: ClickHouse rows table by table, live signals, budget, alerts, consent; with a summary and an audit row', async () => {
    await footprint(s, 'exp-1', 'e1');
    const db = s.config.clickhouse.database;
    const doc = await collect(await startExport(s.deps(), { customerId: 'exp-1', requestedBy: 'privacy-team', via: 'cli' }));

    expect(doc).toMatchObject({ format: 'vigil-customer-export/1', customerId: 'exp-1', storedAs: null, erasures: [] });
    // Every table erasure would touch is in the export, row for row as ClickHouse gives it under FINAL.
    const tables = await exportTables(s.ch, db);
    expect(Object.keys(doc.tables).sort()).toEqual(tables.map((t) => t.table).sort());
    expect(tables.map((t) => t.table)).toEqual(expect.arrayContaining(['events', 'customer_activity', 'customer_signals', 'alerts', 'rejected_events', 'customer_days', 'customer_segments', 'unstored_events']));
    for (const t of tables) {
      const where = t.table === 'alerts' ? `subject_kind = 'customer' AND subject_key = 'exp-1'` : `customer_id = 'exp-1'`;
      const order = t.keyset!.map((k) => k.name).join(', ');
      const held = await chQuery(`SELECT ${t.columns.join(', ')} FROM ${db}.${t.table}${t.final ? ' FINAL' : ''} WHERE ${where} ORDER BY ${order}`);
      expect(doc.tables[t.table], t.table).toEqual(held);
      expect(doc.counts[t.table], t.table).toBe(held.length);
    }
    expect(doc.tables.events.map((e: EventRow) => e.id).sort()).toEqual(['e1-c1', 'e1-m0', 'e1-m1', 'e1-m2', 'e1-p1']);
    expect(doc.tables.rejected_events).toHaveLength(1);
    expect(JSON.stringify(doc.tables)).not.toContain('e1-bystander');

    // Live: the windows, the three signals with their reasons, the budget holding marketing back after the complaint.
    expect(doc.liveNote).toBeNull();
    expect(doc.live.storedId).toBe('exp-1');
    expect(doc.live.windows.touches7d.email).toBe(3);
    expect(doc.live.churn.reasons.join(' ')).toMatch(/complaint/);
    expect(doc.live.budget.channels.email).toMatchObject({ decision: 'suppress' });
    expect(doc.live.alerts.length).toBeGreaterThan(0);
    // Brand experience: the purchase is the only evidence (P good), nothing pulls it down.
    expect(doc.live.experience).toMatchObject({ interactive: 0, others: 0, reasons: [] });
    expect(doc.live.experience.product).toBeGreaterThan(0);
    expect(doc.summary.join(' ')).toContain(`We estimate your experience with us (products, service, and what other customers say of what you bought) at ${Math.round(doc.live.experience.index)} out of 100`);
    expect(doc.consent).toEqual({ withdrawn: false, since: null, events: [] });

    expect(doc.summary[0]).toMatch(/^We hold 5 events about you, from /);
    expect(doc.summary).toContain('You were contacted 3 times in the last 7 days (3 emails).');
    expect(doc.summary.join(' ')).toMatch(/We are holding back marketing emails because: complaint \d+ min ago; 3 emails in 24 h/);
    expect(doc.summary.join(' ')).toMatch(/We are holding back marketing push notifications and text messages because: complaint/);
    expect(doc.summary.join(' ')).toMatch(new RegExp(`Our model estimates a ${Math.round(doc.live.churn.pAlive * 100)} % chance that you are still an active customer`));

    const [audit] = await chQuery<Record<string, unknown>>(`SELECT * FROM ${db}.export_audit WHERE export_id = '${doc.exportId}'`);
    expect(audit).toMatchObject({ requested_by: 'privacy-team', via: 'cli', subject_hash: keyedHash(KEY, 'exp-1'), outcome: 'exported', live: 1 });
    expect(Object.fromEntries((audit.tables as string[]).map((t, k) => [t, Number((audit.rows as string[])[k])]))).toEqual(doc.counts);
  });

  it('a withdrawal is on record with its time, and the live part is gone', async () => {
    const ts = Date.now() - 5_000;
    s.publish({ id: 'w1-p', customerId: 'exp-w', type: 'page_view', ts: ts - 1_000 });
    s.publish({ id: 'w1-w', customerId: 'exp-w', type: 'consent_withdrawn', ts });
    await s.nc.flush();
    await eventually('the withdrawal in Redis', async () => (await s.redis.sismember(`${s.config.redis.keyPrefix}consent:withdrawn`, 'exp-w')) === 1, 15_000);
    await eventually('the withdrawal stored', async () => (await chQuery(`SELECT 1 FROM ${s.config.clickhouse.database}.events WHERE id = 'w1-w'`)).length === 1, 15_000);
    const doc = await collect(await startExport(s.deps(), { customerId: 'exp-w', requestedBy: 't', via: 'cli' }));
    expect(doc.consent).toMatchObject({ withdrawn: true, since: ts, events: [{ id: 'w1-w', type: 'consent_withdrawn', ts_ms: String(ts) }] });
    expect(doc.live).toBeNull();
    expect(doc.summary.join(' ')).toMatch(/You withdrew your consent on .*: since then we store nothing/);
  });

  it('after an erasure the export is refused, empty, and says when and by which request', async () => {
    await footprint(s, 'exp-2', 'e2');
    s.publish({ id: 'erase-exp-2', customerId: 'exp-2', type: 'erase_request', ts: Date.now(), props: { requestedBy: 'ticket-42' } });
    await s.nc.flush();
    const db = s.config.clickhouse.database;
    await eventually('the erasure audited', async () => (await chQuery(`SELECT 1 FROM ${db}.erasure_audit WHERE request_id = 'erase-exp-2'`)).length === 1, 30_000);
    const outcome = await startExport(s.deps(), { customerId: 'exp-2', requestedBy: 'privacy-team', via: 'http' });
    expect(outcome.kind).toBe('refused');
    const doc = await collect(outcome);
    expect(doc).toMatchObject({ erased: true, customerId: 'exp-2', erasures: [{ request_id: 'erase-exp-2', requested_by: 'ticket-42' }] });
    expect(doc.tables).toBeUndefined();
    expect(doc.summary[0]).toMatch(/^You were erased on .* \(request erase-exp-2\): Vigil holds nothing on you/);
    const [audit] = await chQuery<Record<string, unknown>>(`SELECT outcome, tables, bytes FROM ${db}.export_audit WHERE export_id = '${doc.exportId}'`);
    expect(audit).toEqual({ outcome: 'refused_erased', tables: [], bytes: '0' });
  });

  it('`vigil export` asks the running processor, which includes the live part; exit 3 for the erased', async () => {
    const { stdout, stderr } = await cli(s, s.processor.wallPort, ['exp-1', '--by', 'dpo@example.org']);
    expect(stderr).toBe('');
    const doc = JSON.parse(stdout);
    expect(doc).toMatchObject({ customerId: 'exp-1', counts: { events: 5 } });
    expect(doc.live).not.toBeNull();
    expect(doc.live.churn.pAlive).toBeGreaterThan(0);
    const [audit] = await chQuery(`SELECT requested_by, via FROM ${s.config.clickhouse.database}.export_audit WHERE export_id = '${doc.exportId}'`);
    // The route records the role the request came in with beside the name it gave.
    expect(audit).toEqual({ requested_by: 'http:responder:dpo@example.org', via: 'http' });
    const refused = await cli(s, s.processor.wallPort, ['exp-2']).then(() => null, (err: { code: number; stdout: string }) => err);
    expect(refused?.code).toBe(3);
    expect(JSON.parse(refused!.stdout)).toMatchObject({ erased: true, customerId: 'exp-2' });
  });

  it('`vigil export` reads ClickHouse and Redis itself when no processor answers, and says the live part is missing', async () => {
    const { stdout, stderr } = await cli(s, await freePort(), ['exp-1', '--by', 'dpo@example.org']);
    expect(stderr).toMatch(/no processor answered at .*; reading ClickHouse and Redis without the live part/);
    const doc = JSON.parse(stdout);
    expect(doc).toMatchObject({ customerId: 'exp-1', live: null, counts: { events: 5 } });
    expect(doc.liveNote).toMatch(/no processor answered/);
    expect(doc.summary).toContain('You were contacted 3 times in the last 7 days (3 emails).');
    // Without the live part, the churn estimate is the latest stored snapshot's, with its time.
    expect(doc.summary.join(' ')).toMatch(/chance that you are still an active customer \(as of .* UTC, our latest stored estimate\)/);
    const [audit] = await chQuery(`SELECT requested_by, via FROM ${s.config.clickhouse.database}.export_audit WHERE export_id = '${doc.exportId}'`);
    expect(audit).toEqual({ requested_by: 'dpo@example.org', via: 'cli' });
  });

  it('streams a 100,000-event history a page at a time: no query returns more than a page, and every row is in the document', async () => {
    const db = s.config.clickhouse.database;
    const t0 = Date.UTC(2024, 0, 1);
    for (let b = 0; b < 10; b++) {
      const rows: EventRow[] = Array.from({ length: 10_000 }, (_, k) => {
        const i = b * 10_000 + k;
        // Several events a second, so the keyset's (ts, id) order is what keeps pages apart.
        const ts = t0 + Math.floor(i / 4) * 1_000;
        return { id: `big-${String(i).padStart(6, '0')}`, customer_id: 'exp-big', type: 'page_view', ts: toChDateTime(ts), ts_ms: ts, channel: 'web', value: 0, segment: '', campaign_id: '', props: '{}', received_at: toChDateTime(ts), stream_seq: 0 };
      });
      await s.ch.insert('events', rows);
    }
    const pages: number[] = [];
    const outcome = await startExport(s.deps({ live: null, liveNote: 'not asked', pageSize: 1_000, onPage: (n) => pages.push(n) }), { customerId: 'exp-big', requestedBy: 't', via: 'cli' });
    if (outcome.kind !== 'export') throw new Error('refused');
    // Read as a client would: chunk by chunk, counting the events without keeping the text.
    let events = 0;
    let bytes = 0;
    let largest = 0;
    let last = '';
    for await (const chunk of outcome.chunks) {
      bytes += Buffer.byteLength(chunk);
      largest = Math.max(largest, chunk.length);
      events += chunk.match(/"id":"big-\d{6}"/g)?.length ?? 0;
      last = chunk;
    }
    expect(events).toBe(100_000);
    expect(Math.max(...pages)).toBe(1_000);
    expect(pages.filter((n) => n === 1_000).length).toBeGreaterThanOrEqual(100);
    // No chunk is more than a page's worth of rows (~250 bytes each here): the document never sits whole in memory.
    expect(largest).toBeLessThan(1_000 * 400);
    expect(last).toBe('}}\n');
    const [audit] = await chQuery<{ bytes: string; tables: string[]; rows: string[] }>(`SELECT bytes, tables, rows FROM ${db}.export_audit WHERE export_id = '${outcome.exportId}'`);
    expect(Number(audit.bytes)).toBe(bytes);
    expect(audit.rows[audit.tables.indexOf('events')]).toBe('100000');

    // A reader that goes away part-way (the HTTP client hung up): reading stops, and the audit says so.
    const cut = await startExport(s.deps({ live: null, pageSize: 1_000 }), { customerId: 'exp-big', requestedBy: 't', via: 'http' });
    if (cut.kind !== 'export') throw new Error('refused');
    for (let k = 0; k < 3; k++) await cut.chunks.next();
    await cut.chunks.return(undefined);
    const [partial] = await chQuery<{ outcome: string; tables: string[]; rows: string[] }>(`SELECT outcome, tables, rows FROM ${db}.export_audit WHERE export_id = '${cut.exportId}'`);
    expect(partial.outcome).toBe('aborted');
    expect(partial.rows[partial.tables.indexOf('events')]).toBe('1000');
  });
});

describe('a pseudonymized customer export', () => {
  const s = suite({ pseudonymize: true });

  it('is found by the original id through the key, and says which pseudonym stands for the customer', async () => {
    await footprint(s, 'orig-7', 'p7');
    const pseudonym = keyedHash(KEY, 'orig-7');
    const doc = await collect(await startExport(s.deps(), { customerId: 'orig-7', requestedBy: 't', via: 'cli' }));
    expect(doc).toMatchObject({ customerId: 'orig-7', storedAs: pseudonym });
    expect(doc.summary[0]).toBe(`We store you under the pseudonym ${pseudonym}, never under your own id.`);
    expect(doc.counts.events).toBe(5);
    expect(doc.tables.events.every((e: EventRow) => e.customer_id === pseudonym)).toBe(true);
    expect(doc.live.storedId).toBe(pseudonym);
    // Nothing stored holds the original id.
    expect(JSON.stringify(doc.tables)).not.toContain('orig-7');
  });
});
