// The two ClickHouse engines the SQL must run on: Debian's 18.16 (the server the tests start) and current ClickHouse
// (chdb, in-process), and a migrated database of its own per suite on either, dropped after.
import { afterAll, beforeAll } from 'vitest';
import type { ClickHouseClient } from '../../src/sinks/clickhouse/client.js';
import { migrate } from '../../src/sinks/clickhouse/migrate.js';
import { ChdbClient } from './clickhouse-chdb.js';
import { testClickHouseClient, testDatabaseName } from './clickhouse.js';

export const CLICKHOUSE_ENGINES: [string, () => ClickHouseClient][] = [
  ['ClickHouse 18.16 (server)', () => testClickHouseClient(testDatabaseName())],
  ['current ClickHouse (chdb)', () => new ChdbClient(testDatabaseName())],
];

/** Call inside a describe: before its tests, a client on a freshly migrated database (handed to `use`); after, dropped. */
export function onMigratedDatabase(make: () => ClickHouseClient, use: (ch: ClickHouseClient) => void): void {
  let ch: ClickHouseClient | null = null;
  beforeAll(async () => {
    ch = make();
    await migrate(ch, { database: ch.database });
    use(ch);
  });
  afterAll(async () => {
    if (!ch) return;
    await ch.command(`DROP DATABASE IF EXISTS ${ch.database}`);
    await ch.close();
  });
}
