// Checks a BG/NBD fit the way Fader, Hardie & Lee do: fit on a calibration period, then compare expected and
// actual purchases in the holdout period, grouped by calibration frequency.
import { expectedPurchases, fitBgNbd, type BgNbdFit, type FitBgNbdOptions } from './bgnbd.js';
import { splitCalibrationHoldout, type PurchaseEvent } from './purchaseLog.js';

export interface HoldoutOptions {
  calibrationEnd: number;
  /** Defaults to the last purchase in the log. */
  holdoutEnd?: number;
  fit?: FitBgNbdOptions;
  /** Calibration frequencies from this one up share the last row, "7+" by default. */
  topFrequency?: number;
}

export interface HoldoutRow {
  /** "0", "1", ... or "7+". */
  frequency: string;
  customers: number;
  actual: number;
  expected: number;
}

export interface HoldoutReport {
  fit: BgNbdFit;
  calibrationEnd: number;
  holdoutEnd: number;
  rows: HoldoutRow[];
  total: { customers: number; actual: number; expected: number };
}

export function evaluateHoldout(events: readonly PurchaseEvent[], options: HoldoutOptions): HoldoutReport {
  const split = splitCalibrationHoldout(events, options.calibrationEnd, options.holdoutEnd);
  const fit = fitBgNbd(split.calibration, options.fit);
  const horizon = split.holdoutEnd - split.calibrationEnd;
  const top = options.topFrequency ?? 7;
  const rows: HoldoutRow[] = Array.from({ length: top + 1 }, (_, k) => ({
    frequency: k === top ? `${top}+` : String(k),
    customers: 0,
    actual: 0,
    expected: 0,
  }));
  split.calibration.forEach((customer, i) => {
    const row = rows[Math.min(customer.x, top)];
    row.customers++;
    row.actual += split.holdoutPurchases[i];
    row.expected += expectedPurchases(fit.params, horizon, customer.x, customer.tx, customer.T);
  });
  const total = { customers: 0, actual: 0, expected: 0 };
  for (const row of rows) {
    total.customers += row.customers;
    total.actual += row.actual;
    total.expected += row.expected;
  }
  return { fit, calibrationEnd: split.calibrationEnd, holdoutEnd: split.holdoutEnd, rows, total };
}

const fixed = (v: number, digits: number) => (Number.isFinite(v) ? v.toFixed(digits) : '-');
/** 38.571428… as 38.57, 39 as 39. */
const short = (v: number) => String(Number(v.toFixed(2)));

/** Plain text: per calibration frequency, customers and holdout purchases, actual and expected, per customer and in all. */
export function formatHoldoutTable(report: HoldoutReport, unit = 'units'): string {
  const { r, alpha, a, b } = report.fit.params;
  const header = ['frequency', 'customers', 'actual/cust', 'expected/cust', 'actual', 'expected'];
  const line = (row: { frequency: string; customers: number; actual: number; expected: number }) => [
    row.frequency,
    String(row.customers),
    fixed(row.actual / row.customers, 3),
    fixed(row.expected / row.customers, 3),
    fixed(row.actual, 0),
    fixed(row.expected, 1),
  ];
  const body = [header, ...report.rows.map(line), line({ frequency: 'total', ...report.total })];
  const widths = header.map((_, c) => Math.max(...body.map((cells) => cells[c].length)));
  const render = (cells: string[]) =>
    cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  const { calibrationEnd, holdoutEnd, total } = report;
  const error = total.actual > 0 ? (total.expected - total.actual) / total.actual : Number.NaN;
  const errorText = Number.isFinite(error) ? `${error >= 0 ? '+' : ''}${(100 * error).toFixed(1)}%` : 'undefined';
  return [
    `BG/NBD holdout check: calibration up to ${short(calibrationEnd)}, ` +
      `holdout ${short(holdoutEnd - calibrationEnd)} ${unit} (to ${short(holdoutEnd)})`,
    `params r=${r.toPrecision(4)} alpha=${alpha.toPrecision(4)} a=${a.toPrecision(4)} b=${b.toPrecision(4)}` +
      `, log-likelihood ${report.fit.logLikelihood.toFixed(1)}${report.fit.converged ? '' : ' (NOT converged)'}`,
    '',
    render(header),
    ...body.slice(1, -1).map(render),
    render(body[body.length - 1]),
    '',
    `expected total is ${errorText} off the actual`,
  ].join('\n');
}
