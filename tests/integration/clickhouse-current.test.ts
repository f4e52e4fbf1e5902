// The migrations' current-version path, every gated statement included, run in chdb: the ClickHouse engine
// (26.x) embedded in-process, so no server is needed. Also the upgrade path, 18.16 schema to current.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareVersions, toChDateTime } from '../../src/sinks/clickhouse/client.js';
import { loadMigrations, migrate, needsAnalyst } from '../../src/sinks/clickhouse/migrate.js';
import { TABLES, TABLE_NAMES, type CustomerActivityRow } from '../../src/sinks/clickhouse/tables.js';
import { ClickHouseSink } from '../../src/sinks/clickhouse/writer.js';
import { ChdbClient } from '../helpers/clickhouse-chdb.js';
import { columnsOf, savedQueries, testDatabaseName } from '../helpers/clickhouse.js';

const db = testDatabaseName();
const upgradedDb = testDatabaseName();
let chdb: ChdbClient;
let version: string;

beforeAll(async () => {
  chdb = new ChdbClient(db);
  version = await chdb.serverVersion();
});

afterAll(async () => {
  await chdb.command(`DROP DATABASE IF EXISTS ${db}`);
  await chdb.command(`DROP DATABASE IF EXISTS ${upgradedDb}`);
  await chdb.close();
});

const WITH_TS64 = ['events', 'customer_signals', 'alerts'];

async function createTableText(database: string, table: string): Promise<string> {
  const [row] = await chdb.query<{ statement: string }>(`SHOW CREATE TABLE ${database}.${table}`);
  return row.statement;
}

describe('migrations on a current ClickHouse (chdb)', () => {
  it('runs in an engine at least as new as 24.x', () => {
    expect(compareVersions(version, '24.0')).toBeGreaterThanOrEqual(0);
  });

  it('apply every statement, gated ones included, and are idempotent', async () => {
    const migrations = loadMigrations();
    const first = await migrate(chdb, { database: db });
    expect(first).toMatchObject({ serverVersion: version, applied: migrations.map((m) => m.version), upgraded: [], skipped: [] });
    // Only the analyst user's statements wait: no clickhouse.analyst.password here (and chdb has no user storage).
    const analyst = migrations.flatMap((m) => m.statements.flatMap((st, k) => (needsAnalyst(st.sql) ? [{ version: m.version, statement: k }] : [])));
    expect(analyst.length).toBeGreaterThan(0);
    expect(first.deferred.map(({ version, statement }) => ({ version, statement }))).toEqual(analyst);
    const second = await migrate(chdb, { database: db });
    expect(second).toMatchObject({ applied: [], upgraded: [], skipped: [] });
    const recorded = await chdb.query<{ version: number; skipped: number[] }>(`SELECT version, skipped FROM ${db}.schema_migrations ORDER BY version`);
    // Recorded as skipped too: the statements for older servers only (`-- requires: < X`), which this one never runs.
    const olderOnly = (m: (typeof migrations)[number]) => m.statements.flatMap((st, k) => (st.requires?.op === '<' && compareVersions(version, st.requires.version) >= 0 ? [k] : []));
    expect(recorded).toEqual(migrations.map((m) => ({ version: m.version, skipped: [...olderOnly(m), ...analyst.filter((a) => a.version === m.version).map((a) => a.statement)].sort((a, b) => a - b) })));
  });

  it('create every table with the expected columns, ts64 aliases, TTLs and insert deduplication', async () => {
    for (const table of TABLE_NAMES) {
      const expected: Record<string, string> = { ...TABLES[table] };
      if (WITH_TS64.includes(table)) expected.ts64 = "DateTime64(3, 'UTC')";
      expect(await columnsOf(chdb, db, table), table).toEqual(expected);
      const ddl = await createTableText(db, table);
      expect(ddl, table).toContain('non_replicated_deduplication_window = 1000');
      // customer_segments keeps one row per customer across all time: ReplacingMergeTree only replaces within a partition.
      if (table !== 'customer_segments') expect(ddl, table).toContain('PARTITION BY toYYYYMM(');
    }
    expect(await createTableText(db, 'events')).toMatch(/TTL ts \+ toIntervalDay\(400\)/);
    expect(await createTableText(db, 'rejected_events')).toMatch(/TTL received_at \+ toIntervalDay\(90\)/);
  });

  it('read back the writer rows: DateTime from unix seconds, ts64 from ts_ms, exact sums under FINAL', async () => {
    const tsMs = Date.UTC(2026, 1, 3, 4, 5, 6, 789);
    const sink = new ClickHouseSink(chdb, { batch: { maxRows: 10, maxBytes: 1_048_576, maxDelayMs: 10_000 }, retry: { initialDelayMs: 10, maxDelayMs: 50 } });
    sink.push('events', {
      id: 'e1', customer_id: 'c1', type: 'purchase', ts: toChDateTime(tsMs), ts_ms: tsMs, channel: 'web', value: 9.5, segment: '', campaign_id: '',
      props: '{}', received_at: toChDateTime(tsMs), stream_seq: 1,
    });
    const act = (over: Partial<CustomerActivityRow>): CustomerActivityRow => ({
      customer_id: 'c1', minute: toChDateTime(tsMs - (tsMs % 60_000)), event_type: 'purchase', events: 1, revenue: 9.5, writer: '9007199254740993', version: 1, ...over,
    });
    sink.push('customer_activity', act({}));
    sink.push('customer_activity', act({})); // a duplicate in the same batch
    await sink.flush();
    sink.push('customer_activity', act({ version: 2, events: 2, revenue: 19 }));
    sink.push('customer_activity', act({ writer: '2', events: 4, revenue: 1 }));
    await sink.close();

    const [ev] = await chdb.query<{ ts: string; ts64: string; u: string }>(`SELECT ts, ts64, toString(toUnixTimestamp64Milli(ts64)) AS u FROM ${db}.events`);
    expect(ev).toEqual({ ts: '2026-02-03 04:05:06', ts64: '2026-02-03 04:05:06.789', u: String(tsMs) });

    const [sum] = await chdb.query<{ events: string; revenue: number; writers: string[] }>(
      `SELECT sum(events) AS events, sum(revenue) AS revenue, groupArray(toString(writer)) AS writers FROM ${db}.customer_activity FINAL`,
    );
    expect(sum.events).toBe('6');
    expect(sum.revenue).toBe(20);
    expect(sum.writers.sort()).toEqual(['2', '9007199254740993']); // 2^53 + 1 kept exact
  });

  it('run the saved queries', async () => {
    for (const q of savedQueries(db)) {
      await expect(chdb.query(q.sql), q.name).resolves.toBeInstanceOf(Array);
    }
    const cohorts = await chdb.query(savedQueries(db).find((q) => q.name === 'retention_cohorts.sql')!.sql);
    // The row written above, on Tuesday 3 February 2026, reached customer_days through its materialized view.
    expect(cohorts).toEqual([{ cohort_week: '2026-02-02', weeks_since: 0, customers: '1', cohort_size: '1', share: 1 }]);
  });
});

describe('upgrading from an 18.16 schema', () => {
  it('runs the statements skipped on the old server once the server is new enough', async () => {
    const old = await migrate(chdb, { database: upgradedDb, serverVersion: '18.16.1' });
    expect(old.skipped.length).toBeGreaterThan(0);
    expect(await columnsOf(chdb, upgradedDb, 'events')).not.toHaveProperty('ts64');

    const upgraded = await migrate(chdb, { database: upgradedDb });
    expect(upgraded.applied).toEqual([]);
    // Every version with a skipped statement catches up, except the analyst user's, which also waits for a password.
    const onlyAnalyst = new Set(upgraded.deferred.map((d) => d.version));
    expect(upgraded.upgraded).toEqual([...new Set(old.skipped.map((s) => s.version))].filter((v) => !onlyAnalyst.has(v)));
    expect(upgraded.skipped).toEqual([]);
    expect(await columnsOf(chdb, upgradedDb, 'events')).toHaveProperty('ts64');
    expect(await createTableText(upgradedDb, 'events')).toContain('TTL');

    const again = await migrate(chdb, { database: upgradedDb });
    expect(again).toMatchObject({ applied: [], upgraded: [], skipped: [] });
  });
});
