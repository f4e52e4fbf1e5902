import { describe, expect, it } from 'vitest';
import { COUNT_MODEL_NAMES, COUNT_MODELS } from './countModels.js';
import { bgNbdTotalLogLikelihood } from './bgnbd.js';
import { fitGammaGamma } from './gammaGamma.js';
import { gammaGammaUncertainty, parameterUncertainty } from './uncertainty.js';
import { fitLogParameters, groupSummaries, searchSample } from './mle.js';
import { centralDerivatives, newtonMinimise } from './newton.js';
import { simulateCustomers } from './simulate.js';

describe('newtonMinimise', () => {
  it('finds the minimum of a smooth function from near it, in a few steps', () => {
    // A shifted, correlated quartic bowl: minimum at (1, -2, 0.5).
    const f = (v: readonly number[]) => {
      const [a, b, c] = [v[0] - 1, v[1] + 2, v[2] - 0.5];
      return a * a + 2 * b * b + 0.5 * c * c + 0.8 * a * b + a ** 4 + Math.exp(c) - c;
    };
    const r = newtonMinimise(f, [1.3, -1.7, 0.2]);
    expect(r).not.toBeNull();
    expect(r!.converged).toBe(true);
    expect(r!.iterations).toBeLessThan(10);
    expect(r!.x[0]).toBeCloseTo(1, 5);
    expect(r!.x[1]).toBeCloseTo(-2, 5);
    expect(r!.x[2]).toBeCloseTo(0.5, 5);
  });

  it('takes its first steps with a given Hessian estimate, gradient only, and ends on f\'s own Hessian', () => {
    // A smooth bowl in four variables: minimum at (0.3, −0.2, 0.1, 0), Hessian diag(2, 4, 6, 8) plus a quartic term.
    let evaluations = 0;
    const f = (v: readonly number[]) => {
      evaluations++;
      const d = [v[0] - 0.3, v[1] + 0.2, v[2] - 0.1, v[3]];
      return d[0] ** 2 + 2 * d[1] ** 2 + 3 * d[2] ** 2 + 4 * d[3] ** 2 + 0.3 * d[0] * d[1] + d[0] ** 4 + d[3] ** 4;
    };
    const x0 = [0.32, -0.21, 0.11, 0.01];
    const own = newtonMinimise(f, x0)!;
    const ownEvaluations = evaluations;
    evaluations = 0;
    // The estimate a sample gives: near f's Hessian, a few per cent off.
    const estimate = [[2.1, 0.3, 0, 0], [0.3, 4.1, 0, 0], [0, 0, 5.8, 0], [0, 0, 0, 8.3]];
    const helped = newtonMinimise(f, x0, { initialHessian: estimate })!;
    const helpedEvaluations = evaluations;
    expect(helped.converged).toBe(true);
    helped.x.forEach((v, i) => expect(v).toBeCloseTo(own.x[i], 7));
    // The Hessian it returns is f's own where the last step began, not the estimate.
    const exact = centralDerivatives(f, helped.x, 1e-3).hessian;
    helped.hessian.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(exact[i][j], 3)));
    expect(helped.hessian[2][2]).not.toBeCloseTo(5.8, 1);
    // Three steps of 2n + 1 = 9 evaluations (and one for each step's end) and one of f's own 33 (and 1): 64, against 68.
    expect(helpedEvaluations).toBeLessThan(ownEvaluations);
    // An estimate that is not positive definite is ignored: the same steps as without one.
    evaluations = 0;
    const ignored = newtonMinimise(f, x0, { initialHessian: [[1, 0, 0, 0], [0, -1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]] })!;
    expect(ignored.x).toEqual(own.x);
    expect(evaluations).toBe(ownEvaluations);
  });

  it('gives up (null) where the Hessian is not positive definite, so the caller falls back', () => {
    // A saddle at the start: Newton would head for it, not for a minimum.
    expect(newtonMinimise((v) => v[0] * v[0] - v[1] * v[1] + 0.01 * v[1] ** 4, [0.1, 0.1])).toBeNull();
  });
});

describe('searchSample', () => {
  it('samples exactly searchCustomers, repeatably from the seed, and only for data over twice that', () => {
    const data = Array.from({ length: 10_000 }, (_, i) => i);
    expect(searchSample(data, { searchCustomers: 5_000 })).toBeNull();
    const a = searchSample(data, { searchCustomers: 1_000 })!;
    expect(a).toHaveLength(1_000);
    expect(new Set(a).size).toBe(1_000);
    expect(searchSample(data, { searchCustomers: 1_000 })).toEqual(a);
    expect(searchSample(data, { searchCustomers: 1_000, seed: 2 })).not.toEqual(a);
    // Spread over the whole data, not its head: the mean of a uniform sample of 0..9999 is near 5,000.
    expect(Math.abs(a.reduce((s, v) => s + v, 0) / a.length - 5_000)).toBeLessThan(300);
    expect(searchSample(data, { searchCustomers: 0 })).toBeNull();
  });
});

describe('a large fit: the search on a sample, Newton on every customer', () => {
  // Minute-resolution times as the live windows keep them: nearly every row distinct.
  const simulated = simulateCustomers({ customers: 2_500, bgNbd: { r: 0.24, alpha: 4.41 * 7, a: 0.79, b: 2.43 }, observationEnd: 546, acquisition: [0, 365], seed: 11 });
  const data = simulated.map(({ x, tx, T }) => ({ x, tx: Math.round(tx * 1440) / 1440, T: Math.round(T * 1440) / 1440 }));

  it('finishes with Newton on every customer: far fewer evaluations of the whole data than the search on it', () => {
    const g = groupSummaries(data);
    const sample = searchSample(data, { searchCustomers: 500 })!;
    const s = groupSummaries(sample);
    let whole = 0;
    const total = (cols: typeof g, count: boolean) => (p: readonly number[]) => {
      if (count) whole++;
      return bgNbdTotalLogLikelihood({ r: p[0], alpha: p[1], a: p[2], b: p[3] }, cols.x, cols.tx, cols.T, cols.weights);
    };
    const base = [0, Math.log(30), 0, 0];
    const staged = fitLogParameters('BG/NBD', total(g, true), base, data.length, {}, { total: total(s, false), customers: sample.length });
    const stagedEvaluations = whole;
    whole = 0;
    const unstaged = fitLogParameters('BG/NBD', total(g, true), base, data.length, {});
    expect(staged.converged).toBe(true);
    expect(Math.abs(staged.logLikelihood - unstaged.logLikelihood)).toBeLessThan(1e-6);
    // Newton: 33 evaluations a step, a few steps, and the final one; Nelder–Mead's starts and polishing: hundreds.
    expect(stagedEvaluations).toBeLessThan(200);
    expect(whole).toBeGreaterThan(3 * stagedEvaluations);
    // Newton's last Hessian is the observed information: the standard errors it gives are those worked out afresh.
    const params = { r: staged.params[0], alpha: staged.params[1], a: staged.params[2], b: staged.params[3] };
    const fresh = parameterUncertainty('bgnbd', params, data);
    expect(staged.information).toHaveLength(4);
    const reused = parameterUncertainty('bgnbd', params, data, staged.information);
    for (const key of ['r', 'alpha', 'a', 'b']) expect(Math.abs(reused.standardErrors[key] / fresh.standardErrors[key] - 1)).toBeLessThan(1e-3);
  });

  it('gives Gamma-Gamma the same staged fit, with its information', () => {
    const spend = simulateCustomers({ customers: 6_000, bgNbd: { r: 0.24, alpha: 4.41, a: 0.79, b: 2.43 }, gammaGamma: { p: 6.25, q: 3.74, gamma: 15.44 }, observationEnd: 78, seed: 4 })
      .filter((c) => c.x > 0)
      .map((c) => ({ x: c.x, mValue: c.mValue! }));
    const whole = fitGammaGamma(spend, { searchCustomers: 0 });
    const staged = fitGammaGamma(spend, { searchCustomers: 300 });
    expect(staged.converged).toBe(true);
    expect(Math.abs(staged.logLikelihood - whole.logLikelihood)).toBeLessThan(1e-6);
    for (const key of ['p', 'q', 'gamma'] as const) expect(Math.abs(staged.params[key] / whole.params[key] - 1)).toBeLessThan(1e-4);
    const fresh = gammaGammaUncertainty(staged.params, spend);
    expect(staged.information).toHaveLength(3);
    const reused = gammaGammaUncertainty(staged.params, spend, staged.information);
    for (const key of ['p', 'q', 'gamma']) expect(Math.abs(reused.standardErrors[key] / fresh.standardErrors[key] - 1)).toBeLessThan(1e-3);
  });

  it.each(COUNT_MODEL_NAMES)('%s reaches the optimum the search on every customer reaches', (name) => {
    const model = COUNT_MODELS[name];
    const whole = model.fit(data, { searchCustomers: 0 });
    const staged = model.fit(data, { searchCustomers: 500 });
    expect(staged.converged).toBe(true);
    // The same maximum: the log-likelihood to 1e-6 of a nat over 2,500 customers, each parameter to 1e-4.
    expect(Math.abs(staged.logLikelihood - whole.logLikelihood)).toBeLessThan(1e-6);
    for (const key of model.paramNames) expect(Math.abs(staged.params[key] / whole.params[key] - 1)).toBeLessThan(1e-4);
  });
});
