// The tracking plot of `vigil model fit` from ClickHouse, stored in `model_tracking` for the saved query and the
// Grafana panel: per week of the calibration cohort, repeat purchases made (counted in ClickHouse) against the chosen
// model's expectation (summed here: it needs the models' hypergeometric functions), calibration then holdout.
import { COUNT_MODELS, type CountModelName, type ModelParams } from '../signals/models/countModels.js';
import type { ModelComparison } from '../signals/models/modelChoice.js';
import { DAY_MS, MINUTE_MS } from '../shared/clock.js';
import { quoteIdentifier, toChDateTime, type ClickHouseClient } from '../sinks/clickhouse/client.js';
import type { ModelTrackingRow } from '../sinks/clickhouse/tables.js';

const WEEK_DAYS = 7;

/**
 * Repeat purchases (a customer's purchases after the first; two in one minute merged, as trackingPlot.ts merges
 * same-time purchases) of the customers who bought by calibrationEndMs, per week from originMs, up to asOfMs (ALL
 * INNER JOIN: current servers join ANY INNER once per key on both sides, 18.16 once on the right only): the
 * week ending at originMs + 7 (k + 1) days holds the purchases in (its start, its end].
 */
export async function repeatPurchasesByWeek(ch: ClickHouseClient, o: { originMs: number; calibrationEndMs: number; asOfMs: number }): Promise<Map<number, number>> {
  const db = quoteIdentifier(ch.database);
  const rows = await ch.query<{ k: string; n: string }>(
    `SELECT toUInt32(greatest(0, ceil((ts_min - {origin:UInt64}) / {week:UInt64}) - 1)) AS k, count() AS n
     FROM (SELECT customer_id, intDiv(ts_ms, 60000) AS ts_min FROM ${db}.events FINAL WHERE type = 'purchase' AND ts_ms <= {asOf:UInt64} GROUP BY customer_id, ts_min) AS p
     ALL INNER JOIN (SELECT customer_id, intDiv(min(ts_ms), 60000) AS first_min FROM ${db}.events FINAL WHERE type = 'purchase' AND ts_ms <= {asOf:UInt64} GROUP BY customer_id) AS f
     USING customer_id
     WHERE ts_min > first_min AND first_min <= {calEnd:UInt64}
     GROUP BY k`,
    { origin: Math.floor(o.originMs / MINUTE_MS), week: (WEEK_DAYS * DAY_MS) / MINUTE_MS, asOf: Math.floor(o.asOfMs), calEnd: Math.floor(o.calibrationEndMs / MINUTE_MS) },
  );
  return new Map(rows.map((r) => [Number(r.k), Number(r.n)]));
}

/**
 * The weeks' rows: expected repeat purchases by a week's end are Σ over the cohort of a new customer's E[X(end −
 * first)], the first purchases taken to the day (a few hundred distinct days, not one per minute, at a million
 * customers); times in days since originMs, as the comparison's fits.
 */
export function trackingRows(o: {
  model: CountModelName;
  params: ModelParams;
  /** Each cohort customer's first purchase, in days since originMs. */
  firstDays: readonly number[];
  actualByWeek: ReadonlyMap<number, number>;
  originMs: number;
  calibrationEnd: number;
  holdoutEnd: number;
  fittedAtMs: number;
}): ModelTrackingRow[] {
  const spec = COUNT_MODELS[o.model];
  const firsts = new Map<number, number>();
  for (const d of o.firstDays) firsts.set(Math.floor(d), (firsts.get(Math.floor(d)) ?? 0) + 1);
  const weeks = Math.max(1, Math.ceil(o.holdoutEnd / WEEK_DAYS - 1e-9));
  const rows: ModelTrackingRow[] = [];
  let actualCumulative = 0;
  let expectedBefore = 0;
  for (let k = 0; k < weeks; k++) {
    const end = Math.min(o.holdoutEnd, (k + 1) * WEEK_DAYS);
    let expectedCumulative = 0;
    for (const [first, count] of firsts) if (end > first) expectedCumulative += count * spec.expectedPurchases(o.params, end - first, 0, 0, 0);
    const actual = o.actualByWeek.get(k) ?? 0;
    actualCumulative += actual;
    rows.push({
      fitted_at: toChDateTime(o.fittedAtMs),
      model: o.model,
      period_end: toChDateTime(o.originMs + end * DAY_MS),
      calibration_end: toChDateTime(o.originMs + o.calibrationEnd * DAY_MS),
      actual,
      expected: expectedCumulative - expectedBefore,
      actual_cumulative: actualCumulative,
      expected_cumulative: expectedCumulative,
    });
    expectedBefore = expectedCumulative;
  }
  return rows;
}

/** The chosen model's calibration fit against its cohort's weekly purchases (repeatPurchasesByWeek): the rows, once the fit date is known. */
export function chosenModelTracking(o: {
  comparison: ModelComparison;
  firstDays: readonly number[];
  originMs: number;
  actualByWeek: ReadonlyMap<number, number>;
}): (fittedAtMs: number) => ModelTrackingRow[] {
  const { comparison, actualByWeek } = o;
  const params = comparison.scores.find((s) => s.model === comparison.chosen)!.fit.params;
  const at = { originMs: o.originMs, calibrationEnd: comparison.calibrationEnd, holdoutEnd: comparison.holdoutEnd };
  return (fittedAtMs) => trackingRows({ model: comparison.chosen, params, firstDays: o.firstDays, actualByWeek, ...at, fittedAtMs });
}

export async function storeModelTracking(ch: ClickHouseClient, rows: readonly ModelTrackingRow[]): Promise<void> {
  if (rows.length > 0) await ch.insert('model_tracking', rows);
}
