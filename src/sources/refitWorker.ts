// The scheduled refit's worker thread (modelRefit.ts starts it): the fit of `vigil model fit` from ClickHouse, with the
// last accepted version read first, so the processor's event loop never runs the optimiser.
import { parentPort, workerData } from 'node:worker_threads';
import { fitFromClickHouse } from '../cli/modelFitClickHouse.js';
import type { VigilConfig } from '../config/schema.js';
import { errorMessage } from '../shared/errors.js';
import { createClickHouseClient } from '../sinks/clickhouse/client.js';
import { readAcceptedFit } from './modelRefitQueries.js';
import type { FitFigures } from './modelDrift.js';

export interface RefitJob {
  clickhouse: VigilConfig['clickhouse'];
  asOfMs: number;
  minCustomers: number;
  /** signals.model.refit.minSegmentBuyers: 0 fits the pooled model only. */
  minSegmentBuyers: number;
}

/** What the worker answers: the new fit against the last accepted one, or why there is none. */
export type RefitOutcome =
  | { ok: true; previous: FitFigures | null; next: FitFigures; model: string; fittedAt: string; chosen: string | null; segments: string[] }
  | { ok: false; error: string };

const job = workerData as RefitJob;
const ch = createClickHouseClient(job.clickhouse);
let outcome: RefitOutcome;
try {
  const previous = await readAcceptedFit(ch);
  const fit = await fitFromClickHouse(ch, { asOfMs: job.asOfMs, fittedAtMs: job.asOfMs, minCustomers: job.minCustomers, minSegmentBuyers: job.minSegmentBuyers });
  outcome = {
    ok: true,
    previous,
    next: { params: fit.bgnbd.params, logLikelihood: fit.bgnbd.logLikelihood, customers: fit.customers, converged: fit.bgnbd.converged },
    model: fit.model,
    fittedAt: fit.fittedAt,
    chosen: fit.comparison?.chosen ?? null,
    segments: (fit.segments ?? []).filter((s) => s.converged).map((s) => s.segment),
  };
} catch (err) {
  outcome = { ok: false, error: errorMessage(err) };
} finally {
  await ch.close().catch(() => undefined);
}
parentPort!.postMessage(outcome!);
