// The sink's disk tier against the real ClickHouse (18.16 here) through a TCP proxy the test cuts and restores:
// rows beyond the memory bound go to disk, flush() resolves during the outage, and once ClickHouse is back every
// row lands exactly once (counts under FINAL) and the spill directory is empty. Then the same across a SIGKILL:
// a new sink over the directory a killed process left inserts its rows.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { createClickHouseClient, toChDateTime, type ClickHouseClient, type ClickHouseConfig } from '../../src/sinks/clickhouse/client.js';
import { migrate } from '../../src/sinks/clickhouse/migrate.js';
import type { CustomerActivityRow, EventRow } from '../../src/sinks/clickhouse/tables.js';
import { createClickHouseSink } from '../../src/sinks/clickhouse/writer.js';
import { CLICKHOUSE_URL, eventually, testClickHouseClient, testDatabaseName } from '../helpers/clickhouse.js';
import { chQuery, cleanUp, isolatedConfig, natsConnection, startTestProcessor } from '../helpers/processor.js';
import { TcpProxy } from '../helpers/tcpProxy.js';

const db = testDatabaseName();
let client: ClickHouseClient;
let proxy: TcpProxy;
let spillRoot: string;

beforeAll(async () => {
  client = testClickHouseClient(db);
  if (!(await client.ping())) throw new Error(`ClickHouse does not answer at ${CLICKHOUSE_URL}: run scripts/services.sh`);
  await migrate(client, { database: db });
  const target = new URL(CLICKHOUSE_URL);
  proxy = await TcpProxy.start(Number(target.port || 8123), target.hostname);
  spillRoot = mkdtempSync(join(tmpdir(), 'vigil-spill-it-'));
});

afterAll(async () => {
  await proxy?.cut();
  await client?.command(`DROP DATABASE IF EXISTS ${db}`);
  await client?.close();
  if (spillRoot) rmSync(spillRoot, { recursive: true, force: true });
});

/** The `clickhouse` section for a sink that reaches ClickHouse through the proxy and spills under `dir`. */
function viaProxy(dir: string, spill: Partial<ClickHouseConfig['spill']> = {}): ClickHouseConfig {
  return parseConfig({
    clickhouse: {
      url: proxy.url,
      database: db,
      requestTimeoutMs: 2_000,
      batch: { maxRows: 200, maxDelayMs: 50 },
      retry: { initialDelayMs: 50, maxDelayMs: 300 },
      spill: { dir, maxMemoryRows: 500, maxBytes: 64 * 1024 * 1024, ...spill },
    },
  }).clickhouse;
}

function activity(customer: string, writer: string, events: number): CustomerActivityRow {
  return { customer_id: customer, minute: toChDateTime(Date.UTC(2025, 0, 15, 10, 30)), event_type: 'page_view', events, revenue: events / 4, writer, version: 1 };
}

function event(id: string): EventRow {
  const t = Date.UTC(2025, 0, 15, 10, 30, 5);
  return { id, customer_id: `cust-${id}`, type: 'click', ts: toChDateTime(t), ts_ms: t, channel: 'web', value: 0, segment: '', campaign_id: '', props: '', received_at: toChDateTime(t), stream_seq: 1 };
}

async function activityTotals(writer: string): Promise<{ n: string; events: string }> {
  const [row] = await client.query<{ n: string; events: string }>(
    `SELECT count() AS n, sum(events) AS events FROM ${db}.customer_activity FINAL WHERE writer = {w:UInt64}`,
    { w: writer },
  );
  return row;
}

const spillFiles = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.jsonl')) : []);

describe('ClickHouse down: the disk tier', () => {
  it('spills beyond the memory bound while ClickHouse is cut, flush() resolves, and everything lands exactly once when it is back', async () => {
    const config = viaProxy(join(spillRoot, 'outage'));
    const sink = createClickHouseSink(createClickHouseClient(config), config);
    const dir = join(spillRoot, 'outage', db);
    try {
      // Healthy first: rows go straight in, nothing touches the disk.
      for (let i = 0; i < 300; i++) sink.push('customer_activity', activity(`up-${i}`, '11', 1));
      await sink.flush();
      expect(await activityTotals('11')).toEqual({ n: '300', events: '300' });
      expect(sink.counters.rowsSpilled).toBe(0);
      const before = proxy.connections;
      expect(before).toBeGreaterThan(0);

      await proxy.cut();
      const rows = 5_000;
      for (let i = 0; i < rows; i++) sink.push('customer_activity', activity(`down-${i}`, '12', i + 1));
      for (let i = 0; i < 1_000; i++) sink.push('events', event(`ev-${i}`));
      const flushStarted = Date.now();
      await sink.flush();
      const flushMs = Date.now() - flushStarted;
      // Every row pushed is on disk now (or was): none is in ClickHouse, and the checkpoint that waits on flush() could go on.
      expect(flushMs).toBeLessThan(15_000);
      expect(sink.counters.rowsWritten).toBe(300);
      expect(sink.spilled()).toMatchObject({ rows: rows + 1_000, batches: 30, dir });
      expect(spillFiles(dir)).toHaveLength(30);
      expect(sink.state()).toMatchObject({ ok: false, full: false });
      expect(sink.state().detail).toContain(`on disk: 30 batches, ${rows + 1_000} rows`);
      expect(await activityTotals('12')).toEqual({ n: '0', events: '0' });

      await proxy.restore();
      const drainStarted = Date.now();
      await sink.inserted();
      const drainMs = Date.now() - drainStarted;
      expect(drainMs).toBeLessThan(15_000);
      expect(await activityTotals('12')).toEqual({ n: String(rows), events: String((rows * (rows + 1)) / 2) });
      const [ev] = await client.query<{ n: string; ids: string }>(`SELECT count() AS n, uniqExact(id) AS ids FROM ${db}.events FINAL WHERE id LIKE 'ev-%'`);
      expect(ev).toEqual({ n: '1000', ids: '1000' });
      expect(spillFiles(dir)).toEqual([]);
      expect(sink.spilled()).toMatchObject({ batches: 0, rows: 0, bytes: 0 });
      expect(sink.bufferedRows()).toBe(0);
      expect(sink.counters).toMatchObject({ rowsPushed: 6_300, rowsWritten: 6_300, rowsSpilled: rows + 1_000, rowsDropped: 0, spillFilesSetAside: 0 });
      console.log(`outage: flush() resolved in ${flushMs} ms with ${rows + 1_000} rows on disk; drained in ${drainMs} ms after the restore`);
    } finally {
      await proxy.restore();
      sink.abort();
    }
  });

  it('a new sink over the spill directory a SIGKILLed process left inserts its rows, then deletes the files', async () => {
    const root = join(spillRoot, 'crash');
    const dir = join(root, db);
    await proxy.cut();
    const rows = 1_200;
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('../helpers/spillChild.ts', import.meta.url))], {
      env: { ...process.env, SPILL_CH_URL: proxy.url, SPILL_DB: db, SPILL_DIR: root, SPILL_ROWS: String(rows), SPILL_WRITER: '21' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_code, signal) => r(signal)));
    try {
      await eventually('the child to report its rows on disk', () => out.includes('\n') || child.exitCode !== null, 60_000);
      if (!out.includes('\n')) throw new Error(`the child exited before reporting:\n${err}`);
      const report = JSON.parse(out.split('\n')[0]) as { flushed: number; spilled: { rows: number; batches: number }; rowsWritten: number };
      expect(report).toMatchObject({ flushed: rows, rowsWritten: 0, spilled: { rows, batches: 5 } });
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
      expect(spillFiles(dir)).toHaveLength(5);
      expect(existsSync(join(dir, 'lock'))).toBe(true); // left behind by the crash, taken over below

      await proxy.restore();
      const config = viaProxy(root);
      const sink = createClickHouseSink(createClickHouseClient(config), config);
      try {
        expect(sink.counters).toMatchObject({ batchesRecovered: 5, rowsRecovered: rows });
        await sink.inserted();
        expect(await activityTotals('21')).toEqual({ n: String(rows), events: String((rows * (rows + 1)) / 2) });
        expect(spillFiles(dir)).toEqual([]);
        expect(sink.counters).toMatchObject({ rowsWritten: rows, spillFilesSetAside: 0 });
      } finally {
        await sink.close();
      }
      expect(existsSync(join(dir, 'lock'))).toBe(false);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await proxy.restore();
    }
  });
});

describe('ClickHouse down: the processor', () => {
  it('keeps checkpointing and acknowledging while ClickHouse is cut (rows on disk), and ClickHouse ends exact after the restore', async () => {
    const spillDir = join(spillRoot, 'processor');
    const config = isolatedConfig({
      clickhouse: { url: proxy.url, requestTimeoutMs: 2_000, retry: { initialDelayMs: 50, maxDelayMs: 300 }, spill: { dir: spillDir, maxMemoryRows: 1_000 } },
      processor: { checkpointIntervalMs: 600_000 },
    });
    const chDb = config.clickhouse.database;
    const dir = join(spillDir, chDb);
    const nc = await natsConnection();
    const processor = await startTestProcessor(config);
    const enc = new TextEncoder();
    const now = Date.now();
    let published = 0;
    const publish = (count: number) => {
      for (let i = 0; i < count; i++, published++) {
        const ev = { id: `p-${published}`, customerId: `cust-${published % 50}`, type: 'page_view', ts: now - 30_000 + (published % 20) * 1_000, channel: 'web' };
        nc.publish(`${config.nats.subjectPrefix}.page_view`, enc.encode(JSON.stringify(ev)));
      }
    };
    const totals = async () => {
      const [a] = await chQuery<{ n: string }>(`SELECT sum(events) AS n FROM ${chDb}.customer_activity FINAL`);
      const [e] = await chQuery<{ n: string }>(`SELECT count() AS n FROM ${chDb}.events FINAL`);
      return { activity: Number(a.n), events: Number(e.n) };
    };
    try {
      publish(200);
      await nc.flush();
      // both the raw events and their activity rows (written at the next commit) before the cut
      await eventually('the first events in ClickHouse', async () => {
        const t = await totals();
        return t.events === 200 && t.activity === 200;
      }, 30_000);

      await proxy.cut();
      publish(3_000);
      await nc.flush();
      await eventually('every event processed', () => processor.pipeline.counts.processed === 3_200, 30_000);
      const started = Date.now();
      await processor.checkpointNow(); // waits on flush(): resolves because the rows are on disk
      const checkpointMs = Date.now() - started;
      const info = await (await nc.jetstreamManager()).consumers.info(config.nats.stream, config.nats.consumer);
      expect(info.ack_floor.stream_seq).toBe(3_200);
      expect(spillFiles(dir).length).toBeGreaterThan(0);
      expect(await totals()).toEqual({ activity: 200, events: 200 });
      const metric = async (name: string) => {
        const text = await (await fetch(`http://127.0.0.1:${processor.wallPort}/metrics`)).text();
        return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
      };
      // The commit loop may spill another batch meanwhile (its file renamed a turn before it is counted): read together.
      await eventually('the spilled batches metric to count the files on disk', async () => (await metric('vigil_clickhouse_spilled_batches')) === spillFiles(dir).length, 10_000);
      expect(await metric('vigil_clickhouse_spilled_bytes')).toBeGreaterThan(0);
      expect(await metric('vigil_clickhouse_rows_spilled_total')).toBeGreaterThanOrEqual(3_000); // the events rows alone
      expect(await metric('vigil_clickhouse_buffer_full')).toBe(0);

      await proxy.restore();
      await eventually('ClickHouse exact after the restore', async () => {
        const t = await totals();
        return t.activity === 3_200 && t.events === 3_200;
      }, 30_000);
      // The sink counts a file's bytes off once its delete has returned, a turn after the directory shows it gone:
      // both are waited for, not read one after the other.
      await eventually('the spill directory empty and its bytes counted off', async () => spillFiles(dir).length === 0 && (await metric('vigil_clickhouse_spilled_bytes')) === 0, 10_000);
      console.log(`processor: checkpoint during the outage took ${checkpointMs} ms`);
    } finally {
      await proxy.restore();
      await processor.stop();
      await cleanUp(config, nc);
      await nc.close();
    }
  });
});
