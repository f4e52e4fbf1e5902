// A cluster member (cluster.partitions > 0, docs/scale-out.md): partitions taken and handed over through the leases,
// the cluster wall (every processor's view and alerts), the contact budget routed to the partition holding a
// customer, and while this member leads, the leader's duties (becomeLeader): the cross-customer rules and the sweep
// of unpartitioned subjects, and the notifications of the whole cluster's alerts.
import type { Service } from 'nats';
import type { AlertView, OverloadCell, SnapshotFrame } from '../contract/frames.js';
import { errorMessage } from '../shared/errors.js';
import type { Pipeline } from '../pipeline.js';
import { RedisAlertStore } from '../alerts/redisAlertStore.js';
import { EntityRuleEvaluator } from '../alerts/entityRuleEvaluator.js';
import type { AlertNotifier, Notifier } from '../alerts/notifier.js';
import { FanOutOutputs } from '../sinks/outputs.js';
import { pseudonymizePayload } from '../privacy/pseudonym.js';
import { startPressureService } from '../budget/natsService.js';
import { openSuppressionBucket, type SuppressionBucket } from '../budget/suppressionBucket.js';
import { PartitionLeases } from '../cluster/leases.js';
import { EntityCombiner } from '../cluster/entityCombiner.js';
import { ensurePartialsStream } from '../cluster/entityPartials.js';
import { ClusterWall } from '../cluster/clusterWall.js';
import { mergeSnapshots } from '../wall/snapshotMerge.js';
import { UnpartitionedSweeper } from '../cluster/unpartitioned.js';
import { BudgetRouter } from '../cluster/budgetRouter.js';
import { pressureRoutes } from './pressure.js';
import type { Runtime, Wiring } from './wiring.js';

/** How long the partials stream keeps a partition's buckets: the longest entity window (24 h) and an hour to spare. */
const PARTIALS_MAX_AGE_MS = 25 * 3_600_000;

interface Leader {
  pipeline: EntityRuleEvaluator;
  alertStore: RedisAlertStore;
  sweeper: UnpartitionedSweeper;
}

/**
 * In a cluster the leader groups and sends the notifications of every processor's alerts (one message for a
 * campaign's customers, whichever partitions hold them): the pipelines' own changes go to it through the cluster
 * wall's alert feed, so here the notifier only answers for silences.
 */
export function clusterNotifier(notifier: Notifier): AlertNotifier {
  return {
    onAlert: () => undefined,
    tick: () => [],
    silencedBy: (labels, now) => notifier.silencedBy(labels, now),
    addSilence: (input, now) => notifier.addSilence(input, now),
    expireSilence: (id, now) => notifier.expireSilence(id, now),
    listSilences: (now) => notifier.listSilences(now),
    forgetSubject: (kind, key) => notifier.forgetSubject(kind, key),
  };
}

export function clusterRuntime(w: Wiring): Runtime {
  const { config, log, clock, nc, notifier, consumers } = w;
  // The combined channel, segment and campaign counts (every processor): every wall's overload, the leader's rules.
  const combiner = new EntityCombiner({ nc: nc.conn, stream: config.cluster.partialsStream, subjectPrefix: config.cluster.partialsSubjectPrefix, surge: config.signals.surge, maxEntities: config.windows.maxEntities, log: log.child({ stage: 'combiner' }) });
  let leader: Leader | null = null;
  let leases: PartitionLeases | null = null;
  let clusterWall: ClusterWall | null = null;
  let pressureService: Service | null = null;
  const withLeader = (): (Pipeline | EntityRuleEvaluator)[] => (leader ? [...w.pipelines(), leader.pipeline] : w.pipelines());
  // A customer's budget is its partition's: checks go to the processor holding it (docs/scale-out.md).
  const router = config.budget.enabled
    ? new BudgetRouter({
        nc: w.budgetNc!.conn,
        subjectPrefix: config.cluster.subjectPrefix,
        partitions: config.cluster.partitions,
        // Answered from caught-up state only: a partition still replaying is not asked.
        local: (p) => {
          const c = consumers.get(p);
          return c?.consuming ? c.pipeline.budget : null;
        },
        mapId: (id) => w.budgetId(id),
        log: log.child({ stage: 'budget' }),
      })
    : null;
  const suppressionBuckets = new Map<number, SuppressionBucket>();
  /** What this processor alone shows: its partitions' pipelines and, on the leader, the cross-customer alerts. */
  const localSnapshot = (): SnapshotFrame => mergeSnapshots(withLeader().map((p) => p.snapshot()), { atRiskLimit: config.wall.atRiskListSize, now: clock.now() });
  const acknowledgeLocal = async (id: string, by: string): Promise<boolean> => {
    for (const p of withLeader()) if (p.acknowledge(id, by)) return true;
    return false;
  };

  const takePartition = async (p: number): Promise<void> => {
    const c = await w.createConsumer(p);
    consumers.set(p, c);
    try {
      await c.start();
    } catch (err) {
      consumers.delete(p);
      await c.stopConsuming().catch(() => undefined);
      throw err;
    }
    // Senders are answered from caught-up state only: the partition's budget serves after the replay.
    if (router) {
      suppressionBuckets.set(p, await openSuppressionBucket(nc.conn, config.budget, c.pipeline.budget, log.child({ stage: 'budget', partition: p }), config.nats.replicas, (id) => c.pipeline.windows.find(id) !== -1, clock));
      router.serve(p);
    }
    log.info({ partition: p, replayed: c.restartStats.replayed, ms: c.restartStats.ms }, 'partition taken');
  };
  const releasePartition = async (p: number, graceful: boolean): Promise<void> => {
    const c = consumers.get(p);
    if (!c) return;
    router?.unserve(p);
    await suppressionBuckets.get(p)?.stop();
    suppressionBuckets.delete(p);
    await c.stopConsuming();
    // A hand-over checkpoints, so the next owner replays nothing; a lost lease stops at once and saves nothing.
    if (graceful) await w.committer.checkpoint(c);
    consumers.delete(p);
    log.info({ partition: p, graceful }, 'partition released');
  };
  const lead = async (isLeader: boolean): Promise<void> => {
    if (isLeader && !leader) {
      leader = await becomeLeader(w, combiner, clusterWall!);
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
  };

  return {
    single: () => null,
    leaderPipelines: () => (leader ? [leader.pipeline] : []),
    leaderAlertStores: () => (leader ? [leader.alertStore] : []),
    fence: () => leases,
    sweeper: () => leader?.sweeper ?? null,
    wall: {
      snapshot: () => clusterWall!.snapshot(),
      subscribe: (l) => clusterWall!.subscribe(l),
      acknowledge: (id, by) => clusterWall!.acknowledge(id, by),
      pressure: router
        ? pressureRoutes(
            config.budget.maxBatch,
            (id) => router.pressure(id),
            (req) => router.batch(req),
          )
        : undefined,
    },
    silenceTarget: () => leader?.pipeline ?? w.pipelines()[0],
    /** The silence is written to Redis first, then the others are told to read it. */
    silencesChanged: async () => {
      if (!clusterWall) return;
      await notifier.persist();
      clusterWall.silencesChanged();
    },
    consumerCheck: (started) => ({
      // A processor holding no partition (more processors than partitions) is ready: it serves the wall.
      ok: started && [...consumers.values()].every((c) => c.consuming),
      detail: `partitions ${leases?.owned().join(',') || 'none'} of ${config.cluster.partitions}; members ${leases?.members().length ?? 0}${leases?.isLeader() ? '; leader' : ''}`,
    }),
    extraChecks: () => ({ combiner: { ok: combiner.caughtUp, detail: combiner.caughtUp ? `${combiner.counters.bucketsFolded} buckets combined` : 'reading the partials stream' } }),
    clusterMetrics: () => ({ owned: leases?.owned().length ?? 0, members: leases?.members().length ?? 0, leader: leases?.isLeader() ?? false, unpartitioned: leader?.sweeper.deadLettered ?? 0 }),
    start: async (listenWall) => {
      await ensurePartialsStream(w.jsm, { stream: config.cluster.partialsStream, subjectPrefix: config.cluster.partialsSubjectPrefix, maxAgeMs: PARTIALS_MAX_AGE_MS, replicas: config.nats.replicas });
      await combiner.start();
      const cw = new ClusterWall({
        nc: nc.conn,
        processorId: w.processorId,
        subjectPrefix: config.cluster.subjectPrefix,
        intervalMs: config.alerts.evaluateIntervalMs,
        alertSubjectPrefix: config.nats.alertSubjectPrefix,
        atRiskLimit: config.wall.atRiskListSize,
        local: { snapshot: localSnapshot, acknowledge: acknowledgeLocal },
        overload: () => combiner.overloadCells(Math.floor(clock.now() / 60_000)),
        partitions: () => leases?.owned() ?? [],
        clock: w.timerClock,
        log: log.child({ stage: 'cluster' }),
      });
      clusterWall = cw;
      // A silence added on another processor's wall: this processor's notifications must honour it too.
      cw.onSilencesChanged(() => void notifier.reloadSilences().catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'reloading silences failed')));
      await cw.start();
      // The leader's notifier hears every alert change of the cluster, its own partitions' included.
      cw.subscribe((frame) => {
        if (frame.type === 'alert' && leader) notifier.onAlert(frame.alert, clock.now());
      });
      await listenWall();
      leases = new PartitionLeases({
        nc: nc.conn,
        bucket: config.cluster.leaseBucket,
        processorId: w.processorId,
        partitions: config.cluster.partitions,
        leaseMs: config.cluster.leaseMs,
        replicas: config.nats.replicas,
        clock: w.timerClock,
        log: log.child({ stage: 'leases' }),
        onAssign: (p) => w.serial(() => takePartition(p)),
        onRevoke: (p, graceful) => w.serial(() => releasePartition(p, graceful)),
        onLeader: (isLeader) => w.serial(() => lead(isLeader)),
      });
      await leases.start();
      if (router) pressureService = await startPressureService(w.budgetNc!.conn, config.budget, { check: (r) => router.check(r), batch: (r) => router.batch(r) }, log.child({ stage: 'budget' }));
    },
    tick: () => {
      if (leader) notifier.tick(clock.now());
    },
    partitions: () => leases?.owned() ?? [],
    logFields: () => ({ processorId: w.processorId, partitions: leases!.owned() }),
    suppressionBucket: () => null,
    budgetHttpPort: () => null,
    stopPressure: async () => {
      for (const b of suppressionBuckets.values()) b.cut();
      await pressureService?.stop().catch(() => undefined);
    },
    // Hands every partition over (stop, checkpoint, release): the others take them at once, not after the lease.
    handOver: () => leases!.stop(),
    closeFeeds: async () => {
      await leader?.sweeper.stop();
      await clusterWall?.stop();
      await combiner.stop();
    },
    stopBudget: async () => {
      router?.stop();
      for (const b of suppressionBuckets.values()) await b.stop();
    },
  };
}

/**
 * The leader's duties, built when this member becomes the leader: the notification groups the last leader left, the
 * cluster's alert hash, the pipeline evaluating the channel, segment and campaign rules on the combined counts, and
 * the sweeper of unpartitioned subjects.
 */
async function becomeLeader(w: Wiring, combiner: EntityCombiner, clusterWall: ClusterWall): Promise<Leader> {
  const { config, redis, notifier, sink, natsOut, nc, log, pseudonymizer } = w;
  // The last leader's notification groups, so a new leader neither repeats nor forgets what was sent.
  await notifier.load();
  const alertStore = new RedisAlertStore(redis, `${config.redis.keyPrefix}alerts:cluster`);
  await alertStore.load();
  // The leader's rules: channel, segment and campaign rules on every partition's combined counts.
  const pipeline = new EntityRuleEvaluator({
    config,
    clock: w.clock,
    alertStore,
    outputs: new FanOutOutputs(sink, natsOut, null),
    entities: combiner.stats,
    campaignSuppressions: () => campaignSuppressions(clusterWall.snapshot().overload, config.budget.campaignWindowMs),
    onAlert: (a: AlertView) => natsOut.alert(a),
    notifier: w.pipelineNotifier,
    bufferedRows: () => sink.bufferedRows(),
    // The leader refits (sources/modelRefit.ts): its drift is the cluster's one model_drift alert.
    model: () => w.modelState(),
  });
  const sweeper = new UnpartitionedSweeper({
    nc: nc.conn,
    config,
    outputs: new FanOutOutputs(sink, natsOut, null),
    log: log.child({ stage: 'unpartitioned' }),
    clock: w.clock,
    payload: pseudonymizer ? (data) => pseudonymizePayload(data, (id) => pseudonymizer.hash(id)) : undefined,
  });
  await sweeper.start();
  return { pipeline, alertStore, sweeper };
}

/**
 * The `suppressed_customers` samples of every campaign from the whole cluster's overload cells (each processor's
 * budget counts, summed by the cluster wall): what the leader's rule reads.
 */
export function campaignSuppressions(cells: OverloadCell[], windowMs: number): { campaignId: string; value: number; reasons: string[] }[] {
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
