// Erases one customer from everything durable: every ClickHouse table that names them, their Redis state and their
// messages in the event stream, then writes an audit record that names them only by a keyed hash.
// Used by the processor (an erase_request event) and by `vigil forget` when no processor runs.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { JetStreamManager } from 'nats';
import type { VigilConfig } from '../config/schema.js';
import type { ErasureRequest } from '../contract/outputs.js';
import { RedisAlertStore } from '../alerts/redisAlertStore.js';
import { Notifier } from '../alerts/notifier.js';
import { RedisGroupStore } from '../alerts/groupStore.js';
import { WriteBehindHash } from '../alerts/writeBehindHash.js';
import { sleep, systemClock, type SchedulingClock } from '../shared/clock.js';
import { errorMessage, VigilError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { isMessageGone } from '../shared/natsErrors.js';
import { toChDateTime, type ClickHouseClient } from '../sinks/clickhouse/client.js';
import type { ErasureAuditRow } from '../sinks/clickhouse/tables.js';
import { keyedHash } from './pseudonym.js';
import { consentKey, consentTimesKey } from './consent.js';

export { consentKey } from './consent.js';

export interface ErasureTargets {
  ch: ClickHouseClient;
  database: string;
  /** Removes the customer's Redis state; returns how many entries went. */
  forgetInRedis(customerId: string): Promise<number>;
  /** Deletes stream messages by sequence; returns how many were there. */
  deleteStreamMessages(seqs: number[]): Promise<number>;
  /** privacy.pseudonymKey: keys the audit's subject hash; '' leaves the hash empty. */
  subjectKey: string;
  /** How long to wait for ClickHouse's deletes (mutations) to finish. */
  timeoutMs: number;
  log: Logger;
  /** Times the erasure and paces the polls for ClickHouse's deletes; the system clock when absent. */
  clock?: SchedulingClock;
}

/** How a table names a customer; the condition reads ids from the erasure's own temporary table. */
interface ErasableTable {
  table: string;
  where: (idsTable: string) => string;
  /** Whether its rows carry the stream sequence of the customer's message (an index into the stream for erasure). */
  streamSeq: boolean;
}

const POLL_MS = 100;

/**
 * The MergeTree tables of the database that can hold a customer: any with a `customer_id` column, the alerts
 * (customer subjects), the tables of snapshots by scope and key (experience_snapshots: the customer's own rows;
 * product and segment rows name no one) and the dead letters (their customer_id, read leniently from the payload
 * when it was rejected; the raw payload's customerId only for rows written before that column, whose customer_id
 * is ''). Found from system.columns, so a table a later migration adds is erased without anyone remembering to
 * list it.
 */
export async function erasableTables(ch: ClickHouseClient, database: string): Promise<ErasableTable[]> {
  const merge = new Set(
    (await ch.query<{ name: string }>("SELECT name FROM system.tables WHERE database = {db:String} AND engine LIKE '%MergeTree'", { db: database })).map((r) => r.name),
  );
  const columns = await ch.query<{ table: string; name: string }>(
    "SELECT table, name FROM system.columns WHERE database = {db:String} AND name IN ('customer_id', 'subject_key', 'scope', 'key', 'payload', 'stream_seq') ORDER BY table",
    { db: database },
  );
  const byTable = new Map<string, Set<string>>();
  for (const { table, name } of columns) {
    if (!merge.has(table)) continue; // views and the erasure's own Memory table
    let names = byTable.get(table);
    if (!names) byTable.set(table, (names = new Set()));
    names.add(name);
  }
  const out: ErasableTable[] = [];
  const legacyPayload = (ids: string) => `visitParamExtractString(payload, 'customerId') IN (SELECT id FROM ${ids})`;
  for (const [table, names] of byTable) {
    const streamSeq = names.has('stream_seq');
    if (names.has('customer_id') && names.has('payload')) {
      out.push({ table, streamSeq, where: (ids) => `(customer_id IN (SELECT id FROM ${ids}) OR (customer_id = '' AND ${legacyPayload(ids)}))` });
    } else if (names.has('customer_id')) {
      out.push({ table, streamSeq, where: (ids) => `customer_id IN (SELECT id FROM ${ids})` });
    } else if (names.has('subject_key')) {
      out.push({ table, streamSeq, where: (ids) => `subject_kind = 'customer' AND subject_key IN (SELECT id FROM ${ids})` });
    } else if (names.has('scope') && names.has('key')) {
      out.push({ table, streamSeq, where: (ids) => `scope = 'customer' AND key IN (SELECT id FROM ${ids})` });
    } else if (names.has('payload')) {
      out.push({ table, streamSeq, where: legacyPayload });
    }
  }
  return out;
}

/**
 * Erases `req.customerId` from ClickHouse, Redis and the stream (its own request message excepted: the caller
 * deletes that once the erasure is durable), writes the audit row, and returns it. The customer id never
 * appears in a statement's text: it travels in the body of an insert into a Memory table that is dropped at the
 * end, so neither system.mutations nor a query log keeps it. Safe to repeat: a second run finds nothing.
 */
export async function eraseCustomer(t: ErasureTargets, req: ErasureRequest): Promise<ErasureAuditRow> {
  const clock = t.clock ?? systemClock;
  const now = () => clock.now();
  const started = now();
  const { ch, database: db } = t;
  const ids = `${db}._erase_${randomBytes(6).toString('hex')}`;
  // Kept on the request: a retry after a failure part-way adds what it finds to what the first attempt deleted.
  const counts: Record<string, number> = (req.removed ??= {});
  let streamMessages = 0;
  let clickhouseMs = 0;
  let streamMs = 0;
  await ch.command(`CREATE TABLE ${ids} (id String) ENGINE = Memory`);
  try {
    await ch.insert(ids, [{ id: req.customerId }]);
    const tables = await erasableTables(ch, db);
    // The stream sequences of what is about to go, read first: the rows are the only index into the stream.
    const seqs = new Set<number>();
    for (const { table, where, streamSeq } of tables) {
      if (!streamSeq) continue; // events, rejected_events, unstored_events
      for (const r of await ch.query<{ s: string }>(`SELECT DISTINCT toString(stream_seq) AS s FROM ${db}.${table} WHERE ${where(ids)}`)) seqs.add(Number(r.s));
    }
    const deleting: string[] = [];
    for (const { table, where } of tables) {
      const [row] = await ch.query<{ n: string }>(`SELECT count() AS n FROM ${db}.${table} WHERE ${where(ids)}`);
      const n = Number(row.n);
      if (n > 0) {
        await ch.command(`ALTER TABLE ${db}.${table} DELETE WHERE ${where(ids)}`);
        deleting.push(table);
      }
      counts[table] = (counts[table] ?? 0) + n;
    }
    await waitForMutations(t, db, deleting, started);
    for (const { table, where } of tables) {
      const [left] = await ch.query<{ n: string }>(`SELECT count() AS n FROM ${db}.${table} WHERE ${where(ids)}`);
      // Rows inserted while the delete ran (the customer's events still in flight) are not covered by it.
      if (Number(left.n) > 0) throw new VigilError('ERASURE_INCOMPLETE', `${left.n} rows of the customer appeared in ${table} during the erasure; it will run again`);
    }
    seqs.delete(req.streamSeq);
    seqs.delete(0);
    clickhouseMs = now() - started;
    streamMessages = await t.deleteStreamMessages([...seqs].sort((a, b) => a - b));
    streamMs = now() - started - clickhouseMs;
  } finally {
    await ch.command(`DROP TABLE IF EXISTS ${ids}`).catch((err: unknown) => t.log.warn({ err: errorMessage(err) }, 'dropping the erasure id table failed'));
  }
  const redisEntries = req.redisEntries + (await t.forgetInRedis(req.customerId));
  const erasedAt = now();
  const tables = Object.keys(counts).sort();
  const audit: ErasureAuditRow = {
    erased_at: toChDateTime(erasedAt),
    erased_ms: erasedAt,
    request_id: req.requestId,
    requested_at: toChDateTime(req.requestedAt),
    requested_by: req.requestedBy,
    via: req.via,
    subject_hash: t.subjectKey ? keyedHash(t.subjectKey, req.customerId) : '',
    tables,
    rows: tables.map((k) => String(counts[k])),
    redis_entries: redisEntries,
    stream_messages: streamMessages + (req.streamSeq > 0 ? 1 : 0),
    live_state: req.liveState ? 1 : 0,
    duration_ms: erasedAt - started,
  };
  await ch.insert('erasure_audit', [audit]);
  t.log.info(
    { requestId: audit.request_id, subject: audit.subject_hash, rows: tables.reduce((s, k) => s + counts[k], 0), redisEntries, streamMessages: audit.stream_messages, ms: audit.duration_ms, clickhouseMs, streamMs },
    'customer erased',
  );
  return audit;
}

/** ClickHouse runs ALTER ... DELETE in the background (18.16 has no mutations_sync): poll until they are done. */
export async function waitForMutations(t: Pick<ErasureTargets, 'ch' | 'timeoutMs' | 'clock'>, db: string, tables: string[], started: number): Promise<void> {
  if (tables.length === 0) return;
  const clock = t.clock ?? systemClock;
  const now = () => clock.now();
  for (;;) {
    const [row] = await t.ch.query<{ n: string }>('SELECT count() AS n FROM system.mutations WHERE database = {db:String} AND has({tables:Array(String)}, table) AND is_done = 0', { db, tables });
    if (Number(row.n) === 0) return;
    if (now() - started > t.timeoutMs) {
      throw new VigilError('ERASURE_INCOMPLETE', `ClickHouse has not finished deleting the customer from ${tables.join(', ')} after ${Math.round(t.timeoutMs / 1000)} s; the deletes go on, and the erasure will run again`);
    }
    await sleep(clock, POLL_MS);
  }
}

/**
 * The customer's Redis state through its owners' own stores, so the formats stay theirs: active alerts about the
 * customer, their alerts in notification groups, silences naming them, and the consent record. Nothing is found by
 * a key's name: no key Vigil writes is a customer's own (alerts, alerts:p<k>, alerts:cluster, silences, groups,
 * groups:alerts:<group key>, consent:withdrawn, consent:changed_at, processor:<consumer>:heartbeat), and a name that
 * merely contains a short id (`c`) is someone else's state. Returns how many entries went.
 */
export async function forgetInRedis(redis: Redis, config: VigilConfig, customerId: string): Promise<number> {
  const prefix = config.redis.keyPrefix;
  let n = 0;
  // The single processor's alert hash, and in a cluster each partition's (`alerts:p<k>`) and the leader's.
  const hashes = new Set([`${prefix}alerts`]);
  let scan = '0';
  do {
    const [next, keys] = await redis.scan(scan, 'MATCH', `${prefix}alerts:*`, 'COUNT', 1000);
    scan = next;
    for (const k of keys) hashes.add(k);
  } while (scan !== '0');
  for (const hash of hashes) {
    const alerts = new RedisAlertStore(redis, hash);
    await alerts.load();
    for (const [key, rec] of [...alerts.entries()]) {
      if (rec.subject.kind === 'customer' && rec.subject.key === customerId) {
        alerts.delete(key);
        n++;
      }
    }
    await alerts.persist();
    if (!alerts.state().ok) throw new VigilError('REDIS_UNAVAILABLE', alerts.state().detail);
  }
  const notifier = new Notifier(config.alerts.routing, new WriteBehindHash(redis, `${prefix}silences`), new RedisGroupStore(redis, `${prefix}groups`), []);
  await notifier.load();
  n += notifier.forgetSubject('customer', customerId);
  await notifier.persist();
  if (notifier.error) throw new VigilError('REDIS_UNAVAILABLE', notifier.error);
  // The withdrawal's time is part of the same consent record: the entry is counted once.
  const [[, removed] = [null, 0]] = (await redis.multi().srem(consentKey(prefix), customerId).hdel(consentTimesKey(prefix), customerId).exec()) ?? [];
  n += Number(removed);
  return n;
}

/** Stream deletes in flight at once: one request each, so a customer with thousands of events is not thousands of round trips in a row. */
const DELETE_CONCURRENCY = 32;

/** Deletes (and overwrites: erase = true) stream messages; a sequence already gone counts as nothing. */
export async function deleteStreamMessages(jsm: JetStreamManager, stream: string, seqs: number[]): Promise<number> {
  let n = 0;
  let next = 0;
  const worker = async () => {
    while (next < seqs.length) {
      const seq = seqs[next++];
      try {
        if (await jsm.streams.deleteMessage(stream, seq, true)) n++;
      } catch (err) {
        if (!isMessageGone(err)) throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, seqs.length) }, worker));
  return n;
}
