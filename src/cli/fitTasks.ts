// The independent fits of a version (modelFitClickHouse.ts) as tasks that run where there is a free core: in the
// calling thread, or in a second fitting thread (fitThread.ts) that runs the same functions on a copy of the data.
// On two cores a refit of 1,000,000 customers fits the pooled model in one thread while the other compares the
// models, then the segments' fits are shared out between both.
import { fitGammaGamma, type GammaGammaFit, type SpendSummary } from '../signals/models/gammaGamma.js';
import { COUNT_MODELS, type CountModelName, type ModelParams } from '../signals/models/countModels.js';
import type { CustomerSummary, FitOptions, ModelFit } from '../signals/models/mle.js';
import { compareModels, type HoldoutData, type ModelComparison } from '../signals/models/modelChoice.js';
import { gammaGammaUncertainty, parameterUncertainty, type ParameterUncertainty } from '../signals/models/uncertainty.js';

/** A count model's fit with the covariance the live intervals read (from the fit's own information when it has it). */
export interface CountFitResult {
  fit: ModelFit<ModelParams>;
  uncertainty: ParameterUncertainty;
}

export interface SpendFitResult {
  fit: GammaGammaFit;
  uncertainty: ParameterUncertainty;
}

/** One fit, as data that crosses to a worker thread (structured clone): no functions, no class instances. */
export type FitTask =
  | { kind: 'count'; model: CountModelName; data: readonly CustomerSummary[]; options: FitOptions }
  | { kind: 'spend'; data: readonly SpendSummary[]; minCustomers: number }
  | { kind: 'compare'; data: HoldoutData; options: FitOptions };

export type FitTaskResult<T extends FitTask> = T extends { kind: 'count' } ? CountFitResult : T extends { kind: 'spend' } ? SpendFitResult : ModelComparison;

/** Runs a task in this thread: what the fitting thread runs for each message, and the one-thread refit for each step. */
export function runFitTask<T extends FitTask>(task: T): FitTaskResult<T> {
  return runAny(task) as FitTaskResult<T>;
}

function runAny(task: FitTask): CountFitResult | SpendFitResult | ModelComparison {
  switch (task.kind) {
    case 'count': {
      const fit = COUNT_MODELS[task.model].fit(task.data, task.options);
      return { fit, uncertainty: parameterUncertainty(task.model, fit.params, task.data, fit.information) };
    }
    case 'spend': {
      const fit = fitGammaGamma(task.data, { minCustomers: task.minCustomers });
      return { fit, uncertainty: gammaGammaUncertainty(fit.params, task.data, fit.information) };
    }
    case 'compare':
      return compareModels(task.data, task.options);
  }
}

/** Where tasks run: this thread (synchronously, when run is called) or the fitting thread. */
export interface FitExecutor {
  run<T extends FitTask>(task: T): Promise<FitTaskResult<T>>;
}

/** The calling thread: the task runs to its end inside run(), as the refit always ran before the fitting thread. */
export const inThisThread: FitExecutor = {
  run: async (task) => runFitTask(task),
};

export type Settled<R> = { ok: true; value: R } | { ok: false; error: unknown };

/**
 * Runs every job on one of the executors, the heaviest first each to the executor with the least weight so far (the
 * longest-processing-time rule: within 4/3 of the best split). Jobs for other executors are handed over before this
 * thread's own run, so both work at once. Each job's outcome is settled on its own: one failed fit fails no other.
 */
export async function runShared<R>(
  jobs: readonly { weight: number; run: (executor: FitExecutor) => Promise<R> }[],
  executors: readonly FitExecutor[],
): Promise<Settled<R>[]> {
  const load = executors.map(() => 0);
  const assigned = jobs.map(() => 0);
  const order = jobs.map((_, i) => i).sort((a, b) => jobs[b].weight - jobs[a].weight);
  for (const i of order) {
    const least = load.indexOf(Math.min(...load));
    assigned[i] = least;
    load[least] += jobs[i].weight;
  }
  const settle = (p: () => Promise<R>): Promise<Settled<R>> => p().then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }));
  const outcomes = new Array<Promise<Settled<R>>>(jobs.length);
  // Others' jobs first: each is only posted, so this thread's jobs below start at once.
  for (const i of order) if (executors[assigned[i]] !== inThisThread) outcomes[i] = settle(() => jobs[i].run(executors[assigned[i]]));
  // This thread's jobs run one after another, each inside its run() call.
  for (const i of order) if (executors[assigned[i]] === inThisThread) outcomes[i] = settle(() => jobs[i].run(inThisThread));
  return Promise.all(outcomes);
}
