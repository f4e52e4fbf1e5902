import { beforeAll, describe, expect, it } from 'vitest';
import { fitBgNbd, type BgNbdParams } from './bgnbd.js';
import { cdnowPurchases, cdnowSummaries } from './cdnow.testing.js';
import { COUNT_MODELS, type ModelParams } from './countModels.js';
import { simulateCustomers } from './simulate.js';
import { fitGammaGamma, type GammaGammaParams, type SpendSummary } from './gammaGamma.js';
import { invert } from './linearAlgebra.js';
import { customerIntervals, deltaInterval, formatInterval, gammaGammaUncertainty, parameterUncertainty } from './uncertainty.js';

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

/** CDNOW's repeat buyers as Fader & Hardie's Gamma-Gamma note takes them: calibration to week 39, same-day purchases one. */
function cdnowSpend(): SpendSummary[] {
  const byCustomer = new Map<string, Map<number, number>>();
  for (const p of cdnowPurchases()) {
    if (p.time > 39) continue;
    const day = Math.round(p.time * 7);
    let days = byCustomer.get(p.customerId);
    if (!days) byCustomer.set(p.customerId, (days = new Map()));
    days.set(day, (days.get(day) ?? 0) + (p.value ?? 0));
  }
  return [...byCustomer.values()].map((days) => {
    const repeats = [...days.entries()].sort((a, b) => a[0] - b[0]).slice(1);
    return { x: repeats.length, mValue: repeats.length > 0 ? repeats.reduce((s, d) => s + d[1], 0) / repeats.length : undefined };
  });
}

/** ψ by recurrence up to 6, then its asymptotic series: kept apart from the code under test. */
function digamma(x: number): number {
  let shift = 0;
  for (; x < 6; x++) shift -= 1 / x;
  const y = 1 / (x * x);
  return shift + Math.log(x) - 0.5 / x - y * (1 / 12 - y * (1 / 120 - y * (1 / 252 - y * (1 / 240 - y / 132))));
}

/** The gradient of the Gamma-Gamma total log-likelihood in ln p, ln q, ln gamma, worked out by hand. */
function gammaGammaGradient(logs: readonly number[], data: readonly SpendSummary[]): number[] {
  const [p, q, gamma] = logs.map(Math.exp);
  const g = [0, 0, 0];
  for (const { x, mValue: m } of data) {
    if (x === 0 || !m) continue;
    const rest = Math.log(gamma + m * x);
    g[0] += p * x * (digamma(p * x + q) - digamma(p * x) + Math.log(m) + Math.log(x) - rest);
    g[1] += q * (digamma(p * x + q) - digamma(q) + Math.log(gamma) - rest);
    g[2] += gamma * (q / gamma - (p * x + q) / (gamma + m * x));
  }
  return g;
}

describe('Gamma-Gamma standard errors from the observed information', () => {
  const data = cdnowSpend();
  const fit = fitGammaGamma(data);
  const at = [fit.params.p, fit.params.q, fit.params.gamma].map(Math.log);

  it('fit CDNOW’s 946 repeat buyers as published (Fader & Hardie 2013: p 6.25, q 3.74, gamma 15.44) to 1 %', () => {
    expect(fit.customers).toBe(946);
    const published: GammaGammaParams = { p: 6.25, q: 3.74, gamma: 15.44 };
    for (const key of ['p', 'q', 'gamma'] as const) expect(relative(fit.params[key], published[key])).toBeLessThan(0.01);
    expect(digamma(1)).toBeCloseTo(-0.5772156649015329, 10);
    expect(digamma(0.5)).toBeCloseTo(-1.9635100260214235, 10);
    // at the optimum the hand-worked gradient vanishes (next to the information's scale, about 10² to 10⁴)
    for (const v of gammaGammaGradient(at, data)) expect(Math.abs(v)).toBeLessThan(0.05);
  });

  it('come from the information the hand-worked gradient gives by central differences, to 1e-4', () => {
    const h = 1e-5;
    const byGradient = at.map((_, i) => {
      const up = [...at];
      const down = [...at];
      up[i] += h;
      down[i] -= h;
      const gu = gammaGammaGradient(up, data);
      const gd = gammaGammaGradient(down, data);
      return gu.map((v, j) => -(v - gd[j]) / (2 * h));
    });
    const u = gammaGammaUncertainty(fit.params, data);
    const inverse = invert(byGradient)!;
    (['p', 'q', 'gamma'] as const).forEach((key, i) => expect(relative(u.standardErrors[key], fit.params[key] * Math.sqrt(inverse[i][i]))).toBeLessThan(1e-4));
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) expect(relative(u.logCovariance![i][j], inverse[i][j])).toBeLessThan(1e-3);
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
