// Wires the stages into one running processor: NATS in, pipeline, ClickHouse and NATS out, the wall beside it.
import { connect, type JsMsg, type NatsConnection } from 'nats';
import type { VigilConfig } from './config/schema.js';
import type { AlertView, OverloadCell, PressureOutcome, SnapshotFrame, WallSource } from './contract/frames.js';
import type { EntityActivityRecord, PipelineOutputs, RejectedRecord } from './contract/outputs.js';
import { isSchedulingClock, systemClock, type Clock } from './shared/clock.js';
import { errorMessage, VigilError } from './shared/errors.js';
import type { Logger } from './shared/logger.js';
import { defaultProcessorId } from './shared/processorId.js';
import { ensureStream } from './sources/jetstream.js';
import { Pipeline, type PipelineDeps } from './pipeline.js';
import { Worker } from './worker.js';
import { Committer } from './runtime/commit.js';
import { natsConnectOptions, redactUrl, redisConnectArgs } from './shared/serviceAuth.js';
import { PartitionLeases } from './cluster/leases.js';
import { EntityCombiner, PartialsPublisher, ensurePartialsStream } from './cluster/entityPartials.js';
import { ClusterWall, mergeSnapshots } from './cluster/clusterWall.js';
import { UnpartitionedSweeper } from './cluster/unpartitioned.js';
import { natsCheckpointStore } from './state/checkpointStore.js';
import { configuredPurchaseModel } from './signals/purchaseModel.js';
import { liveEngagementTrend } from './signals/models/trend.js';
import { RedisAlertStore } from './alerts/redisAlertStore.js';
import { Notifier, type AlertNotifier } from './alerts/notifier.js';
import { createReceivers } from './alerts/receivers.js';
import { WriteBehindHash } from './alerts/writeBehindHash.js';
import { groupJson } from './alerts/grouping.js';
import { Redis } from 'ioredis';
import { createClickHouseClient, type ClickHouseClient } from './sinks/clickhouse/client.js';
import { migrate } from './sinks/clickhouse/migrate.js';
import { watchStoredModel } from './sources/purchaseModels.js';
import { createClickHouseSink, type ClickHouseSink, type SinkCounters } from './sinks/clickhouse/writer.js';
import { ClickHouseOutputs } from './sinks/clickhouseOutputs.js';
import { NatsOutputs } from './sinks/natsOutputs.js';
import { createWallServer, type WallServer } from './wall/server.js';
import { RedisConsentStore } from './privacy/consent.js';
import { consentKey, deleteStreamMessages, eraseCustomer, forgetInRedis, type ErasureTargets } from './privacy/erasure.js';
import { Pseudonymizer, pseudonymizePayload } from './privacy/pseudonym.js';
import { pseudonymizeSilence, revealFrame } from './privacy/reveal.js';
import { createMetrics, sumOf } from './metrics.js';
import { localAnswers, startPressureService } from './budget/natsService.js';
import { BudgetRouter } from './cluster/budgetRouter.js';
import { openSuppressionBucket, type SuppressionBucket } from './budget/suppressionBucket.js';
import { answerBatch, customerPressure, parseBatch, type IdMapper } from './budget/requests.js';
import type { Service } from 'nats';

export interface RunningProcessor {
  /** The single processor's pipeline (cluster.partitions 0); a clustered processor throws: see pipelines(). */
  readonly pipeline: Pipeline;
  /** Every pipeline this processor runs now: one, or one per partition it holds. */
  pipelines(): Pipeline[];
  readonly processorId: string;
  /** The partitions this processor holds now (empty when not clustered). */
  partitions(): number[];
  readonly wallPort: number;
  readonly wallTransport: string;
  /** How the last start caught up: messages replayed after the checkpoint and the time from start to consuming. */
  restart(): { replayed: number; ms: number };
  /** Takes a checkpoint now (tests and the benchmark; the processor does it on its own every checkpointIntervalMs). */
  checkpointNow(): Promise<void>;
  /** SIGTERM path: stop consuming, commit and acknowledge, close everything. */
  stop(): Promise<void>;
  /** The contact budget's KV mirror (null when budget.enabled is off); tests flush it. */
  suppressionBucket(): SuppressionBucket | null;
  /** Applies new alert rules (the only part of the config that changes without a restart). */
  reloadRules(rules: VigilConfig['alerts']['rules']): void;
  /** The ClickHouse sink's running totals (rows and batches written, by table), for the benchmark and tests. */
  sinkCounters(): Readonly<SinkCounters>;
}

/** A Redis key a running processor refreshes every commit interval; it expires soon after the processor stops. */
export function heartbeatKey(config: VigilConfig): string {
  return `${config.redis.keyPrefix}processor:${config.nats.consumer}:heartbeat`;
}

export interface ProcessorOptions {
  config: VigilConfig;
  logger: Logger;
  clock?: Clock;
}

/** Every output of the pipeline, fanned out to ClickHouse and, for dead letters, to NATS. */
class FanOutOutputs extends ClickHouseOutputs implements PipelineOutputs {
  constructor(
    sink: ClickHouseSink,
    private readonly nats: NatsOutputs,
    /** In a cluster, a partition's channel, segment and campaign buckets also go to the partials stream. */
    private readonly partials: PartialsPublisher | null,
  ) {
    super(sink);
  }
  override rejected(r: RejectedRecord): void {
    super.rejected(r);
    this.nats.rejected(r);
  }
  override entityActivity(r: EntityActivityRecord): void {
    super.entityActivity(r);
    this.partials?.collect(r);
  }
}

/** How long the partials stream keeps a partition's buckets: the longest entity window (24 h) and an hour to spare. */
const PARTIALS_MAX_AGE_MS = 25 * 3_600_000;

export async function startProcessor(opts: ProcessorOptions): Promise<RunningProcessor> {
  const { config } = opts;
  const clock = opts.clock ?? systemClock;
  // The wall paces its frames by the processor's clock when that clock sets timers too; a bare `{ now }` gets the real one.
  const wallClock = isSchedulingClock(clock) ? clock : undefined;
  const log = opts.logger;
  const clustered = config.cluster.partitions > 0;
  const processorId = config.cluster.processorId ?? defaultProcessorId();

  const nc = await connectNats(config, log);
  const redis = await connectRedis(config);
  const natsOut = new NatsOutputs(nc.conn, config.nats.deadLetterSubject, config.nats.alertSubjectPrefix);
  const receivers = createReceivers(config, (n, reason) => natsOut.notificationDeadLetter(config.alerts.deadLetterSubject, n, reason), isSchedulingClock(clock) ? clock : systemClock, log, () => !clustered || leader !== null);
  const notifier = new Notifier(
    config.alerts.routing,
    new WriteBehindHash(redis, `${config.redis.keyPrefix}silences`),
    new WriteBehindHash(redis, `${config.redis.keyPrefix}groups`, groupJson),
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
  const schema = { ready: false, detail: 'migrating', stopped: false };
  // The first attempt is awaited so a healthy start has its tables; if ClickHouse is away, retries go on behind.
  await migrateWithRetries(ch, config, log, schema, 1);
  if (!schema.ready) void migrateWithRetries(ch, config, log, schema, Number.POSITIVE_INFINITY);
  const sink = createClickHouseSink(ch, config.clickhouse, { logger: log });
  const jsm = await nc.conn.jetstreamManager();
  await ensureStream(jsm, { ...config.nats }, log);
  if (clustered) await ensurePartialsStream(jsm, { stream: config.cluster.partialsStream, subjectPrefix: config.cluster.partialsSubjectPrefix, maxAgeMs: PARTIALS_MAX_AGE_MS, replicas: config.nats.replicas });

  // The workers: one for a single processor, one per partition held in a cluster (docs/scale-out.md).
  const workers = new Map<number, Worker>();
  const SINGLE = -1;
  const pipelines = (): Pipeline[] => [...workers.values()].map((w) => w.pipeline);
  // The purchase model every pipeline scores with: fitted parameters (`vigil model fit`) replace it for all of them.
  let model = configuredPurchaseModel(config.signals.model);
  const modelTarget = {
    get model() {
      return model;
    },
    setModel(m: typeof model) {
      model = m;
      for (const p of pipelines()) p.setModel(m);
      leader?.pipeline.setModel(m);
    },
  };
  const models = watchStoredModel({ ch, config: config.signals.model, log: log.child({ stage: 'model' }), target: modelTarget });
  await models.ready;

  /**
   * In a cluster the leader groups and sends the notifications of every processor's alerts (one message for a
   * campaign's customers, whichever partitions hold them): the pipelines' own changes go to it through the cluster
   * wall's alert feed, so here the notifier only answers for silences.
   */
  const pipelineNotifier: AlertNotifier = clustered
    ? {
        onAlert: () => undefined,
        tick: () => [],
        silencedBy: (labels, now) => notifier.silencedBy(labels, now),
        addSilence: (input, now) => notifier.addSilence(input, now),
        expireSilence: (id, now) => notifier.expireSilence(id, now),
        listSilences: (now) => notifier.listSilences(now),
        forgetSubject: (kind, key) => notifier.forgetSubject(kind, key),
      }
    : notifier;
  const pipelineFor = (alertStore: RedisAlertStore, outputs: PipelineOutputs, extra: Partial<PipelineDeps>, pending: () => number): Pipeline =>
    new Pipeline({
      config,
      clock,
      outputs,
      model,
      trend: liveEngagementTrend,
      alertStore,
      pending,
      bufferedRows: () => sink.bufferedRows(),
      onAlert: (a: AlertView) => natsOut.alert(a),
      notifier: pipelineNotifier,
      consent,
      pseudonymizer,
      ...extra,
    });

  const createWorker = async (partition: number | null): Promise<Worker> => {
    const name = partition === null ? config.nats.consumer : `${config.nats.consumer}-p${partition}`;
    const alertStore = new RedisAlertStore(redis, partition === null ? `${config.redis.keyPrefix}alerts` : `${config.redis.keyPrefix}alerts:p${partition}`);
    const restored = await alertStore.load();
    if (restored > 0) log.info({ alerts: restored, partition }, 'active alerts restored from Redis');
    const partials = partition === null ? null : new PartialsPublisher({ nc: nc.conn, subject: `${config.cluster.partialsSubjectPrefix}.entities.${partition}` });
    let worker: Worker | null = null;
    const pipeline = pipelineFor(
      alertStore,
      new FanOutOutputs(sink, natsOut, partials),
      // The lag rule's subject is the partition, not the processor: its alert moves with it, in its alert hash.
      partition === null ? {} : { partition, entityRules: false, processorKey: `partition-${partition}` },
      () => worker?.source.pending() ?? 0,
    );
    const checkpoints = await natsCheckpointStore(nc.conn, config.processor.checkpointBucket, name, config.nats.replicas);
    worker = new Worker({
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
    });
    return worker;
  };

  // Commits, checkpoints and partition hand-overs run one at a time: each sees the workers as they are.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  };

  // The durability protocol (runtime/commit.ts): commits, erasures, the lease fence, checkpoints and acks.
  const erasureTargets: ErasureTargets = {
    ch,
    database: config.clickhouse.database,
    forgetInRedis: (id) => forgetInRedis(redis, config, id),
    deleteStreamMessages: (seqs) => deleteStreamMessages(jsm, config.nats.stream, seqs),
    subjectKey: privacy.pseudonymKey,
    timeoutMs: privacy.erasureTimeoutMs,
    log: log.child({ stage: 'erasure' }),
  };
  const committer = new Committer<JsMsg>({
    clock,
    slices: () => [...workers.values()],
    sink,
    sharedState: () => [notifier, leader?.alertStore],
    consent,
    erasures: { erase: (req) => eraseCustomer(erasureTargets, req), deleteRequestMessages: (seqs) => deleteStreamMessages(jsm, config.nats.stream, seqs) },
    fence: () => leases,
    sweeper: () => leader?.sweeper ?? null,
    checkpointIntervalMs: config.processor.checkpointIntervalMs,
    log,
  });

  // Cluster only: the combined channel, segment and campaign counts (every processor), the leader's duties, leases.
  const combiner = clustered
    ? new EntityCombiner({ nc: nc.conn, stream: config.cluster.partialsStream, subjectPrefix: config.cluster.partialsSubjectPrefix, surge: config.signals.surge, maxEntities: config.windows.maxEntities, log: log.child({ stage: 'combiner' }) })
    : null;
  let leader: { pipeline: Pipeline; alertStore: RedisAlertStore; sweeper: UnpartitionedSweeper } | null = null;
  let leases: PartitionLeases | null = null;
  let clusterWall: ClusterWall | null = null;

  let wall: WallServer | null = null;
  const registry = createMetrics({
    pipelines: () => (leader ? [...pipelines(), leader.pipeline] : pipelines()),
    sink,
    pending: () => sumOf([...workers.values()], (w) => w.source.pending()),
    natsConnected: () => nc.connected(),
    wallClients: () => wall?.clientCount() ?? 0,
    commitDurations: () => committer.durations,
    oldestCheckpointAt: () => (workers.size > 0 ? Math.min(...[...workers.values()].map((w) => w.ledger.lastCheckpoint.at)) : 0),
    wallFanout: () => wall?.fanoutDurations ?? null,
    deadLettersPublished: () => natsOut.deadLetters,
    alertsPublished: () => natsOut.alerts,
    notifications: () => ({
      sent: notifier.sent,
      silenced: notifier.silenced,
      webhook: receivers.webhook?.stats ?? null,
      alertmanager: receivers.alertmanager ? { ...receivers.alertmanager.stats, firing: receivers.alertmanager.firingCount } : null,
    }),
    cluster: clustered
      ? () => ({ owned: leases?.owned().length ?? 0, members: leases?.members().length ?? 0, leader: leases?.isLeader() ?? false, unpartitioned: leader?.sweeper.deadLettered ?? 0 })
      : undefined,
  });
  let started = false;
  // Senders name customers by their own ids: under pseudonymization live state holds the keyed hash instead.
  const budgetId: IdMapper = pseudonymizer ? (id) => pseudonymizer.hash(id) : (id) => id;
  const single = (): Pipeline => workers.get(SINGLE)!.pipeline;
  // In a cluster a customer's budget is its partition's: checks go to the processor holding it (docs/scale-out.md).
  const router =
    clustered && config.budget.enabled
      ? new BudgetRouter({
          nc: nc.conn,
          subjectPrefix: config.cluster.subjectPrefix,
          partitions: config.cluster.partitions,
          // Answered from caught-up state only: a partition still replaying is not asked.
          local: (p) => {
            const w = workers.get(p);
            return w?.consuming ? w.pipeline.budget : null;
          },
          mapId: (id) => budgetId(id),
          log: log.child({ stage: 'budget' }),
        })
      : null;
  const suppressionBuckets = new Map<number, SuppressionBucket>();
  /** What this processor alone shows: its partitions' pipelines and, on the leader, the cross-customer alerts. */
  const localSnapshot = (): SnapshotFrame => {
    const frames = pipelines().map((p) => p.snapshot());
    if (leader) frames.push(leader.pipeline.snapshot());
    return mergeSnapshots(frames, { atRiskLimit: config.wall.atRiskListSize, now: clock.now() });
  };
  const acknowledgeLocal = async (id: string, by: string): Promise<boolean> => {
    for (const p of leader ? [...pipelines(), leader.pipeline] : pipelines()) if (p.acknowledge(id, by)) return true;
    return false;
  };
  /** In a cluster: the silence is written to Redis first, then the others are told to read it. */
  const silencesChanged = async () => {
    if (!clusterWall) return;
    await notifier.persist();
    clusterWall.silencesChanged();
  };
  const wallSource: WallSource = {
    snapshot: () => (clusterWall ? clusterWall.snapshot() : single().snapshot()),
    subscribe: (l) => (clusterWall ? clusterWall.subscribe(l) : single().subscribe(l)),
    // Under pseudonymization responders may be shown the original ids still remembered in memory.
    forRole: pseudonymizer && privacy.revealToResponders ? (frame, role) => (role === 'responder' ? revealFrame(frame, (p) => pseudonymizer.original(p)) : frame) : undefined,
    acknowledge: async (id, by) => (clusterWall ? clusterWall.acknowledge(id, by) : single().acknowledge(id, by)),
    listSilences: () => notifier.listSilences(clock.now()),
    addSilence: async (input) => {
      // Under pseudonymization a responder may have typed a revealed original id: it becomes the pseudonym first.
      const stored = pseudonymizer ? pseudonymizeSilence(input, pseudonymizer) : ({ ok: true, input } as const);
      if (!stored.ok) return stored;
      const r = (clustered ? leader?.pipeline ?? pipelines()[0] : single())?.addSilence(stored.input) ?? notifier.addSilence(stored.input, clock.now());
      if (r.ok) await silencesChanged();
      return r;
    },
    expireSilence: async (id) => {
      const done = (clustered ? leader?.pipeline ?? pipelines()[0] : single())?.expireSilence(id) ?? notifier.expireSilence(id, clock.now());
      if (done) await silencesChanged();
      return done;
    },
    pressure: router
      ? {
          customer: (id) => router.pressure(id),
          check: async (body): Promise<PressureOutcome> => {
            const parsed = parseBatch(body, config.budget.maxBatch);
            return parsed.ok ? { ok: true, result: await router.batch(parsed.value) } : parsed;
          },
        }
      : config.budget.enabled
        ? {
            customer: (id) => customerPressure(single().budget, id, budgetId),
            check: (body) => {
              const parsed = parseBatch(body, config.budget.maxBatch);
              return parsed.ok ? { ok: true, result: answerBatch(single().budget, parsed.value, budgetId) } : parsed;
            },
          }
        : undefined,
    live: () => true,
    readiness: () => {
      const chState = sink.state();
      const list = [...workers.values()];
      const consuming = started && list.length > 0 && list.every((w) => w.consuming);
      const checks: Record<string, { ok: boolean; detail: string }> = {
        nats: { ok: nc.connected(), detail: nc.connected() ? 'connected' : 'disconnected, reconnecting' },
        redis: notifier.error ? { ok: false, detail: notifier.error } : consent.error ? { ok: false, detail: consent.error } : redisState(list, leader),
        clickhouse: { ok: chState.ok && schema.ready, detail: schema.ready ? chState.detail : schema.detail },
        consumer: clustered
          ? {
              // A processor holding no partition (more processors than partitions) is ready: it serves the wall.
              ok: started && list.every((w) => w.consuming),
              detail: `partitions ${leases?.owned().join(',') || 'none'} of ${config.cluster.partitions}; members ${leases?.members().length ?? 0}${leases?.isLeader() ? '; leader' : ''}`,
            }
          : {
              ok: consuming,
              detail: consuming
                ? `consuming ${config.nats.stream}/${config.nats.consumer}; last checkpoint at seq ${list[0].ledger.lastCheckpoint.seq} (${list[0].ledger.lastCheckpoint.bytes} bytes)`
                : list[0]?.pipeline.replaying
                  ? 'replaying the stream after the checkpoint'
                  : 'not consuming',
            },
      };
      if (combiner) checks.combiner = { ok: combiner.caughtUp, detail: combiner.caughtUp ? `${combiner.counters.bucketsFolded} buckets combined` : 'reading the partials stream' };
      // For `vigil status`: the oldest slice's last checkpoint (null before the first), and the purchase model in use.
      const checkpoints = list.map((w) => w.ledger.lastCheckpoint.at);
      const checkpointAgeMs = checkpoints.length && checkpoints.every((at) => at > 0) ? clock.now() - Math.min(...checkpoints) : null;
      return { ready: Object.values(checks).every((c) => c.ok), checks, checkpointAgeMs, modelVersion: model.name };
    },
    metrics: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
  };

  let pressureService: Service | null = null;
  let suppressionBucket: SuppressionBucket | null = null;
  let wallPort = 0;
  if (!clustered) {
    const w = await createWorker(null);
    workers.set(SINGLE, w);
    wall = createWallServer({ config: config.wall, source: wallSource, logger: log, clock: wallClock });
    wallPort = await wall.listen();
    await w.start();
    // Senders are answered from caught-up state only: the bucket and the service start after the replay.
    if (config.budget.enabled) {
      suppressionBucket = await openSuppressionBucket(nc.conn, config.budget, w.pipeline.budget, log.child({ stage: 'budget' }), config.nats.replicas);
      pressureService = await startPressureService(nc.conn, config.budget, localAnswers(w.pipeline.budget, budgetId), log.child({ stage: 'budget' }));
    }
  } else {
    await combiner!.start();
    clusterWall = new ClusterWall({
      nc: nc.conn,
      processorId,
      subjectPrefix: config.cluster.subjectPrefix,
      intervalMs: config.alerts.evaluateIntervalMs,
      alertSubjectPrefix: config.nats.alertSubjectPrefix,
      atRiskLimit: config.wall.atRiskListSize,
      local: { snapshot: localSnapshot, acknowledge: acknowledgeLocal },
      overload: () => combiner!.overloadCells(Math.floor(clock.now() / 60_000)),
      log: log.child({ stage: 'cluster' }),
    });
    // A silence added on another processor's wall: this processor's notifications must honour it too.
    clusterWall.onSilencesChanged(() => void notifier.reloadSilences().catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'reloading silences failed')));
    await clusterWall.start();
    // The leader's notifier hears every alert change of the cluster, its own partitions' included.
    clusterWall.subscribe((frame) => {
      if (frame.type === 'alert' && leader) notifier.onAlert(frame.alert, clock.now());
    });
    wall = createWallServer({ config: config.wall, source: wallSource, logger: log, clock: wallClock });
    wallPort = await wall.listen();
    leases = new PartitionLeases({
      nc: nc.conn,
      bucket: config.cluster.leaseBucket,
      processorId,
      partitions: config.cluster.partitions,
      leaseMs: config.cluster.leaseMs,
      replicas: config.nats.replicas,
      log: log.child({ stage: 'leases' }),
      onAssign: (p) =>
        serial(async () => {
          const w = await createWorker(p);
          workers.set(p, w);
          try {
            await w.start();
          } catch (err) {
            workers.delete(p);
            await w.stopConsuming().catch(() => undefined);
            throw err;
          }
          // Senders are answered from caught-up state only: the partition's budget serves after the replay.
          if (router) {
            suppressionBuckets.set(p, await openSuppressionBucket(nc.conn, config.budget, w.pipeline.budget, log.child({ stage: 'budget', partition: p }), config.nats.replicas, (id) => w.pipeline.windows.find(id) !== -1));
            router.serve(p);
          }
          log.info({ partition: p, replayed: w.restartStats.replayed, ms: w.restartStats.ms }, 'partition taken');
        }),
      onRevoke: (p, graceful) =>
        serial(async () => {
          const w = workers.get(p);
          if (!w) return;
          router?.unserve(p);
          await suppressionBuckets.get(p)?.stop();
          suppressionBuckets.delete(p);
          await w.stopConsuming();
          // A hand-over checkpoints, so the next owner replays nothing; a lost lease stops at once and saves nothing.
          if (graceful) await committer.checkpoint(w);
          workers.delete(p);
          log.info({ partition: p, graceful }, 'partition released');
        }),
      onLeader: (isLeader) =>
        serial(async () => {
          if (isLeader && !leader) {
            // The last leader's notification groups, so a new leader neither repeats nor forgets what was sent.
            await notifier.load();
            const alertStore = new RedisAlertStore(redis, `${config.redis.keyPrefix}alerts:cluster`);
            await alertStore.load();
            const pipeline = pipelineFor(
              alertStore,
              new FanOutOutputs(sink, natsOut, null),
              { entities: combiner!.stats, processorKey: null, campaignSuppressions: () => campaignSuppressions(clusterWall!.snapshot().overload, config.budget.campaignWindowMs) },
              () => 0,
            );
            const sweeper = new UnpartitionedSweeper({
              nc: nc.conn,
              config,
              outputs: new FanOutOutputs(sink, natsOut, null),
              log: log.child({ stage: 'unpartitioned' }),
              payload: pseudonymizer ? (data) => pseudonymizePayload(data, (id) => pseudonymizer.hash(id)) : undefined,
            });
            await sweeper.start();
            leader = { pipeline, alertStore, sweeper };
            // Alert changes heard before this processor led (at start, or while the last leader was failing) reached
            // no notifier: the wall holds each alert's newest version, so they are grouped now. One the restored
            // groups already hold in the same state is no change, and is not sent again.
            for (const alert of clusterWall!.heldAlerts()) notifier.onAlert(alert, clock.now());
            log.info('leader: evaluating channel, segment and campaign rules; sweeping unpartitioned subjects');
          } else if (!isLeader && leader) {
            const was = leader;
            leader = null;
            await was.sweeper.stop();
            await was.alertStore.persist();
            log.info('no longer the leader');
          }
        }),
    });
    await leases.start();
    if (router) pressureService = await startPressureService(nc.conn, config.budget, { check: (r) => router.check(r), batch: (r) => router.batch(r) }, log.child({ stage: 'budget' }));
  }
  started = true;

  // One loop, never overlapping itself: commit often, checkpoint (and acknowledge) less often.
  let looping = true;
  const heartbeat = heartbeatKey(config);
  const heartbeatTtlMs = Math.max(5_000, 3 * config.processor.commitIntervalMs);
  const loop = (async () => {
    while (looping) {
      await new Promise((r) => setTimeout(r, config.processor.commitIntervalMs));
      if (!looping) break;
      // Tells `vigil forget` that a processor consumes the stream and will carry its request out soon.
      redis.set(heartbeat, String(clock.now()), 'PX', heartbeatTtlMs).catch(() => undefined);
      try {
        await serial(() => committer.round());
      } catch (err) {
        log.error({ err: errorMessage(err) }, 'commit failed; retrying at the next interval');
      }
    }
  })();
  const ticker = setInterval(() => {
    try {
      for (const p of pipelines()) p.tick();
      leader?.pipeline.tick();
      if (clustered && leader) notifier.tick(clock.now());
    } catch (err) {
      log.error({ err: errorMessage(err) }, 'tick failed');
    }
  }, config.alerts.evaluateIntervalMs);
  log.info({ port: wallPort, transport: wall.transportName, ...(clustered ? { processorId, partitions: leases!.owned() } : {}) }, `wall at http://127.0.0.1:${wallPort}/`);

  let stopping: Promise<void> | null = null;
  return {
    get pipeline() {
      const w = workers.get(SINGLE);
      if (!w) throw new VigilError('CONFIG_INVALID', 'a clustered processor has one pipeline per partition: use pipelines()');
      return w.pipeline;
    },
    pipelines,
    processorId,
    partitions: () => leases?.owned() ?? [],
    wallPort,
    wallTransport: wall.transportName,
    restart: () => {
      const list = [...workers.values()];
      return { replayed: sumOf(list, (w) => w.restartStats.replayed), ms: Math.max(0, ...list.map((w) => w.restartStats.ms)) };
    },
    checkpointNow: () => serial(() => committer.checkpointAll()),
    suppressionBucket: () => suppressionBucket,
    sinkCounters: () => sink.counters,
    reloadRules: (rules) => {
      for (const p of pipelines()) p.setRules(rules);
      leader?.pipeline.setRules(rules);
      log.info({ rules: rules.map((r) => r.name) }, 'alert rules reloaded');
    },
    stop: () =>
      (stopping ??= (async () => {
        clearInterval(ticker);
        models.stop();
        await pressureService?.stop().catch(() => undefined);
        looping = false;
        await loop;
        const deadline = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), config.processor.shutdownTimeoutMs).unref());
        // What is not checkpointed by the deadline is replayed from the stream at the next start: nothing is lost.
        const final = leases
          ? // Hands every partition over (stop, checkpoint, release): the others take them at once, not after the lease.
            leases.stop()
          : serial(async () => {
              const w = workers.get(SINGLE)!;
              await w.stopConsuming();
              await committer.checkpoint(w);
            });
        const done = await Promise.race([final.then(() => 'ok' as const), deadline]);
        if (done === 'timeout') log.warn('shutdown deadline passed before the final checkpoint; the next start replays from the previous one');
        await leader?.sweeper.stop();
        await clusterWall?.stop();
        await combiner?.stop();
        await wall!.close();
        schema.stopped = true;
        // What the checkpoint covered is in ClickHouse or a spill file (inserted at the next start); what is still in
        // memory was never acknowledged. Stops the retries and frees the spill directory.
        sink.abort();
        receivers.stop();
        await Promise.all([...[...workers.values()].map((w) => w.alertStore.persist()), leader?.alertStore.persist(), notifier.persist(), consent.persist()]);
        await suppressionBucket?.stop();
        router?.stop();
        for (const b of suppressionBuckets.values()) await b.stop();
        await redis.del(heartbeat).catch(() => undefined);
        redis.disconnect();
        await nc.conn.drain().catch(() => undefined);
        await ch.close();
        log.info({ processed: sumOf(pipelines(), (p) => p.counts.processed) }, 'stopped');
      })()),
  };
}

/**
 * The `suppressed_customers` samples of every campaign from the whole cluster's overload cells (each processor's
 * budget counts, summed by the cluster wall): what the leader's rule reads.
 */
function campaignSuppressions(cells: OverloadCell[], windowMs: number): { campaignId: string; value: number; reasons: string[] }[] {
  const minutes = Math.round(windowMs / 60_000);
  return cells
    .filter((c) => c.kind === 'campaign' && (c.checked ?? 0) > 0)
    .map((c) => {
      const channels = Object.entries(c.suppressedByChannel ?? {})
        .filter(([, n]) => n > 0)
        .map(([ch, n]) => `${ch} ${n}`)
        .join(', ');
      return { campaignId: c.key, value: c.suppressed ?? 0, reasons: [`${c.suppressed ?? 0} of ${c.checked} customers checked were suppressed in the last ${minutes} min (${channels || 'none'})`] };
    });
}

/** The partitions' alert stores, and the leader's: the first one not in step with Redis, else the first's state. */
function redisState(list: Worker[], leader: { alertStore: RedisAlertStore } | null): { ok: boolean; detail: string } {
  const stores = [...list.map((w) => w.alertStore), ...(leader ? [leader.alertStore] : [])];
  const states = stores.map((s) => s.state());
  return states.find((s) => !s.ok) ?? states[0] ?? { ok: true, detail: 'connected' };
}

/**
 * Stops the processor and exits: 0 once what was handled is committed, 1 when the stop failed. In a worker thread
 * (src/thread.ts) process.exit ends that thread only, and its code tells the supervisor how the stop went.
 */
export function stopThenExit(processor: RunningProcessor, log: Logger): void {
  processor.stop().then(
    () => process.exit(0),
    (err: unknown) => {
      log.error({ err: errorMessage(err) }, 'stop failed');
      process.exit(1);
    },
  );
}

async function connectNats(config: VigilConfig, log: Logger): Promise<{ conn: NatsConnection; connected(): boolean }> {
  const conn = await connect({ ...natsConnectOptions(config), name: 'vigil-processor', maxReconnectAttempts: -1, reconnectTimeWait: 1_000 });
  let up = true;
  void (async () => {
    for await (const s of conn.status()) {
      if (s.type === 'disconnect') {
        up = false;
        log.warn({ server: s.data }, 'NATS disconnected');
      } else if (s.type === 'reconnect') {
        up = true;
        log.info({ server: s.data }, 'NATS reconnected');
      }
    }
  })();
  return { conn, connected: () => up && !conn.isClosed() };
}

async function connectRedis(config: VigilConfig): Promise<Redis> {
  // No offline queue: a command while Redis is away fails at once and the alert store retries it at the next commit.
  const [redisUrl, redisAuth] = redisConnectArgs(config);
  const redis = new Redis(redisUrl, { ...redisAuth, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined); // reported through the alert store's state and /readyz
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new VigilError('REDIS_UNAVAILABLE', `cannot reach Redis at ${redactUrl(config.redis.url)}: alert state, silences and acknowledgements live there`, { cause: err });
  }
  return redis;
}

/** Applies the migrations, retrying while ClickHouse is away; the processor consumes meanwhile and the sink buffers. */
function migrateWithRetries(ch: ClickHouseClient, config: VigilConfig, log: Logger, state: { ready: boolean; detail: string; stopped: boolean }, attempts: number): Promise<void> {
  return (async () => {
    for (let attempt = 1; !state.stopped && attempt <= attempts; attempt++) {
      try {
        const result = await migrate(ch, { database: config.clickhouse.database, logger: log, analyst: config.clickhouse.analyst });
        state.ready = true;
        state.detail = 'schema ready';
        log.info({ applied: result.applied?.length ?? 0 }, 'ClickHouse schema ready');
        return;
      } catch (err) {
        state.detail = `migrations not applied yet: ${errorMessage(err)}`;
        log.warn({ attempt, err: errorMessage(err) }, 'ClickHouse migrations failed; retrying');
        if (attempt < attempts) await new Promise((r) => setTimeout(r, Math.min(30_000, 500 * 2 ** Math.min(attempt, 6))));
      }
    }
  })();
}
