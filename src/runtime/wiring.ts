// What a single processor and a cluster member share: the connections and stores opened at start (openServices),
// the consumers' factory (one pipeline per slice of the stream), and the two interfaces between the runtime entry
// (processor.ts) and its mode (single.ts, cluster.ts): Wiring, what the mode is given; Runtime, what it gives back.
import type { JetStreamManager, JsMsg } from 'nats';
import type { Redis } from 'ioredis';
import { budgetOnThread, type VigilConfig } from '../config/schema.js';
import type { AlertView, ModelState, WallSource } from '../contract/frames.js';
import type { PipelineOutputs } from '../contract/outputs.js';
import { systemClock, type SchedulingClock } from '../shared/clock.js';
import type { Logger } from '../shared/logger.js';
import { ensureStream } from '../sources/jetstream.js';
import { Pipeline, type PipelineDeps } from '../pipeline.js';
import { liveEngagementTrend } from '../signals/models/trend.js';
import type { PurchaseModelSet } from '../signals/purchaseModel.js';
import { RedisAlertStore } from '../alerts/redisAlertStore.js';
import { Notifier, type AlertNotifier } from '../alerts/notifier.js';
import { createReceivers, type Receivers } from '../alerts/receivers.js';
import { WriteBehindHash } from '../alerts/writeBehindHash.js';
import type { Notification } from '../alerts/grouping.js';
import { RedisGroupStore } from '../alerts/groupStore.js';
import { createClickHouseClient, type ClickHouseClient } from '../sinks/clickhouse/client.js';
import { createClickHouseSink, type ClickHouseSink } from '../sinks/clickhouse/writer.js';
import { NatsOutputs } from '../sinks/natsOutputs.js';
import { FanOutOutputs } from '../sinks/outputs.js';
import { natsCheckpointStore } from '../state/checkpointStore.js';
import { RedisConsentStore } from '../privacy/consent.js';
import { consentKey } from '../privacy/erasure.js';
import { Pseudonymizer } from '../privacy/pseudonym.js';
import type { IdMapper } from '../budget/requests.js';
import type { SuppressionBucket } from '../budget/suppressionBucket.js';
import { PartialsPublisher } from '../cluster/entityPartials.js';
import type { EntityRuleEvaluator } from '../alerts/entityRuleEvaluator.js';
import type { Committer, LeaseFence, Sweeper } from './commit.js';
import { connectNats, connectRedis, migrateWithRetries, type NatsLink, type SchemaState } from './connections.js';
import { PartitionConsumer } from './partitionConsumer.js';
import type { Check } from './readiness.js';

export interface Services {
  nc: NatsLink;
  /**
   * The contact budget's own connection (null when budget.enabled is off): its service and the cluster's forwarded
   * checks. On the processor's connection a request waited behind the stream's pull batches in the same socket.
   */
  budgetNc: NatsLink | null;
  redis: Redis;
  jsm: JetStreamManager;
  ch: ClickHouseClient;
  schema: SchemaState;
  sink: ClickHouseSink;
  natsOut: NatsOutputs;
  /** The notification receivers: the webhook and the Alertmanagers, as configured. */
  receivers: Receivers;
  notifier: Notifier;
  consent: RedisConsentStore;
  pseudonymizer: Pseudonymizer | null;
  /** The processor's clock when it sets timers too, for components with timers of their own; absent: the system clock. */
  timerClock: SchedulingClock | undefined;
}

export interface ServiceOptions {
  clock: SchedulingClock;
  /** Times the ClickHouse sink's batches and retries and the Alertmanager re-sends (absent: the system clock). */
  timerClock?: SchedulingClock;
  /** Whether this processor sends the notifications now (a cluster's leader; a single processor always). */
  leads: () => boolean;
}

/** Connects, loads the notifier's and consent's state, applies the schema and makes sure of the stream, in that order. */
export async function openServices(config: VigilConfig, log: Logger, { clock, timerClock, leads }: ServiceOptions): Promise<Services> {
  const nc = await connectNats(config, log);
  // On its own thread (budget.thread) the budget opens its connection there.
  const budgetNc = config.budget.enabled && !budgetOnThread(config) ? await connectNats(config, log, 'vigil-budget') : null;
  const redis = await connectRedis(config);
  const natsOut = new NatsOutputs(nc.conn, config.nats.deadLetterSubject, config.nats.alertSubjectPrefix);
  const deadLetter = (n: Notification, reason: string): void => natsOut.notificationDeadLetter(config.alerts.deadLetterSubject, n, reason);
  const receivers = createReceivers(config, deadLetter, timerClock ?? systemClock, log, leads);
  const notifier = new Notifier(
    config.alerts.routing,
    new WriteBehindHash(redis, `${config.redis.keyPrefix}silences`),
    new RedisGroupStore(redis, `${config.redis.keyPrefix}groups`),
    receivers.list,
    { maxSilences: config.alerts.maxSilences, warn: (fields, message) => log.warn(fields, message) },
  );
  await notifier.load();
  const consent = new RedisConsentStore(redis, consentKey(config.redis.keyPrefix));
  await consent.load();
  const privacy = config.privacy;
  // The key stays in this object and the config: never logged (see shared/logger.ts), never written anywhere.
  const pseudonymizer = privacy.pseudonymize
    ? new Pseudonymizer({ key: privacy.pseudonymKey, remember: privacy.revealToResponders, revealCacheSize: privacy.revealCacheSize })
    : null;
  const ch = createClickHouseClient(config.clickhouse);
  const schema: SchemaState = { ready: false, detail: 'migrating', stopped: false };
  // The first attempt is awaited so a healthy start has its tables; if ClickHouse is away, retries go on behind.
  await migrateWithRetries(ch, config, log, schema, 1, clock);
  if (!schema.ready) void migrateWithRetries(ch, config, log, schema, Number.POSITIVE_INFINITY, clock);
  const sink = createClickHouseSink(ch, config.clickhouse, { logger: log, clock: timerClock });
  const jsm = await nc.conn.jetstreamManager();
  await ensureStream(jsm, { ...config.nats }, log);
  return { nc, budgetNc, redis, jsm, ch, schema, sink, natsOut, receivers, notifier, consent, pseudonymizer, timerClock };
}

export interface ConsumerFactoryDeps {
  config: VigilConfig;
  log: Logger;
  clock: SchedulingClock;
  services: Services;
  /** What the pipelines tell about alerts (cluster.ts: silences only, the leader notifies). */
  notifier: AlertNotifier;
  /** The purchase model scoring now. */
  model(): PurchaseModelSet;
  /** A stored version by name (a checkpoint's), null when it is no longer stored. */
  modelVersion?: (name: string) => Promise<PurchaseModelSet | null>;
  /** The scheduled refit's status, where this processor refits. */
  refit?: PipelineDeps['refit'];
}

/** Builds pipelines and the consumers around them. */
export function consumerFactory(d: ConsumerFactoryDeps) {
  const { config, log, clock, services } = d;
  const { sink, natsOut, nc, redis } = services;
  const pipelineFor = (alertStore: RedisAlertStore, outputs: PipelineOutputs, extra: Partial<PipelineDeps>, pending: () => number): Pipeline =>
    new Pipeline({
      config,
      clock,
      outputs,
      model: d.model(),
      refit: d.refit,
      trend: liveEngagementTrend,
      alertStore,
      pending,
      bufferedRows: () => sink.bufferedRows(),
      onAlert: (a: AlertView) => natsOut.alert(a),
      notifier: d.notifier,
      consent: services.consent,
      pseudonymizer: services.pseudonymizer,
      ...extra,
    });

  /** The consumer of the whole stream (partition null) or of one partition, its pipeline restored from its own state. */
  const createConsumer = async (partition: number | null): Promise<PartitionConsumer> => {
    const name = partition === null ? config.nats.consumer : `${config.nats.consumer}-p${partition}`;
    const alertStore = new RedisAlertStore(redis, partition === null ? `${config.redis.keyPrefix}alerts` : `${config.redis.keyPrefix}alerts:p${partition}`);
    const restored = await alertStore.load();
    if (restored > 0) log.info({ alerts: restored, partition }, 'active alerts restored from Redis');
    const partials = partition === null ? null : new PartialsPublisher({ nc: nc.conn, subject: `${config.cluster.partialsSubjectPrefix}.entities.${partition}` });
    let consumer: PartitionConsumer | null = null;
    const pipeline = pipelineFor(
      alertStore,
      new FanOutOutputs(sink, natsOut, partials),
      // The lag rule's subject is the partition, not the processor: its alert moves with it, in its alert hash.
      partition === null ? {} : { partition },
      () => consumer?.source.pending() ?? 0,
    );
    const checkpoints = await natsCheckpointStore(nc.conn, config.processor.checkpointBucket, name, config.nats.replicas);
    consumer = new PartitionConsumer({
      partition,
      nc: nc.conn,
      config,
      clock,
      log: log.child(partition === null ? { stage: 'ingest' } : { stage: 'ingest', partition }),
      pipeline,
      alertStore,
      checkpoints,
      partials,
      target: { durable: name, filterSubject: partition === null ? `${config.nats.subjectPrefix}.>` : `${config.nats.subjectPrefix}.part.${partition}.>` },
      // Both tiers full (memory above clickhouse.spill.maxMemoryRows, spill files at spill.maxBytes): stop consuming.
      backpressure: () => sink.full(),
      models: d.modelVersion ? { current: d.model, version: d.modelVersion } : undefined,
    });
    return consumer;
  };
  return { createConsumer };
}

/** What a mode (single.ts, cluster.ts) is given. */
export interface Wiring extends Services {
  config: VigilConfig;
  log: Logger;
  clock: SchedulingClock;
  processorId: string;
  /** The consumers now: the single one, or one per partition held, by partition. */
  consumers: Map<number, PartitionConsumer>;
  pipelines(): Pipeline[];
  /** What the pipelines, and the leader's rules, tell about alerts (single.ts: everything; cluster.ts: silences). */
  pipelineNotifier: AlertNotifier;
  createConsumer(partition: number | null): Promise<PartitionConsumer>;
  /** Commits, checkpoints and partition hand-overs run one at a time: each sees the consumers as they are. */
  serial<T>(fn: () => Promise<T>): Promise<T>;
  committer: Committer<JsMsg>;
  /** Senders name customers by their own ids: under pseudonymization live state holds the keyed hash instead. */
  budgetId: IdMapper;
  /** The processor's clock as an offset another thread can read (the budget's thread); null for a clock none can follow. */
  clockOffset: BigInt64Array | null;
  /** The model version scoring and this processor's refit status (the leader's `model_drift`). */
  modelState(): ModelState;
}

/** What a mode gives back: its part of the wall, of readiness and of the commit protocol, and its start and stop. */
export interface Runtime {
  /** The single processor's pipeline; null in a cluster. */
  single(): Pipeline | null;
  /** Rule evaluators besides the consumers' pipelines: the leader's while this processor leads. */
  leaderPipelines(): EntityRuleEvaluator[];
  /** Alert stores besides the consumers': the leader's while this processor leads. */
  leaderAlertStores(): RedisAlertStore[];
  fence(): LeaseFence | null;
  sweeper(): Sweeper | null;
  /** What the wall shows and asks of this mode. */
  wall: Pick<WallSource, 'snapshot' | 'subscribe' | 'acknowledge' | 'pressure'>;
  /** The pipeline a silence from the wall goes to (none: the notifier's own), and who hears of it afterwards. */
  silenceTarget(): Pipeline | EntityRuleEvaluator | undefined;
  silencesChanged(): Promise<void>;
  consumerCheck(started: boolean): Check;
  extraChecks(): Record<string, Check>;
  clusterMetrics?: () => { owned: number; members: number; leader: boolean; unpartitioned: number };
  /** Starts consuming; `listenWall` binds the wall at the point the mode needs it. */
  start(listenWall: () => Promise<void>): Promise<void>;
  /** After the pipelines' tick. */
  tick(): void;
  partitions(): number[];
  logFields(): Record<string, unknown>;
  suppressionBucket(): SuppressionBucket | null;
  /** The port of the budget thread's own HTTP listener (budget.httpPort) while it runs; null without one. */
  budgetHttpPort(): number | null;
  /**
   * Stop, in the order processor.ts calls them: the pressure service (and the suppression buckets' rebuilds are cut,
   * so that they do not share the loop with the final checkpoint), then consuming with the final checkpoint…
   */
  stopPressure(): Promise<void>;
  handOver(): Promise<void>;
  /** …the cluster's feeds, then (after the wall and the state) the budget's buckets. */
  closeFeeds(): Promise<void>;
  stopBudget(): Promise<void>;
}
