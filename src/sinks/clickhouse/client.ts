// The small ClickHouse interface the rest of Vigil uses, over @clickhouse/client, tuned to work the
// same on ClickHouse 18.16 (Debian's package) and current servers (24.x+ in docker-compose).
import { Readable } from 'node:stream';
import { paced } from '../../shared/slices.js';
import { createClient, ClickHouseLogLevel, type ClickHouseClient as OfficialClient } from '@clickhouse/client';
import type { VigilConfig } from '../../config/schema.js';
import { VigilError, errorMessage } from '../../shared/errors.js';
import { EncodedRows, rowBinaryTable } from './rowBinary.js';

export type ClickHouseConfig = VigilConfig['clickhouse'];

/** A value bound to a `{name:Type}` placeholder. */
export type QueryParam = string | number | bigint | boolean | Date | null | readonly QueryParam[];
export type QueryParams = Record<string, QueryParam>;

export interface ClickHouseClient {
  /** The database unqualified table names resolve to (in `insert`). */
  readonly database: string;
  /**
   * Inserts all rows in one request (RowBinary for the tables Vigil writes, JSONEachRow for others); `table` is
   * qualified with `database` unless it has a dot. Rows the sink encoded as they came (EncodedRows) go as they are.
   */
  insert(table: string, rows: readonly object[] | EncodedRows): Promise<void>;
  /** Runs a SELECT and returns its rows as ClickHouse's JSON gives them (64-bit integers as strings). */
  query<T = Record<string, unknown>>(sql: string, params?: QueryParams): Promise<T[]>;
  /**
   * Runs a SELECT and returns each row's fields as text, in the SELECT's order (TabSeparated, unescaped): for reads
   * of a million rows, where JSON cost the server twice the time to write and this process four times to read. `step`
   * is called once per row parsed (a worker's stepPacer, so the parse backs off while the processor is busy).
   */
  queryText(sql: string, params?: QueryParams, step?: () => void): Promise<string[][]>;
  /** Runs a statement that returns no rows (DDL, ALTER, OPTIMIZE...). */
  command(sql: string, params?: QueryParams): Promise<void>;
  /** True when the server answers; never throws. */
  ping(): Promise<boolean>;
  /** `SELECT version()`, asked once and remembered. */
  serverVersion(): Promise<string>;
  close(): Promise<void>;
}

/** A failed ClickHouse call; `code` says whether the server was unreachable or refused the statement. */
export class ClickHouseError extends VigilError {
  /** ClickHouse's own error code (e.g. 60 = unknown table), when the server answered with one. */
  readonly clickhouseCode: number | null;

  constructor(code: 'CLICKHOUSE_UNAVAILABLE' | 'CLICKHOUSE_QUERY_FAILED', message: string, clickhouseCode: number | null, cause: unknown) {
    super(code, message, { cause });
    this.name = 'ClickHouseError';
    this.clickhouseCode = clickhouseCode;
  }
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_SOCKET']);
// Server-side codes that mean "busy or briefly unable", not "your statement is wrong":
// 159 timeout, 202 too many queries, 209/210 socket, 241 memory limit, 242 read-only, 252 too many parts, 425 system error.
const TRANSIENT_SERVER_CODES = new Set([159, 202, 209, 210, 241, 242, 252, 425]);

/** Wraps any failure of a ClickHouse call in a ClickHouseError with a stable code. */
export function toClickHouseError(err: unknown, what: string): ClickHouseError {
  if (err instanceof ClickHouseError) return err;
  const message = errorMessage(err);
  // 18.16 answers "Code: 60, e.displayText() = ...", current servers "Code: 60. DB::Exception: ..."
  const match = /\bCode: (\d+)[.,]/.exec(message);
  const chCode = match ? Number(match[1]) : null;
  const sysCode = (err as { code?: unknown } | null)?.code;
  const unreachable =
    (typeof sysCode === 'string' && NETWORK_CODES.has(sysCode)) ||
    /socket hang up|Timeout error|ECONNREFUSED|ECONNRESET|other side closed/i.test(message) ||
    (chCode !== null && TRANSIENT_SERVER_CODES.has(chCode));
  const oneLine = message.split('\n')[0].slice(0, 500);
  return new ClickHouseError(unreachable ? 'CLICKHOUSE_UNAVAILABLE' : 'CLICKHOUSE_QUERY_FAILED', `${what}: ${oneLine}`, chCode, err);
}

const MAX_DATETIME_S = 4_294_967_295;

/**
 * Encodes epoch milliseconds for a DateTime column: whole unix seconds as a JSON number. Both 18.16
 * and current servers parse a number as a unix timestamp, and unlike 'YYYY-MM-DD hh:mm:ss' text it
 * does not depend on the server's timezone. Clamped to DateTime's range (1970 to 2106).
 */
export function toChDateTime(ms: number): number {
  const s = Math.floor(ms / 1000);
  return s < 0 ? 0 : s > MAX_DATETIME_S ? MAX_DATETIME_S : s;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const TABLE_REF = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;

export function quoteIdentifier(name: string): string {
  return IDENT.test(name) ? name : '`' + name.replaceAll('\\', '\\\\').replaceAll('`', '\\`') + '`';
}

export function quoteString(s: string): string {
  return "'" + s.replaceAll('\\', '\\\\').replaceAll("'", "\\'") + "'";
}

function literal(value: QueryParam, name: string): string {
  if (value === null) return 'NULL';
  if (typeof value === 'string') return quoteString(value);
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new ClickHouseError('CLICKHOUSE_QUERY_FAILED', `parameter ${name} is not a finite number`, null, undefined);
    return String(value);
  }
  if (value instanceof Date) return String(toChDateTime(value.getTime()));
  return '[' + value.map((v) => literal(v, name)).join(', ') + ']';
}

/**
 * Binds `{name:Type}` placeholders (ClickHouse's own syntax) on the client, as `CAST(literal AS Type)`,
 * or as a quoted name for `{name:Identifier}`. 18.16 predates server-side parameters, so binding
 * here keeps one code path for every server; values are escaped, never spliced raw.
 */
export function bindParams(sql: string, params: QueryParams | undefined): string {
  if (!params) return sql;
  return sql.replace(/\{([A-Za-z_][A-Za-z0-9_]*):\s*([^{}]+?)\s*\}/g, (_m, name: string, type: string) => {
    if (!Object.hasOwn(params, name)) {
      throw new ClickHouseError('CLICKHOUSE_QUERY_FAILED', `query parameter {${name}:${type}} has no value`, null, undefined);
    }
    const value = params[name];
    if (type === 'Identifier') {
      if (typeof value !== 'string') throw new ClickHouseError('CLICKHOUSE_QUERY_FAILED', `parameter ${name} must be a string identifier`, null, undefined);
      return quoteIdentifier(value);
    }
    return `CAST(${literal(value, name)} AS ${type})`;
  });
}

const TSV_ESCAPES: Record<string, string> = { b: '\b', f: '\f', r: '\r', n: '\n', t: '\t', '0': '\0', "'": "'", '\\': '\\' };

/**
 * ClickHouse's TabSeparated output as rows of fields: a row per line, a field per tab, each backslash escape (\t, \n,
 * \\, \0, \', \b, \f, \r) turned back into its character; any other escaped character stands for itself. `step`, when
 * given, is called after each row.
 */
export function parseTabSeparated(text: string, step?: () => void): string[][] {
  const rows: string[][] = [];
  const lines = text.split('\n');
  // Every row ends with a newline: the last piece is empty (a row of one empty field is a line of its own).
  if (lines[lines.length - 1] === '') lines.pop();
  for (const line of lines) {
    const fields = line.split('\t');
    for (let i = 0; i < fields.length; i++) {
      if (fields[i].includes('\\')) fields[i] = fields[i].replace(/\\(.)/g, (_, c: string) => TSV_ESCAPES[c] ?? c);
    }
    rows.push(fields);
    step?.();
  }
  return rows;
}

/** `table` as the server should see it: qualified with the default database unless it already is. */
export function qualifyTable(database: string, table: string): string {
  if (!TABLE_REF.test(table)) throw new ClickHouseError('CLICKHOUSE_QUERY_FAILED', `not a table name: ${JSON.stringify(table)}`, null, undefined);
  return table.includes('.') ? table : `${database}.${table}`;
}

/** Parses "18.16.1" or "26.7.2.1" into numbers for comparison. */
export function parseVersion(version: string): number[] {
  const parts = version.trim().split('.').map((p) => Number.parseInt(p, 10));
  if (parts.length === 0 || parts.some((p) => !Number.isFinite(p))) throw new Error(`not a ClickHouse version: ${JSON.stringify(version)}`);
  return parts;
}

/** -1, 0 or 1 as a < b, a = b (on the parts both give), a > b. */
export function compareVersions(a: string, b: string): number {
  const x = parseVersion(a);
  const y = parseVersion(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
  }
  return 0;
}

// Sent with every request. Quoting 64-bit integers makes reads the same on 18.16 (quotes by default)
// and current servers (which stopped quoting), and keeps values above 2^53 exact.
const SETTINGS = { output_format_json_quote_64bit_integers: 1 } as const;

class OfficialClickHouseClient implements ClickHouseClient {
  private version: Promise<string> | null = null;

  constructor(
    private readonly ch: OfficialClient,
    readonly database: string,
  ) {}

  async insert(table: string, rows: readonly object[] | EncodedRows): Promise<void> {
    const encoded = rows instanceof EncodedRows ? rows : null;
    const count = encoded ? encoded.count : (rows as readonly object[]).length;
    if (count === 0) return;
    const target = qualifyTable(this.database, table);
    const binary = encoded ? encoded.table : rowBinaryTable(target);
    try {
      if (binary) {
        const body = encoded ? encoded.pieces() : binary.chunks(rows as readonly object[]);
        const result = await this.ch.exec({ query: `INSERT INTO ${target} (${binary.columns.join(', ')}) FORMAT RowBinary`, values: Readable.from(paced(body), { objectMode: false }) });
        // The answer to an INSERT is empty; reading it to the end hands the socket back to the pool.
        for await (const _ of result.stream) void _;
      } else {
        await this.ch.insert({ table: target, values: rows as object[], format: 'JSONEachRow' });
      }
    } catch (err) {
      throw toClickHouseError(err, `insert of ${count} rows into ${target} failed`);
    }
  }

  async query<T = Record<string, unknown>>(sql: string, params?: QueryParams): Promise<T[]> {
    const text = bindParams(sql, params);
    try {
      const result = await this.ch.query({ query: text, format: 'JSONEachRow' });
      return await result.json<T>();
    } catch (err) {
      throw toClickHouseError(err, `query failed (${abbreviate(text)})`);
    }
  }

  async queryText(sql: string, params?: QueryParams, step?: () => void): Promise<string[][]> {
    const text = bindParams(sql, params);
    try {
      const result = await this.ch.query({ query: text, format: 'TabSeparated' });
      return parseTabSeparated(await result.text(), step);
    } catch (err) {
      throw toClickHouseError(err, `query failed (${abbreviate(text)})`);
    }
  }

  async command(sql: string, params?: QueryParams): Promise<void> {
    const text = bindParams(sql, params);
    try {
      await this.ch.command({ query: text });
    } catch (err) {
      throw toClickHouseError(err, `statement failed (${abbreviate(text)})`);
    }
  }

  async ping(): Promise<boolean> {
    try {
      const result = await this.ch.ping();
      return result.success;
    } catch {
      return false;
    }
  }

  serverVersion(): Promise<string> {
    this.version ??= this.query<{ v: string }>('SELECT version() AS v').then(
      (rows) => rows[0].v,
      (err: unknown) => {
        this.version = null; // ask again next time: the server may be back
        throw err;
      },
    );
    return this.version;
  }

  async close(): Promise<void> {
    await this.ch.close();
  }
}

function abbreviate(sql: string): string {
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length > 120 ? flat.slice(0, 117) + '...' : flat;
}

/**
 * A client for the `clickhouse` config section. Compression stays off (the processor sits next to
 * ClickHouse; gzip would cost the CPU the signals need), and the client's own logging is off:
 * every failure reaches the caller as a ClickHouseError instead.
 */
export function createClickHouseClient(
  config: ClickHouseConfig,
  /** Settings sent with every request of this client besides Vigil's own (the refit's: max_threads). */
  settings: Record<string, number> = {},
): ClickHouseClient {
  const ch = createClient({
    url: config.url,
    username: config.username,
    password: config.password,
    // The default database is not sent: on 18.16 a missing one fails every request, including
    // the CREATE DATABASE that migrations start with. Tables are qualified instead.
    request_timeout: config.requestTimeoutMs > 0 ? config.requestTimeoutMs : 24 * 3_600_000,
    compression: { request: false, response: false },
    // 18.16 closes an idle connection after 3 s; a busy event loop reused such sockets (EPIPE, a retried batch).
    keep_alive: { idle_socket_ttl: 1_500, eagerly_destroy_stale_sockets: true },
    clickhouse_settings: { ...settings, ...SETTINGS },
    log: { level: ClickHouseLogLevel.OFF },
  });
  return new OfficialClickHouseClient(ch, config.database);
}
