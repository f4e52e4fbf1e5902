// Channel, segment and campaign counts across partitions, the partition's side: each partition publishes the
// cumulative minute buckets it changed to a JetStream stream (the stream and its wire format are here too), and
// every processor folds the whole stream into one EntityStats (entityCombiner.ts), counting each once.
import { nanos, type JetStreamManager, type NatsConnection } from 'nats';
import type { EntityActivityRecord } from '../contract/outputs.js';
import type { Logger } from '../shared/logger.js';
import { VigilError, errorMessage } from '../shared/errors.js';
import { ensureStreamConfig } from '../shared/streams.js';
import type { EntityKind } from '../signals/entityStats.js';

const MiB = 1024 * 1024;
/** The longest entity window (24 h) and an hour to spare: buckets older than this count toward nothing. */
export const PARTIALS_RETAIN_MS = 25 * 3_600_000;
/** Wire format version: a reader skips messages of a format it does not know instead of misreading them. */
export const FORMAT = 1;
const KINDS: ReadonlySet<string> = new Set<EntityKind>(['channel', 'segment', 'campaign']);

export interface PartialsStreamSettings {
  stream: string;
  /** Partitions publish on `<subjectPrefix>.entities.<partition>`; the stream captures `<subjectPrefix>.>`. */
  subjectPrefix: string;
  maxAgeMs: number;
  /** Copies on a NATS cluster (1 on a single server). */
  replicas?: number;
}

/** Creates the partials stream when missing, or brings its subjects and max age in line with the settings. */
export async function ensurePartialsStream(jsm: JetStreamManager, s: PartialsStreamSettings): Promise<void> {
  const wanted = { subjects: [`${s.subjectPrefix}.>`], max_age: nanos(s.maxAgeMs), num_replicas: s.replicas ?? 1 };
  await ensureStreamConfig(jsm, s.stream, wanted, (c) => c.subjects.join() !== wanted.subjects.join() || c.max_age !== wanted.max_age || c.num_replicas !== wanted.num_replicas);
}

/** One bucket on the wire: [kind, key, eventType, minuteMs, events, overloaded, writer as a decimal string]. */
export type WireRow = [string, string, string, number, number, number, string];

/** The identity of a bucket across republishing and replays: a later row for it carries a cumulative count. */
export function identityOf(kind: string, key: string, eventType: string, minuteMs: number, writer: string): string {
  return `${kind}\u0000${key}\u0000${eventType}\u0000${minuteMs}\u0000${writer}`;
}

export interface PartialsPublisherOptions {
  nc: NatsConnection;
  /** `<subjectPrefix>.entities.<partition>`. */
  subject: string;
  log?: Logger;
  /** Records held while publishing fails; above it only the latest row per bucket is kept, then the newest minutes. */
  maxPending?: number;
  /** Largest message; defaults to the server's max_payload (at most 1 MiB) less a margin. */
  maxMessageBytes?: number;
  publishTimeoutMs?: number;
}

/**
 * One partition's side: collects the entity buckets the pipeline drains at a commit and publishes them with the
 * commit, acknowledged by JetStream. What fails to publish stays for the next flush.
 */
export class PartialsPublisher {
  /** Rows acknowledged by the stream. */
  published = 0;
  messages = 0;
  failures = 0;
  /** Rows given up above maxPending (only after keeping the latest row per bucket was not enough). */
  dropped = 0;
  private pending: EntityActivityRecord[] = [];
  private flushing: Promise<void> = Promise.resolve();
  private readonly maxPending: number;

  constructor(private readonly o: PartialsPublisherOptions) {
    this.maxPending = Math.max(2, o.maxPending ?? 200_000);
  }

  /** Rows waiting for the next flush. */
  get pendingRows(): number {
    return this.pending.length;
  }

  collect(r: EntityActivityRecord): void {
    this.pending.push(r);
    if (this.pending.length > this.maxPending) this.compact();
  }

  /**
   * Publishes every collected row, in messages under the size limit, each acknowledged by the stream. Rejects when a
   * publish fails (the rows not acknowledged stay collected), so a commit does not checkpoint past buckets that
   * never reached the stream. Calls run one after another.
   */
  flush(): Promise<void> {
    const run = this.flushing.then(() => this.publishPending());
    this.flushing = run.catch(() => undefined);
    return run;
  }

  private async publishPending(): Promise<void> {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    const js = this.o.nc.jetstream();
    let sent = 0;
    try {
      for (const chunk of this.encode(batch)) {
        await js.publish(this.o.subject, chunk.data, { timeout: this.o.publishTimeoutMs ?? 5_000 });
        sent = chunk.end;
        this.published += chunk.rows;
        this.messages++;
      }
    } catch (err) {
      this.failures++;
      // Older rows first, so the stream keeps each bucket's counts in the order they grew.
      this.pending = batch.slice(sent).concat(this.pending);
      if (this.pending.length > this.maxPending) this.compact();
      this.o.log?.warn({ err: errorMessage(err), subject: this.o.subject, kept: this.pending.length }, 'publishing entity partials failed; kept for the next flush');
      throw new VigilError('NATS_UNAVAILABLE', `publishing entity partials on ${this.o.subject} failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Compact JSON in messages under the limit; `end` is the index after a message's last row. */
  private encode(batch: EntityActivityRecord[]): { data: Uint8Array; end: number; rows: number }[] {
    const limit = this.o.maxMessageBytes ?? Math.min(this.o.nc.info?.max_payload ?? MiB, MiB) - 4096;
    const head = `{"v":${FORMAT},"r":[`;
    const tail = ']}';
    const out: { data: Uint8Array; end: number; rows: number }[] = [];
    let rows: string[] = [];
    let bytes = head.length + tail.length;
    const close = (end: number) => {
      if (rows.length > 0) out.push({ data: Buffer.from(head + rows.join(',') + tail), end, rows: rows.length });
      rows = [];
      bytes = head.length + tail.length;
    };
    batch.forEach((r, i) => {
      const row = JSON.stringify([r.kind, r.key, r.eventType, r.minuteMs, r.events, r.overloaded, String(r.writer)] satisfies WireRow);
      const size = Buffer.byteLength(row) + 1;
      if (bytes + size > limit) close(i);
      if (bytes + size > limit) {
        // A single row over the limit (a key of a megabyte) cannot be published at all.
        this.dropped++;
        return;
      }
      rows.push(row);
      bytes += size;
    });
    close(batch.length);
    return out;
  }

  /** Bounds what a long outage holds: a bucket's later cumulative row supersedes its earlier ones; then newest minutes. */
  private compact(): void {
    const latest = new Map<string, EntityActivityRecord>();
    for (const r of this.pending) {
      const id = identityOf(r.kind, r.key, r.eventType, r.minuteMs, String(r.writer));
      const seen = latest.get(id);
      if (seen === undefined || r.events >= seen.events) {
        latest.delete(id); // re-inserted last: the map keeps the order rows were last updated in
        latest.set(id, r);
      }
    }
    let kept = [...latest.values()];
    const keep = Math.floor(this.maxPending / 2); // room to collect before compacting again
    if (kept.length > keep) {
      const newestFirst = [...kept].sort((a, b) => b.minuteMs - a.minuteMs);
      const cut = newestFirst[keep - 1].minuteMs;
      const before = kept.length;
      kept = kept.filter((r) => r.minuteMs >= cut).slice(-keep);
      this.dropped += before - kept.length;
      this.o.log?.warn({ subject: this.o.subject, dropped: before - kept.length }, 'entity partials over their bound: the oldest minutes were dropped');
    }
    this.pending = kept;
  }
}

/** A row of a known kind with every field of its type. */
export function isWireRow(row: unknown): row is WireRow {
  return (
    Array.isArray(row) &&
    row.length === 7 &&
    typeof row[0] === 'string' &&
    KINDS.has(row[0]) &&
    typeof row[1] === 'string' &&
    typeof row[2] === 'string' &&
    Number.isFinite(row[3]) &&
    Number.isFinite(row[4]) &&
    Number.isFinite(row[5]) &&
    typeof row[6] === 'string'
  );
}
