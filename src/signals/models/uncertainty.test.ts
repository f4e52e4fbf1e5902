import { beforeAll, describe, expect, it } from 'vitest';
import { fitBgNbd, type BgNbdParams } from './bgnbd.js';
import { cdnowSummaries } from './cdnow.testing.js';
import { COUNT_MODELS, type ModelParams } from './countModels.js';
import { simulateCustomers } from './simulate.js';
import { invert } from './linearAlgebra.js';
import { customerIntervals, deltaInterval, formatInterval, parameterUncertainty } from './uncertainty.js';

const relative = (actual: number, expected: number) => Math.abs(actual - expected) / Math.abs(expected);

describe('standard errors from the observed information', () => {
  it('match lifetimes’ BG/NBD standard errors on CDNOW (autograd Hessian, Quickstart: 0.012557, 0.378221, 0.185719, 0.705345) to 1%', () => {
    const data = cdnowSummaries();
    const fit = fitBgNbd(data);
    const { standardErrors } = parameterUncertainty('bgnbd', fit.params as unknown as ModelParams, data);
    const published = { r: 0.012557, alpha: 0.378221, a: 0.185719, b: 0.705345 };
    for (const key of ['r', 'alpha', 'a', 'b'] as const) expect(relative(standardErrors[key], published[key])).toBeLessThan(0.01);
  });

  it('inverts a matrix and refuses a singular one', () => {
    const inverse = invert([[4, 2], [2, 3]])!;
    expect(inverse[0][0]).toBeCloseTo(3 / 8, 14);
    expect(inverse[0][1]).toBeCloseTo(-2 / 8, 14);
    expect(invert([[1, 2], [2, 4]])).toBeNull();
  });
});

describe('delta-method intervals hold their coverage (BG/NBD, 100 simulated data sets, fixed seeds)', () => {
  // 1,000 customers each, acquired over 12 weeks, observed to week 52; three customers' P(alive) and E[Y(26)], and r.
  const truth: BgNbdParams = { r: 0.6, alpha: 3, a: 0.5, b: 2.5 };
  const customers = [
    { x: 2, tx: 20, T: 40 },
    { x: 6, tx: 38, T: 45 },
    { x: 1, tx: 3, T: 40 },
  ];
  const spec = COUNT_MODELS.bgnbd;
  const runs = 100;
  const covered = new Array<number>(2 * customers.length + 1).fill(0);
  const logR: number[] = [];
  const predictedSdLogR: number[] = [];
  beforeAll(() => {
   for (let seed = 1; seed <= runs; seed++) {
    const data = simulateCustomers({ customers: 1000, bgNbd: truth, observationEnd: 52, acquisition: [0, 12], seed });
    const params = fitBgNbd(data, { restarts: 1 }).params as unknown as ModelParams;
    const uncertainty = parameterUncertainty('bgnbd', params, data);
    const inside = (v: number, i: { lower: number; upper: number }) => (i.lower <= v && v <= i.upper ? 1 : 0);
    customers.forEach((c, k) => {
      const intervals = customerIntervals('bgnbd', params, uncertainty, c, 26);
      covered[2 * k] += inside(spec.pAlive(truth as unknown as ModelParams, c.x, c.tx, c.T), intervals.pAlive);
      covered[2 * k + 1] += inside(spec.expectedPurchases(truth as unknown as ModelParams, 26, c.x, c.tx, c.T), intervals.expectedPurchases);
    });
    covered[covered.length - 1] += inside(truth.r, deltaInterval((p) => p.r, params, uncertainty));
    logR.push(Math.log(params.r));
    predictedSdLogR.push(uncertainty.standardErrors.r / params.r);
   }
  });

  // Binomial spread of a 90 % coverage over 100 runs is 3 points: 82–97 % is within about 2.7 of them.
  it.each(covered.map((_, i) => i))('quantity %i is covered in 82–97 % of runs', (i) => {
    expect(covered[i] / runs).toBeGreaterThanOrEqual(0.82);
    expect(covered[i] / runs).toBeLessThanOrEqual(0.97);
  });

  it('predicts the spread of the estimates: sd(ln r) over runs within 20 % of the mean standard error', () => {
    const mean = logR.reduce((s, v) => s + v, 0) / runs;
    const sd = Math.sqrt(logR.reduce((s, v) => s + (v - mean) ** 2, 0) / (runs - 1));
    const predicted = predictedSdLogR.reduce((s, v) => s + v, 0) / runs;
    expect(relative(predicted, sd)).toBeLessThan(0.2);
  });
});

describe('formatInterval', () => {
  it('says the estimate and its interval as the alert reasons do', () => {
    expect(formatInterval('P(alive)', { estimate: 0.3112, lower: 0.2449, upper: 0.3871, level: 0.9 })).toBe('P(alive) 0.31, 90 % 0.24–0.39');
    expect(formatInterval('expected purchases (90 days)', { estimate: 1.234, lower: 1.01, upper: 1.5, level: 0.95 }, 1)).toBe(
      'expected purchases (90 days) 1.2, 95 % 1.0–1.5',
    );
  });

  it('says so when there is no interval (singular information)', () => {
    expect(formatInterval('P(alive)', { estimate: 0.5, lower: Number.NaN, upper: Number.NaN, level: 0.9 })).toBe('P(alive) 0.50 (no interval)');
  });

  it('refuses a level it has no quantile for', () => {
    expect(() => deltaInterval((p) => p.r, { r: 1 }, { paramNames: ['r'], logCovariance: [[0.01]], standardErrors: { r: 0.1 } }, { level: 0.91 })).toThrow(/level 0.91/);
  });
});
