// The ClickHouseClient interface over chdb, the ClickHouse engine embedded in-process (a current
// version, 26.x), so the tests prove the migrations' current-version path without a server.
import { Session } from 'chdb';
import { bindParams, parseTabSeparated, qualifyTable, type ClickHouseClient, type QueryParams } from '../../src/sinks/clickhouse/client.js';
import { rowsOf, type EncodedRows } from '../../src/sinks/clickhouse/rowBinary.js';

export class ChdbClient implements ClickHouseClient {
  private readonly session: Session;

  constructor(readonly database: string) {
    // Same JSON reading as the HTTP client asks for: 64-bit integers quoted.
    this.session = new Session(undefined, { connectionArgs: ['--output_format_json_quote_64bit_integers=1'] });
  }

  async insert(table: string, encodedOrRows: readonly object[] | EncodedRows): Promise<void> {
    const rows = rowsOf(encodedOrRows);
    if (rows.length === 0) return;
    // The rows travel as JSONEachRow text (the HTTP client's RowBinary is read back by tests/integration/clickhouse.test.ts).
    const values = rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
    await this.session.insert({ table: qualifyTable(this.database, table), values, format: 'JSONEachRow' });
  }

  async query<T = Record<string, unknown>>(sql: string, params?: QueryParams): Promise<T[]> {
    const text = this.session.query(bindParams(sql, params), 'JSONEachRow');
    return text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as T);
  }

  async queryText(sql: string, params?: QueryParams, step?: () => void): Promise<string[][]> {
    return parseTabSeparated(this.session.query(bindParams(sql, params), 'TabSeparated'), step);
  }

  /** A query's result with its column names and types, as ClickHouse's JSON format gives them (also for no rows). */
  async queryJson<T = Record<string, unknown>>(sql: string): Promise<{ meta: { name: string; type: string }[]; data: T[] }> {
    return JSON.parse(this.session.query(sql, 'JSON')) as { meta: { name: string; type: string }[]; data: T[] };
  }

  async command(sql: string, params?: QueryParams): Promise<void> {
    this.session.query(bindParams(sql, params), 'TabSeparated');
  }

  async ping(): Promise<boolean> {
    return this.session.open;
  }

  async serverVersion(): Promise<string> {
    const [row] = await this.query<{ v: string }>('SELECT version() AS v');
    return row.v;
  }

  async close(): Promise<void> {
    this.session.close();
  }
}
