// The runtime's entry: opens the connections, builds the consumers and the commit protocol (commit.ts) around them,
// the wall and the timers, and hands the rest to the mode, a single processor (single.ts) or a cluster member
// (cluster.ts). The order of start and stop is written here once for both.
import type { JsMsg, NatsConnection } from 'nats';
import type { VigilConfig } from '../config/schema.js';
import type { WallSource } from '../contract/frames.js';
import { isSchedulingClock, sharedOffsetOf, systemClock, type Clock, type SchedulingClock } from '../shared/clock.js';
import { errorMessage, VigilError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { defaultProcessorId } from '../shared/processorId.js';
import type { Pipeline } from '../pipeline.js';
import type { EntityRuleEvaluator } from '../alerts/entityRuleEvaluator.js';
import { configuredPurchaseModel, type PurchaseModelSet } from '../signals/purchaseModel.js';
import { readLatestModel, storedModelSet, versionFittedAt, watchStoredModel } from '../sources/purchaseModels.js';
import { modelState, startModelRefit, type RefitStatus } from '../sources/modelRefit.js';
import type { SinkCounters } from '../sinks/clickhouse/writer.js';
import { createWallServer, type WallServer } from '../wall/server.js';
import { customerExporter, redisConsent } from '../privacy/export.js';
import { pipelineLookup } from '../privacy/liveLookup.js';
import { deleteStreamMessages, eraseCustomer, forgetInRedis, type ErasureTargets } from '../privacy/erasure.js';
import { pseudonymizeSilence, revealFrame } from '../privacy/reveal.js';
import type { SuppressionBucket } from '../budget/suppressionBucket.js';
import { createMetrics, sumOf } from '../metrics.js';
import { Committer } from './commit.js';
import { every, startCommitLoop } from './commitLoop.js';
import { SlicedWork } from '../shared/slices.js';
import { catchUpThen } from './deriveCatchUp.js';
import type { PartitionConsumer } from './partitionConsumer.js';
import { readiness } from './readiness.js';
import { clusterNotifier, clusterRuntime } from './cluster.js';
import { singleNotifier, singleRuntime } from './single.js';
import { consumerFactory, openServices, type Runtime, type Wiring } from './wiring.js';

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
  /** The contact budget's own HTTP port (budget.httpPort) while its thread listens; null without one. */
  budgetHttpPort(): number | null;
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
  /** The scheduled refit's last outcome (null when signals.model.refit is off). */
  refitStatus(): RefitStatus | null;
  /** The processor's NATS connection and the contact budget's own (null when budget.enabled is off); for tests. */
  natsConnections(): { processor: NatsConnection; budget: NatsConnection | null };
}

/** A Redis key a running processor refreshes every commit interval; it expires soon after the processor stops. */
export function heartbeatKey(config: VigilConfig): string {
  return `${config.redis.keyPrefix}processor:${config.nats.consumer}:heartbeat`;
}

export interface ProcessorOptions {
  config: VigilConfig;
  logger: Logger;
  /** The time the processor reads; its timers too when it schedules (a bare `{ now }` keeps the real timers). */
  clock?: Clock;
}

export async function startProcessor(opts: ProcessorOptions): Promise<RunningProcessor> {
  const { config } = opts;
  const given = opts.clock ?? systemClock;
  const clock: SchedulingClock = isSchedulingClock(given) ? given : { now: () => given.now(), schedule: systemClock.schedule };
  // Components with timers of their own (the wall's pacing, ClickHouse batches and retries, cluster ticks and leases)
  // follow the processor's clock when that clock sets timers too; a bare `{ now }` leaves them on the real one.
  const timerClock = isSchedulingClock(given) ? given : undefined;
  const log = opts.logger;
  const clustered = config.cluster.partitions > 0;
  let runtime: Runtime | null = null;
  const leads = (): boolean => !clustered || (runtime?.leaderAlertStores().length ?? 0) > 0;
  const services = await openServices(config, log, { clock, timerClock, leads });
  const { nc, redis, jsm, ch, sink, natsOut, notifier, consent, pseudonymizer } = services;

  // The consumers: one for a single processor, one per partition held in a cluster (docs/scale-out.md).
  const consumers = new Map<number, PartitionConsumer>();
  const pipelines = (): Pipeline[] => [...consumers.values()].map((c) => c.pipeline);
  const everyPipeline = (): (Pipeline | EntityRuleEvaluator)[] => [...pipelines(), ...(runtime?.leaderPipelines() ?? [])];
  // The purchase model every pipeline scores with: fitted parameters (`vigil model fit`) replace it for all of them.
  let model = configuredPurchaseModel(config.signals.model);
  const modelTarget = {
    get model() {
      return model;
    },
    // Staged: each pipeline takes the new version at its next checkpoint, so a checkpoint names what scored it.
    setModel(m: typeof model) {
      model = m;
      for (const p of pipelines()) p.stageModel(m);
    },
  };
  const models = watchStoredModel({ ch, config: config.signals.model, log: log.child({ stage: 'model' }), target: modelTarget });
  await models.ready;
  // The scheduled refit (signals.model.refit): run by the processor that leads, picked up by every one through the watch.
  const refit = config.signals.model.refit.enabled
    ? startModelRefit({ config: config.signals.model.refit, clickhouse: config.clickhouse, ch, clock, leads, log: log.child({ stage: 'refit' }) })
    : null;
  const pipelineNotifier = clustered ? clusterNotifier(notifier) : singleNotifier(notifier);
  // A checkpoint's version, for the replay after it: the config's, or the stored fit of its date.
  const modelVersion = async (name: string): Promise<PurchaseModelSet | null> => {
    const configured = configuredPurchaseModel(config.signals.model);
    if (name === configured.name) return configured;
    const at = versionFittedAt(name);
    const stored = at === null ? null : await readLatestModel(ch, at);
    return stored ? storedModelSet(config.signals.model, stored).set : null;
  };
  const { createConsumer } = consumerFactory({ config, log, clock, services, notifier: pipelineNotifier, model: () => model, modelVersion, refit: () => refit?.status() ?? null });

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
    subjectKey: config.privacy.pseudonymKey,
    timeoutMs: config.privacy.erasureTimeoutMs,
    log: log.child({ stage: 'erasure' }),
  };
  const committer = new Committer<JsMsg>({
    clock,
    slices: () => [...consumers.values()],
    sink,
    sharedState: () => [notifier, ...mode.leaderAlertStores()],
    consent,
    erasures: { erase: (req) => eraseCustomer(erasureTargets, req), deleteRequestMessages: (seqs) => deleteStreamMessages(jsm, config.nats.stream, seqs) },
    fence: () => mode.fence(),
    sweeper: () => mode.sweeper(),
    checkpointIntervalMs: config.processor.checkpointIntervalMs,
    log,
  });

  const wiring: Wiring = {
    ...services,
    config,
    log,
    clock,
    processorId: config.cluster.processorId ?? defaultProcessorId(),
    consumers,
    pipelines,
    pipelineNotifier,
    createConsumer,
    serial,
    committer,
    budgetId: pseudonymizer ? (id) => pseudonymizer.hash(id) : (id) => id,
    clockOffset: sharedOffsetOf(given),
    // The version scoring now (a staged one shows once a checkpoint has let it take over).
    modelState: () => modelState(pipelines()[0]?.model.name ?? model.name, refit?.status() ?? null),
  };
  const mode = (runtime = clustered ? clusterRuntime(wiring) : singleRuntime(wiring));

  let wall = null as WallServer | null;
  const registry = createMetrics({
    pipelines: everyPipeline,
    sink,
    pending: () => sumOf([...consumers.values()], (c) => c.source.pending()),
    natsConnected: () => nc.connected() && (services.budgetNc?.connected() ?? true),
    wallClients: () => wall?.clientCount() ?? 0,
    commitDurations: () => committer.durations,
    oldestCheckpointAt: () => (consumers.size > 0 ? Math.min(...[...consumers.values()].map((c) => c.ledger.lastCheckpoint.at)) : 0),
    wallFanout: () => wall?.fanoutDurations ?? null,
    deadLettersPublished: () => natsOut.deadLetters,
    alertsPublished: () => natsOut.alerts,
    notifications: () => ({
      sent: notifier.sent,
      silenced: notifier.silenced,
      webhook: services.receivers.webhook?.stats ?? null,
      alertmanager: services.receivers.alertmanager ? { ...services.receivers.alertmanager.stats, firing: services.receivers.alertmanager.firingCount } : null,
    }),
    cluster: mode.clusterMetrics,
  });
  let started = false;
  const privacy = config.privacy;
  const wallSource: WallSource = {
    ...mode.wall,
    // Under pseudonymization responders may be shown the original ids still remembered in memory.
    forRole: pseudonymizer && privacy.revealToResponders ? (frame, role) => (role === 'responder' ? revealFrame(frame, (p) => pseudonymizer.original(p)) : frame) : undefined,
    listSilences: () => notifier.listSilences(clock.now()),
    addSilence: async (input) => {
      // Under pseudonymization a responder may have typed a revealed original id: it becomes the pseudonym first.
      const stored = pseudonymizer ? pseudonymizeSilence(input, pseudonymizer) : ({ ok: true, input } as const);
      if (!stored.ok) return stored;
      const r = mode.silenceTarget()?.addSilence(stored.input) ?? notifier.addSilence(stored.input, clock.now());
      if (r.ok) await mode.silencesChanged();
      return r;
    },
    expireSilence: async (id) => {
      const done = mode.silenceTarget()?.expireSilence(id) ?? notifier.expireSilence(id, clock.now());
      if (done) await mode.silencesChanged();
      return done;
    },
    live: () => true,
    readiness: () => {
      const list = [...consumers.values()];
      return readiness({
        natsConnected: nc.connected() && (services.budgetNc?.connected() ?? true),
        notifierError: notifier.error,
        consentError: consent.error,
        alertStores: [...list.map((c) => c.alertStore), ...mode.leaderAlertStores()],
        clickhouse: sink.state(),
        schema: services.schema,
        consumer: mode.consumerCheck(started),
        extra: mode.extraChecks(),
        checkpointsAt: list.map((c) => c.ledger.lastCheckpoint.at),
        now: clock.now(),
        modelVersion: model.name,
      });
    },
    metrics: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
  };

  let wallPort = 0;
  // A customer's own view (docs/privacy.md): the stored rows, consent and erasures, and the live part from the
  // pipelines this processor holds.
  const exporter = customerExporter({
    ch,
    database: config.clickhouse.database,
    consent: redisConsent(redis, config.redis.keyPrefix),
    live: pipelineLookup(pipelines, config.budget.enabled),
    pseudonymKey: config.privacy.pseudonymKey,
    pseudonymize: config.privacy.pseudonymize,
    log: log.child({ stage: 'export' }),
  });
  await mode.start(async () => {
    wall = createWallServer({ config: config.wall, source: wallSource, logger: log, clock: timerClock, exporter });
    wallPort = await wall.listen();
  });
  started = true;
  const server = wall!;

  // One loop, never overlapping itself: commit often, checkpoint (and acknowledge) less often.
  const heartbeat = heartbeatKey(config);
  const heartbeatTtlMs = Math.max(5_000, 3 * config.processor.commitIntervalMs);
  const loop = startCommitLoop({
    timers: clock,
    intervalMs: config.processor.commitIntervalMs,
    // Tells `vigil forget` that a processor consumes the stream and will carry its request out soon.
    beat: () => void redis.set(heartbeat, String(clock.now()), 'PX', heartbeatTtlMs).catch(() => undefined),
    round: () => serial(() => committer.round()),
    log,
  });
  // Each tick leaves its round of customer alerts to be sampled in slices (shared/slices.ts), events between them.
  const sampling = new SlicedWork((err) => log.error({ err: errorMessage(err) }, 'sampling the round of customer alerts failed'));
  const roundSlice = (more: () => boolean): boolean => {
    let done = true;
    for (const p of everyPipeline()) done = p.alerts.continueRound(clock.now(), more) && done;
    return done;
  };
  const tick = (deriveRest: boolean): void => {
    try {
      for (const p of everyPipeline()) p.alerts.sliceRounds = true;
      for (const p of pipelines()) p.tick(clock.now(), deriveRest);
      for (const p of runtime?.leaderPipelines() ?? []) p.tick();
      mode.tick();
    } catch (err) {
      log.error({ err: errorMessage(err) }, 'tick failed');
    }
    sampling.run(() => roundSlice);
  };
  // The tick's rules and frames read what was handled until it fell due: what was marked then is derived first, in
  // slices when it is more than a few dozen customers (runtime/deriveCatchUp.ts), so the tick's own stretch holds the
  // loop for its own work.
  const ticking = new SlicedWork((err) => log.error({ err: errorMessage(err) }, 'tick failed'));
  const stopTicking = every(clock, config.alerts.evaluateIntervalMs, () => ticking.run(() => catchUpThen({ pipelines, now: () => clock.now() }, tick)));
  // The derive tick: per event only the counting; scores, rules, at-risk and snapshots for what changed (pipeline.ts),
  // in slices until none is left, so that a tick after a burst does not hold the loop for all of it at once.
  const deriving = new SlicedWork((err) => log.error({ err: errorMessage(err) }, 'derive failed'));
  const deriveSlice = (more: () => boolean): boolean => {
    let pending = false;
    for (const p of pipelines()) {
      p.derive(clock.now(), more);
      pending ||= p.deriveBacklog > 0;
    }
    return !pending;
  };
  const stopDeriving = every(clock, config.signals.deriveIntervalMs, () => deriving.run(() => deriveSlice));
  log.info({ port: wallPort, transport: server.transportName, ...mode.logFields() }, `wall at http://127.0.0.1:${wallPort}/`);

  let stopping: Promise<void> | null = null;
  return {
    get pipeline() {
      const single = mode.single();
      if (!single) throw new VigilError('CONFIG_INVALID', 'a clustered processor has one pipeline per partition: use pipelines()');
      return single;
    },
    pipelines,
    processorId: wiring.processorId,
    partitions: () => mode.partitions(),
    wallPort,
    wallTransport: server.transportName,
    budgetHttpPort: () => mode.budgetHttpPort(),
    restart: () => {
      const list = [...consumers.values()];
      return { replayed: sumOf(list, (c) => c.restartStats.replayed), ms: Math.max(0, ...list.map((c) => c.restartStats.ms)) };
    },
    checkpointNow: () => serial(() => committer.checkpointAll()),
    suppressionBucket: () => mode.suppressionBucket(),
    sinkCounters: () => sink.counters,
    refitStatus: () => refit?.status() ?? null,
    natsConnections: () => ({ processor: nc.conn, budget: services.budgetNc?.conn ?? null }),
    reloadRules: (rules) => {
      for (const p of everyPipeline()) p.setRules(rules);
      log.info({ rules: rules.map((r) => r.name) }, 'alert rules reloaded');
    },
    stop: () =>
      (stopping ??= (async () => {
        stopTicking();
        stopDeriving();
        // The loops end between slices; what they leave is derived by the final checkpoint.
        await ticking.stop();
        await sampling.stop();
        await deriving.stop();
        models.stop();
        refit?.stop();
        await mode.stopPressure();
        await loop.stop();
        let cancelDeadline = (): void => undefined;
        const deadline = new Promise<'timeout'>((r) => (cancelDeadline = clock.schedule(() => r('timeout'), config.processor.shutdownTimeoutMs)));
        // What is not checkpointed by the deadline is replayed from the stream at the next start: nothing is lost.
        const done = await Promise.race([mode.handOver().then(() => 'ok' as const), deadline]);
        cancelDeadline();
        if (done === 'timeout') log.warn('shutdown deadline passed before the final checkpoint; the next start replays from the previous one');
        await mode.closeFeeds();
        await server.close();
        services.schema.stopped = true;
        // What the checkpoint covered is in ClickHouse or a spill file (inserted at the next start); what is still in
        // memory was never acknowledged. Stops the retries and frees the spill directory.
        sink.abort();
        services.receivers.stop();
        await Promise.all([...[...consumers.values()].map((c) => c.alertStore.persist()), ...mode.leaderAlertStores().map((s) => s.persist()), notifier.persist(), consent.persist()]);
        await mode.stopBudget();
        await redis.del(heartbeat).catch(() => undefined);
        redis.disconnect();
        await nc.conn.drain().catch(() => undefined);
        // The budget's service and forwarded checks stopped with stopPressure and stopBudget: nothing left to answer.
        await services.budgetNc?.conn.drain().catch(() => undefined);
        await ch.close();
        log.info({ processed: sumOf(pipelines(), (p) => p.counts.processed) }, 'stopped');
      })()),
  };
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
