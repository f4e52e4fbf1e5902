// `vigil model fit`: fits BG/NBD and Gamma-Gamma on every customer's purchase history in ClickHouse and stores the
// parameters where the processor reads them; or fits from a CSV of customer summaries, or checks a fit on a purchase
// log's holdout period, so an analyst can vet the churn model before the processor uses it.
import { systemClock } from '../shared/clock.js';
import { Progress } from './progress.js';
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { VigilError, errorMessage } from '../shared/errors.js';
import { createClickHouseClient, type ClickHouseClient } from '../sinks/clickhouse/client.js';
import { fitBgNbd, type BgNbdParams, type CustomerSummary } from '../signals/models/bgnbd.js';
import { fitGammaGamma } from '../signals/models/gammaGamma.js';
import { evaluateHoldout, formatHoldoutTable } from '../signals/models/holdout.js';
import { compareModels } from '../signals/models/modelChoice.js';
import { splitCalibrationHoldout } from '../signals/models/purchaseLog.js';
import { trackingData, trackingSvg } from '../signals/models/trackingPlot.js';
import { parameterUncertainty } from '../signals/models/uncertainty.js';
import { buildComparisonReport, formatComparison } from './modelComparison.js';
import { DEFAULT_HOLDOUT_DAYS, DEFAULT_MIN_CUSTOMERS, fitFromClickHouse, type ModelFitSummary } from './modelFitClickHouse.js';
import { parsePurchaseLogCsv, parseSummaryCsv, readCsv, type SummaryRow, type TimeUnit } from './modelFitCsv.js';

export type { SummaryRow, TimeUnit };

const USAGE = `usage: vigil model fit [--config FILE] [--min-customers N] [--min-segment-buyers N] [--holdout-days N] [--threads 1|2] [--quiet]
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
--threads   fitting threads (default 2: the pooled fit in one while the other compares the models, then the
            segments shared out between both; 1: everything in one thread)
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
    'holdout-days'?: string; threads?: string; json?: boolean; plot?: string; quiet?: boolean; help?: boolean;
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
        threads: { type: 'string' },
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
    const threads = values.threads === undefined ? 2 : Number(values.threads);
    if (threads !== 1 && threads !== 2) throw usageError(`--threads must be 1 or 2, got "${values.threads}"`);
    const ch = io.clickhouse ?? createClickHouseClient(loadConfig({ file: values.config }).clickhouse);
    try {
      const now = (io.now ?? Date.now)();
      const stderr = io.stderr;
      const progress = stderr && !values.quiet ? new Progress({ label: 'vigil model fit', unit: 'steps', clock: systemClock, write: stderr }) : null;
      const fit = await fitFromClickHouse(ch, { asOfMs: now, fittedAtMs: now, minCustomers, minSegmentBuyers, holdoutDays, threads, progress: progress ? (m) => progress.step(m) : undefined });
      progress?.step('done');
      io.stdout(`${JSON.stringify(fit, null, 2)}\n`);
    } finally {
      if (!io.clickhouse) await ch.close();
    }
    return 0;
  }
  if (values.config !== undefined || values['min-customers'] !== undefined || values['min-segment-buyers'] !== undefined || values['holdout-days'] !== undefined || values.threads !== undefined) {
    throw usageError('--config, --min-customers, --min-segment-buyers, --holdout-days and --threads are for the fit from ClickHouse, without --summary or --holdout');
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

