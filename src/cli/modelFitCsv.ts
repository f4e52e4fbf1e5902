// The CSV files `vigil model fit` reads: customer summaries (--summary) and purchase logs (--holdout), with
// messages that name the file, line and column of what cannot be read.
import { readFile } from 'node:fs/promises';
import { DAY_MS } from '../shared/clock.js';
import { VigilError, errorMessage } from '../shared/errors.js';
import type { PurchaseEvent } from '../signals/models/purchaseLog.js';

export type TimeUnit = 'days' | 'weeks';

/** One customer's summary, as in the --summary CSV and as the ClickHouse path will read it. */
export interface SummaryRow {
  customerId: string;
  frequency: number;
  recency: number;
  T: number;
  monetaryValue?: number;
}

export async function readCsv(file: string): Promise<string> {
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

export function parseSummaryCsv(text: string, file: string): SummaryRow[] {
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

export interface PurchaseLog {
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

export function parsePurchaseLogCsv(text: string, file: string, unit: TimeUnit): PurchaseLog {
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
      throw new VigilError(
        'MODEL_INPUT_INVALID',
        `--calibration-end "${calibrationEnd}" is not ` + (dated ? 'a date (YYYY-MM-DD) or a number' : "a number, as the log's times are"),
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
