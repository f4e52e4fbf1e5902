// The live intervals of P(alive), expected purchases (90 days) and customer value against uncertainty.ts's
// deltaInterval over the joint parameter vector (count model and Gamma-Gamma, block-diagonal covariance), for every
// count model; and the value interval's coverage over simulated data sets with known parameters.
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import { CDNOW_COUNT_FITS, CDNOW_SPEND_FIT } from './models/cdnowFits.testing.js';
import { fitBgNbd } from './models/bgnbd.js';
import { COUNT_MODELS, COUNT_MODEL_NAMES, type CountModelName, type ModelParams } from './models/countModels.js';
import { expectedAverageValue, fitGammaGamma } from './models/gammaGamma.js';
import { simulateCustomers } from './models/simulate.js';
import { customerIntervals, deltaInterval, gammaGammaUncertainty, parameterUncertainty } from './models/uncertainty.js';
import { createCountPurchaseModel, createPurchaseModel, lifetimeValueOptions, purchaseModelSet } from './purchaseModel.js';

const config = parseConfig({}).signals.model;
const gg = CDNOW_SPEND_FIT;
const PARAMS = CDNOW_COUNT_FITS;
// A covariance of ln(r, alpha, a|s, b|beta) with correlations, and one of ln(p, q, gamma) as CDNOW's fit has them.
const COUNT_COV = [
  [0.01, 0.004, 0, 0],
  [0.004, 0.02, 0, 0.002],
  [0, 0, 0.03, 0.01],
  [0, 0.002, 0.01, 0.05],
];
const SPEND_COV = [
  [0.04, -0.02, -0.03],
  [-0.02, 0.006, 0.02],
  [-0.03, 0.02, 0.07],
];
// T on the hour grid the spread is worked out on (liveCustomerIntervals); off the grid below.
const CUSTOMERS: [number, number, number, number][] = [[2, 30.43, 38.875, 22.35], [7, 37, 38, 73.74], [1, 2, 60, 11.77], [0, 0, 38.875, 0], [26, 30.86, 31, 40]];
const relative = (actual: number, expected: number) => Math.abs(actual - expected) / Math.abs(expected);

/** customerLifetimeValue's sum with the model's unconditional E[Y(t)] and the joint record's Gamma-Gamma parameters. */
function valueOf(model: CountModelName, joint: ModelParams, x: number, tx: number, T: number, m: number): number {
  const { horizonPeriods, discountRatePerPeriod, periodLength } = lifetimeValueOptions(config);
  let total = 0;
  let before = 0;
  for (let k = 1; k <= horizonPeriods; k++) {
    const upTo = COUNT_MODELS[model].expectedPurchases(joint, k * periodLength, x, tx, T);
    total += (upTo - before) / Math.pow(1 + discountRatePerPeriod, k);
    before = upTo;
  }
  return total * expectedAverageValue({ p: joint.p, q: joint.q, gamma: joint.gamma }, x, m);
}

describe.each(COUNT_MODEL_NAMES)('the live intervals of %s', (model) => {
  const names = [...COUNT_MODELS[model].paramNames, 'p', 'q', 'gamma'];
  // Block diagonal: the count model's and the spend model's likelihoods are separate.
  const jointCov = names.map((_, i) => names.map((_, j) => (i < 4 && j < 4 ? COUNT_COV[i][j] : i >= 4 && j >= 4 ? SPEND_COV[i - 4][j - 4] : 0)));
  const joint = { paramNames: names, logCovariance: jointCov, standardErrors: {} };
  const counts = { paramNames: COUNT_MODELS[model].paramNames, logCovariance: COUNT_COV, standardErrors: {} };
  const live = createCountPurchaseModel(config, model, PARAMS[model], gg, 'v', COUNT_COV, SPEND_COV);

  it('gives the value interval of deltaInterval over the joint parameters, to 1e-5', () => {
    for (const [x, tx, T, m] of CUSTOMERS) {
      const expected = deltaInterval((j) => valueOf(model, j, x, tx, T, m), { ...PARAMS[model], ...gg }, joint, { scale: 'log' });
      const got = live.intervals!(x, tx, T, m, true).value!;
      expect(relative(got.estimate, expected.estimate)).toBeLessThan(1e-5);
      expect(relative(got.lower, expected.lower)).toBeLessThan(1e-5);
      expect(relative(got.upper, expected.upper)).toBeLessThan(1e-5);
      expect(got.lower).toBeLessThan(got.estimate);
    }
  });

  it('gives the P(alive) and 90-day expected purchases intervals of customerIntervals, to 1e-6', () => {
    for (const [x, tx, T, m] of CUSTOMERS) {
      const expected = customerIntervals(model, PARAMS[model], counts, { x, tx, T }, 90);
      const got = live.intervals!(x, tx, T, m, true);
      for (const k of ['estimate', 'lower', 'upper'] as const) {
        expect(relative(got.pAlive[k], expected.pAlive[k])).toBeLessThan(1e-6);
        expect(relative(got.expectedPurchases90d[k], expected.expectedPurchases[k])).toBeLessThan(1e-6);
      }
    }
  });

  it('off the hour grid, keeps its estimates exact and its bounds within 1e-3 of deltaInterval’s', () => {
    const [x, tx, T, m] = [2, 30.43, 38.86, 22.35];
    const expected = deltaInterval((j) => valueOf(model, j, x, tx, T, m), { ...PARAMS[model], ...gg }, joint, { scale: 'log' });
    const got = live.intervals!(x, tx, T, m, true);
    expect(relative(got.value!.estimate, expected.estimate)).toBeLessThan(1e-5);
    expect(relative(got.value!.lower, expected.lower)).toBeLessThan(1e-3);
    expect(relative(got.value!.upper, expected.upper)).toBeLessThan(1e-3);
    expect(got.pAlive.estimate).toBe(live.pAlive(x, tx, T));
  });

  it('has no value interval without the spend covariance or without spend, and no intervals without the count one', () => {
    expect(createCountPurchaseModel(config, model, PARAMS[model], gg, 'v', COUNT_COV).intervals!(2, 30, 40, 20, true).value).toBeNull();
    expect(live.intervals!(2, 30, 40, 20, false).value).toBeNull();
    expect(createCountPurchaseModel(config, model, PARAMS[model], gg, 'v', null, SPEND_COV).intervals).toBeUndefined();
    expect(createCountPurchaseModel(config, model, PARAMS[model], gg, 'v', COUNT_COV, [[1]]).intervals!(2, 30, 40, 20, true).value).toBeNull();
  });
});

describe('the intervals of a version’s set', () => {
  it('come from the pooled fit, and from a segment’s own fit for its customers', () => {
    const pooled = createPurchaseModel(config, PARAMS.bgnbd as never, gg, 'v', COUNT_COV, SPEND_COV);
    const vip = createPurchaseModel(config, { r: 2, alpha: 10, a: 0.1, b: 5 }, gg, 'v@vip', COUNT_COV, SPEND_COV);
    const set = purchaseModelSet(pooled, new Map([['vip', vip]]));
    expect(set.intervals!(2, 30, 40, 20, true)).toEqual(pooled.intervals!(2, 30, 40, 20, true));
    expect(set.forSegment('vip').intervals!(2, 30, 40, 20, true)).toEqual(vip.intervals!(2, 30, 40, 20, true));
    expect(set.forSegment('vip').intervals!(2, 30, 40, 20, true).value!.estimate).not.toBeCloseTo(set.intervals!(2, 30, 40, 20, true).value!.estimate, 3);
  });
});

describe('the value interval holds its coverage (BG/NBD with Gamma-Gamma, 60 simulated data sets, fixed seeds)', () => {
  // 1,000 customers each, acquired over 60 days, observed to day 200, both models fitted; three customers' value.
  const truth = { r: 0.8, alpha: 12, a: 0.6, b: 2.5 };
  const spend = { p: 6, q: 4, gamma: 20 };
  const customers: [number, number, number, number][] = [[2, 100, 160, 30], [6, 150, 170, 45], [1, 20, 150, 25]];
  const trueModel = createPurchaseModel(config, truth, spend, 'truth');
  const runs = 60;
  const covered = customers.map(() => 0);
  const logP: number[] = [];
  const predictedSdLogP: number[] = [];
  beforeAll(() => {
    for (let seed = 1; seed <= runs; seed++) {
      const data = simulateCustomers({ customers: 1000, bgNbd: truth, gammaGamma: spend, observationEnd: 200, acquisition: [0, 60], seed });
      const bg = fitBgNbd(data, { restarts: 1 }).params;
      const fittedSpend = fitGammaGamma(data, { restarts: 1 }).params;
      const spendUncertainty = gammaGammaUncertainty(fittedSpend, data);
      const fitted = createPurchaseModel(config, bg, fittedSpend, 'fit', parameterUncertainty('bgnbd', { ...bg }, data).logCovariance, spendUncertainty.logCovariance);
      customers.forEach(([x, tx, T, m], k) => {
        const value = fitted.intervals!(x, tx, T, m, true).value!;
        const actual = trueModel.customerValue(x, tx, T, m);
        if (value.lower <= actual && actual <= value.upper) covered[k]++;
      });
      logP.push(Math.log(fittedSpend.p));
      predictedSdLogP.push(spendUncertainty.standardErrors.p / fittedSpend.p);
    }
  });

  // Binomial spread of a 90 % coverage over 60 runs is 3.9 points: 80–97 % allows about 2.6 of them below.
  it.each(customers.map((_, k) => k))('customer %i’s value is covered in 80–97 % of runs', (k) => {
    expect(covered[k] / runs).toBeGreaterThanOrEqual(0.8);
    expect(covered[k] / runs).toBeLessThanOrEqual(0.97);
  });

  it('predicts the spread of the Gamma-Gamma estimates: sd(ln p) over runs within 25 % of the mean standard error', () => {
    const mean = logP.reduce((s, v) => s + v, 0) / runs;
    const sd = Math.sqrt(logP.reduce((s, v) => s + (v - mean) ** 2, 0) / (runs - 1));
    const predicted = predictedSdLogP.reduce((s, v) => s + v, 0) / runs;
    expect(relative(predicted, sd)).toBeLessThan(0.25);
  });
});
