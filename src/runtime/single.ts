// A single processor: one consumer over the whole stream, no lease, its pipeline the wall's source and the contact
// budget's, the notifier fed by that pipeline directly.
import type { Service } from 'nats';
import type { AlertNotifier, Notifier } from '../alerts/notifier.js';
import type { Pipeline } from '../pipeline.js';
import { localAnswers, startPressureService } from '../budget/natsService.js';
import { openSuppressionBucket, type SuppressionBucket } from '../budget/suppressionBucket.js';
import { answerBatch, customerPressure } from '../budget/requests.js';
import { BudgetThread } from '../budget/budgetThread.js';
import { budgetOnThread } from '../config/schema.js';
import { VigilError } from '../shared/errors.js';
import { pressureRoutes } from './pressure.js';
import type { Check } from './readiness.js';
import type { Runtime, Wiring } from './wiring.js';

/** The single consumer's key in Wiring.consumers. */
const SINGLE = -1;

/** A single processor's pipeline notifies itself. */
export const singleNotifier = (notifier: Notifier): AlertNotifier => notifier;

export function singleRuntime(w: Wiring): Runtime {
  const { config, consumers } = w;
  const single = (): Pipeline => consumers.get(SINGLE)!.pipeline;
  let pressureService: Service | null = null;
  let suppressionBucket: SuppressionBucket | null = null;
  // budget.thread: the budget's thread answers senders and the wall's routes; this thread keeps the tally and the bucket.
  const onThread = budgetOnThread(config);
  let budgetThread: BudgetThread | null = null;
  const unavailable = () => Promise.reject(new Error('the contact budget is not answering yet'));
  return {
    single: () => consumers.get(SINGLE)?.pipeline ?? null,
    leaderPipelines: () => [],
    leaderAlertStores: () => [],
    fence: () => null,
    sweeper: () => null,
    wall: {
      snapshot: () => single().snapshot(),
      subscribe: (l) => single().subscribe(l),
      acknowledge: async (id, by) => single().acknowledge(id, by),
      pressure: config.budget.enabled
        ? pressureRoutes(
            config.budget.maxBatch,
            onThread ? (id) => budgetThread?.pressure(id) ?? unavailable() : (id) => customerPressure(single().budget, id, w.budgetId),
            onThread ? (requests) => budgetThread?.batch(requests) ?? unavailable() : (requests) => answerBatch(single().budget, requests, w.budgetId),
          )
        : undefined,
    },
    silenceTarget: () => single(),
    silencesChanged: async () => undefined,
    consumerCheck: (started) => {
      const list = [...consumers.values()];
      const consuming = started && list.length > 0 && list.every((c) => c.consuming);
      return {
        ok: consuming,
        detail: consuming
          ? `consuming ${config.nats.stream}/${config.nats.consumer}; last checkpoint at seq ${list[0].ledger.lastCheckpoint.seq} (${list[0].ledger.lastCheckpoint.bytes} bytes)`
          : list[0]?.pipeline.replaying
            ? 'replaying the stream after the checkpoint'
            : 'not consuming',
      };
    },
    extraChecks: (): Record<string, Check> => (budgetThread ? { budget: budgetThread.check() } : {}),
    start: async (listenWall) => {
      // Said before the replay, not after it: the thread would start only then.
      if (onThread && w.clockOffset === null) throw new VigilError('CONFIG_INVALID', "budget.thread needs a clock another thread can read (the system clock or an OffsetClock); set budget.thread: false");
      const c = await w.createConsumer(null);
      consumers.set(SINGLE, c);
      await listenWall();
      await c.start();
      // Senders are answered from caught-up state only: the bucket and the service start after the replay.
      if (config.budget.enabled) {
        suppressionBucket = await openSuppressionBucket(w.nc.conn, config.budget, c.pipeline.budget, w.log.child({ stage: 'budget' }), config.nats.replicas, undefined, w.clock);
        if (!onThread) pressureService = await startPressureService(w.budgetNc!.conn, config.budget, localAnswers(c.pipeline.budget, w.budgetId), w.log.child({ stage: 'budget' }));
        else budgetThread = await BudgetThread.start({ config, windows: c.pipeline.windows, budget: c.pipeline.budget, consent: w.consent, clockOffset: w.clockOffset!, log: w.log.child({ stage: 'budget' }) });
      }
    },
    tick: () => undefined,
    partitions: () => [],
    logFields: () => ({}),
    suppressionBucket: () => suppressionBucket,
    budgetHttpPort: () => budgetThread?.httpPort ?? null,
    stopPressure: async () => {
      suppressionBucket?.cut();
      await pressureService?.stop().catch(() => undefined);
      await budgetThread?.stop();
    },
    handOver: () =>
      w.serial(async () => {
        const c = consumers.get(SINGLE)!;
        await c.stopConsuming();
        await w.committer.checkpoint(c);
      }),
    closeFeeds: async () => undefined,
    stopBudget: async () => {
      await suppressionBucket?.stop();
    },
  };
}
