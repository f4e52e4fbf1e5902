// The durability protocol: when what a slice of the stream has handled becomes durable, and only then acknowledged
// or checkpointed. One module behind small interfaces, so a single processor and a cluster share it and its order
// and its failures are unit-tested with fakes (commit.test.ts).
//
// A slice is one worker: the whole stream, or one partition. Three operations, run one at a time by the caller:
//
// commit() — every slice, every processor.commitIntervalMs:
//   1. per slice, synchronously: read the last handled message (the mark), drain the minute activity to the
//      outputs, take the erasures the pipeline queued (they join the slice's pending ones);
//   2. together: flush ClickHouse (rows in ClickHouse or fsynced in a spill file), persist the shared alert state
//      (the notifier's silences and groups, the leader's alerts) and every slice's alert state in Redis;
//   3. every slice's partials on their stream (after ClickHouse: a partial never runs ahead of what analysts count);
//   4. consent changes in Redis (false is a failure: a restart must not forget a withdrawal around acked events);
//   5. per slice with no erasure pending: acknowledge its mark (AckPolicy.All covers every earlier message).
//   Any failure in 1–4 throws and acknowledges nothing. An ack never throws (a lost one is a later redelivery).
//   The ack is flow control (maxAckPending), not the restart point: a restart replays from the checkpoint, so the
//   lease is not checked here.
//
// checkpoint(slice):
//   1. synchronously: the mark, the drain, the erasures, the state as a blob covering exactly its seq;
//   2. commit() of every slice (the slice's mark is acked there unless an erasure is pending);
//   3. the slice's pending erasures, oldest first, after the rows spilled during an outage are inserted
//      (sink.inserted()); each one done leaves the queue and its erase_request message is noted for deletion;
//   4. in a cluster, the lease fence: a slice whose lease is lost saves nothing, acks nothing more and deletes no
//      request message (its successor replays from the previous checkpoint); this returns, it does not throw;
//   5. the checkpoint is saved (it replaces the previous one, which may hold an erased customer's live state);
//   6. lastCheckpointAt = clock.now(); the mark is acked if the checkpoint covers it; lastCheckpoint recorded;
//   7. the noted erase_request messages are deleted from the stream (only now: before this checkpoint a restart had
//      to replay them); a failure keeps them for the next checkpoint and is logged, not thrown.
//   Any failure in 1–5 throws (the real fence answers false rather than throw): the previous checkpoint stays,
//   lastCheckpointAt is not moved (the slice stays due), an erasure that failed stays first in the queue (the same
//   request object: a retry resumes it) and the slice is not acknowledged past what its last commit made durable.
//
// round() — the processor's loop: checkpoint every slice due (clock.now() - lastCheckpointAt >= the interval),
// or commit() when none is, after each slice's catch-up (catchUp: the derive of what is marked and the rows of the
// minute buckets changed so far, in slices while events keep flowing, so that commit()'s synchronous step 1 is short;
// a checkpoint's prepare() does the same); then the leader's sweep of unpartitioned subjects acks what the flush stored.
import { Histogram } from '../shared/histogram.js';
import type { ErasureRequest } from '../contract/outputs.js';
import type { Clock } from '../shared/clock.js';
import { errorMessage, VigilError } from '../shared/errors.js';

/** A message an ack covers, with every earlier one (AckPolicy.All). */
export interface Mark {
  readonly seq: number;
}

/** The consumer's end: what was handed to the pipeline last, and the acknowledgement. */
export interface Acker<M extends Mark = Mark> {
  readonly lastHandled: M | null;
  /** Never throws: a lost ack only means a later redelivery. */
  ack(mark: M | null): Promise<void>;
}

/** Something whose buffered writes become durable on flush() (ClickHouse, a partition's partials). */
export interface Sink {
  flush(): Promise<void>;
}

/** The ClickHouse sink: flush() lands rows in ClickHouse or a spill file; inserted() waits for the spill too. */
export interface RowSink extends Sink {
  inserted(): Promise<void>;
}

/** Write-behind state in Redis: alerts, silences and groups. */
export interface AlertState {
  persist(): Promise<unknown>;
}

/** Consent changes in Redis: persist() resolves false (with error set) when some did not get there. */
export interface Consent {
  persist(): Promise<boolean>;
  readonly error: string | null;
}

/** The cluster's lease check, read from the lease store itself: false once another processor may own it. */
export interface LeaseFence {
  stillOwns(partition: number): Promise<boolean>;
}

export interface Checkpointer {
  save(blob: Uint8Array): Promise<void>;
}

/** Erasure's I/O: one customer everywhere (ClickHouse, Redis, the stream), and the request messages afterwards. */
export interface Erasures {
  erase(req: ErasureRequest): Promise<unknown>;
  deleteRequestMessages(seqs: number[]): Promise<unknown>;
}

/** The leader's sweep of unpartitioned subjects: acks its dead letters once `flush` has stored them. */
export interface Sweeper {
  commit(flush: () => Promise<unknown>): Promise<void>;
}

export interface CommitLog {
  warn(fields: Record<string, unknown>, message: string): void;
}

/** What the protocol keeps per slice between its runs. */
export class SliceLedger {
  /** Erasures handed over by the pipeline and not carried out yet (each kept as is: a retry resumes it). */
  readonly pendingErasures: ErasureRequest[] = [];
  /** Stream sequences of erase_request messages carried out, deleted after the next checkpoint. */
  readonly requestMessages: number[] = [];
  lastCheckpoint = { seq: 0, bytes: 0, at: 0 };
  constructor(public lastCheckpointAt: number) {}
}

/** One worker as the protocol sees it. */
export interface Slice<M extends Mark = Mark> {
  /** null: the single processor's slice, the whole stream, no lease. */
  readonly partition: number | null;
  readonly source: Acker<M>;
  readonly alertStore: AlertState;
  /** In a cluster, the partition's channel, segment and campaign buckets. */
  readonly partials: Sink | null;
  readonly checkpoints: Checkpointer;
  readonly ledger: SliceLedger;
  /** Synchronous: the minute activity to the outputs; returns the erasures the pipeline queued since the last call. */
  drain(): ErasureRequest[];
  /**
   * Synchronous: the live state as a blob covering exactly `seq`, the highest stream sequence it has taken in; the
   * blob may be a reused buffer, read until `release()` (called once the checkpoint is stored or abandoned).
   */
  snapshot(): { seq: number; blob: Uint8Array; release?: () => void };
  /**
   * Before the checkpoint's synchronous steps, work that can be spread over turns of the event loop while events keep
   * flowing (the owed snapshot rows), so that drain() and snapshot() hold the loop for less.
   */
  prepare?(): Promise<void>;
  /**
   * Before drain(): in slices, while events flow, what drain() would otherwise do in one stretch (the derive, the
   * activity rows); null when it was done at once (then no turn of the loop comes between the caller and drain()).
   */
  catchUp?(): Promise<void> | null;
}

export interface CommitDeps<M extends Mark = Mark> {
  clock: Clock;
  /** The slices now (one per partition held, or the single one). */
  slices(): Slice<M>[];
  sink: RowSink;
  /** Alert state besides the slices': the notifier's, and the leader's when this processor leads. */
  sharedState(): (AlertState | null | undefined)[];
  consent: Consent;
  erasures: Erasures;
  /** null or a fence that is absent: no lease to check (a single processor). */
  fence(): LeaseFence | null;
  /** The leader's sweeper when this processor leads. */
  sweeper(): Sweeper | null;
  checkpointIntervalMs: number;
  log: CommitLog;
}

export class Committer<M extends Mark = Mark> {
  /** How long each commit took, failed ones included (vigil_commit_duration_seconds). */
  readonly durations = new Histogram();

  constructor(private readonly d: CommitDeps<M>) {}

  /** Makes every slice's handled effects durable, then acks each slice with no erasure pending (see the top). */
  async commit(): Promise<void> {
    const started = performance.now();
    try {
      await this.commitOnce();
    } finally {
      this.durations.observeMs(performance.now() - started);
    }
  }

  private async commitOnce(): Promise<void> {
    const { sink, consent } = this.d;
    const list = this.d.slices();
    const marks = list.map((s) => {
      const mark = s.source.lastHandled;
      s.ledger.pendingErasures.push(...s.drain());
      return mark;
    });
    await Promise.all([sink.flush(), ...this.d.sharedState().map((a) => a?.persist()), ...list.map((s) => s.alertStore.persist())]);
    // After ClickHouse has the rows: a partial never runs ahead of what analysts can count.
    await Promise.all(list.map((s) => s.partials?.flush()));
    // A consent change must be in Redis before the events around it are acknowledged: else a restart forgets it.
    if (!(await consent.persist())) throw new VigilError('REDIS_UNAVAILABLE', consent.error ?? 'consent changes not persisted');
    await Promise.all(list.map((s, i) => (s.ledger.pendingErasures.length === 0 ? s.source.ack(marks[i]) : undefined)));
  }

  /** Commits, carries out the slice's erasures, and stores its checkpoint unless its lease is lost (see the top). */
  async checkpoint(slice: Slice<M>): Promise<void> {
    const { ledger } = slice;
    await slice.prepare?.();
    const mark = slice.source.lastHandled;
    ledger.pendingErasures.push(...slice.drain());
    const { seq, blob, release } = slice.snapshot();
    try {
      await this.commit();
      await this.runErasures(slice);
      const fence = this.d.fence();
      if (slice.partition !== null && fence && !(await fence.stillOwns(slice.partition))) {
        this.d.log.warn({ partition: slice.partition }, 'lease lost before the checkpoint: not saved (the new owner replays from the previous one)');
        return;
      }
      // The checkpoint replaces the previous one, which may still hold an erased customer's live state.
      await slice.checkpoints.save(blob);
    } finally {
      release?.();
    }
    ledger.lastCheckpointAt = this.d.clock.now();
    if (mark && mark.seq <= seq) await slice.source.ack(mark);
    ledger.lastCheckpoint = { seq, bytes: blob.byteLength, at: ledger.lastCheckpointAt };
    // Only now may an erase_request leave the stream: before this checkpoint a restart had to replay it.
    if (ledger.requestMessages.length > 0) {
      const seqs = ledger.requestMessages.splice(0);
      await this.d.erasures.deleteRequestMessages(seqs).catch((err: unknown) => {
        ledger.requestMessages.push(...seqs);
        this.d.log.warn({ err: errorMessage(err) }, 'deleting erase_request messages from the stream failed; retrying at the next checkpoint');
      });
    }
  }

  /** Checkpoints every slice, one after the other (checkpointNow, and a single processor's stop). */
  async checkpointAll(): Promise<void> {
    for (const s of this.d.slices()) await this.checkpoint(s);
  }

  /** One turn of the processor's loop: the due checkpoints, or a commit; then the leader's sweep. */
  async round(): Promise<void> {
    const due = this.d.slices().filter((s) => this.d.clock.now() - s.ledger.lastCheckpointAt >= this.d.checkpointIntervalMs);
    for (const s of due) await this.checkpoint(s);
    if (due.length === 0) {
      // Not inside commit(): a checkpoint's commit must drain right after its snapshot, with no event between.
      const catchingUp = this.d.slices().map((s) => s.catchUp?.() ?? null).filter((p) => p !== null);
      if (catchingUp.length > 0) await Promise.all(catchingUp);
      await this.commit();
    }
    await this.d.sweeper()?.commit(() => this.d.sink.flush());
  }

  /**
   * After the rows handled so far are in ClickHouse: erases each requested customer everywhere, oldest first. A
   * failure leaves it and the rest pending and fails the checkpoint, so nothing is acknowledged before it is done.
   */
  private async runErasures(slice: Slice<M>): Promise<void> {
    const { pendingErasures, requestMessages } = slice.ledger;
    // flush() may have left rows in spill files during an outage: they must land before the delete, not after it.
    if (pendingErasures.length > 0) await this.d.sink.inserted();
    while (pendingErasures.length > 0) {
      const req = pendingErasures[0];
      await this.d.erasures.erase(req);
      if (req.streamSeq > 0) requestMessages.push(req.streamSeq);
      pendingErasures.shift();
    }
  }
}
