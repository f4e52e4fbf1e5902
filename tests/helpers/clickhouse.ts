// Shared by the ClickHouse integration tests: a client for the server scripts/services.sh runs, and a
// throwaway database name per test file.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../src/config/load.js';
import { createClickHouseClient, type ClickHouseClient, type ClickHouseConfig } from '../../src/sinks/clickhouse/client.js';
import { renderStatement } from '../../src/sinks/clickhouse/migrate.js';

/** The URL of the server under test; VIGIL_CLICKHOUSE__URL points the tests elsewhere. */
export const CLICKHOUSE_URL = process.env.VIGIL_CLICKHOUSE__URL ?? 'http://127.0.0.1:8123';

export function testDatabaseName(): string {
  return `vigil_test_${randomBytes(4).toString('hex')}`;
}

export function testClickHouseConfig(database: string, overrides: Partial<ClickHouseConfig> = {}): ClickHouseConfig {
  return { ...parseConfig({ clickhouse: { url: CLICKHOUSE_URL, database } }).clickhouse, ...overrides };
}

export function testClickHouseClient(database: string, overrides: Partial<ClickHouseConfig> = {}): ClickHouseClient {
  return createClickHouseClient(testClickHouseConfig(database, overrides));
}

/** The columns of a table as system.columns gives them: name to type, in order. */
export async function columnsOf(client: ClickHouseClient, database: string, table: string): Promise<Record<string, string>> {
  const rows = await client.query<{ name: string; type: string }>(
    'SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {table:String}',
    { db: database, table },
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.type]));
}

/** The analysts' saved queries in sql/queries, with `{db}` filled in. */
export function savedQueries(database: string): { name: string; sql: string }[] {
  const dir = fileURLToPath(new URL('../../sql/queries/', import.meta.url));
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => ({ name: f, sql: renderStatement(readFileSync(join(dir, f), 'utf8'), database) }));
}

/** The shared condition wait, kept here too for the tests that import it from this file. */
export { eventually } from './wait.js';
