// Every partition's entity buckets folded into one EntityStats from the partials stream (entityPartials.ts writes
// it): each processor's wall shows the cluster's channel, segment and campaign counts, and the leader rules on them.
import type { ConsumerMessages, JsMsg, NatsConnection } from 'nats';
import { categoryOf } from '../contract/event.js';
import type { OverloadCell } from '../contract/frames.js';
import { MINUTE_MS } from '../shared/clock.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { nextTurn, SLICE_MS } from '../shared/slices.js';
import { EntityStats, type EntityKind, type EntitySignal, type SurgeOptions } from '../signals/entityStats.js';
import { FORMAT, PARTIALS_RETAIN_MS, identityOf, isWireRow } from './entityPartials.js';

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
        if (performance.now() - sliceStart > SLICE_MS) {
          await nextTurn();
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
