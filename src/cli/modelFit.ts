// `vigil model fit`: fits BG/NBD and Gamma-Gamma on every customer's purchase history in ClickHouse and stores the
// parameters where the processor reads them; or fits from a CSV of customer summaries, or checks a fit on a purchase
// log's holdout period, so an analyst can vet the churn model before the processor uses it.
import { systemClock } from '../shared/clock.js';
import { Progress } from './progress.js';
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { DAY_MS, MINUTE_MS } from '../shared/clock.js';
import { VigilError, errorMessage } from '../shared/errors.js';
import { createClickHouseClient, type ClickHouseClient } from '../sinks/clickhouse/client.js';
import { BGNBD_MODEL, GAMMA_GAMMA_MODEL, readPurchaseHistories, storeModelFits, storedModelName, type ModelFitRecord, type StoredModel } from '../sources/purchaseModels.js';
import { COUNT_MODELS, type CountModelName } from '../signals/models/countModels.js';
import { fitBgNbd, type BgNbdParams, type CustomerSummary } from '../signals/models/bgnbd.js';
import { fitGammaGamma, type GammaGammaParams } from '../signals/models/gammaGamma.js';
import { evaluateHoldout, formatHoldoutTable } from '../signals/models/holdout.js';
import { compareModels } from '../signals/models/modelChoice.js';
import { splitCalibrationHoldout } from '../signals/models/purchaseLog.js';
import { trackingData, trackingSvg } from '../signals/models/trackingPlot.js';
import { gammaGammaUncertainty, parameterUncertainty } from '../signals/models/uncertainty.js';
import { modelInputs } from '../signals/purchaseModel.js';
import { modelSelectionRows, storeModelSelection } from '../sources/modelSelection.js';
import { chosenModelTracking, storeModelTracking } from '../sources/modelTracking.js';
import { buildComparisonReport, formatComparison, type ComparisonReport } from './modelComparison.js';
import { parsePurchaseLogCsv, parseSummaryCsv, readCsv, type SummaryRow, type TimeUnit } from './modelFitCsv.js';

export type { SummaryRow, TimeUnit };

const USAGE = `usage: vigil model fit [--config FILE] [--min-customers N] [--min-segment-buyers N] [--holdout-days N] [--quiet]
       vigil model fit --summary FILE.csv [--unit days|weeks]
       vigil model fit --holdout FILE.csv --calibration-end DATE|NUMBER [--unit days|weeks] [--json] [--plot FILE.svg]

(none)      reads every customer's purchases from ClickHouse (events, as of now, in days), fits both models, prints
            them as JSON and stores them in model_params, where the processor picks them up; also compares BG/NBD,
            Pareto/NBD and MBG/NBD fitted up to --holdout-days before now and scored on the days since, and stores
            the comparison (and the chosen model) in model_selection
--min-segment-buyers
            also fit BG/NBD per customer segment (its latest segment) with at least N buyers, stored in the same
            version; the processor scores a segment's customers with it (default 0: the pooled fit only)
--holdout-days
            length of the holdout for that comparison (default 90; 0 skips it)
--config    the processor's config file, for the ClickHouse connection (VIGIL_* environment overrides apply)
--min-customers
            refuse to fit BG/NBD on fewer customers, or Gamma-Gamma on fewer repeat buyers with spend (default 100)
--quiet     no progress lines on stderr (each step of the fit from ClickHouse, with the time so far)
--summary   CSV with header customer_id,frequency,recency,T[,monetary_value], times in --unit;
            prints the fitted parameters as JSON
--holdout   CSV purchase log with header customer_id,date[,value]; dates are YYYY-MM-DD (or ISO times) or plain
            numbers in --unit; fits on purchases up to --calibration-end and prints expected against actual
            holdout purchases by calibration frequency. A number for --calibration-end on a dated log counts
            --unit after the log's first purchase. Then compares BG/NBD, Pareto/NBD and MBG/NBD on the same split
            (holdout log-likelihood, error of the total), with standard errors and 90 % intervals
--json      with --holdout: the holdout table and the comparison as JSON instead of text
--plot      with --holdout: writes the chosen model's tracking plot (cumulative and weekly repeat purchases,
            predicted against actual, a line at the calibration end) to FILE.svg
--unit      time unit of the summary, or of the fit on a dated log (default days)`;

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

/** BG/NBD on every row; Gamma-Gamma too when any row carries a monetary value. Throws MODEL_INPUT_INVALID on bad data. */
export function fitFromSummaries(rows: readonly SummaryRow[], unit: TimeUnit = 'days'): ModelFitSummary {
  const summaries: CustomerSummary[] = rows.map((row) => ({ x: row.frequency, tx: row.recency, T: row.T }));
  const bg = fitBgNbd(summaries);
  const bgnbd = { params: bg.params, logLikelihood: bg.logLikelihood, converged: bg.converged, standardErrors: standardErrors(bg.params, summaries) };
  if (!rows.some((row) => row.monetaryValue !== undefined)) return { bgnbd, unit, customers: rows.length };
  const gg = fitGammaGamma(rows.map((row) => ({ x: row.frequency, mValue: row.monetaryValue })));
  const gammaGamma = {
    params: gg.params,
    logLikelihood: gg.logLikelihood,
    converged: gg.converged,
    customers: gg.customers,
    frequencySpendCorrelation: gg.frequencySpendCorrelation,
  };
  return { bgnbd, gammaGamma, unit, customers: rows.length };
}

function standardErrors(params: BgNbdParams, data: readonly CustomerSummary[]): Record<string, number> {
  return parameterUncertainty('bgnbd', { ...params }, data).standardErrors;
}

/** Covariance of ln(r, alpha, a, b) at the fit, stored with it for the live P(alive) intervals; null when singular. */
function logCovariance(params: BgNbdParams, data: readonly CustomerSummary[]): { standardErrors: Record<string, number>; logCovariance: number[][] | null } {
  const u = parameterUncertainty('bgnbd', { ...params }, data);
  return { standardErrors: u.standardErrors, logCovariance: u.logCovariance };
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
  /** BG/NBD per customer segment with at least minSegmentBuyers buyers (the spend model stays the pooled one). */
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

/** One segment's BG/NBD fit in a version. */
export interface SegmentFit {
  segment: string;
  customers: number;
  params: BgNbdParams;
  logLikelihood: number;
  converged: boolean;
  /** As the pooled fit's: the live P(alive) intervals of the segment's customers. */
  logCovariance: number[][] | null;
}

/**
 * BG/NBD per segment ('' is no segment: the pooled fit covers it) with at least `minBuyers` buyers; the rest, and any
 * fit that throws, go to `skipped` with the reason. Segments are fitted largest first.
 */
export function fitSegments(inputs: readonly { segment: string; x: number; tx: number; T: number }[], minBuyers: number): { fits: SegmentFit[]; skipped: Record<string, string> } {
  const bySegment = new Map<string, CustomerSummary[]>();
  for (const i of inputs) {
    if (!i.segment) continue;
    let list = bySegment.get(i.segment);
    if (!list) bySegment.set(i.segment, (list = []));
    list.push({ x: i.x, tx: i.tx, T: i.T });
  }
  const fits: SegmentFit[] = [];
  const skipped: Record<string, string> = {};
  for (const [segment, data] of [...bySegment].sort((a, b) => b[1].length - a[1].length)) {
    if (data.length < minBuyers) {
      skipped[segment] = `${data.length} buyers, at least ${minBuyers} needed (minSegmentBuyers)`;
      continue;
    }
    try {
      const fit = fitBgNbd(data, { minCustomers: minBuyers });
      fits.push({ segment, customers: data.length, params: fit.params, logLikelihood: fit.logLikelihood, converged: fit.converged, logCovariance: logCovariance(fit.params, data).logCovariance });
    } catch (err) {
      skipped[segment] = errorMessage(err);
    }
  }
  return { fits, skipped };
}

/**
 * Fits both models on every customer's purchases in `events` as of `asOfMs`, with x, t_x and T computed exactly as
 * the live windows compute them (modelInputs), and stores the fits in model_params with one fit date.
 */
export async function fitFromClickHouse(
  ch: ClickHouseClient,
  options: { asOfMs: number; fittedAtMs: number; minCustomers?: number; minSegmentBuyers?: number; holdoutDays?: number; progress?: (step: string) => void },
): Promise<ClickHouseModelFit> {
  const minCustomers = options.minCustomers ?? DEFAULT_MIN_CUSTOMERS;
  const asOf = isoSeconds(options.asOfMs);
  const source = `${ch.database}.events as of ${asOf}`;
  const step = options.progress ?? (() => undefined);
  step(`reading every customer's purchases from ${source}`);
  const minSegmentBuyers = options.minSegmentBuyers ?? 0;
  const histories = await readPurchaseHistories(ch, options.asOfMs, { segments: minSegmentBuyers > 0 });
  if (histories.length < minCustomers) {
    throw new VigilError(
      'MODEL_INPUT_INVALID',
      `${source} has purchases of ${histories.length} customer${histories.length === 1 ? '' : 's'}; BG/NBD needs at least ${minCustomers} (--min-customers) to be fitted`,
    );
  }
  const nowMin = Math.floor(options.asOfMs / MINUTE_MS);
  const inputs = histories.map((h) => modelInputs(h.history, nowMin));
  step(`fitting BG/NBD on ${inputs.length.toLocaleString('en-US')} customers`);
  const bg = fitBgNbd(inputs.map(({ x, tx, T }) => ({ x, tx, T })), { minCustomers });
  const uncertainty = logCovariance(bg.params, inputs);
  const fit: ClickHouseModelFit = {
    bgnbd: { params: bg.params, logLikelihood: bg.logLikelihood, converged: bg.converged, standardErrors: uncertainty.standardErrors },
    unit: 'days',
    customers: inputs.length,
    source,
    asOf,
    fittedAt: isoSeconds(options.fittedAtMs),
    model: '',
  };
  // Gamma-Gamma takes repeat buyers with a positive mean repeat spend; purchases without a value carry none.
  const spenders = inputs.filter((i) => i.x > 0 && i.meanRepeatSpend > 0);
  if (spenders.length >= minCustomers) {
    step(`fitting Gamma-Gamma on ${spenders.length.toLocaleString('en-US')} repeat buyers`);
    const spend = spenders.map((i) => ({ x: i.x, mValue: i.meanRepeatSpend }));
    const gg = fitGammaGamma(spend, { minCustomers });
    const { standardErrors, logCovariance } = gammaGammaUncertainty(gg.params, spend);
    fit.gammaGamma = { params: gg.params, logLikelihood: gg.logLikelihood, converged: gg.converged, customers: gg.customers, frequencySpendCorrelation: gg.frequencySpendCorrelation, standardErrors, logCovariance };
  } else {
    fit.gammaGammaSkipped = `${spenders.length} repeat buyers with spend, at least ${minCustomers} needed (--min-customers)`;
  }
  if (minSegmentBuyers > 0) {
    step(`fitting BG/NBD per segment with at least ${minSegmentBuyers} buyers`);
    const segmented = fitSegments(histories.map((h, k) => ({ segment: h.segment ?? '', x: inputs[k].x, tx: inputs[k].tx, T: inputs[k].T })), minSegmentBuyers);
    fit.segments = segmented.fits;
    if (Object.keys(segmented.skipped).length > 0) fit.segmentsSkipped = segmented.skipped;
  }
  const fittedAtMs = Math.floor(options.fittedAtMs / 1000) * 1000;
  // The comparison first: the version stored below carries the chosen model's fit when it is not BG/NBD.
  const holdoutDays = options.holdoutDays ?? DEFAULT_HOLDOUT_DAYS;
  if (holdoutDays > 0) step(`comparing BG/NBD, Pareto/NBD and MBG/NBD on the last ${holdoutDays} days`);
  const outcome = holdoutDays > 0 ? await compareOnHoldout(ch, histories, { asOfMs: options.asOfMs, holdoutDays, minCustomers }) : null;
  const compared = typeof outcome === 'string' ? ((fit.comparisonSkipped = outcome), null) : outcome;
  const chosenName = compared?.comparison.chosen;
  let chosen: StoredModel['chosen'], storedChoice: ModelFitRecord | undefined;
  if (chosenName && chosenName !== 'bgnbd') {
    step(`fitting ${COUNT_MODELS[chosenName].label}, the holdout's choice, on ${inputs.length.toLocaleString('en-US')} customers for live scoring`);
    const summaries = inputs.map(({ x, tx, T }) => ({ x, tx, T }));
    const full = COUNT_MODELS[chosenName].fit(summaries, { minCustomers });
    const logCovariance = parameterUncertainty(chosenName, full.params, summaries).logCovariance;
    fit.live = { model: chosenName, params: full.params, logLikelihood: full.logLikelihood, converged: full.converged };
    if (full.converged) chosen = { model: chosenName, params: full.params, logCovariance }; // else stored, not read
    storedChoice = { ...fit.live, customers: inputs.length, logCovariance };
  }
  const ggUsable = fit.gammaGamma?.converged === true;
  fit.model = storedModelName({ fittedAtMs, gammaGamma: ggUsable ? fit.gammaGamma!.params : null, chosen });
  step(`storing ${fit.model} in model_params`);
  // One insert: the watch never reads a version without the chosen model's row that names it.
  await storeModelFits(ch, fittedAtMs, source, [
    { model: BGNBD_MODEL, params: bg.params, logLikelihood: bg.logLikelihood, customers: inputs.length, converged: bg.converged, logCovariance: uncertainty.logCovariance },
    ...(fit.gammaGamma
      ? [{ model: GAMMA_GAMMA_MODEL, params: fit.gammaGamma.params, logLikelihood: fit.gammaGamma.logLikelihood, customers: fit.gammaGamma.customers, converged: fit.gammaGamma.converged, logCovariance: fit.gammaGamma.logCovariance } as const]
      : []),
    ...(fit.segments ?? []).map((s) => ({ model: BGNBD_MODEL, params: s.params, logLikelihood: s.logLikelihood, customers: s.customers, converged: s.converged, segment: s.segment, logCovariance: s.logCovariance }) as const),
    ...[storedChoice ?? []].flat(),
  ]);
  if (compared) {
    fit.comparison = compared.report;
    step(`storing the comparison (chosen: ${compared.report.chosen}) in model_selection and its tracking plot in model_tracking`);
    const selection = modelSelectionRows(compared.comparison, compared.uncertainty, { fittedAtMs, originMs: compared.originMs, source });
    await Promise.all([storeModelSelection(ch, selection), storeModelTracking(ch, compared.tracking(fittedAtMs))]);
  }
  return fit;
}

export const DEFAULT_HOLDOUT_DAYS = 90;

/**
 * Calibration summaries as of asOf − holdoutDays (the same query, earlier), holdout counts as the purchases since;
 * times in days since the earliest first purchase. A reason instead when the calibration period is too thin.
 */
async function compareOnHoldout(
  ch: ClickHouseClient,
  histories: Awaited<ReturnType<typeof readPurchaseHistories>>,
  o: { asOfMs: number; holdoutDays: number; minCustomers: number },
) {
  const calibrationEndMs = o.asOfMs - o.holdoutDays * DAY_MS;
  const earlier = await readPurchaseHistories(ch, calibrationEndMs);
  const now = new Map(histories.map((h) => [h.customerId, h.history.purchases]));
  const calibration = earlier.map((h) => ({ customerId: h.customerId, ...modelInputs(h.history, Math.floor(calibrationEndMs / MINUTE_MS)) }));
  if (calibration.length < o.minCustomers || !calibration.some((c) => c.x > 0)) {
    return `${calibration.length} customers bought before the holdout's start, ${calibration.filter((c) => c.x > 0).length} of them again: too few to compare (at least ${o.minCustomers}, some repeat buyers)`;
  }
  const originMs = earlier.reduce((min, h) => Math.min(min, h.history.firstMin), Number.POSITIVE_INFINITY) * MINUTE_MS;
  const calibrationEnd = (calibrationEndMs - originMs) / DAY_MS;
  const holdoutPurchases = earlier.map((h) => (now.get(h.customerId) ?? h.history.purchases) - h.history.purchases);
  const comparison = compareModels({ calibration, holdoutPurchases, calibrationEnd, holdoutEnd: calibrationEnd + o.holdoutDays }, { minCustomers: o.minCustomers });
  const firstDays = earlier.map((h) => (h.history.firstMin * MINUTE_MS - originMs) / DAY_MS);
  const tracking = await chosenModelTracking(ch, { comparison, firstDays, originMs, calibrationEndMs, asOfMs: o.asOfMs });
  return { comparison, originMs, tracking, ...buildComparisonReport(comparison, calibration, 'days') };
}

function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export interface ModelFitIo {
  stdout: (s: string) => void;
  /** Progress of the fit from ClickHouse, one line per step (not with --quiet). */
  stderr?: (s: string) => void;
  /** The ClickHouse to read and store in; by default one from the config (--config, VIGIL_*). */
  clickhouse?: ClickHouseClient;
  now?: () => number;
}

/** `vigil model fit` with the arguments after "fit". Bad arguments or data throw VigilError for the caller to print. */
export async function runModelFit(argv: string[], io: ModelFitIo): Promise<number> {
  let values: {
    summary?: string; holdout?: string; 'calibration-end'?: string; unit?: string; config?: string; 'min-customers'?: string; 'min-segment-buyers'?: string;
    'holdout-days'?: string; json?: boolean; plot?: string; quiet?: boolean; help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        summary: { type: 'string' },
        holdout: { type: 'string' },
        'calibration-end': { type: 'string' },
        unit: { type: 'string' },
        config: { type: 'string' },
        'min-customers': { type: 'string' },
        'min-segment-buyers': { type: 'string' },
        'holdout-days': { type: 'string' },
        json: { type: 'boolean' },
        plot: { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw usageError(errorMessage(err));
  }
  if (values.help) {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  const unit = values.unit ?? 'days';
  if (unit !== 'days' && unit !== 'weeks') throw usageError(`--unit must be days or weeks, got "${unit}"`);
  if (values.summary !== undefined && values.holdout !== undefined) {
    throw usageError('give one of --summary or --holdout, or neither to fit from ClickHouse');
  }
  if (values.summary === undefined && values.holdout === undefined) {
    if (values.unit !== undefined) throw usageError('--unit is for --summary and --holdout; the fit from ClickHouse is in days');
    const raw = values['min-customers'];
    const minCustomers = raw === undefined ? DEFAULT_MIN_CUSTOMERS : Number(raw);
    if (!Number.isInteger(minCustomers) || minCustomers < 10) throw usageError(`--min-customers must be a whole number ≥ 10, got "${raw}"`);
    if (values.json || values.plot !== undefined) throw usageError('--json and --plot are for --holdout');
    const rawSegment = values['min-segment-buyers'];
    const minSegmentBuyers = rawSegment === undefined ? 0 : Number(rawSegment);
    if (!Number.isInteger(minSegmentBuyers) || (minSegmentBuyers !== 0 && minSegmentBuyers < 10)) throw usageError(`--min-segment-buyers must be 0 or a whole number ≥ 10, got "${rawSegment}"`);
    const rawDays = values['holdout-days'];
    const holdoutDays = rawDays === undefined ? DEFAULT_HOLDOUT_DAYS : Number(rawDays);
    if (!Number.isInteger(holdoutDays) || holdoutDays < 0) throw usageError(`--holdout-days must be a whole number ≥ 0, got "${rawDays}"`);
    const ch = io.clickhouse ?? createClickHouseClient(loadConfig({ file: values.config }).clickhouse);
    try {
      const now = (io.now ?? Date.now)();
      const stderr = io.stderr;
      const progress = stderr && !values.quiet ? new Progress({ label: 'vigil model fit', unit: 'steps', clock: systemClock, write: stderr }) : null;
      const fit = await fitFromClickHouse(ch, { asOfMs: now, fittedAtMs: now, minCustomers, minSegmentBuyers, holdoutDays, progress: progress ? (m) => progress.step(m) : undefined });
      progress?.step('done');
      io.stdout(`${JSON.stringify(fit, null, 2)}\n`);
    } finally {
      if (!io.clickhouse) await ch.close();
    }
    return 0;
  }
  if (values.config !== undefined || values['min-customers'] !== undefined || values['min-segment-buyers'] !== undefined || values['holdout-days'] !== undefined) {
    throw usageError('--config, --min-customers, --min-segment-buyers and --holdout-days are for the fit from ClickHouse, without --summary or --holdout');
  }
  if (values.summary !== undefined && (values.json || values.plot !== undefined)) throw usageError('--json and --plot are for --holdout');
  if (values.summary !== undefined) {
    const rows = parseSummaryCsv(await readCsv(values.summary), values.summary);
    io.stdout(`${JSON.stringify(fitFromSummaries(rows, unit), null, 2)}\n`);
    return 0;
  }
  const file = values.holdout ?? '';
  const calibrationEnd = values['calibration-end'];
  if (calibrationEnd === undefined) throw usageError('--holdout needs --calibration-end');
  const log = parsePurchaseLogCsv(await readCsv(file), file, unit);
  const end = log.toTime(calibrationEnd);
  const report = evaluateHoldout(log.events, { calibrationEnd: end });
  const split = splitCalibrationHoldout(log.events, end);
  const comparison = compareModels(split);
  const { report: compared } = buildComparisonReport(comparison, split.calibration, unit);
  if (values.plot !== undefined) {
    const chosen = comparison.scores.find((s) => s.model === comparison.chosen)!;
    // weekly periods, as analysts read the plot
    const period = unit === 'weeks' ? 1 : 7;
    const data = trackingData(log.events, chosen.model, chosen.fit.params, { calibrationEnd: end, holdoutEnd: split.holdoutEnd, period });
    const label = compared.models.find((m) => m.model === chosen.model)!.label;
    await writeFile(values.plot, trackingSvg(data, { model: label, unit: `${unit} (weekly periods)` }));
  }
  if (values.json) {
    const { rows, total } = report;
    io.stdout(`${JSON.stringify({ bgnbdHoldout: { params: report.fit.params, rows, total }, comparison: compared }, null, 2)}\n`);
  } else {
    io.stdout(`${log.describe(calibrationEnd)}\n${formatHoldoutTable(report, unit)}\n\n${formatComparison(compared)}\n`);
  }
  if (values.plot !== undefined && io.stderr) io.stderr(`tracking plot written to ${values.plot}\n`);
  return 0;
}

function usageError(problem: string): VigilError {
  return new VigilError('MODEL_INPUT_INVALID', `${problem}\n${USAGE}`);
}

