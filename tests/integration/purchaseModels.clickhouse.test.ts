// The purchase models' SQL on both engines Vigil meets: Debian's ClickHouse 18.16 (the server scripts/services.sh
// runs) and current ClickHouse (chdb, in-process). Purchase histories from `events` against hand-worked values,
// fits stored in and read back from `model_params`, and `vigil model fit` from ClickHouse end to end.
import { describe, expect, it } from 'vitest';
import { fitFromClickHouse } from '../../src/cli/modelFitClickHouse.js';
import { toChDateTime, type ClickHouseClient } from '../../src/sinks/clickhouse/client.js';
import { readLatestModel, readPurchaseHistories, storedModelName, storeModelFits } from '../../src/sources/purchaseModels.js';
import { latestFitDate, readAcceptedFit } from '../../src/sources/modelRefitQueries.js';
import type { EventRow } from '../../src/sinks/clickhouse/tables.js';
import { simulateCustomers } from '../../src/signals/models/simulate.js';
import { CLICKHOUSE_ENGINES, onMigratedDatabase } from '../helpers/bothEngines.js';
import { DAY_MS as DAY, MINUTE_MS as MIN } from '../../src/shared/clock.js';

const AS_OF = Date.parse('2026-11-20T12:00:00Z');

/** The paths where two results differ: numbers beyond `relative` of the larger, anything else not equal. */
function differences(a: unknown, b: unknown, relative: number, path = ''): string[] {
  if (typeof a === 'number' && typeof b === 'number') {
    return a === b || Math.abs(a - b) <= relative * Math.max(Math.abs(a), Math.abs(b)) ? [] : [`${path}: ${a} against ${b}`];
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) => differences((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], relative, `${path}.${k}`));
  }
  return a === b ? [] : [`${path}: ${JSON.stringify(a)} against ${JSON.stringify(b)}`];
}

function event(id: string, customer: string, type: string, tsMs: number, value = 0, segment = ''): EventRow {
  return {
    id, customer_id: customer, type, ts: toChDateTime(tsMs), ts_ms: tsMs, channel: 'web', value, segment, campaign_id: '', props: '{}',
    received_at: toChDateTime(tsMs), stream_seq: 1,
  };
}

describe.each(CLICKHOUSE_ENGINES)('purchase models in %s', (_name, make) => {
  let ch: ClickHouseClient;
  onMigratedDatabase(make, (c) => (ch = c));

  it('reads each customer’s purchase history as the live windows keep it: epoch minutes, first purchase value, FINAL', async () => {
    const t0 = AS_OF - 30 * DAY;
    // "a": three purchases, the earliest sent last; "b": one purchase and a page view; "c": only a purchase after AS_OF
    const a2 = event('a2', 'a', 'purchase', t0 + 10 * DAY + 59_999, 30);
    await ch.insert('events', [
      event('a1', 'a', 'purchase', t0 + 2 * DAY + 30_000, 50),
      a2,
      event('b1', 'b', 'purchase', t0 + 29 * DAY, 12.5),
      event('b2', 'b', 'page_view', t0 + 29 * DAY + MIN),
      event('c1', 'c', 'purchase', AS_OF + MIN, 9),
    ]);
    // A redelivered event (the same row again) and the earliest purchase, arriving late, in a later insert.
    await ch.insert('events', [a2, event('a0', 'a', 'purchase', t0 + 20_000, 20)]);

    const histories = await readPurchaseHistories(ch, AS_OF);
    expect(histories.sort((x, y) => x.customerId.localeCompare(y.customerId))).toEqual([
      { customerId: 'a', history: { purchases: 3, firstMin: Math.floor(t0 / MIN), lastMin: Math.floor((t0 + 10 * DAY + 59_999) / MIN), revenue: 100, firstValue: 20 } },
      { customerId: 'b', history: { purchases: 1, firstMin: Math.floor((t0 + 29 * DAY) / MIN), lastMin: Math.floor((t0 + 29 * DAY) / MIN), revenue: 12.5, firstValue: 12.5 } },
    ]);
  });

  it('stores fits with one date and reads back the latest converged pair, named by its date', async () => {
    const bg = { r: 0.24, alpha: 30.9, a: 0.79, b: 2.43 };
    const gg = { p: 6.25, q: 3.74, gamma: 15.44 };
    const t1 = Date.parse('2026-11-01T08:00:00Z');
    const t2 = Date.parse('2026-11-02T08:00:00Z');
    expect(await readLatestModel(ch)).toBeNull();
    await storeModelFits(ch, t1, 'test', [
      { model: 'bgnbd', params: bg, logLikelihood: -100, customers: 500, converged: true },
      { model: 'gamma_gamma', params: gg, logLikelihood: -50, customers: 200, converged: true },
    ]);
    await storeModelFits(ch, t2, 'test', [
      { model: 'bgnbd', params: { ...bg, r: 0.3 }, logLikelihood: -99, customers: 510, converged: true },
      { model: 'gamma_gamma', params: { ...gg, p: 7 }, logLikelihood: -49, customers: 210, converged: true },
    ]);
    // a newer fit that did not converge is stored for the record but not used
    await storeModelFits(ch, t2 + DAY, 'test', [{ model: 'bgnbd', params: { ...bg, r: 9 }, logLikelihood: -1e9, customers: 510, converged: false }]);
    const latest = await readLatestModel(ch);
    expect(latest).toEqual({ fittedAtMs: t2, bgnbd: { ...bg, r: 0.3 }, gammaGamma: { ...gg, p: 7 }, segments: {} });
    expect(storedModelName(latest!)).toBe('bgnbd-gg:2026-11-02T08:00:00Z');
    // a version whose holdout comparison chose Pareto/NBD holds its pooled fit: read back as the choice, named by it
    const pareto = { r: 0.55, alpha: 10.58, s: 0.61, beta: 11.67 };
    const cov = [[0.01, 0, 0, 0], [0, 0.02, 0, 0], [0, 0, 0.03, 0], [0, 0, 0, 0.04]];
    const t3 = Date.parse('2026-11-03T08:00:00Z');
    await storeModelFits(ch, t3, 'test', [
      { model: 'bgnbd', params: bg, logLikelihood: -100, customers: 500, converged: true },
      { model: 'gamma_gamma', params: gg, logLikelihood: -50, customers: 200, converged: true },
      { model: 'pareto_nbd', params: pareto, logLikelihood: -98, customers: 500, converged: true, logCovariance: cov },
    ]);
    const chosen = await readLatestModel(ch);
    expect(chosen).toEqual({ fittedAtMs: t3, bgnbd: bg, gammaGamma: gg, segments: {}, chosen: { model: 'pareto_nbd', params: pareto, logCovariance: cov } });
    expect(storedModelName(chosen!)).toBe('pareto_nbd-gg:2026-11-03T08:00:00Z');
    // the version before it is still read by its date (a checkpoint's), without the choice
    expect(await readLatestModel(ch, t2)).toEqual(latest);
    const rows = await ch.query<{ params: string; customers: string; converged: number; log_likelihood: number }>(
      `SELECT params, customers, converged, log_likelihood FROM ${ch.database}.model_params WHERE fitted_at = toDateTime(${t2 / 1000}) ORDER BY model`,
    );
    expect(rows.map((r) => [JSON.parse(r.params), Number(r.customers), r.converged, r.log_likelihood])).toEqual([
      [{ ...bg, r: 0.3, unit: 'days' }, 510, 1, -99],
      [{ ...gg, p: 7, unit: 'days' }, 210, 1, -49],
    ]);
  });

  it('vigil model fit: refuses too few customers, then fits and stores both models from the events table', async () => {
    // Only "a" and "b" so far (one customer is a repeat buyer).
    await expect(fitFromClickHouse(ch, { asOfMs: AS_OF, fittedAtMs: AS_OF, minCustomers: 100 })).rejects.toThrow(
      `${ch.database}.events as of 2026-11-20T12:00:00Z has purchases of 2 customers; BG/NBD needs at least 100 (--min-customers) to be fitted`,
    );
    const origin = AS_OF - 200 * DAY;
    const customers = simulateCustomers({
      customers: 400,
      bgNbd: { r: 0.8, alpha: 12, a: 0.6, b: 2.5 },
      gammaGamma: { p: 6, q: 4, gamma: 20 },
      observationEnd: 199,
      acquisition: [0, 60],
      seed: 5,
      keepPurchases: true,
    });
    const rows = customers.flatMap((c) => (c.purchases ?? []).map((p, i) => event(`${c.id}-${i}`, `sim-${c.id}`, 'purchase', Math.round(origin + p.time * DAY), p.value ?? 0)));
    await ch.insert('events', rows);
    const fittedAtMs = AS_OF + 1_234;
    const fit = await fitFromClickHouse(ch, { asOfMs: AS_OF, fittedAtMs, minCustomers: 100, threads: 2 });
    expect(fit.customers).toBe(402);
    expect(fit.bgnbd.converged).toBe(true);
    expect(fit.gammaGamma?.converged).toBe(true);
    expect(fit.fittedAt).toBe('2026-11-20T12:00:01Z');
    // the version is named by the model it scores with: the comparison's choice, fitted on the whole history
    const chosen = fit.comparison!.chosen;
    const scoring = chosen !== 'bgnbd' && fit.live?.converged ? chosen : 'bgnbd';
    expect(fit.model).toBe(`${scoring}-gg:2026-11-20T12:00:01Z`);
    expect(fit.live?.model).toBe(chosen === 'bgnbd' ? undefined : chosen);
    const latest = await readLatestModel(ch);
    expect(latest).toEqual({
      fittedAtMs: Date.parse('2026-11-20T12:00:01Z'),
      bgnbd: fit.bgnbd.params,
      gammaGamma: fit.gammaGamma!.params,
      gammaGammaLogCovariance: fit.gammaGamma!.logCovariance,
      segments: {},
      logCovariance: { '': expect.any(Array) },
      ...(scoring === 'bgnbd' ? {} : { chosen: { model: scoring, params: fit.live!.params, logCovariance: expect.any(Array) } }),
    });
    expect(storedModelName(latest!)).toBe(fit.model);
    // stored with the fit: the covariance of ln(r, alpha, a, b) the live P(alive) intervals take, its diagonal the squared relative errors
    const cov = latest!.logCovariance!['']!;
    expect(cov.map((row) => row.length)).toEqual([4, 4, 4, 4]);
    expect(Math.sqrt(cov[0][0]) * fit.bgnbd.params.r).toBeCloseTo(fit.bgnbd.standardErrors.r, 10);
    // and the Gamma-Gamma fit's, of ln(p, q, gamma): the live value intervals
    expect(latest!.gammaGammaLogCovariance!.map((row) => row.length)).toEqual([3, 3, 3]);
    expect(Math.sqrt(latest!.gammaGammaLogCovariance![0][0]) * fit.gammaGamma!.params.p).toBeCloseTo(fit.gammaGamma!.standardErrors!.p, 10);
    // the three count models compared on the last 90 days, stored with the same fit date; the live model stays BG/NBD
    expect(fit.comparison?.models.map((m) => m.model)).toEqual(['bgnbd', 'pareto_nbd', 'mbg_nbd']);
    expect(fit.bgnbd.standardErrors.r).toBeGreaterThan(0);
    const selection = await ch.query<{ model: string; chosen: number; calibration_end: string; holdout_actual: number; std_errors: string }>(
      `SELECT model, chosen, toString(calibration_end) AS calibration_end, holdout_actual, std_errors FROM ${ch.database}.model_selection WHERE fitted_at = toDateTime('2026-11-20 12:00:01', 'UTC') ORDER BY model`,
    );
    expect(selection.map((r) => r.model)).toEqual(['bgnbd', 'mbg_nbd', 'pareto_nbd']);
    expect(selection.filter((r) => Number(r.chosen) === 1).map((r) => r.model)).toEqual([fit.comparison!.chosen]);
    expect(selection[0].calibration_end).toBe('2026-08-22 12:00:00');
    const actual = fit.comparison!.models[0].actualHoldoutPurchases;
    expect(actual).toBe(customers.reduce((n, c) => n + (c.purchases ?? []).filter((p) => p.time > 110).length, 0));
    expect(Number(selection[0].holdout_actual)).toBe(actual);
    expect(Object.keys(JSON.parse(selection[0].std_errors))).toEqual(['r', 'alpha', 'a', 'b']);
    // the chosen model's tracking plot in model_tracking: a row a week from the cohort's first purchase to the fit's
    // as-of time, its cumulative actual every repeat purchase of the cohort (here every simulated customer's)
    const tracking = await ch.query<{ model: string; period_end: string; calibration_end: string; actual: number; actual_cumulative: number; expected_cumulative: number }>(
      `SELECT model, toString(period_end) AS period_end, toString(calibration_end) AS calibration_end, actual, actual_cumulative, expected_cumulative
       FROM ${ch.database}.model_tracking WHERE fitted_at = toDateTime('2026-11-20 12:00:01', 'UTC') ORDER BY period_end`,
    );
    expect(new Set(tracking.map((r) => `${r.model} ${r.calibration_end}`))).toEqual(new Set([`${chosen} 2026-08-22 12:00:00`]));
    expect(tracking.at(-1)!.period_end).toBe('2026-11-20 12:00:00');
    const repeats = customers.reduce((n, c) => n + Math.max(0, (c.purchases ?? []).length - 1), 0);
    expect(Number(tracking.at(-1)!.actual_cumulative)).toBe(repeats);
    expect(tracking.reduce((n, r) => n + Number(r.actual), 0)).toBe(repeats);
    // the fit tracks the cohort: the expected total within a fifth of the actual
    expect(Math.abs(Number(tracking.at(-1)!.expected_cumulative) / repeats - 1)).toBeLessThan(0.2);
    // In one thread, the same fits (stored a minute earlier: not the latest version). To 1e-5 rather than to the bit:
    // a server summing a customer's purchase values in several threads may add them in another order (chdb does),
    // and the spend fit carries that last bit on.
    const one = await fitFromClickHouse(ch, { asOfMs: AS_OF, fittedAtMs: fittedAtMs - 60_000, minCustomers: 100, threads: 1 });
    expect(differences({ ...one, fittedAt: fit.fittedAt, model: fit.model }, fit, 1e-5)).toEqual([]);
  });

  it('vigil model fit per segment: a fit for each segment with enough buyers, in the same version as the pooled one', async () => {
    const origin = AS_OF - 200 * DAY;
    const simulated = (prefix: string, segment: string, n: number, bgNbd: { r: number; alpha: number; a: number; b: number }, seed: number) =>
      simulateCustomers({ customers: n, bgNbd, observationEnd: 199, acquisition: [0, 60], seed, keepPurchases: true }).flatMap((c) =>
        (c.purchases ?? []).map((p, i) => event(`${prefix}${c.id}-${i}`, `${prefix}${c.id}`, 'purchase', Math.round(origin + p.time * DAY), 10, segment)),
      );
    await ch.insert('events', [
      ...simulated('v-', 'vip', 300, { r: 2, alpha: 8, a: 0.3, b: 6 }, 11),
      ...simulated('b-', 'basic', 300, { r: 0.8, alpha: 12, a: 0.6, b: 2.5 }, 12),
      ...simulated('t-', 'tiny', 20, { r: 0.8, alpha: 12, a: 0.6, b: 2.5 }, 13),
      // b-c0's latest event names vip: the customer counts there, as the live windows hold it
      event('b-c0-move', 'b-c0', 'page_view', AS_OF - DAY, 0, 'vip'),
    ]);
    const segments = await readPurchaseHistories(ch, AS_OF, { segments: true });
    const count = (seg: string) => segments.filter((h) => h.segment === seg).length;
    expect([count('vip'), count('basic'), count('tiny'), count('')]).toEqual([301, 299, 20, 402]);

    const fittedAtMs = AS_OF + 5_000;
    const fit = await fitFromClickHouse(ch, { asOfMs: AS_OF, fittedAtMs, minCustomers: 100, minSegmentBuyers: 200, holdoutDays: 0 });
    expect(fit.customers).toBe(1022);
    expect(fit.segments?.map((f) => [f.segment, f.customers, f.converged])).toEqual([['vip', 301, true], ['basic', 299, true]]);
    expect(fit.segmentsSkipped).toEqual({ tiny: '20 buyers, at least 200 needed (minSegmentBuyers)' });
    const latest = await readLatestModel(ch);
    expect(latest).toEqual({
      fittedAtMs: Date.parse('2026-11-20T12:00:05Z'),
      bgnbd: fit.bgnbd.params,
      // every purchase is worth 10: the spend model may not converge, and then is not part of the version
      gammaGamma: fit.gammaGamma?.converged ? fit.gammaGamma.params : null,
      ...(fit.gammaGamma?.converged && fit.gammaGamma.logCovariance ? { gammaGammaLogCovariance: fit.gammaGamma.logCovariance } : {}),
      segments: { basic: { model: 'bgnbd', params: fit.segments![1].params }, vip: { model: 'bgnbd', params: fit.segments![0].params } },
      logCovariance: { '': expect.any(Array), basic: fit.segments![1].logCovariance, vip: fit.segments![0].logCovariance },
    });
    // the vip buyers' own fit: a higher purchase rate than the pooled one
    expect(latest!.segments!.vip.params.r / latest!.segments!.vip.params.alpha).toBeGreaterThan(latest!.bgnbd.r / latest!.bgnbd.alpha);
    // an older version by its date (a checkpoint's), and none for a date without a fit
    expect(await readLatestModel(ch, Date.parse('2026-11-20T12:00:01Z'))).toMatchObject({ fittedAtMs: Date.parse('2026-11-20T12:00:01Z'), segments: {} });
    expect(await readLatestModel(ch, Date.parse('2026-11-20T12:00:02Z'))).toBeNull();
    // the refit's reads see the pooled fit of the version, not a segment's
    expect(await readAcceptedFit(ch)).toMatchObject({ customers: 1022, params: fit.bgnbd.params, fittedAtMs });
    expect(await latestFitDate(ch)).toBe(fittedAtMs);
  });

  // Last in the block: the customer it adds would change the counts the fits above expect.
  it('reads the histories as tab-separated text: an id with a tab, a newline and a backslash, a value to its last bit', async () => {
    const id = 'e\t\n\\x';
    await ch.insert('events', [event('e1', id, 'purchase', AS_OF - DAY, 0.1 + 0.2, 'seg\tment')]);
    const read = (await readPurchaseHistories(ch, AS_OF, { segments: true })).find((h) => h.customerId === id);
    const minute = Math.floor((AS_OF - DAY) / MIN);
    expect(read).toEqual({ customerId: id, segment: 'seg\tment', history: { purchases: 1, firstMin: minute, lastMin: minute, revenue: 0.1 + 0.2, firstValue: 0.1 + 0.2 } });
  });
});
