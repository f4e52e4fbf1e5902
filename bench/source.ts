// The processor's modules as the benchmark runs them: compiled by tsc (what `vigil run` runs) when the bench has
// built them into VIGIL_BENCH_DIST, else the TypeScript sources through tsx (whose keepNames wrappers cost a little).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as Alerts from '../src/alerts/alertStore.js';
import type * as ConfigLoad from '../src/config/load.js';
import type * as PipelineModule from '../src/pipeline.js';
import type * as Processor from '../src/runtime/processor.js';
import type * as Clock from '../src/shared/clock.js';
import type * as ModelRefit from '../src/sources/modelRefit.js';
import type * as ThreadPriority from '../src/shared/threadPriority.js';
import type * as Logger from '../src/shared/logger.js';
import type * as PurchaseModel from '../src/signals/purchaseModel.js';
import type * as Trend from '../src/signals/models/trend.js';
import type { VigilConfig } from '../src/config/schema.js';
import type { PipelineOutputs } from '../src/contract/outputs.js';

/** Outputs that go nowhere: the pipeline's own cost, with no I/O. */
const discard: PipelineOutputs = { event() {}, customerActivity() {}, entityActivity() {}, signals() {}, alert() {}, rejected() {} };

const dist = process.env.VIGIL_BENCH_DIST;
const base = dist ? pathToFileURL(`${resolve(dist)}/`) : new URL('../src/', import.meta.url);

export async function loadSource() {
  const load = <T>(path: string) => import(new URL(path, base).href) as Promise<T>;
  const [alerts, config, pipeline, processor, clock, logger, model, trend, refit, priority] = await Promise.all([
    load<typeof Alerts>('alerts/alertStore.js'),
    load<typeof ConfigLoad>('config/load.js'),
    load<typeof PipelineModule>('pipeline.js'),
    load<typeof Processor>('runtime/processor.js'),
    load<typeof Clock>('shared/clock.js'),
    load<typeof Logger>('shared/logger.js'),
    load<typeof PurchaseModel>('signals/purchaseModel.js'),
    load<typeof Trend>('signals/models/trend.js'),
    load<typeof ModelRefit>('sources/modelRefit.js'),
    load<typeof ThreadPriority>('shared/threadPriority.js'),
  ]);
  return {
    MemoryAlertStore: alerts.MemoryAlertStore,
    parseConfig: config.parseConfig,
    Pipeline: pipeline.Pipeline,
    startProcessor: processor.startProcessor,
    systemClock: clock.systemClock,
    createLogger: logger.createLogger,
    configuredPurchaseModel: model.configuredPurchaseModel,
    liveEngagementTrend: trend.liveEngagementTrend,
    runRefitWorker: refit.runRefitWorker,
    niceFromStat: priority.niceFromStat,
    compiled: Boolean(process.env.VIGIL_BENCH_DIST),
    /** A pipeline with the configured model and the live trend whose outputs go nowhere (the benches without I/O). */
    quietPipeline: (config: VigilConfig, clock: Clock.Clock) =>
      new pipeline.Pipeline({ config, clock, outputs: discard, model: model.configuredPurchaseModel(config.signals.model), trend: trend.liveEngagementTrend, alertStore: new alerts.MemoryAlertStore() }),
  };
}
