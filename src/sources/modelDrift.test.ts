import { describe, expect, it } from 'vitest';
import { modelDrift, type FitFigures } from './modelDrift.js';

const limits = { maxParamChange: 0.5, maxLogLikelihoodChange: 0.5 };
const fit = (over: Partial<FitFigures['params']> = {}, ll = -400, customers = 100, converged = true): FitFigures => ({
  params: { r: 0.25, alpha: 30, a: 0.8, b: 2.4, ...over },
  logLikelihood: ll,
  customers,
  converged,
});

describe('modelDrift', () => {
  it('accepts a fit within every limit, and the first fit of all', () => {
    expect(modelDrift(fit(), fit({ r: 0.3, alpha: 40, a: 0.5, b: 3.5 }, -420), limits)).toEqual({ drifted: false, reasons: [] });
    expect(modelDrift(null, fit({ r: 9 }), limits)).toEqual({ drifted: false, reasons: [] });
  });

  it('names every parameter that moved beyond the relative limit, either way', () => {
    const v = modelDrift(fit(), fit({ r: 0.6, b: 1 }), limits);
    expect(v).toEqual({ drifted: true, reasons: ['r 0.250 → 0.600 (+140 %, limit ±50 %)', 'b 2.40 → 1.00 (-58 %, limit ±50 %)'] });
  });

  it('compares the mean log-likelihood per customer, not the total', () => {
    // twice the customers at the same mean: no drift
    expect(modelDrift(fit(), fit({}, -800, 200), limits).drifted).toBe(false);
    expect(modelDrift(fit(), fit({}, -460, 100), limits).reasons).toEqual(['mean log-likelihood per customer -4.000 → -4.600 (limit ±0.5)']);
  });

  it('a fit that did not converge drifts whatever its figures, and keeps the old version', () => {
    expect(modelDrift(fit(), fit({}, -400, 100, false), limits).reasons).toEqual(['the new fit did not converge: the previous version stays']);
  });

  it('a fit with a non-finite figure drifts (NaN is beyond every limit)', () => {
    expect(modelDrift(fit(), fit({ a: Number.NaN }), limits).reasons).toEqual(['a 0.800 → NaN (NaN %, limit ±50 %)']);
  });
});
