// The stored tracking plot's rows against trackingPlot.ts (the SVG's data) on the same purchases: weekly and
// cumulative, actual and expected, with first purchases on whole days (where taking them to the day is exact).
import { describe, expect, it } from 'vitest';
import { trackingData } from '../signals/models/trackingPlot.js';
import type { PurchaseEvent } from '../signals/models/purchaseLog.js';
import { DAY_MS } from '../shared/clock.js';
import { trackingRows } from './modelTracking.js';

const ORIGIN = Date.parse('2026-01-05T00:00:00Z');
const params = { r: 0.525, alpha: 6.183, a: 0.891, b: 1.614 };

describe('trackingRows', () => {
  // five customers: first purchases on days 0, 0, 3, 10 and 40 (after the calibration's end, so not in the cohort)
  const events: PurchaseEvent[] = [
    ...[0, 2.5, 9, 30].map((time) => ({ customerId: 'a', time })),
    ...[0].map((time) => ({ customerId: 'b', time })),
    ...[3, 3.2, 15.5, 44].map((time) => ({ customerId: 'c', time })),
    ...[10, 21].map((time) => ({ customerId: 'd', time })),
    ...[40, 41].map((time) => ({ customerId: 'e', time })),
  ];
  const calibrationEnd = 28;
  const holdoutEnd = 49;
  const reference = trackingData(events, 'mbg_nbd', params, { calibrationEnd, holdoutEnd, period: 7 });
  // the weekly repeat purchases as the ClickHouse query counts them: week k holds (7k, 7(k + 1)]
  const actualByWeek = new Map<number, number>();
  reference.actualPerPeriod.forEach((n, k) => n > 0 && actualByWeek.set(k, n));
  const rows = trackingRows({ model: 'mbg_nbd', params, firstDays: [0, 0, 3, 10], actualByWeek, originMs: ORIGIN, calibrationEnd, holdoutEnd, fittedAtMs: ORIGIN + 50 * DAY_MS });

  it('has one row per week to the holdout’s end, each with the calibration’s end and the fit', () => {
    expect(rows.map((r) => r.period_end)).toEqual(reference.times.map((t) => (ORIGIN + t * DAY_MS) / 1000));
    expect(new Set(rows.map((r) => `${r.model} ${r.fitted_at} ${r.calibration_end}`))).toEqual(new Set([`mbg_nbd ${(ORIGIN + 50 * DAY_MS) / 1000} ${(ORIGIN + 28 * DAY_MS) / 1000}`]));
  });

  it('gives the plot’s actual and expected repeat purchases, weekly and cumulated', () => {
    expect(rows.map((r) => r.actual)).toEqual(reference.actualPerPeriod);
    expect(rows.map((r) => r.actual_cumulative)).toEqual(reference.actualCumulative);
    rows.forEach((r, k) => {
      expect(r.expected_cumulative).toBeCloseTo(reference.expectedCumulative[k], 10);
      expect(r.expected).toBeCloseTo(reference.expectedPerPeriod[k], 10);
    });
    // the cohort's repeat purchases: a's three, c's three, d's one (e bought first after the calibration's end)
    expect(rows.at(-1)!.actual_cumulative).toBe(7);
  });
});
