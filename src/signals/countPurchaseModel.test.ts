// The live purchase model of each count model the refit may choose: P(alive), the 30- and 90-day expectations and
// the customer value of createCountPurchaseModel against the model's own closed forms, summed the way
// customerLifetimeValue sums them; the P(alive) interval against uncertainty.ts's deltaInterval.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import { CDNOW_COUNT_FITS, CDNOW_SPEND_FIT } from './models/cdnowFits.testing.js';
import { COUNT_MODELS, COUNT_MODEL_NAMES, type CountModelName } from './models/countModels.js';
import { expectedAverageValue } from './models/gammaGamma.js';
import { deltaInterval } from './models/uncertainty.js';
import { createCountPurchaseModel, createPurchaseModel, lifetimeValueOptions } from './purchaseModel.js';

const config = parseConfig({}).signals.model;
const gg = CDNOW_SPEND_FIT;
const PARAMS = CDNOW_COUNT_FITS;
const CUSTOMERS: [number, number, number][] = [[0, 0, 38.86], [2, 30.43, 38.86], [7, 37, 38], [1, 2, 60], [26, 30.86, 31]];
const relative = (actual: number, expected: number) => Math.abs(actual - expected) / Math.max(Math.abs(expected), 1e-12);
// A small covariance of the log-parameters (the diagonal and one correlation), as a stored fit carries.
const COV = [
  [0.01, 0.004, 0, 0],
  [0.004, 0.02, 0, 0],
  [0, 0, 0.03, 0.01],
  [0, 0, 0.01, 0.05],
];

/** customerLifetimeValue's sum with the model's unconditional E[Y(t)], period by period. */
function valueBySum(model: CountModelName, x: number, tx: number, T: number, m: number): number {
  const spec = COUNT_MODELS[model];
  const { horizonPeriods, discountRatePerPeriod, periodLength } = lifetimeValueOptions(config);
  let total = 0;
  let before = 0;
  for (let k = 1; k <= horizonPeriods; k++) {
    const upTo = spec.expectedPurchases(PARAMS[model], k * periodLength, x, tx, T);
    total += (upTo - before) / Math.pow(1 + discountRatePerPeriod, k);
    before = upTo;
  }
  return total * expectedAverageValue(gg, x, m);
}

describe.each(COUNT_MODEL_NAMES)('the live %s model', (model) => {
  const spec = COUNT_MODELS[model];
  const live = createCountPurchaseModel(config, model, PARAMS[model], gg, `${model}-gg:2026-11-23T12:00:00Z`, COV);

  it('is named as given and scores P(alive) with the model’s own closed form', () => {
    expect(live.name).toBe(`${model}-gg:2026-11-23T12:00:00Z`);
    for (const [x, tx, T] of CUSTOMERS) expect(live.pAlive(x, tx, T)).toBe(spec.pAlive(PARAMS[model], x, tx, T));
  });

  it('expects purchases over 30 and 90 days (tabulated) and 45 (direct) as the closed form does, to 1e-6', () => {
    for (const [x, tx, T] of CUSTOMERS) {
      for (const t of [30, 90, 45]) expect(relative(live.expectedPurchases(t, x, tx, T), spec.expectedPurchases(PARAMS[model], t, x, tx, T))).toBeLessThan(1e-6);
    }
  });

  it('values a customer as the discounted sum of its expected purchases times the Gamma-Gamma spend, to 1e-6', () => {
    for (const [x, tx, T] of CUSTOMERS) expect(relative(live.customerValue(x, tx, T, 40), valueBySum(model, x, tx, T, 40))).toBeLessThan(1e-6);
  });

  it('gives the P(alive) interval of uncertainty.ts’s delta method with the stored covariance', () => {
    const [x, tx, T] = [2, 30.43, 38.86];
    const reference = deltaInterval((p) => spec.pAlive(p, x, tx, T), PARAMS[model], { paramNames: spec.paramNames, logCovariance: COV, standardErrors: {} }, { scale: 'logit' });
    const interval = live.pAliveInterval!(x, tx, T);
    expect(interval.lower).toBeLessThan(interval.estimate);
    expect(interval.upper).toBeGreaterThan(interval.estimate);
    for (const k of ['estimate', 'lower', 'upper'] as const) expect(interval[k]).toBeCloseTo(reference[k], 9);
  });
});

describe('createCountPurchaseModel', () => {
  it('scores BG/NBD exactly as createPurchaseModel does', () => {
    const bg = PARAMS.bgnbd as { r: number; alpha: number; a: number; b: number };
    const a = createCountPurchaseModel(config, 'bgnbd', bg, gg, 'v');
    const b = createPurchaseModel(config, bg, gg, 'v');
    for (const [x, tx, T] of CUSTOMERS) {
      expect([a.pAlive(x, tx, T), a.expectedPurchases(30, x, tx, T), a.customerValue(x, tx, T, 40)]).toEqual([b.pAlive(x, tx, T), b.expectedPurchases(30, x, tx, T), b.customerValue(x, tx, T, 40)]);
    }
  });

  it('refuses parameters it cannot use: a missing or non-positive one, a covariance of the wrong size gives no interval', () => {
    expect(() => createCountPurchaseModel(config, 'pareto_nbd', { r: 0.5, alpha: 10, s: 0.6 }, gg, 'v')).toThrow(/Pareto\/NBD parameters need beta/);
    expect(() => createCountPurchaseModel(config, 'mbg_nbd', { ...PARAMS.mbg_nbd, a: -1 }, gg, 'v')).toThrow(/parameter a must be a positive number/);
    expect(createCountPurchaseModel(config, 'pareto_nbd', PARAMS.pareto_nbd, gg, 'v', [[1]]).pAliveInterval).toBeUndefined();
  });
});
