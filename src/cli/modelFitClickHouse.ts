// `vigil model fit` from ClickHouse, which the scheduled refit runs too: every customer's purchases as of a time, the
// pooled BG/NBD and Gamma-Gamma fits, the holdout comparison of the three count models on a sample, the chosen
// model's fit on everyone and the segments' fits, stored in model_params as one version.
import { DAY_MS, MINUTE_MS } from '../shared/clock.js';
import { VigilError, errorMessage } from '../shared/errors.js';
import type { ClickHouseClient } from '../sinks/clickhouse/client.js';
import { BGNBD_MODEL, GAMMA_GAMMA_MODEL, readPurchaseHistories, storeModelFits, storedModelName, type ModelFitRecord, type StoredModel } from '../sources/purchaseModels.js';
import { COUNT_MODELS, type CountModelName, type ModelParams } from '../signals/models/countModels.js';
import type { BgNbdParams, CustomerSummary } from '../signals/models/bgnbd.js';
import type { GammaGammaParams } from '../signals/models/gammaGamma.js';
import { seededSample, type FitOptions, type ModelFit } from '../signals/models/mle.js';
import type { HoldoutData, ModelComparison } from '../signals/models/modelChoice.js';
import { modelInputs } from '../signals/purchaseModel.js';
import { modelSelectionRows, storeModelSelection } from '../sources/modelSelection.js';
import { chosenModelTracking, repeatPurchasesByWeek, storeModelTracking } from '../sources/modelTracking.js';
import { buildComparisonReport, type ComparisonReport } from './modelComparison.js';
import { inThisThread, runShared, type CountFitResult, type FitExecutor, type FitTask, type Settled } from './fitTasks.js';
import { FitThread } from './fitThread.js';
import { pacer, type PaceShare } from '../shared/pacing.js';
import type { TimeUnit } from './modelFitCsv.js';

/** What `vigil model fit` prints: the pooled fits (from a CSV of summaries or from ClickHouse). */
export interface ModelFitSummary {
  bgnbd: { params: BgNbdParams; logLikelihood: number; converged: boolean; standardErrors: Record<string, number> };
  gammaGamma?: {
    params: GammaGammaParams;
    logLikelihood: number;
    converged: boolean;
    /** Repeat buyers the spend model was fitted on. */
    customers: number;
    frequencySpendCorrelation: number;
    /** From the fit from ClickHouse: standard errors, and the covariance of ln(p, q, gamma) stored for the value intervals. */
    standardErrors?: Record<string, number>;
    logCovariance?: number[][] | null;
  };
  unit: TimeUnit;
  customers: number;
}

/** What `vigil model fit` prints and stores when it fits from ClickHouse. */
export interface ClickHouseModelFit extends ModelFitSummary {
  source: string;
  /** Purchases up to this time count; x, t_x and T are as of it. */
  asOf: string;
  /** As stored in model_params (whole seconds). */
  fittedAt: string;
  /** The name the processor gives the model once it reads this fit (customer_signals.model). */
  model: string;
  /** Why Gamma-Gamma was not fitted (the processor then keeps the config's spend parameters). */
  gammaGammaSkipped?: string;
  /** The version's count model per customer segment with at least minSegmentBuyers buyers (the spend model stays the pooled one). */
  segments?: SegmentFit[];
  /** Segments with buyers but too few, or whose fit failed, with why: their customers are scored with the pooled fit. */
  segmentsSkipped?: Record<string, string>;
  /** BG/NBD, Pareto/NBD and MBG/NBD compared on the last holdoutDays (times in days since the earliest purchase). */
  comparison?: ComparisonReport;
  comparisonSkipped?: string;
  /** The comparison's choice other than BG/NBD, fitted on the whole history: the version scores with it if converged. */
  live?: { model: CountModelName; params: Record<string, number>; logLikelihood: number; converged: boolean };
}

export const DEFAULT_MIN_CUSTOMERS = 100;

/** One segment's fit in a version, of the count model the version scores with. */
export interface SegmentFit {
  segment: string;
  customers: number;
  model: CountModelName;
  params: ModelParams;
  logLikelihood: number;
  converged: boolean;
  /** As the pooled fit's: the live P(alive) intervals of the segment's customers. */
  logCovariance: number[][] | null;
}

/**
 * `model` (BG/NBD by default) per segment ('' is no segment: the pooled fit covers it) with at least `minBuyers`
 * buyers; the rest, and any fit that fails, go to `skipped` with the reason. Segments are shared out between the
 * executors (largest first, runShared), so with a second fitting thread two segments are fitted at once.
 */
export async function fitSegments(
  inputs: readonly { segment: string; x: number; tx: number; T: number }[],
  minBuyers: number,
  model: CountModelName = 'bgnbd',
  executors: readonly FitExecutor[] = [inThisThread],
): Promise<{ fits: SegmentFit[]; skipped: Record<string, string> }> {
  return fitSegmentsOf((k) => inputs[k].segment, inputs, minBuyers, model, executors);
}

/** fitSegments over summaries whose segments segmentOf gives by index (no object per customer to carry it). */
async function fitSegmentsOf(
  segmentOf: (k: number) => string,
  summaries: readonly CustomerSummary[],
  minBuyers: number,
  model: CountModelName,
  executors: readonly FitExecutor[],
): Promise<{ fits: SegmentFit[]; skipped: Record<string, string> }> {
  const { jobs, skipped } = segmentJobs(segmentOf, summaries, minBuyers, model);
  const settled = await runShared(jobs.map((j) => ({ weight: j.data.length, run: (e: FitExecutor) => e.run(j.task) })), executors);
  const result = segmentFits(jobs, settled, model);
  return { fits: result.fits, skipped: { ...skipped, ...result.skipped } };
}

type SegmentJob = { segment: string; data: CustomerSummary[]; task: FitTask & { kind: 'count' } };

/** Each segment's fit as a task, largest segment first; the segments with too few buyers, with why. */
function segmentJobs(
  segmentOf: (k: number) => string,
  summaries: readonly CustomerSummary[],
  minBuyers: number,
  model: CountModelName,
): { jobs: SegmentJob[]; skipped: Record<string, string> } {
  const bySegment = new Map<string, CustomerSummary[]>();
  for (let k = 0; k < summaries.length; k++) {
    const segment = segmentOf(k);
    if (!segment) continue;
    let list = bySegment.get(segment);
    if (!list) bySegment.set(segment, (list = []));
    const { x, tx, T } = summaries[k];
    list.push({ x, tx, T });
  }
  const jobs: SegmentJob[] = [];
  const skipped: Record<string, string> = {};
  for (const [segment, data] of [...bySegment].sort((a, b) => b[1].length - a[1].length)) {
    if (data.length < minBuyers) skipped[segment] = `${data.length} buyers, at least ${minBuyers} needed (minSegmentBuyers)`;
    else jobs.push({ segment, data, task: { kind: 'count', model, data, options: { minCustomers: minBuyers } } });
  }
  return { jobs, skipped };
}

/** The segments' fits from their settled tasks, in the jobs' order; a failed one goes to skipped with its reason. */
function segmentFits(jobs: readonly SegmentJob[], settled: readonly Settled<CountFitResult>[], model: CountModelName): { fits: SegmentFit[]; skipped: Record<string, string> } {
  const fits: SegmentFit[] = [];
  const skipped: Record<string, string> = {};
  jobs.forEach((j, k) => {
    const s = settled[k];
    if (!s.ok) skipped[j.segment] = errorMessage(s.error);
    else {
      const { fit, uncertainty } = s.value;
      fits.push({ segment: j.segment, customers: j.data.length, model, params: fit.params, logLikelihood: fit.logLikelihood, converged: fit.converged, logCovariance: uncertainty.logCovariance });
    }
  });
  return { fits, skipped };
}

/** Handles a rejection now (so none is unhandled while this thread is busy) and still rejects when awaited. */
function observed<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

/**
 * Fits both models on every customer's purchases in `events` as of `asOfMs`, with x, t_x and T computed exactly as
 * the live windows compute them (modelInputs), and stores the fits in model_params with one fit date.
 *
 * With `threads` 2, a second fitting thread (fitThread.ts) compares the models and fits Gamma-Gamma while this one
 * fits the pooled BG/NBD; the chosen model's fit on everyone and the segments' fits are then shared out between both;
 * the tracking plot's weekly purchases are counted by ClickHouse meanwhile.
 */
export async function fitFromClickHouse(
  ch: ClickHouseClient,
  options: {
    asOfMs: number;
    fittedAtMs: number;
    minCustomers?: number;
    minSegmentBuyers?: number;
    holdoutDays?: number;
    /** The holdout comparison fits and scores a seeded sample of this many customers (default 10,000). */
    comparisonCustomers?: number;
    /** Fitting threads: 1 (the default) fits everything in the calling thread, 2 adds a second one. */
    threads?: number;
    /** The second fitting thread's nice value (default 0). */
    nice?: number;
    /**
     * The refit's share (shared/pacing.ts): while the processor is busy, the read's parsing and the second fitting
     * thread back off as this thread's evaluations do (paceEvaluations, set by the refit's worker).
     */
    pace?: PaceShare;
    progress?: (step: string) => void;
  },
): Promise<ClickHouseModelFit> {
  const minCustomers = options.minCustomers ?? DEFAULT_MIN_CUSTOMERS;
  const asOf = isoSeconds(options.asOfMs);
  const source = `${ch.database}.events as of ${asOf}`;
  const step = options.progress ?? (() => undefined);
  step(`reading every customer's purchases from ${source}`);
  const minSegmentBuyers = options.minSegmentBuyers ?? 0;
  const holdoutDays = options.holdoutDays ?? DEFAULT_HOLDOUT_DAYS;
  const histories = await readPurchaseHistories(ch, options.asOfMs, {
    pace: pacer(options.pace),
    segments: minSegmentBuyers > 0,
    ...(holdoutDays > 0 ? { calibrationEndMs: options.asOfMs - holdoutDays * DAY_MS } : {}),
  });
  if (histories.length < minCustomers) {
    throw new VigilError(
      'MODEL_INPUT_INVALID',
      `${source} has purchases of ${histories.length} customer${histories.length === 1 ? '' : 's'}; BG/NBD needs at least ${minCustomers} (--min-customers) to be fitted`,
    );
  }
  const nowMin = Math.floor(options.asOfMs / MINUTE_MS);
  const inputs = histories.map((h) => modelInputs(h.history, nowMin));
  const summaries = inputs.map(({ x, tx, T }) => ({ x, tx, T }));
  // Gamma-Gamma takes repeat buyers with a positive mean repeat spend; purchases without a value carry none.
  const spend = inputs.filter((i) => i.x > 0 && i.meanRepeatSpend > 0).map((i) => ({ x: i.x, mValue: i.meanRepeatSpend }));
  const thread = (options.threads ?? 1) > 1 ? FitThread.start({ nice: options.nice ?? 0, ...(options.pace ? { pace: options.pace } : {}) }) : null;
  const other: FitExecutor = thread ?? inThisThread;
  const executors = thread ? [inThisThread, thread] : [inThisThread];
  try {
    const holdout = holdoutDays > 0 ? prepareHoldout(ch, histories, { asOfMs: options.asOfMs, holdoutDays, minCustomers, comparisonCustomers: options.comparisonCustomers ?? DEFAULT_COMPARISON_CUSTOMERS }) : null;
    const n = inputs.length.toLocaleString('en-US');
    step(
      [
        `fitting BG/NBD on ${n} customers`,
        spend.length >= minCustomers ? `Gamma-Gamma on ${spend.length.toLocaleString('en-US')} repeat buyers` : '',
        holdout && typeof holdout !== 'string' ? `comparing BG/NBD, Pareto/NBD and MBG/NBD on the last ${holdoutDays} days` : '',
      ]
        .filter(Boolean)
        .join(', ') + (thread ? ' (two threads)' : ''),
    );
    // The other thread's tasks are handed over first; in one thread they run here, in this order.
    const comparing = holdout && typeof holdout !== 'string' ? observed(other.run({ kind: 'compare', data: holdout.data, options: holdout.options })) : null;
    const spending = spend.length >= minCustomers ? observed(other.run({ kind: 'spend', data: spend, minCustomers })) : null;
    const pooled = await inThisThread.run({ kind: 'count', model: 'bgnbd', data: summaries, options: { minCustomers } });
    const bg = pooled.fit as unknown as ModelFit<BgNbdParams>;
    const fit: ClickHouseModelFit = {
      bgnbd: { params: bg.params, logLikelihood: bg.logLikelihood, converged: bg.converged, standardErrors: pooled.uncertainty.standardErrors },
      unit: 'days',
      customers: inputs.length,
      source,
      asOf,
      fittedAt: isoSeconds(options.fittedAtMs),
      model: '',
    };
    if (spending) {
      const { fit: gg, uncertainty } = await spending;
      fit.gammaGamma = { params: gg.params, logLikelihood: gg.logLikelihood, converged: gg.converged, customers: gg.customers, frequencySpendCorrelation: gg.frequencySpendCorrelation, standardErrors: uncertainty.standardErrors, logCovariance: uncertainty.logCovariance };
    } else {
      fit.gammaGammaSkipped = `${spend.length} repeat buyers with spend, at least ${minCustomers} needed (--min-customers)`;
    }
    const fittedAtMs = Math.floor(options.fittedAtMs / 1000) * 1000;
    // The comparison first: the version stored below carries the chosen model's fit when it is not BG/NBD.
    const compared = typeof holdout === 'string' ? ((fit.comparisonSkipped = holdout), null) : holdout && comparing ? await holdout.finish(await comparing) : null;
    const chosenName = compared?.comparison.chosen;
    const live = chosenName && chosenName !== 'bgnbd' ? chosenName : null;
    // Segments are fitted with the model the version scores with: the chosen one when its fit converged (known only
    // once it is fitted; a chosen fit that does not converge is rare, and its segments are then fitted again).
    const segmentModel: CountModelName = live ?? 'bgnbd';
    const segmentOf = (k: number) => histories[k].segment ?? '';
    const segmented = minSegmentBuyers > 0 ? segmentJobs(segmentOf, summaries, minSegmentBuyers, segmentModel) : null;
    if (live || segmented) {
      step(
        [
          live ? `fitting ${COUNT_MODELS[live].label}, the holdout's choice, on ${n} customers for live scoring` : '',
          segmented ? `fitting ${COUNT_MODELS[segmentModel].label} per segment with at least ${minSegmentBuyers} buyers` : '',
        ]
          .filter(Boolean)
          .join('; ') + (thread ? ' (two threads)' : ''),
      );
    }
    const liveJob = live ? [{ weight: summaries.length, run: (e: FitExecutor) => e.run({ kind: 'count', model: live, data: summaries, options: { minCustomers } }) }] : [];
    const segmentRuns = (segmented?.jobs ?? []).map((j) => ({ weight: j.data.length, run: (e: FitExecutor) => e.run(j.task) }));
    const settled = await runShared([...liveJob, ...segmentRuns], executors);
    let chosen: StoredModel['chosen'], storedChoice: ModelFitRecord | undefined;
    if (live) {
      const outcome = settled[0];
      if (!outcome.ok) throw outcome.error;
      const { fit: full, uncertainty } = outcome.value;
      fit.live = { model: live, params: full.params, logLikelihood: full.logLikelihood, converged: full.converged };
      if (full.converged) chosen = { model: live, params: full.params, logCovariance: uncertainty.logCovariance }; // else stored, not read
      storedChoice = { ...fit.live, customers: inputs.length, logCovariance: uncertainty.logCovariance };
    }
    if (segmented) {
      let result = segmentFits(segmented.jobs, settled.slice(liveJob.length), segmentModel);
      // The chosen model's fit did not converge: the version scores with BG/NBD, and so must its segments.
      if (live && !chosen) result = await fitSegmentsOf(segmentOf, summaries, minSegmentBuyers, 'bgnbd', executors);
      fit.segments = result.fits;
      const skipped = { ...segmented.skipped, ...result.skipped };
      if (Object.keys(skipped).length > 0) fit.segmentsSkipped = skipped;
    }
    const ggUsable = fit.gammaGamma?.converged === true;
    fit.model = storedModelName({ fittedAtMs, gammaGamma: ggUsable ? fit.gammaGamma!.params : null, chosen });
    step(`storing ${fit.model} in model_params`);
    // One insert: the watch never reads a version without the chosen model's row that names it.
    await storeModelFits(ch, fittedAtMs, source, [
      { model: BGNBD_MODEL, params: bg.params, logLikelihood: bg.logLikelihood, customers: inputs.length, converged: bg.converged, logCovariance: pooled.uncertainty.logCovariance },
      ...(fit.gammaGamma
        ? [{ model: GAMMA_GAMMA_MODEL, params: fit.gammaGamma.params, logLikelihood: fit.gammaGamma.logLikelihood, customers: fit.gammaGamma.customers, converged: fit.gammaGamma.converged, logCovariance: fit.gammaGamma.logCovariance } as const]
        : []),
      ...(fit.segments ?? []).map((s) => ({ model: s.model, params: s.params, logLikelihood: s.logLikelihood, customers: s.customers, converged: s.converged, segment: s.segment, logCovariance: s.logCovariance }) as const),
      ...[storedChoice ?? []].flat(),
    ]);
    if (compared) {
      fit.comparison = compared.report;
      step(`storing the comparison (chosen: ${compared.report.chosen}) in model_selection and its tracking plot in model_tracking`);
      const selection = modelSelectionRows(compared.comparison, compared.uncertainty, { fittedAtMs, originMs: compared.originMs, source });
      await Promise.all([storeModelSelection(ch, selection), storeModelTracking(ch, compared.tracking(fittedAtMs))]);
    }
    return fit;
  } finally {
    await thread?.close();
  }
}

export const DEFAULT_HOLDOUT_DAYS = 90;
export const DEFAULT_COMPARISON_CUSTOMERS = 10_000;

/**
 * Calibration summaries as of asOf − holdoutDays (the same query, earlier), holdout counts as the purchases since;
 * times in days since the earliest first purchase. A reason instead when the calibration period is too thin. The
 * comparison's fits are a task (`data`, `options`) for whichever thread is free; the tracking plot's weekly purchases
 * are counted by ClickHouse from now on, and `finish` puts the comparison, the report and the plot together.
 */
function prepareHoldout(
  ch: ClickHouseClient,
  histories: Awaited<ReturnType<typeof readPurchaseHistories>>,
  o: { asOfMs: number; holdoutDays: number; minCustomers: number; comparisonCustomers: number },
) {
  const calibrationEndMs = o.asOfMs - o.holdoutDays * DAY_MS;
  const calibrationEndMin = Math.floor(calibrationEndMs / MINUTE_MS);
  // The customers who bought by the calibration end (their purchases up to it come from the same scan as the
  // histories), by index: at a million customers, an object each per step cost seconds of copying and collection.
  const earlier: number[] = [];
  let repeatBuyers = 0;
  let originMin = Number.POSITIVE_INFINITY;
  for (let k = 0; k < histories.length; k++) {
    const cal = histories[k].calibration;
    if (!cal) continue;
    earlier.push(k);
    if (cal.purchases > 1) repeatBuyers++;
    originMin = Math.min(originMin, cal.firstMin);
  }
  if (earlier.length < o.minCustomers || repeatBuyers === 0) {
    return `${earlier.length} customers bought before the holdout's start, ${repeatBuyers} of them again: too few to compare (at least ${o.minCustomers}, some repeat buyers)`;
  }
  const originMs = originMin * MINUTE_MS;
  const calibrationEnd = (calibrationEndMs - originMs) / DAY_MS;
  // The choice is a statistical comparison: a seeded sample of comparisonCustomers decides it as well as everyone
  // would, at a fraction of the cost (Pareto/NBD's likelihood costs ~3 µs a customer per evaluation).
  const compared = seededSample(earlier, o.comparisonCustomers, 1).map((k) => {
    const h = histories[k];
    return { customerId: h.customerId, ...modelInputs(h.calibration!, calibrationEndMin), holdout: h.history.purchases - h.calibration!.purchases };
  });
  const data: HoldoutData = {
    calibration: compared.map(({ x, tx, T }) => ({ x, tx, T })),
    holdoutPurchases: compared.map((c) => c.holdout),
    calibrationEnd,
    holdoutEnd: calibrationEnd + o.holdoutDays,
  };
  // Staged fits (mle.ts) on a quarter of the sample: Pareto/NBD's series make its fits the refit's costliest step.
  const options: FitOptions = { minCustomers: o.minCustomers, searchCustomers: Math.max(1_000, Math.floor(o.comparisonCustomers / 4)) };
  const firstDays = earlier.map((k) => (histories[k].calibration!.firstMin * MINUTE_MS - originMs) / DAY_MS);
  const actualByWeek = observed(repeatPurchasesByWeek(ch, { originMs, calibrationEndMs, asOfMs: o.asOfMs }));
  return {
    data,
    options,
    finish: async (comparison: ModelComparison) => {
      const tracking = chosenModelTracking({ comparison, firstDays, originMs, actualByWeek: await actualByWeek });
      return { comparison, originMs, tracking, ...buildComparisonReport(comparison, compared, 'days') };
    },
  };
}

function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
