// `vigil model fit`: fits BG/NBD and Gamma-Gamma on every customer's purchase history in ClickHouse and stores the
// parameters where the processor reads them; or fits from a CSV of customer summaries, or checks a fit on a purchase
// log's holdout period, so an analyst can vet the churn model before the processor uses it.
import { systemClock } from '../shared/clock.js';
import { Progress } from './progress.js';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { DAY_MS, MINUTE_MS } from '../shared/clock.js';
import { VigilError, errorMessage } from '../shared/errors.js';
import { createClickHouseClient, type ClickHouseClient } from '../sinks/clickhouse/client.js';
import { BGNBD_MODEL, GAMMA_GAMMA_MODEL, readPurchaseHistories, storeModelFits, storedModelName } from '../sources/purchaseModels.js';
import { fitBgNbd, type BgNbdParams, type CustomerSummary } from '../signals/models/bgnbd.js';
import { fitGammaGamma, type GammaGammaParams } from '../signals/models/gammaGamma.js';
import { evaluateHoldout, formatHoldoutTable } from '../signals/models/holdout.js';
import type { PurchaseEvent } from '../signals/models/purchaseLog.js';
import { modelInputs } from '../signals/purchaseModel.js';

const USAGE = `usage: vigil model fit [--config FILE] [--min-customers N] [--quiet]
       vigil model fit --summary FILE.csv [--unit days|weeks]
       vigil model fit --holdout FILE.csv --calibration-end DATE|NUMBER [--unit days|weeks]

(none)      reads every customer's purchases from ClickHouse (events, as of now, in days), fits both models, prints
            them as JSON and stores them in model_params, where the processor picks them up
--config    the processor's config file, for the ClickHouse connection (VIGIL_* environment overrides apply)
--min-customers
            refuse to fit BG/NBD on fewer customers, or Gamma-Gamma on fewer repeat buyers with spend (default 100)
--quiet     no progress lines on stderr (each step of the fit from ClickHouse, with the time so far)
--summary   CSV with header customer_id,frequency,recency,T[,monetary_value], times in --unit;
            prints the fitted parameters as JSON
--holdout   CSV purchase log with header customer_id,date[,value]; dates are YYYY-MM-DD (or ISO times) or plain
            numbers in --unit; fits on purchases up to --calibration-end and prints expected against actual
            holdout purchases by calibration frequency. A number for --calibration-end on a dated log counts
            --unit after the log's first purchase.
--unit      time unit of the summary, or of the fit on a dated log (default days)`;

export type TimeUnit = 'days' | 'weeks';

/** One customer's summary, as in the --summary CSV and as the ClickHouse path will read it. */
export interface SummaryRow {
  customerId: string;
  frequency: number;
  recency: number;
  T: number;
  monetaryValue?: number;
}

export interface ModelFitSummary {
  bgnbd: { params: BgNbdParams; logLikelihood: number; converged: boolean };
  gammaGamma?: {
    params: GammaGammaParams;
    logLikelihood: number;
    converged: boolean;
    /** Repeat buyers the spend model was fitted on. */
    customers: number;
    frequencySpendCorrelation: number;
  };
  unit: TimeUnit;
  customers: number;
}

/** BG/NBD on every row; Gamma-Gamma too when any row carries a monetary value. Throws MODEL_INPUT_INVALID on bad data. */
export function fitFromSummaries(rows: readonly SummaryRow[], unit: TimeUnit = 'days'): ModelFitSummary {
  const summaries: CustomerSummary[] = rows.map((row) => ({ x: row.frequency, tx: row.recency, T: row.T }));
  const bg = fitBgNbd(summaries);
  const bgnbd = { params: bg.params, logLikelihood: bg.logLikelihood, converged: bg.converged };
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
}

export const DEFAULT_MIN_CUSTOMERS = 100;

/**
 * Fits both models on every customer's purchases in `events` as of `asOfMs`, with x, t_x and T computed exactly as
 * the live windows compute them (modelInputs), and stores the fits in model_params with one fit date.
 */
export async function fitFromClickHouse(
  ch: ClickHouseClient,
  options: { asOfMs: number; fittedAtMs: number; minCustomers?: number; progress?: (step: string) => void },
): Promise<ClickHouseModelFit> {
  const minCustomers = options.minCustomers ?? DEFAULT_MIN_CUSTOMERS;
  const asOf = isoSeconds(options.asOfMs);
  const source = `${ch.database}.events as of ${asOf}`;
  const step = options.progress ?? (() => undefined);
  step(`reading every customer's purchases from ${source}`);
  const histories = await readPurchaseHistories(ch, options.asOfMs);
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
  const fit: ClickHouseModelFit = {
    bgnbd: { params: bg.params, logLikelihood: bg.logLikelihood, converged: bg.converged },
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
    const gg = fitGammaGamma(spenders.map((i) => ({ x: i.x, mValue: i.meanRepeatSpend })), { minCustomers });
    fit.gammaGamma = {
      params: gg.params,
      logLikelihood: gg.logLikelihood,
      converged: gg.converged,
      customers: gg.customers,
      frequencySpendCorrelation: gg.frequencySpendCorrelation,
    };
  } else {
    fit.gammaGammaSkipped = `${spenders.length} repeat buyers with spend, at least ${minCustomers} needed (--min-customers)`;
  }
  const fittedAtMs = Math.floor(options.fittedAtMs / 1000) * 1000;
  const ggUsable = fit.gammaGamma?.converged === true;
  fit.model = storedModelName({ fittedAtMs, bgnbd: bg.params, gammaGamma: ggUsable ? fit.gammaGamma!.params : null });
  step(`storing ${fit.model} in model_params`);
  await storeModelFits(ch, fittedAtMs, source, [
    { model: BGNBD_MODEL, params: bg.params, logLikelihood: bg.logLikelihood, customers: inputs.length, converged: bg.converged },
    ...(fit.gammaGamma
      ? [{ model: GAMMA_GAMMA_MODEL, params: fit.gammaGamma.params, logLikelihood: fit.gammaGamma.logLikelihood, customers: fit.gammaGamma.customers, converged: fit.gammaGamma.converged } as const]
      : []),
  ]);
  return fit;
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
  let values: { summary?: string; holdout?: string; 'calibration-end'?: string; unit?: string; config?: string; 'min-customers'?: string; quiet?: boolean; help?: boolean };
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
    const ch = io.clickhouse ?? createClickHouseClient(loadConfig({ file: values.config }).clickhouse);
    try {
      const now = (io.now ?? Date.now)();
      const stderr = io.stderr;
      const progress = stderr && !values.quiet ? new Progress({ label: 'vigil model fit', unit: 'steps', clock: systemClock, write: stderr }) : null;
      const fit = await fitFromClickHouse(ch, { asOfMs: now, fittedAtMs: now, minCustomers, progress: progress ? (m) => progress.step(m) : undefined });
      progress?.step('done');
      io.stdout(`${JSON.stringify(fit, null, 2)}\n`);
    } finally {
      if (!io.clickhouse) await ch.close();
    }
    return 0;
  }
  if (values.config !== undefined || values['min-customers'] !== undefined) {
    throw usageError('--config and --min-customers are for the fit from ClickHouse, without --summary or --holdout');
  }
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
  io.stdout(`${log.describe(calibrationEnd)}\n${formatHoldoutTable(report, unit)}\n`);
  return 0;
}

function usageError(problem: string): VigilError {
  return new VigilError('MODEL_INPUT_INVALID', `${problem}\n${USAGE}`);
}

async function readCsv(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new VigilError('MODEL_INPUT_INVALID', `cannot read ${file}: ${errorMessage(err)}`, { cause: err });
  }
}

interface CsvTable {
  /** Column name to index. */
  columns: Map<string, number>;
  /** Data rows with their 1-based line numbers, for messages. */
  rows: { line: number; cells: string[] }[];
}

/** Comma-separated, optional double quotes ("" inside quotes is a quote), blank lines skipped. */
function parseCsv(text: string, file: string, required: readonly string[]): CsvTable {
  const lines = text.split(/\r?\n/);
  const headerAt = lines.findIndex((line) => line.trim() !== '');
  if (headerAt < 0) throw new VigilError('MODEL_INPUT_INVALID', `${file} is empty`);
  const header = splitCsvLine(lines[headerAt]).map((name) => name.trim());
  const columns = new Map(header.map((name, i) => [name, i]));
  const missing = required.filter((name) => !columns.has(name));
  if (missing.length > 0) {
    throw new VigilError(
      'MODEL_INPUT_INVALID',
      `${file} lacks column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (header: ${header.join(',')})`,
    );
  }
  const rows: CsvTable['rows'] = [];
  for (let i = headerAt + 1; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    const cells = splitCsvLine(lines[i]);
    if (cells.length !== header.length) {
      const problem = `${cells.length} fields, the header has ${header.length}`;
      throw new VigilError('MODEL_INPUT_INVALID', `${file} line ${i + 1}: ${problem}`);
    }
    rows.push({ line: i + 1, cells });
  }
  return { columns, rows };
}

function splitCsvLine(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') {
        quoted = false;
      } else {
        cell += ch;
      }
    } else if (ch === '"') {
      quoted = true;
    } else if (ch === ',') {
      cells.push(cell);
      cell = '';
    } else {
      cell += ch;
    }
  }
  cells.push(cell);
  return cells;
}

function numberCell(table: CsvTable, row: CsvTable['rows'][number], column: string, file: string): number {
  const raw = row.cells[table.columns.get(column) ?? -1]?.trim() ?? '';
  const value = raw === '' ? Number.NaN : Number(raw);
  if (!Number.isFinite(value)) {
    throw new VigilError('MODEL_INPUT_INVALID', `${file} line ${row.line}: ${column} "${raw}" is not a number`);
  }
  return value;
}

function parseSummaryCsv(text: string, file: string): SummaryRow[] {
  const table = parseCsv(text, file, ['customer_id', 'frequency', 'recency', 'T']);
  const hasSpend = table.columns.has('monetary_value');
  return table.rows.map((row) => {
    const summary: SummaryRow = {
      customerId: row.cells[table.columns.get('customer_id') ?? 0].trim(),
      frequency: numberCell(table, row, 'frequency', file),
      recency: numberCell(table, row, 'recency', file),
      T: numberCell(table, row, 'T', file),
    };
    if (hasSpend) summary.monetaryValue = numberCell(table, row, 'monetary_value', file);
    return summary;
  });
}

interface PurchaseLog {
  events: PurchaseEvent[];
  /** A --calibration-end argument in the log's time scale. */
  toTime: (calibrationEnd: string) => number;
  describe: (calibrationEnd: string) => string;
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/** Whole UTC days since the epoch; a purchase's time of day does not matter to the models. */
function dayOf(raw: string): number {
  const ms = Date.parse(DATE_ONLY.test(raw) ? `${raw}T00:00:00Z` : raw);
  return Number.isFinite(ms) ? Math.floor(ms / DAY_MS) : Number.NaN;
}

function parsePurchaseLogCsv(text: string, file: string, unit: TimeUnit): PurchaseLog {
  const table = parseCsv(text, file, ['customer_id', 'date']);
  if (table.rows.length === 0) throw new VigilError('MODEL_INPUT_INVALID', `${file} has no purchases`);
  const dateColumn = table.columns.get('date') ?? 1;
  const idColumn = table.columns.get('customer_id') ?? 0;
  const hasValue = table.columns.has('value');
  const dated = !Number.isFinite(Number(table.rows[0].cells[dateColumn].trim()));
  const rawTimes = table.rows.map((row) => {
    const raw = row.cells[dateColumn].trim();
    const t = dated ? dayOf(raw) : raw === '' ? Number.NaN : Number(raw);
    if (!Number.isFinite(t)) {
      throw new VigilError(
        'MODEL_INPUT_INVALID',
        `${file} line ${row.line}: date "${raw}" is not ${dated ? 'a date (YYYY-MM-DD)' : 'a number'}, ` +
          "as the first row's is",
      );
    }
    return t;
  });
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const t of rawTimes) {
    first = Math.min(first, t);
    last = Math.max(last, t);
  }
  // Dated logs are fitted on days (or weeks) since the first purchase: small numbers, and the table reads naturally.
  const originDay = dated ? first : 0;
  const scale = dated && unit === 'weeks' ? 1 / 7 : 1;
  const events = table.rows.map((row, i): PurchaseEvent => {
    const event: PurchaseEvent = { customerId: row.cells[idColumn].trim(), time: (rawTimes[i] - originDay) * scale };
    if (hasValue) event.value = numberCell(table, row, 'value', file);
    return event;
  });
  const toTime = (calibrationEnd: string): number => {
    const asNumber = Number(calibrationEnd);
    if (calibrationEnd.trim() !== '' && Number.isFinite(asNumber)) return asNumber;
    const day = dated ? dayOf(calibrationEnd) : Number.NaN;
    if (!Number.isFinite(day)) {
      throw usageError(
        `--calibration-end "${calibrationEnd}" is not ` +
          (dated ? 'a date (YYYY-MM-DD) or a number' : "a number, as the log's times are"),
      );
    }
    return (day - originDay) * scale;
  };
  const isoDay = (day: number) => new Date(day * DAY_MS).toISOString().slice(0, 10);
  const describe = (calibrationEnd: string): string => {
    const customers = new Set(events.map((e) => e.customerId)).size;
    const span = dated
      ? `${isoDay(first)} to ${isoDay(last)}, times in ${unit} since ${isoDay(first)}`
      : `times ${first} to ${last} ${unit}`;
    return `${file}: ${events.length} purchases by ${customers} customers, ${span}; calibration ends at ${calibrationEnd}`;
  };
  return { events, toTime, describe };
}
