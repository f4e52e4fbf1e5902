import { beforeAll, describe, expect, it } from 'vitest';
import { evaluateHoldout, formatHoldoutTable, type HoldoutReport } from './holdout.js';
import { simulateCustomers, toPurchaseLog } from './simulate.js';

describe('evaluateHoldout on simulated purchase logs', () => {
  // CDNOW's design: customers acquired over 12 weeks, calibrated to week 39, held out to week 78. At this size the
  // total's error spreads with a standard deviation of about 3.5% over seeds, so 10% is about three of them.
  let report: HoldoutReport;
  beforeAll(() => {
    const customers = simulateCustomers({
      customers: 8000,
      bgNbd: { r: 0.24, alpha: 4.41, a: 0.79, b: 2.43 },
      observationEnd: 78,
      acquisition: [0, 12],
      seed: 21,
      keepPurchases: true,
    });
    report = evaluateHoldout(toPurchaseLog(customers), { calibrationEnd: 39, holdoutEnd: 78, fit: { restarts: 2 } });
  });

  it('predicts total holdout purchases within 10% of the actual', () => {
    expect(report.total.customers).toBe(8000);
    expect(report.total.actual).toBeGreaterThan(1000);
    expect(Math.abs(report.total.expected - report.total.actual) / report.total.actual).toBeLessThan(0.1);
  });

  it('predicts each of the busier frequency groups within 20% of its actual (groups with 200+ holdout purchases)', () => {
    const busy = report.rows.filter((row) => row.actual >= 200);
    expect(busy.length).toBeGreaterThanOrEqual(3);
    for (const row of busy) expect(Math.abs(row.expected - row.actual) / row.actual).toBeLessThan(0.2);
  });

  it('groups calibration frequencies 0 to 6 and 7+ and accounts for every customer', () => {
    expect(report.rows.map((row) => row.frequency)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7+']);
    expect(report.rows.reduce((s, row) => s + row.customers, 0)).toBe(report.total.customers);
  });

  it('formats a plain-text table with a row per group, a total and the error', () => {
    const table = formatHoldoutTable(report, 'weeks');
    const lines = table.split('\n');
    expect(lines[0]).toBe('BG/NBD holdout check: calibration up to 39, holdout 39 weeks (to 78)');
    expect(lines.find((l) => l.startsWith('7+'))).toBeDefined();
    expect(lines.find((l) => l.startsWith('total'))).toMatch(/^total\s+8000\s/);
    expect(table).toMatch(/expected total is [+-]\d+\.\d% off the actual$/);
  });
});
