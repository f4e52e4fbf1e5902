// The JetStream edge: the EVENTS stream, a replay of what follows a checkpoint, and a durable consumer that
// feeds the pipeline from there on. The stream is the log; a checkpoint says how far the state has read it.
import { AckPolicy, DeliverPolicy, nanos, type Consumer, type ConsumerMessages, type JetStreamManager, type JsMsg, type NatsConnection } from 'nats';
import type { VigilConfig } from '../config/schema.js';
import type { Logger } from '../shared/logger.js';
import { every, systemClock, type Cancel, type Scheduler } from '../shared/clock.js';
import { errorMessage } from '../shared/errors.js';
import { SLICE_MS, type Precedence } from '../shared/slices.js';
import { ensureStreamConfig } from '../shared/streams.js';
import { streamSeqOf } from './ackSubject.js';
import { SlicedIntake } from './intake.js';
import type { InboundMessage } from '../contract/pipeline.js';

export interface StreamSettings {
  stream: string;
  subjectPrefix: string;
  maxAgeMs: number;
  maxBytes: number;
  duplicateWindowMs: number;
  /** Copies on a NATS cluster (1 on a single server). */
  replicas?: number;
}

/** Creates the stream when missing, or brings its subjects and retention in line with the config. */
export async function ensureStream(jsm: JetStreamManager, s: StreamSettings, log: Logger): Promise<void> {
  const wanted = {
    subjects: [`${s.subjectPrefix}.>`],
    max_age: nanos(s.maxAgeMs),
    max_bytes: s.maxBytes,
    duplicate_window: nanos(Math.min(s.duplicateWindowMs, s.maxAgeMs || s.duplicateWindowMs)),
    num_replicas: s.replicas ?? 1,
  };
  const outcome = await ensureStreamConfig(
    jsm,
    s.stream,
    wanted,
    (c) => c.subjects.join() !== wanted.subjects.join() || c.max_age !== wanted.max_age || c.max_bytes !== wanted.max_bytes || c.duplicate_window !== wanted.duplicate_window || c.num_replicas !== wanted.num_replicas,
  );
  if (outcome === 'updated') log.info({ stream: s.stream, ...wanted }, 'stream updated to the configured retention');
  else if (outcome === 'created') log.info({ stream: s.stream, subjects: wanted.subjects }, 'stream created');
}

export interface SourceDeps {
  nc: NatsConnection;
  config: VigilConfig['nats'];
  log: Logger;
  handle(msg: InboundMessage): void;
  /** True while outputs are full: consumption pauses until it turns false (backpressure, not dropping). */
  backpressure(): boolean;
  now(): number;
  /** Sets the pending refresh and the backpressure re-checks; the system clock when absent. */
  clock?: Scheduler;
  /** Work that callers wait on and the consumer lets go first (budget batches); the process's own when absent. */
  precedence?: Precedence;
  /** How long the consumer may hold the event loop before it yields (SLICE_MS when absent; 0 yields at every message). */
  sliceMs?: number;
}

/** How often a paused consumer asks again whether the outputs have room. */
const BACKPRESSURE_RECHECK_MS = 50;
/** How often the consumer's pending count is read from the server. */
const PENDING_REFRESH_MS = 2_000;

/**
 * How much a consumer asks for: up to `fetchBatch` messages outstanding, asked again when a quarter of them is left.
 * nats.js asks again at three quarters, a pull request of a quarter batch each time: at 35,000 events/s that was 140
 * requests a second, each a socket write on the processor's thread (and a wake-up of nats-server on a shared core).
 * A quarter left is still hundreds of messages of work while the next pull's round trip runs.
 */
export function pullSizes(fetchBatch: number): { max_messages: number; threshold_messages: number } {
  return { max_messages: fetchBatch, threshold_messages: Math.max(1, Math.floor(fetchBatch / 4)) };
}

/** The first and last sequence the stream holds now. */
export async function streamBounds(nc: NatsConnection, stream: string): Promise<{ first: number; last: number }> {
  const info = await (await nc.jetstreamManager()).streams.info(stream);
  return { first: info.state.first_seq, last: info.state.last_seq };
}

/**
 * Reads the stream from `fromSeq` to `toSeq` with an ordered consumer (no acknowledgements, no redelivery) and
 * hands every message to `handle`; how a restart rebuilds the state the checkpoint did not cover.
 */
export async function replay(d: SourceDeps, fromSeq: number, toSeq: number, filterSubject?: string): Promise<number> {
  if (toSeq < fromSeq) return 0;
  if (filterSubject !== undefined) return replayFiltered(d, fromSeq, toSeq, filterSubject);
  const consumer = await d.nc.jetstream().consumers.get(d.config.stream, { opt_start_seq: fromSeq, deliver_policy: DeliverPolicy.StartSequence });
  return feed(d, consumer, toSeq, Number.POSITIVE_INFINITY);
}

/**
 * The replay of one partition's subject: an ephemeral consumer filtered on it says, when created, how many of its
 * messages the stream holds from `fromSeq` on; exactly those are read (stopping early at the first past `toSeq`).
 * Counting rather than watching `pending` on each message: an ordered consumer's fetches reported 0 pending while
 * thousands were left, and the replay stopped short (tests/integration/replay.test.ts).
 */
async function replayFiltered(d: SourceDeps, fromSeq: number, toSeq: number, filterSubject: string): Promise<number> {
  const jsm = await d.nc.jetstreamManager();
  const info = await jsm.consumers.add(d.config.stream, {
    ack_policy: AckPolicy.None,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: fromSeq,
    filter_subject: filterSubject,
    // Removed by the server if this process dies mid-replay.
    inactive_threshold: nanos(60_000),
    mem_storage: true,
  });
  try {
    if (info.num_pending === 0) return 0;
    const consumer = await d.nc.jetstream().consumers.get(d.config.stream, info.name);
    return await feed(d, consumer, toSeq, info.num_pending);
  } finally {
    await jsm.consumers.delete(d.config.stream, info.name).catch(() => undefined);
  }
}

/** Hands a replay's messages to the pipeline up to `toSeq` (at most `count` of them), yielding to the event loop. */
async function feed(d: SourceDeps, consumer: Consumer, toSeq: number, count: number): Promise<number> {
  let n = 0;
  let done!: (err?: unknown) => void;
  const finished = new Promise<void>((resolve, reject) => (done = (err) => (err === undefined ? resolve() : reject(err))));
  const intake = new SlicedIntake({
    take: (m) => {
      const seq = streamSeqOf(m);
      if (seq <= toSeq) {
        d.handle({ subject: m.subject, data: m.data, streamSeq: seq, receivedAt: d.now() });
        n++;
        if (n < count && seq < toSeq) return true;
      }
      done();
      return false;
    },
    backpressure: () => d.backpressure(),
    recheckMs: BACKPRESSURE_RECHECK_MS,
    clock: d.clock ?? systemClock,
    sliceMs: SLICE_MS,
    // A replay catches up state that checks will read: it does not wait for budget batches.
    precedence: null,
    onError: done,
  });
  const messages = await consumer.consume({ ...pullSizes(d.config.fetchBatch), callback: intake.push });
  // The consumer may end first (an error ends the replay with it, as the iterator's throw did).
  void messages.closed().then((err) => done(err ?? undefined));
  try {
    await finished;
  } finally {
    intake.stop();
    messages.stop();
  }
  return n;
}

/** Which durable consumer a source uses and what it reads: the whole stream, or one partition's subject. */
export interface ConsumerTarget {
  durable: string;
  filterSubject: string;
}

/**
 * A durable pull consumer with AckPolicy.All, (re)created at start to deliver from the sequence after what the
 * restored state and the replay cover, so nothing waits for ack_wait after a crash. Acknowledgements follow
 * checkpoints: one ack of the last message a checkpoint covers acknowledges every message before it.
 */
export class JetStreamSource {
  private messages: ConsumerMessages | null = null;
  private intake: SlicedIntake | null = null;
  private running = false;
  private loop: Promise<void> | null = null;
  private pendingCount = 0;
  private stopRefresh: Cancel | null = null;
  private lastAckedSeq = 0;
  /** The last message handed to the pipeline. */
  lastHandled: JsMsg | null = null;
  /** lastHandled's stream sequence (0 before any). */
  private lastHandledSeq = 0;
  handled = 0;

  private readonly target: ConsumerTarget;
  private readonly clock: Scheduler;

  constructor(
    private readonly d: SourceDeps,
    target?: ConsumerTarget,
  ) {
    this.target = target ?? { durable: d.config.consumer, filterSubject: `${d.config.subjectPrefix}.>` };
    this.clock = d.clock ?? systemClock;
  }

  /** Messages in the stream not yet delivered to this consumer, refreshed every 2 s. */
  pending(): number {
    return this.pendingCount;
  }

  get consuming(): boolean {
    return this.running;
  }

  async start(startSeq: number): Promise<void> {
    const { nc, config } = this.d;
    const jsm = await nc.jetstreamManager();
    const { durable, filterSubject } = this.target;
    await jsm.consumers.delete(config.stream, durable).catch(() => undefined);
    await jsm.consumers.add(config.stream, {
      durable_name: durable,
      ack_policy: AckPolicy.All,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: Math.max(1, startSeq),
      ack_wait: nanos(config.ackWaitMs),
      max_ack_pending: config.maxAckPending,
      filter_subject: filterSubject,
    });
    const consumer = await nc.jetstream().consumers.get(config.stream, durable);
    // Buffered messages are taken in slices of the event loop, and not while the outputs are full (backpressure,
    // not dropping: JetStream keeps the rest for us) or a budget batch goes first (sources/intake.ts).
    const intake = new SlicedIntake({
      take: (m) => this.take(m),
      backpressure: () => this.d.backpressure(),
      recheckMs: BACKPRESSURE_RECHECK_MS,
      clock: this.clock,
      sliceMs: this.d.sliceMs ?? SLICE_MS,
      precedence: this.d.precedence,
      // A bug, not bad input (the pipeline dead-letters that): consumption stops where it is, and readiness says so.
      onError: (err) => {
        this.d.log.error({ err: errorMessage(err) }, 'handling a message failed: the consumer stopped');
        this.running = false;
        this.messages?.stop();
      },
    });
    this.intake = intake;
    this.running = true;
    const messages = await consumer.consume({ ...pullSizes(config.fetchBatch), callback: intake.push });
    this.messages = messages;
    this.loop = messages.closed().then((err) => {
      if (err && this.running) this.d.log.error({ err: errorMessage(err) }, 'the consumer ended');
    });
    const refresh = async () => {
      try {
        // info(false): the server's current figure, not the copy cached when the consumer was looked up
        this.pendingCount = (await consumer.info(false)).num_pending;
      } catch {
        // a NATS hiccup leaves the last known figure; the readiness check reports the connection itself
      }
    };
    await refresh();
    this.stopRefresh = every(this.clock, PENDING_REFRESH_MS, () => void refresh());
    this.d.log.info({ stream: config.stream, consumer: durable, filterSubject, startSeq }, 'consuming');
  }

  /** One message to the pipeline, in the order the stream delivered it (the intake's `take`). */
  private take(m: JsMsg): boolean {
    if (!this.running) return false;
    const seq = streamSeqOf(m);
    this.d.handle({ subject: m.subject, data: m.data, streamSeq: seq, receivedAt: this.d.now() });
    // A redelivered older message must not pull the acknowledgement point back.
    if (seq > this.lastHandledSeq) {
      this.lastHandled = m;
      this.lastHandledSeq = seq;
    }
    this.handled++;
    return true;
  }

  /** Acknowledges `msg` and, by AckPolicy.All, everything before it; a lost ack only means a later redelivery. */
  async ack(msg: JsMsg | null): Promise<void> {
    if (!msg || msg.seq <= this.lastAckedSeq) return;
    try {
      await msg.ackAck({ timeout: 5_000 });
      this.lastAckedSeq = msg.seq;
    } catch (err) {
      this.d.log.warn({ seq: msg.seq, err: errorMessage(err) }, 'ack not confirmed; the next checkpoint acknowledges again');
    }
  }

  /** Stops pulling; the message in hand is finished first. */
  async stop(): Promise<void> {
    this.running = false;
    this.stopRefresh?.();
    this.intake?.stop();
    this.messages?.stop();
    await this.loop?.catch(() => undefined);
  }
}
