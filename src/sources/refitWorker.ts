// The scheduled refit's worker thread (modelRefit.ts starts it): the fit of `vigil model fit` from ClickHouse, with the
// last accepted version read first, so the processor's event loop never runs the optimiser. The thread first lowers
// its own priority (signals.model.refit.nice), so the fit takes the CPU the event loop leaves.
import { parentPort, workerData } from 'node:worker_threads';
import { fitFromClickHouse } from '../cli/modelFitClickHouse.js';
import type { VigilConfig } from '../config/schema.js';
import { errorMessage } from '../shared/errors.js';
import { pacer, type PaceShare } from '../shared/pacing.js';
import { lowerThreadPriority, type ThreadPriority } from '../shared/threadPriority.js';
import { paceEvaluations } from '../signals/models/mle.js';
import { createClickHouseClient } from '../sinks/clickhouse/client.js';
import { readAcceptedFit } from './modelRefitQueries.js';
import type { FitFigures } from './modelDrift.js';

export interface RefitJob {
  clickhouse: VigilConfig['clickhouse'];
  asOfMs: number;
  minCustomers: number;
  /** signals.model.refit.minSegmentBuyers: 0 fits the pooled model only. */
  minSegmentBuyers: number;
  /** signals.model.refit.nice: this thread's nice value (0 leaves it). */
  nice: number;
  /** signals.model.refit.threads: 2 adds a second fitting thread at the same nice value. */
  threads: number;
  /** signals.model.refit.clickhouseThreads: ClickHouse's max_threads for the refit's queries (0: the server's). */
  clickhouseThreads: number;
  /** signals.model.refit.busyDuty: the share of one core the refit takes while the processor is busy. */
  busyDuty: number;
  /** Set by runRefitWorker: the flag its event loop keeps up while busy, with each thread's part of busyDuty. */
  pace?: PaceShare;
  /** Post a RefitProgress before each step of the fit (the bench times them). */
  progress?: boolean;
}

/** What the worker answers: the new fit against the last accepted one, or why there is none; and its priority. */
export type RefitOutcome = (
  | { ok: true; previous: FitFigures | null; next: FitFigures; model: string; fittedAt: string; chosen: string | null; segments: string[] }
  | { ok: false; error: string }
) & { priority?: ThreadPriority };

/** A step of the fit beginning, when the job asked for them: ms since the thread started. */
export interface RefitProgress {
  progress: string;
  ms: number;
}

const job = workerData as RefitJob;
const started = performance.now();
const priority = lowerThreadPriority(job.nice);
paceEvaluations(pacer(job.pace));
const ch = createClickHouseClient(job.clickhouse, job.clickhouseThreads > 0 ? { max_threads: job.clickhouseThreads } : {});
const progress = job.progress ? (step: string) => parentPort!.postMessage({ progress: step, ms: performance.now() - started } satisfies RefitProgress) : undefined;
let outcome: RefitOutcome;
try {
  const previous = await readAcceptedFit(ch);
  const fit = await fitFromClickHouse(ch, { asOfMs: job.asOfMs, fittedAtMs: job.asOfMs, minCustomers: job.minCustomers, minSegmentBuyers: job.minSegmentBuyers, threads: job.threads, nice: job.nice, pace: job.pace, progress });
  outcome = {
    ok: true,
    previous,
    next: { params: fit.bgnbd.params, logLikelihood: fit.bgnbd.logLikelihood, customers: fit.customers, converged: fit.bgnbd.converged },
    model: fit.model,
    fittedAt: fit.fittedAt,
    chosen: fit.comparison?.chosen ?? null,
    segments: (fit.segments ?? []).filter((s) => s.converged).map((s) => s.segment),
    priority,
  };
} catch (err) {
  outcome = { ok: false, error: errorMessage(err), priority };
} finally {
  await ch.close().catch(() => undefined);
}
progress?.('done');
parentPort!.postMessage(outcome!);
