// A customer's export: one JSON document with everything Vigil holds on them (ClickHouse rows, live signals with
// their reasons, contact-budget decisions and suppressions, alerts, consent, erasures), a plain-language summary at
// the top, streamed a page at a time, and an audit row per export. Used by the wall's route and `vigil export`.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { TOUCH_TYPES } from '../contract/event.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { toChDateTime, type ClickHouseClient } from '../sinks/clickhouse/client.js';
import type { ExportAuditRow } from '../sinks/clickhouse/tables.js';
import { consentKey, consentTimesKey } from './consent.js';
import { plainSummary, type SummaryFacts } from './exportSummary.js';
import { exportTables, tableCounts, tablePages, openIdsTable, type Row } from './exportTables.js';
import type { LiveCustomer, LiveCustomerLookup } from './liveLookup.js';
import { keyedHash } from './pseudonym.js';

export const EXPORT_FORMAT = 'vigil-customer-export/1';
const DAY_MS = 86_400_000;

/** The consent record as the Redis consent store keeps it. */
export interface ConsentRecord {
  withdrawn: boolean;
  /** Event time of the withdrawal in force (null: none, or unknown). */
  since: number | null;
}

export interface ExportDeps {
  ch: ClickHouseClient;
  database: string;
  /** The consent store's record of a customer (by stored id). */
  consent(storedId: string): Promise<ConsentRecord>;
  /** Live state; null when none can be asked (then `liveNote` says why). */
  live: LiveCustomerLookup | null;
  liveNote?: string;
  /** privacy.pseudonymKey ('' = none): finds a pseudonymized customer and their erasure audit rows. */
  pseudonymKey: string;
  /** privacy.pseudonymize: ids are stored as keyed pseudonyms. */
  pseudonymize: boolean;
  /** Rows per ClickHouse query (and at most this many held at once); 1,000 by default. */
  pageSize?: number;
  /** Sees each page's row count (tests assert the memory bound). */
  onPage?: (rows: number) => void;
  log: Logger;
  now?: () => number;
}

export interface ExportRequest {
  /** The customer's own id (the original, also under pseudonymization). */
  customerId: string;
  requestedBy: string;
  via: 'http' | 'cli';
}

export type ExportOutcome =
  /** Erased, and nothing is held on them since: the answer says when and by which request. */
  | { kind: 'refused'; document: Record<string, unknown> }
  /** The document, as text chunks; the audit row is written when the last chunk is read (or the reader stops). */
  | { kind: 'export'; exportId: string; chunks: AsyncGenerator<string> };

/** The consent record from Redis (the consent store's set and times hash). */
export function redisConsent(redis: Redis, keyPrefix: string): (storedId: string) => Promise<ConsentRecord> {
  return async (id) => {
    const [member, at] = await Promise.all([redis.sismember(consentKey(keyPrefix), id), redis.hget(consentTimesKey(keyPrefix), id)]);
    const since = at === null ? null : Number(at);
    return { withdrawn: member === 1, since: since !== null && Number.isFinite(since) && since > 0 ? since : null };
  };
}

/** What the runtime hands the wall (`exporter`): an export over HTTP for the original id and who asked. */
export function customerExporter(deps: ExportDeps): (customerId: string, requestedBy: string) => Promise<ExportOutcome> {
  return (customerId, requestedBy) => startExport(deps, { customerId, requestedBy, via: 'http' });
}

/** Starts an export: reads the head (summary, consent, erasures, live, counts), decides whether to refuse. */
export async function startExport(deps: ExportDeps, req: ExportRequest): Promise<ExportOutcome> {
  const { ch, database: db } = deps;
  const now = (deps.now ?? Date.now)();
  const started = now;
  const exportId = `export-${randomUUID()}`;
  const storedId = deps.pseudonymize ? keyedHash(deps.pseudonymKey, req.customerId) : req.customerId;
  const subjectHash = deps.pseudonymKey ? keyedHash(deps.pseudonymKey, storedId) : '';
  const audit = (outcome: string, counts: Record<string, number>, bytes: number, live: boolean): Promise<void> => {
    const end = (deps.now ?? Date.now)();
    const tables = Object.keys(counts).sort();
    const row: ExportAuditRow = {
      exported_at: toChDateTime(end), exported_ms: end, export_id: exportId, requested_by: req.requestedBy, via: req.via, subject_hash: subjectHash,
      outcome, tables, rows: tables.map((t) => String(counts[t])), bytes, live: live ? 1 : 0, duration_ms: end - started,
    };
    return ch.insert('export_audit', [row]);
  };

  const tables = await exportTables(ch, db);
  const idsTable = await openIdsTable(ch, db, storedId);
  const ids = idsTable.table;
  let head;
  try {
    head = {
      counts: await tableCounts(ch, db, tables, ids),
      events: await eventFacts(ch, db, ids, now),
      snapshot: await latestSnapshot(ch, db, ids),
      alerts: await alertFacts(ch, db, ids),
      consentEvents: await ch.query<Row>(`SELECT id, type, ts_ms FROM ${db}.events FINAL WHERE customer_id IN (SELECT id FROM ${ids}) AND type IN ('consent_withdrawn', 'consent_granted') ORDER BY ts_ms LIMIT 1000`),
    };
  } finally {
    await idsTable.drop();
  }
  const erasures = subjectHash
    ? await ch.query<Row>(`SELECT request_id, erased_ms, requested_ms, requested_by, via, tables, rows, redis_entries, stream_messages FROM (SELECT *, toUInt64(requested_at) * 1000 AS requested_ms FROM ${db}.erasure_audit WHERE subject_hash = {h:String}) ORDER BY erased_ms`, { h: subjectHash })
    : null;
  const consent = await deps.consent(storedId);
  let live: LiveCustomer | null = null;
  let liveNote = deps.liveNote ?? null;
  if (deps.live) {
    try {
      live = await deps.live.signals(storedId);
      if (!live) liveNote = 'the processor holds no live state on you (never seen, idle long enough to be evicted, or consent withdrawn)';
    } catch (err) {
      liveNote = `the processor could not be asked (${errorMessage(err)})`;
    }
  }

  const held = Object.values(head.counts).some((n) => n > 0) || live !== null || consent.withdrawn;
  if (erasures && erasures.length > 0 && !held) {
    await audit('refused_erased', {}, 0, false);
    const last = erasures[erasures.length - 1];
    return {
      kind: 'refused',
      document: {
        format: EXPORT_FORMAT, exportId, customerId: req.customerId, storedAs: deps.pseudonymize ? storedId : null, exportedAt: new Date(now).toISOString(),
        erased: true,
        summary: [`You were erased on ${new Date(Number(last.erased_ms)).toISOString()} (request ${String(last.request_id)}): Vigil holds nothing on you, only the record that the erasure was carried out.`],
        erasures,
      },
    };
  }

  const facts: SummaryFacts = {
    now,
    pseudonym: deps.pseudonymize ? storedId : null,
    events: head.events.span,
    touches7d: head.events.touches7d,
    heldBack: live?.budget ? heldBack(live.budget.channels) : [],
    churn: live
      ? { ...live.churn, source: 'live', at: live.asOf }
      : head.snapshot
        ? { pAlive: Number(head.snapshot.p_alive), risk: Number(head.snapshot.churn_risk), customerValue: Number(head.snapshot.customer_value), reasons: head.snapshot.reasons as string[], source: 'snapshot', at: Number(head.snapshot.ts_ms) }
        : null,
    engagement: live ? { score: live.engagement.score } : head.snapshot ? { score: Number(head.snapshot.engagement) } : null,
    fatigue: live ? { score: live.fatigue.score, reasons: live.fatigue.reasons } : null,
    experience: live ? { index: live.experience.index, reasons: live.experience.reasons } : null,
    consent,
    alerts: head.alerts,
    liveNote: live ? null : liveNote,
  };
  const document = {
    format: EXPORT_FORMAT,
    exportId,
    exportedAt: new Date(now).toISOString(),
    customerId: req.customerId,
    storedAs: deps.pseudonymize ? storedId : null,
    summary: plainSummary(facts),
    consent: { ...consent, events: head.consentEvents },
    erasures: erasures ?? { searchable: false, note: 'erasure_audit names a customer only by a keyed hash: without privacy.pseudonymKey it cannot be searched' },
    live,
    liveNote: facts.liveNote,
    counts: head.counts,
  };
  return { kind: 'export', exportId, chunks: documentChunks(deps, storedId, tables, document, audit, live !== null) };
}

/** The document as text: the head whole, then each table's rows, a page per chunk. */
async function* documentChunks(
  deps: ExportDeps, storedId: string, tables: Awaited<ReturnType<typeof exportTables>>, document: Record<string, unknown>,
  audit: (outcome: string, counts: Record<string, number>, bytes: number, live: boolean) => Promise<void>, live: boolean,
): AsyncGenerator<string> {
  const streamed: Record<string, number> = {};
  let bytes = 0;
  let outcome = 'aborted';
  const emit = (s: string): string => {
    bytes += Buffer.byteLength(s);
    return s;
  };
  try {
    const headText = JSON.stringify(document);
    yield emit(`${headText.slice(0, -1)},"tables":{`);
    const pageSize = deps.pageSize ?? 1_000;
    const ids = await openIdsTable(deps.ch, deps.database, storedId);
    try {
      for (const [k, t] of tables.entries()) {
        streamed[t.table] = 0;
        yield emit(`${k > 0 ? ',' : ''}${JSON.stringify(t.table)}:[`);
        let first = true;
        for await (const page of tablePages(deps.ch, deps.database, t, ids.table, pageSize, deps.onPage)) {
          streamed[t.table] += page.length;
          yield emit(`${first ? '' : ','}${page.map((r) => JSON.stringify(r)).join(',')}`);
          first = false;
        }
        yield emit(']');
      }
    } finally {
      await ids.drop();
    }
    yield emit('}}\n');
    outcome = 'exported';
  } catch (err) {
    outcome = 'failed';
    deps.log.warn({ err: errorMessage(err) }, 'a customer export failed part-way');
    throw err;
  } finally {
    await audit(outcome, streamed, bytes, live).catch((err: unknown) => deps.log.error({ err: errorMessage(err) }, 'writing the export audit row failed'));
  }
}

async function eventFacts(ch: ClickHouseClient, db: string, ids: string, now: number): Promise<{ span: SummaryFacts['events']; touches7d: Record<string, number> }> {
  const [span] = await ch.query<{ n: string; first: string; last: string }>(`SELECT count() AS n, min(ts_ms) AS first, max(ts_ms) AS last FROM ${db}.events FINAL WHERE customer_id IN (SELECT id FROM ${ids})`);
  const touches = await ch.query<{ type: string; n: string }>(
    `SELECT type, count() AS n FROM ${db}.events FINAL WHERE customer_id IN (SELECT id FROM ${ids}) AND has({types:Array(String)}, type) AND ts_ms >= {since:UInt64} AND ts_ms <= {now:UInt64} GROUP BY type`,
    { types: [...TOUCH_TYPES], since: now - 7 * DAY_MS, now },
  );
  const total = Number(span.n);
  return {
    span: { total, first: total > 0 ? Number(span.first) : null, last: total > 0 ? Number(span.last) : null },
    touches7d: Object.fromEntries(touches.map((t) => [t.type, Number(t.n)])),
  };
}

async function latestSnapshot(ch: ClickHouseClient, db: string, ids: string): Promise<Row | null> {
  const [row] = await ch.query<Row>(`SELECT * FROM ${db}.customer_signals FINAL WHERE customer_id IN (SELECT id FROM ${ids}) ORDER BY ts_ms DESC LIMIT 1`);
  return row ?? null;
}

async function alertFacts(ch: ClickHouseClient, db: string, ids: string): Promise<SummaryFacts['alerts']> {
  const [row] = await ch.query<{ n: string; rules: string[] }>(
    `SELECT uniqExact(alert_id) AS n, groupUniqArray(rule) AS rules FROM ${db}.alerts FINAL WHERE subject_kind = 'customer' AND subject_key IN (SELECT id FROM ${ids})`,
  );
  return { count: Number(row.n), rules: [...row.rules].sort() };
}

/** The channels the budget holds marketing back on now, from its per-channel decisions (customerPressure's shape). */
function heldBack(channels: Record<string, unknown>): SummaryFacts['heldBack'] {
  const out: SummaryFacts['heldBack'] = [];
  for (const [channel, d] of Object.entries(channels)) {
    const decision = d as { decision?: string; reasons?: string[]; untilMs?: number | null };
    if (decision.decision === 'suppress') out.push({ channel, reasons: decision.reasons ?? [], until: decision.untilMs ?? null });
  }
  return out;
}
