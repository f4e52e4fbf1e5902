// A partition's consumer: one pipeline and the slice of the stream it reads, the whole stream for a single processor
// or one partition's subject in a cluster (docs/scale-out.md). Its live state is restored from its own checkpoint and
// replayed from the stream after it; the runtime (processor.ts) owns the I/O shared by every consumer and runs their
// commits through commit.ts, for which a consumer is one slice.
import type { JsMsg, NatsConnection } from 'nats';
import type { VigilConfig } from '../config/schema.js';
import type { ErasureRequest } from '../contract/outputs.js';
import type { SchedulingClock } from '../shared/clock.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { BlobBuffer, packSnapshot, snapshotBytes } from '../shared/snapshotCodec.js';
import { JetStreamSource, replay, streamBounds, type ConsumerTarget, type SourceDeps } from '../sources/jetstream.js';
import type { InboundMessage } from '../contract/pipeline.js';
import type { Pipeline } from '../pipeline.js';
import type { PurchaseModelSet } from '../signals/purchaseModel.js';
import type { CheckpointStore } from '../state/checkpointStore.js';
import type { RedisAlertStore } from '../alerts/redisAlertStore.js';
import { SliceLedger, type Sink, type Slice } from './commit.js';
import { catchUpAround, payOwedAhead } from './deriveCatchUp.js';

export interface PartitionConsumerDeps {
  /** null: the single processor's consumer, reading the whole stream. */
  partition: number | null;
  nc: NatsConnection;
  config: VigilConfig;
  clock: SchedulingClock;
  log: Logger;
  pipeline: Pipeline;
  alertStore: RedisAlertStore;
  checkpoints: CheckpointStore;
  /** In a cluster: where the partition's channel, segment and campaign buckets go at each commit. */
  partials: Sink | null;
  target: ConsumerTarget;
  /** True while the outputs are full (backpressure). */
  backpressure(): boolean;
  /** The processor's purchase model now, and a stored version by name (null: no longer stored), for the replay. */
  models?: { current(): PurchaseModelSet; version(name: string): Promise<PurchaseModelSet | null> };
}

/** How much larger than the last one the next checkpoint's blob may be before its buffer must grow in the checkpoint. */
const GROWTH_AHEAD = 1.1;

export class PartitionConsumer implements Slice<JsMsg> {
  readonly partition: number | null;
  readonly pipeline: Pipeline;
  readonly alertStore: RedisAlertStore;
  readonly checkpoints: CheckpointStore;
  readonly partials: Sink | null;
  readonly source: JetStreamSource;
  /** The highest stream sequence the live state has taken in, from the checkpoint, the replay or the consumer. */
  coveredSeq = 0;
  /** The commit protocol's record of this slice: pending erasures, the last checkpoint (runtime/commit.ts). */
  readonly ledger: SliceLedger;
  restartStats = { replayed: 0, ms: 0 };
  consuming = false;
  private readonly sourceDeps: SourceDeps;
  /** Where each checkpoint blob is written: the same memory every time (see BlobBuffer). */
  private readonly blobBuffer = new BlobBuffer();
  /** The size of the last blob written or restored: the next is expected within GROWTH_AHEAD of it. */
  private lastBlobBytes = 0;

  constructor(private readonly d: PartitionConsumerDeps) {
    this.partition = d.partition;
    this.pipeline = d.pipeline;
    this.alertStore = d.alertStore;
    this.checkpoints = packing(d.checkpoints);
    this.partials = d.partials;
    this.ledger = new SliceLedger(d.clock.now());
    this.sourceDeps = {
      nc: d.nc,
      config: d.config.nats,
      log: d.log,
      handle: (m: InboundMessage) => {
        // A redelivery (ack_wait passed while a checkpoint was held up) of a message the state already holds:
        // counted as a duplicate here, rather than dead-lettered as late once its minute has closed.
        if (m.streamSeq <= this.coveredSeq) {
          this.pipeline.counts.duplicate++;
          return;
        }
        this.pipeline.handle(m);
        this.coveredSeq = m.streamSeq;
      },
      backpressure: () => d.backpressure(),
      now: () => d.clock.now(),
      clock: d.clock,
    };
    this.source = new JetStreamSource(this.sourceDeps, d.target);
  }

  get name(): string {
    return this.d.target.durable;
  }

  /** Restores the checkpoint, replays what follows it (alerts not evaluated), then consumes from there on. */
  async start(): Promise<void> {
    const { clock, log, config } = this.d;
    const started = clock.now();
    const saved = await this.d.checkpoints.load();
    if (saved) {
      this.coveredSeq = this.pipeline.restore(saved);
      this.lastBlobBytes = snapshotBytes(saved);
      log.info({ seq: this.coveredSeq, bytes: saved.byteLength, customers: this.pipeline.windows.size, model: this.pipeline.checkpointModel, nextModel: this.pipeline.replayModel }, 'checkpoint restored');
      await this.replayWithCheckpointModel();
    }
    const bounds = await streamBounds(this.d.nc, config.nats.stream);
    if (bounds.last > 0 && this.coveredSeq + 1 < bounds.first) {
      log.warn({ checkpointSeq: this.coveredSeq, firstInStream: bounds.first }, 'the stream no longer holds every event after the checkpoint (retention); live state misses them, ClickHouse has them');
    }
    this.pipeline.replaying = true;
    const filter = this.partition === null ? undefined : this.d.target.filterSubject;
    const replayed = await replay(this.sourceDeps, Math.max(this.coveredSeq + 1, bounds.first), bounds.last, filter);
    // The replayed events are derived while still replaying: their alerts were evaluated before the restart.
    this.pipeline.endReplay();
    // Caught up: the version every processor runs now takes over at the first checkpoint (the watch stages later ones).
    if (this.d.models) this.pipeline.stageModel(this.d.models.current());
    this.coveredSeq = Math.max(this.coveredSeq, bounds.last);
    await this.source.start(this.coveredSeq + 1);
    this.consuming = true;
    this.restartStats = { replayed, ms: clock.now() - started };
    log.info({ replayed, ms: this.restartStats.ms }, 'caught up');
  }

  /**
   * The replay after the checkpoint scores with the version that scored those events live (the checkpoint's
   * `nextModel`), when it is still stored, so the replayed signals follow on from it; else with the latest.
   */
  private async replayWithCheckpointModel(): Promise<void> {
    const { models, log } = this.d;
    const version = this.pipeline.replayModel;
    if (!models) return;
    const latest = models.current().name;
    if (version === null || version === latest) {
      log.info({ model: latest, checkpointModel: version }, version === null ? 'the checkpoint names no model version (written before it did): replaying with the latest' : 'replaying with the version that scored the checkpoint');
      return;
    }
    let set: PurchaseModelSet | null = null;
    try {
      set = await models.version(version);
    } catch (err) {
      log.warn({ checkpointModel: version, err: errorMessage(err) }, 'cannot read the version that scored the checkpoint');
    }
    if (set) {
      this.pipeline.setModel(set);
      log.info({ checkpointModel: version, latest }, 'replaying with the version that scored the checkpoint; the latest takes over once caught up');
    } else {
      log.info({ checkpointModel: version, model: latest }, 'the version that scored the checkpoint is no longer stored: replaying with the latest');
    }
  }

  /** Stops pulling; what was handled stays in the live state for a final checkpoint (or is dropped by the caller). */
  async stopConsuming(): Promise<void> {
    this.consuming = false;
    await this.source.stop();
  }

  /**
   * Derives what was handled since the last derive, then the minute activity to the outputs, and the erasures the
   * pipeline queued since the last call (synchronous): the commit's rows cover every handled message's derived state.
   */
  drain(): ErasureRequest[] {
    this.pipeline.derive();
    this.pipeline.drainActivity();
    return this.pipeline.takeErasures();
  }

  /**
   * Ahead of drain(), in slices while events flow: the derive of what was marked, then the rows of the minute buckets
   * changed so far (a bucket changed again before drain() is written again there, and its later row replaces this
   * one), then the derive of what was marked meanwhile (runtime/deriveCatchUp.ts, catchUpAround). null when the first
   * slice did it all, so drain() follows with no turn between.
   */
  catchUp(): Promise<void> | null {
    const rows = (more: () => boolean) => this.pipeline.drainActivity(this.d.clock.now(), more) !== -1;
    return catchUpAround({ pipelines: () => [this.pipeline], now: () => this.d.clock.now() }, rows);
  }

  /**
   * Ahead of the checkpoint's synchronous steps, while events flow: the catch-up and the snapshot rows owed
   * (payAhead), then the blob's buffer, grown and paged in ahead when the state has grown near its size, then what
   * was handled and became owed meanwhile, so that the checkpoint's own drain and payment are short.
   */
  async prepare(): Promise<void> {
    await this.payAhead();
    await this.blobBuffer.reserve(Math.ceil(this.lastBlobBytes * GROWTH_AHEAD));
    await this.payAhead();
  }

  /** catchUp(), then the snapshot rows owed, in slices, in passes while a pass paid many (deriveCatchUp.ts). */
  private payAhead(): Promise<void> {
    const pipeline = this.pipeline;
    return payOwedAhead(() => this.catchUp(), {
      payFrom: (from, more) => pipeline.payOwedSnapshotsFrom(from, more),
      get paid() {
        return pipeline.windows.owedVisits;
      },
    });
  }

  /**
   * The checkpoint blob covering exactly `coveredSeq`, captured synchronously into the slice's reused buffer;
   * `checkpoints.save` deflates it into a blob of its own, after which the caller releases the buffer.
   */
  snapshot(): { seq: number; blob: Uint8Array; release: () => void } {
    const seq = this.coveredSeq;
    const blob = this.pipeline.checkpoint(seq, this.blobBuffer);
    this.lastBlobBytes = blob.byteLength;
    return { seq, blob, release: () => this.blobBuffer.release(blob) };
  }
}

/**
 * The consumer's view of its store: a checkpoint is deflated on the thread pool before it is stored (Pipeline.restore
 * reads packed and plain blobs alike). Uploading the plain blob, ~190 bytes per customer, cost the event loop about a
 * tenth of its time at 250,000 customers.
 */
function packing(store: CheckpointStore): CheckpointStore {
  return {
    load: () => store.load(),
    save: async (blob) => {
      const packed = await packSnapshot(blob);
      return store.save(packed.bytes, packed.sha256);
    },
    delete: () => store.delete(),
  };
}
