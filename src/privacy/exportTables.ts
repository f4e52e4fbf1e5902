// Reads everything ClickHouse holds on one customer, table by table, a page at a time: the tables are the ones
// erasure finds (erasableTables), so a table a later migration adds is exported without anyone listing it.
import { randomBytes } from 'node:crypto';
import type { ClickHouseClient, QueryParams } from '../sinks/clickhouse/client.js';
import { erasableTables } from './erasure.js';

export type Row = Record<string, unknown>;

/** One table to read, with how its rows are paged. */
export interface ExportTable {
  table: string;
  /** The condition on the customer, reading ids from the export's own temporary table. */
  where: (idsTable: string) => string;
  /** FINAL for ReplacingMergeTree: a retried batch's copy is not a second row. */
  final: boolean;
  /**
   * Keyset paging: the sorting key's columns after customer_id with their types, unique per customer under FINAL;
   * null for a table not known here, paged by OFFSET over every column instead.
   */
  keyset: { name: string; type: string }[] | null;
  /** Every column, for the OFFSET fallback's order. */
  columns: string[];
}

/**
 * Each known table's sorting key after the columns that name the customer (customer_id; scope and key for
 * experience_snapshots) (sql/migrations): unique within one customer under FINAL.
 */
const KEYSETS: Record<string, string[]> = {
  events: ['ts', 'id'],
  customer_activity: ['event_type', 'minute', 'writer'],
  customer_signals: ['ts_ms'],
  alerts: ['fingerprint', 'ts_ms', 'state'],
  rejected_events: ['stream_seq', 'reason'],
  unstored_events: ['stream_seq'],
  customer_days: ['day'],
  customer_segments: ['segment', 'ts_ms'],
  experience_snapshots: ['ts_ms'],
};

/** The tables that can hold a customer, in a fixed order: events first, then by name. */
export async function exportTables(ch: ClickHouseClient, database: string): Promise<ExportTable[]> {
  const erasable = await erasableTables(ch, database);
  const names = erasable.map((t) => t.table);
  const columns = await ch.query<{ table: string; name: string; type: string; default_kind: string }>(
    'SELECT table, name, type, default_kind FROM system.columns WHERE database = {db:String} AND has({tables:Array(String)}, table)',
    { db: database, tables: names },
  );
  const engines = await ch.query<{ name: string; engine: string }>('SELECT name, engine FROM system.tables WHERE database = {db:String} AND has({tables:Array(String)}, name)', { db: database, tables: names });
  const engineOf = new Map(engines.map((e) => [e.name, e.engine]));
  return erasable
    .map(({ table, where }) => {
      // ALIAS columns (ts64) are computed on read and not part of what is stored.
      const own = columns.filter((c) => c.table === table && c.default_kind !== 'ALIAS');
      const typeOf = new Map(own.map((c) => [c.name, c.type]));
      const key = KEYSETS[table];
      const keyset = key && key.every((k) => typeOf.has(k)) ? key.map((name) => ({ name, type: typeOf.get(name)! })) : null;
      return { table, where, final: (engineOf.get(table) ?? '').startsWith('Replacing'), keyset, columns: own.map((c) => c.name) };
    })
    .sort((a, b) => (a.table === 'events' ? -1 : b.table === 'events' ? 1 : a.table.localeCompare(b.table)));
}

/**
 * The id in a Memory table of its own until `drop()`, so the id never appears in a statement's text (nor in a query
 * log an erasure could not reach), as erasure does.
 */
export async function openIdsTable(ch: ClickHouseClient, database: string, id: string): Promise<{ table: string; drop: () => Promise<void> }> {
  const table = `${database}._export_${randomBytes(6).toString('hex')}`;
  const drop = () => ch.command(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
  await ch.command(`CREATE TABLE ${table} (id String) ENGINE = Memory`);
  try {
    await ch.insert(table, [{ id }]);
  } catch (err) {
    await drop();
    throw err;
  }
  return { table, drop };
}

/** `(a > :a) OR (a = :a AND b > :b) ...`: the rows after `last` in the keyset's order, with its values bound. */
function after(keyset: { name: string; type: string }[], last: Row): { sql: string; params: QueryParams } {
  const params: QueryParams = {};
  const terms: string[] = [];
  keyset.forEach((k, i) => {
    params[`k${i}`] = last[k.name] as string | number;
    const equal = keyset.slice(0, i).map((p, j) => `${p.name} = {k${j}:${p.type}}`);
    terms.push(`(${[...equal, `${k.name} > {k${i}:${k.type}}`].join(' AND ')})`);
  });
  return { sql: terms.join(' OR '), params };
}

/**
 * The customer's rows of one table, a page (at most `pageSize` rows) per query, yielded page by page: at most one
 * page is held at a time, however long the history. `onPage` sees each page's size (tests assert the bound).
 */
export async function* tablePages(ch: ClickHouseClient, database: string, t: ExportTable, idsTable: string, pageSize: number, onPage?: (rows: number) => void): AsyncGenerator<Row[]> {
  const from = `${database}.${t.table}${t.final ? ' FINAL' : ''}`;
  const base = t.where(idsTable);
  let last: Row | null = null;
  let offset = 0;
  for (;;) {
    let page: Row[];
    if (t.keyset) {
      const next = last ? after(t.keyset, last) : null;
      const order = t.keyset.map((k) => k.name).join(', ');
      page = await ch.query<Row>(`SELECT ${t.columns.join(', ')} FROM ${from} WHERE ${base}${next ? ` AND (${next.sql})` : ''} ORDER BY ${order} LIMIT ${pageSize}`, next?.params);
    } else {
      page = await ch.query<Row>(`SELECT ${t.columns.join(', ')} FROM ${from} WHERE ${base} ORDER BY ${t.columns.join(', ')} LIMIT ${pageSize} OFFSET ${offset}`);
      offset += page.length;
    }
    onPage?.(page.length);
    if (page.length > 0) yield page;
    if (page.length < pageSize) return;
    last = page[page.length - 1];
  }
}

/** How many rows each table holds on the customer, read before the rows themselves (the document's `counts`). */
export async function tableCounts(ch: ClickHouseClient, database: string, tables: ExportTable[], idsTable: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of tables) {
    const [row] = await ch.query<{ n: string }>(`SELECT count() AS n FROM ${database}.${t.table}${t.final ? ' FINAL' : ''} WHERE ${t.where(idsTable)}`);
    out[t.table] = Number(row.n);
  }
  return out;
}
