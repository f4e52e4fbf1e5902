import { beforeAll, describe, expect, it } from 'vitest';
import { cdnowPurchases } from './cdnow.testing.js';
import { COUNT_MODELS, COUNT_MODEL_NAMES, type ModelParams } from './countModels.js';
import { chooseModel, compareModels, type ModelComparison, type ModelScore } from './modelChoice.js';
import { splitCalibrationHoldout } from './purchaseLog.js';
import { countMoments } from './quadrature.testing.js';
import { simulateCustomers, toPurchaseLog } from './simulate.js';

const CDNOW_BG: ModelParams = { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };

describe('BG/NBD holdout count distribution', () => {
  it('sums to 1 and has the closed-form conditional expectation as its mean', () => {
    const spec = COUNT_MODELS.bgnbd;
    for (const [x, tx, T, t] of [[0, 0, 38.86, 39], [2, 30.43, 38.86, 39], [26, 30.86, 31, 52], [1, 2, 500, 52]]) {
      const { total, mean } = countMoments((k) => spec.logCountProbability(CDNOW_BG, k, t, x, tx, T), 600);
      expect(Math.abs(total - 1)).toBeLessThan(1e-9);
      expect(Math.abs(mean - spec.expectedPurchases(CDNOW_BG, t, x, tx, T)) / mean).toBeLessThan(1e-8);
    }
  });
});

const score = (model: ModelScore['model'], ll: number, totalError: number, converged = true): ModelScore => ({
  model,
  fit: { params: {}, logLikelihood: 0, converged, iterations: 1 },
  holdoutLogLikelihoodPerCustomer: ll,
  expectedTotal: 0,
  actualTotal: 0,
  totalError,
});

describe('chooseModel', () => {
  it('takes the best holdout log-likelihood', () => {
    expect(chooseModel([score('bgnbd', -1.0, 0.01), score('pareto_nbd', -0.99, 0.2), score('mbg_nbd', -1.2, 0)])).toBe('pareto_nbd');
  });
  it('breaks a tie (within 0.001 per customer) by the smaller error of the total', () => {
    expect(chooseModel([score('bgnbd', -1.0, -0.05), score('pareto_nbd', -0.9995, 0.2), score('mbg_nbd', -1.2, 0)])).toBe('bgnbd');
  });
  it('passes over a fit that did not converge', () => {
    expect(chooseModel([score('bgnbd', -1.0, 0.01), score('pareto_nbd', -0.5, 0, false), score('mbg_nbd', -1.1, 0)])).toBe('bgnbd');
  });
});

describe('compareModels on CDNOW (calibration to 1997-09-30, holdout to 1998-06-30, weeks)', () => {
  let comparison: ModelComparison;
  beforeAll(() => {
    comparison = compareModels(splitCalibrationHoldout(cdnowPurchases(), 272 / 7, 545 / 7));
  });

  it('refits the published calibration fits from the raw log (BG/NBD −9582.4, Pareto/NBD −9595.0)', () => {
    const ll = Object.fromEntries(comparison.scores.map((s) => [s.model, s.fit.logLikelihood]));
    expect(comparison.customers).toBe(2357);
    expect(ll.bgnbd).toBeCloseTo(-9582.4, 0);
    expect(ll.pareto_nbd).toBeCloseTo(-9595.0, 0);
  });

  it('scores every model on the same 1,882 holdout purchases and chooses MBG/NBD by holdout log-likelihood', () => {
    expect(comparison.scores.map((s) => s.model)).toEqual(COUNT_MODEL_NAMES);
    for (const s of comparison.scores) {
      expect(s.actualTotal).toBe(1882);
      expect(s.holdoutLogLikelihoodPerCustomer).toBeLessThan(0);
      // all three under-predict CDNOW's second period by 11–17 %
      expect(s.totalError).toBeGreaterThan(-0.17);
      expect(s.totalError).toBeLessThan(-0.11);
    }
    expect(comparison.chosen).toBe('mbg_nbd');
  });
});

describe('compareModels on data simulated from BG/NBD', () => {
  it('does not prefer another model over the one that generated the data by more than noise', () => {
    const customers = simulateCustomers({ customers: 2000, bgNbd: { r: 0.6, alpha: 3, a: 0.5, b: 2.5 }, observationEnd: 78, acquisition: [0, 12], seed: 11, keepPurchases: true });
    const comparison = compareModels(splitCalibrationHoldout(toPurchaseLog(customers), 39, 78), { restarts: 1 });
    const ll = Object.fromEntries(comparison.scores.map((s) => [s.model, s.holdoutLogLikelihoodPerCustomer]));
    expect(ll.bgnbd).toBeGreaterThanOrEqual(Math.max(ll.pareto_nbd, ll.mbg_nbd) - 0.005);
    const bg = comparison.scores.find((s) => s.model === 'bgnbd')!;
    expect(Math.abs(bg.totalError)).toBeLessThan(0.1);
  }, 60_000);
});
