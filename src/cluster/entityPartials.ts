// Channel, segment and campaign counts across partitions: each partition publishes the cumulative minute buckets it
// changed to a JetStream stream, and every processor folds the whole stream into one EntityStats, counting each once.
import { RetentionPolicy, StorageType, nanos, type ConsumerMessages, type JetStreamManager, type JsMsg, type NatsConnection } from 'nats';
import { categoryOf } from '../contract/event.js';
import type { EntityActivityRecord } from '../contract/outputs.js';
import { MINUTE_MS } from '../shared/clock.js';
import type { Logger } from '../shared/logger.js';
import { VigilError, errorMessage } from '../shared/errors.js';
import { isStreamNotFound } from '../shared/natsErrors.js';
import { EntityStats, type EntityKind, type EntitySignal, type SurgeOptions } from '../signals/entityStats.js';
import type { OverloadCell } from '../contract/frames.js';

const MiB = 1024 * 1024;
/** The longest entity window (24 h) and an hour to spare: buckets older than this count toward nothing. */
export const PARTIALS_RETAIN_MS = 25 * 3_600_000;
/** Wire format version: a reader skips messages of a format it does not know instead of misreading them. */
const FORMAT = 1;
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
  try {
    const info = await jsm.streams.info(s.stream);
    const c = info.config;
    if (c.subjects.join() !== wanted.subjects.join() || c.max_age !== wanted.max_age || c.num_replicas !== wanted.num_replicas) await jsm.streams.update(s.stream, { ...c, ...wanted });
  } catch (err) {
    if (!isStreamNotFound(err)) throw err;
    await jsm.streams.add({ name: s.stream, retention: RetentionPolicy.Limits, storage: StorageType.File, ...wanted });
  }
}

/** One bucket on the wire: [kind, key, eventType, minuteMs, events, overloaded, writer as a decimal string]. */
type WireRow = [string, string, string, number, number, number, string];

/** The identity of a bucket across republishing and replays: a later row for it carries a cumulative count. */
function identityOf(kind: string, key: string, eventType: string, minuteMs: number, writer: string): string {
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

export interface EntityCombinerOptions {
  nc: NatsConnection;
  stream: string;
  /** Reads `<subjectPrefix>.entities.>`. */
  subjectPrefix: string;
  /** As the pipelines' EntityStats: config.signals.surge and config.windows.maxEntities. */
  surge: SurgeOptions;
  maxEntities?: number;
  log?: Logger;
  /** Bucket identities are remembered this long behind the newest minute seen; older rows are ignored. */
  retainMs?: number;
}

export interface CombinerCounters {
  /** Stream messages read. */
  messages: number;
  /** Bucket rows that added something. */
  bucketsFolded: number;
  /** Bucket rows already counted (republished, replayed, or a second copy). */
  duplicatesIgnored: number;
  /** Rows behind the retention (older than retainMs before the newest minute). */
  tooOld: number;
  /** Messages or rows that were not partials of a known format. */
  malformed: number;
}

export interface EntityRef {
  kind: EntityKind;
  key: string;
}

/** A bucket's largest counts seen so far. */
interface Seen {
  events: number;
  overloaded: number;
}

/**
 * Every partition's entity buckets folded into one EntityStats, read from the partials stream with an ordered
 * consumer. A bucket is (kind, key, event type, minute, writer) and only the increase over the largest count seen
 * for it is added, so a republished or replayed bucket counts once.
 */
export class EntityCombiner {
  readonly stats: EntityStats;
  readonly counters: CombinerCounters = { messages: 0, bucketsFolded: 0, duplicatesIgnored: 0, tooOld: 0, malformed: 0 };
  private readonly seen = new Map<string, Seen>();
  /** Identities by minute, so forgetting a minute visits only its own buckets. */
  private readonly byMinute = new Map<number, string[]>();
  private newestMinuteMs = Number.NEGATIVE_INFINITY;
  private readonly retainMs: number;
  private readonly listeners = new Set<(changed: EntityRef[]) => void>();
  private messages: ConsumerMessages | null = null;
  private loop: Promise<void> | null = null;
  private caught = false;
  /** Messages the stream held for us at start; caught up once that many are read (or one says nothing is pending). */
  private target = 0;
  private readonly onCaughtUp: { resolve: () => void; reject: (e: unknown) => void; promise: Promise<void> };

  constructor(private readonly o: EntityCombinerOptions) {
    this.stats = new EntityStats(o.surge, o.maxEntities);
    this.retainMs = o.retainMs ?? PARTIALS_RETAIN_MS;
    let resolve!: () => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
    this.onCaughtUp = { resolve, reject, promise };
  }

  /** Whether everything the stream held at start has been folded in. */
  get caughtUp(): boolean {
    return this.caught;
  }

  /** Bucket identities held (bounded by the retention). */
  get identities(): number {
    return this.seen.size;
  }

  /** Starts reading from the stream's first message; resolves once caught up with what it held at start. */
  async start(): Promise<void> {
    if (this.loop) return this.onCaughtUp.promise;
    const consumer = await this.o.nc.jetstream().consumers.get(this.o.stream, { filterSubjects: `${this.o.subjectPrefix}.entities.>` });
    const messages = await consumer.consume({ max_messages: 64 });
    this.messages = messages;
    // The consumer as created: num_pending is what the stream held for this filter at that moment.
    this.target = (await consumer.info(true)).num_pending;
    if (this.target === 0) this.markCaughtUp();
    this.loop = this.run(messages);
    return this.onCaughtUp.promise;
  }

  async stop(): Promise<void> {
    this.messages?.stop();
    await this.loop;
    this.messages = null;
  }

  signal(kind: EntityKind, key: string, nowMin: number): EntitySignal | null {
    return this.stats.signal(kind, key, nowMin);
  }

  overloadCells(nowMin: number): OverloadCell[] {
    return this.stats.overloadCells(nowMin);
  }

  all(nowMin: number): EntitySignal[] {
    return this.stats.all(nowMin);
  }

  /** Called after each stream message with the entities it changed. Returns an unsubscribe. */
  onChange(listener: (changed: EntityRef[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async run(messages: ConsumerMessages): Promise<void> {
    let sliceStart = performance.now();
    try {
      for await (const m of messages) {
        this.fold(m);
        if (!this.caught && (this.counters.messages >= this.target || m.info.pending === 0)) this.markCaughtUp();
        // A long catch-up must not hold the event loop: timers, the wall and leases run in between.
        if (performance.now() - sliceStart > 5) {
          await new Promise((r) => setImmediate(r));
          sliceStart = performance.now();
        }
      }
    } catch (err) {
      this.o.log?.error({ err: errorMessage(err), stream: this.o.stream }, 'reading the partials stream stopped');
      this.onCaughtUp.reject(err);
    }
  }

  private markCaughtUp(): void {
    this.caught = true;
    this.onCaughtUp.resolve();
    this.o.log?.info({ messages: this.counters.messages, buckets: this.counters.bucketsFolded }, 'combined entity statistics caught up with the partials stream');
  }

  private fold(m: JsMsg): void {
    this.counters.messages++;
    let body: { v?: unknown; r?: unknown };
    try {
      body = m.json<{ v?: unknown; r?: unknown }>();
    } catch {
      this.counters.malformed++;
      return;
    }
    if (body?.v !== FORMAT || !Array.isArray(body.r)) {
      this.counters.malformed++;
      return;
    }
    const changed = new Map<string, EntityRef>();
    for (const row of body.r as unknown[]) {
      if (!isWireRow(row)) {
        this.counters.malformed++;
        continue;
      }
      const [kind, key, eventType, minuteMs, events, overloaded, writer] = row;
      if (this.foldRow(kind as EntityKind, key, eventType, minuteMs, events, overloaded, writer)) changed.set(`${kind}\u0000${key}`, { kind: kind as EntityKind, key });
    }
    if (changed.size > 0) {
      const list = [...changed.values()];
      for (const l of this.listeners) l(list);
    }
  }

  /** Adds a row's increase over its bucket's largest counts; true when it added anything. */
  private foldRow(kind: EntityKind, key: string, eventType: string, minuteMs: number, events: number, overloaded: number, writer: string): boolean {
    if (minuteMs > this.newestMinuteMs) this.advance(minuteMs);
    if (minuteMs < this.newestMinuteMs - this.retainMs) {
      this.counters.tooOld++;
      return false;
    }
    const id = identityOf(kind, key, eventType, minuteMs, writer);
    let seen = this.seen.get(id);
    if (seen === undefined) {
      this.seen.set(id, (seen = { events: 0, overloaded: 0 }));
      let list = this.byMinute.get(minuteMs);
      if (list === undefined) this.byMinute.set(minuteMs, (list = []));
      list.push(id);
    }
    const addEvents = Math.max(0, events - seen.events);
    const addOverloaded = Math.max(0, overloaded - seen.overloaded);
    if (addEvents === 0 && addOverloaded === 0) {
      this.counters.duplicatesIgnored++;
      return false;
    }
    seen.events += addEvents;
    seen.overloaded += addOverloaded;
    // As the pipeline's recordEntities: the event type's category decides what the events count toward.
    const category = categoryOf(eventType);
    this.stats.addCounts(kind, key, Math.floor(minuteMs / MINUTE_MS), {
      events: addEvents,
      touches: category === 'touch' ? addEvents : 0,
      negatives: category === 'negative' ? addEvents : 0,
      overloaded: addOverloaded,
    });
    this.counters.bucketsFolded++;
    return true;
  }

  /** A newer minute: identities that fell behind the retention are forgotten, whole minutes at a time. */
  private advance(minuteMs: number): void {
    this.newestMinuteMs = minuteMs;
    const horizon = minuteMs - this.retainMs;
    for (const [minute, ids] of this.byMinute) {
      if (minute >= horizon) continue;
      for (const id of ids) this.seen.delete(id);
      this.byMinute.delete(minute);
    }
  }
}

function isWireRow(row: unknown): row is WireRow {
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
