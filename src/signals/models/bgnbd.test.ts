import { describe, expect, it } from 'vitest';
import {
  bgNbdLogLikelihood,
  bgNbdTotalLogLikelihood,
  expectedPurchases,
  expectedPurchasesNewCustomer,
  fitBgNbd,
  pAlive,
  type BgNbdParams,
  type CustomerSummary,
} from './bgnbd.js';
import { simulateCustomers } from './simulate.js';
import { hyp2f1, logAddExp } from './specialFunctions.js';
import { logIntegrateHalfLineByUnit, tanhSinhNodes } from './quadrature.testing.js';

// Fader, Hardie & Lee (2005), table 1, fitted to the CDNOW sample (2,357 customers, weeks).
const CDNOW_PAPER: BgNbdParams = { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
// The same fit to full precision, as printed by lifetimes' Quickstart (docs/Quickstart.md, `bgf.summary`).
const CDNOW_LIFETIMES: BgNbdParams = { r: 0.242593, alpha: 4.413532, a: 0.792886, b: 2.425752 };

const nodes = tanhSinhNodes(1 / 40);

/**
 * The posterior computed a second way: 2-D quadrature over lambda and p of prior × likelihood, where the
 * likelihood splits into "still alive at T" and "dropped out right after the purchase at t_x".
 */
function byQuadrature(params: BgNbdParams, x: number, tx: number, T: number, t: number) {
  const { r, alpha, a, b } = params;
  const logPrior = (lambda: number, p: number, q: number) =>
    (r - 1) * Math.log(lambda) - alpha * lambda + (a - 1) * Math.log(p) + (b - 1) * Math.log(q);
  const logAliveTerm = (lambda: number, p: number, q: number) =>
    logPrior(lambda, p, q) + x * Math.log(lambda) - lambda * T + x * Math.log(q);
  const aliveScale = (r + x) / (alpha + T);
  const logAlive = logIntegrateHalfLineByUnit(logAliveTerm, aliveScale, nodes);
  const logDropped =
    x === 0
      ? Number.NEGATIVE_INFINITY
      : logIntegrateHalfLineByUnit(
          (lambda, p, q) =>
            logPrior(lambda, p, q) + x * Math.log(lambda) - lambda * tx + Math.log(p) + (x - 1) * Math.log(q),
          (r + x) / (alpha + tx),
          nodes,
        );
  // alive at T with rates (lambda, p): E[purchases in (T, T + t]] = (1 − e^(−lambda p t)) / p
  const logFuture = logIntegrateHalfLineByUnit(
    (lambda, p, q) => logAliveTerm(lambda, p, q) + Math.log(-Math.expm1(-lambda * p * t)) - Math.log(p),
    aliveScale,
    nodes,
  );
  const logPriorMass = logIntegrateHalfLineByUnit(logPrior, r / alpha, nodes);
  const logEvidence = logAddExp(logAlive, logDropped);
  return {
    pAlive: Math.exp(logAlive - logEvidence),
    expected: Math.exp(logFuture - logEvidence),
    logLikelihood: logEvidence - logPriorMass,
  };
}

/** Paper eq. (10) as printed, with Gauss's 2F1 straight from the series: valid for a ≠ 1. */
function textbookConditionalExpectation(params: BgNbdParams, t: number, x: number, tx: number, T: number): number {
  const { r, alpha, a, b } = params;
  const z = t / (alpha + T + t);
  const bracket = 1 - Math.pow((alpha + T) / (alpha + T + t), r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z);
  return (((a + b + x - 1) / (a - 1)) * bracket) / (1 + (x > 0 ? 1 : 0) * (a / (b + x - 1)) * Math.pow((alpha + T) / (alpha + tx), r + x));
}

const relative = (actual: number, expected: number) => Math.abs(actual - expected) / Math.abs(expected);

describe('BG/NBD against published values', () => {
  it('gives 1.226 expected purchases in 39 weeks for CDNOW customer 1 (x=2, t_x=30.43, T=38.86)', () => {
    // Hardie's spreadsheet value, as asserted in lifetimes' tests/test_estimation.py
    // (test_conditional_expectation_returns_same_value_as_Hardie_excel_sheet, tolerance 0.001).
    expect(Math.abs(expectedPurchases(CDNOW_LIFETIMES, 39, 2, 30.43, 38.86) - 1.226)).toBeLessThan(0.001);
    expect(Math.abs(expectedPurchases(CDNOW_PAPER, 39, 2, 30.43, 38.86) - 1.226)).toBeLessThan(0.001);
  });

  it('matches the unconditional E[X(t)] column of Hardie’s spreadsheet to 1e-3', () => {
    // lifetimes tests/test_estimation.py, test_expectation_returns_same_value_Hardie_excel_sheet (decimal=3)
    const times = [0.1429, 1.0, 3.0, 31.8571, 32.0, 78.0];
    const published = [0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576];
    times.forEach((t, i) => expect(Math.abs(expectedPurchasesNewCustomer(CDNOW_LIFETIMES, t) - published[i])).toBeLessThan(1e-3));
  });

  it('matches lifetimes’ Quickstart ranking of next-week purchases to 1e-6', () => {
    // docs/Quickstart.md, "Ranking customers from best to worst", t = 1, printed to six decimals
    const rows: [number, number, number, number][] = [
      [18, 35.14, 35.86, 0.424877],
      [19, 34.0, 34.14, 0.474738],
      [17, 28.43, 28.86, 0.486526],
      [29, 37.71, 38.0, 0.662396],
      [26, 30.86, 31.0, 0.710623],
    ];
    for (const [x, tx, T, published] of rows) {
      expect(Math.abs(expectedPurchases(CDNOW_LIFETIMES, 1, x, tx, T) - published)).toBeLessThan(1e-6);
    }
  });
});

describe('BG/NBD closed forms against 2-D quadrature of the posterior', () => {
  const cases: [string, BgNbdParams, number, number, number, number][] = [
    ['no repeat purchases (x=0)', CDNOW_PAPER, 0, 0, 38.86, 39],
    ['CDNOW customer 1', CDNOW_PAPER, 2, 30.43, 38.86, 39],
    ['last purchase right now (t_x = T)', CDNOW_PAPER, 5, 39, 39, 10],
    ['long silence (x=1, T=500)', CDNOW_PAPER, 1, 2, 500, 52],
    ['very frequent buyer (x=200, recent)', CDNOW_PAPER, 200, 37, 39, 39],
    ['very frequent buyer gone quiet (x=200, t_x=30)', CDNOW_PAPER, 200, 30, 39, 39],
    ['a + b < 1 (x=0)', { r: 2, alpha: 10, a: 0.3, b: 0.5 }, 0, 0, 20, 15],
    ['a + b < 1 (x=3)', { r: 2, alpha: 10, a: 0.3, b: 0.5 }, 3, 12, 20, 15],
    ['a = 1 exactly', { r: 0.5, alpha: 3, a: 1, b: 2 }, 4, 8, 30, 20],
    ['slow churn, long horizon', { r: 1.2, alpha: 8, a: 1.5, b: 6 }, 7, 50, 60, 520],
  ];

  it.each(cases)('%s: P(alive), E[Y(t)] and the likelihood agree to 1e-6 relative', (_, params, x, tx, T, t) => {
    const reference = byQuadrature(params, x, tx, T, t);
    const alive = pAlive(params, x, tx, T);
    const expected = expectedPurchases(params, t, x, tx, T);
    expect(Number.isFinite(alive) && Number.isFinite(expected)).toBe(true);
    expect(relative(alive, reference.pAlive)).toBeLessThan(1e-6);
    expect(relative(expected, reference.expected)).toBeLessThan(1e-6);
    expect(Math.abs(bgNbdLogLikelihood(params, x, tx, T) - reference.logLikelihood)).toBeLessThan(1e-6);
  });

  it('agrees with the paper’s eq. (10) evaluated through 2F1 directly (a ≠ 1) to 1e-9 relative', () => {
    for (const [, params, x, tx, T, t] of cases) {
      if (params.a === 1) continue;
      expect(relative(expectedPurchases(params, t, x, tx, T), textbookConditionalExpectation(params, t, x, tx, T))).toBeLessThan(1e-9);
    }
  });

  it('is continuous through a = 1, where eq. (10) as printed divides 0 by 0', () => {
    const at = (a: number) => expectedPurchases({ r: 0.5, alpha: 3, a, b: 2 }, 20, 4, 8, 30);
    expect(relative(at(1 - 1e-9), at(1))).toBeLessThan(1e-8);
    expect(relative(at(1 + 1e-9), at(1))).toBeLessThan(1e-8);
  });
});

describe('BG/NBD edge cases', () => {
  it('says a customer with no repeat purchases is alive for sure', () => {
    expect(pAlive(CDNOW_PAPER, 0, 0, 1000)).toBe(1);
  });

  it('with t_x = T, P(alive) is 1 / (1 + a / (b + x − 1))', () => {
    expect(pAlive(CDNOW_PAPER, 3, 20, 20)).toBeCloseTo(1 / (1 + 0.793 / (2.426 + 2)), 14);
  });

  it('stays finite and in [0, 1] for x = 200 and T up to a million', () => {
    for (const T of [39, 1e3, 1e6]) {
      const alive = pAlive(CDNOW_PAPER, 200, 30, T);
      expect(alive).toBeGreaterThanOrEqual(0);
      expect(alive).toBeLessThanOrEqual(1);
      expect(Number.isFinite(expectedPurchases(CDNOW_PAPER, 39, 200, 30, T))).toBe(true);
      expect(Number.isFinite(bgNbdLogLikelihood(CDNOW_PAPER, 200, 30, T))).toBe(true);
    }
  });

  it('expects nothing over an empty horizon and more over a longer one', () => {
    expect(expectedPurchases(CDNOW_PAPER, 0, 2, 30, 39)).toBe(0);
    expect(expectedPurchases(CDNOW_PAPER, 52, 2, 30, 39)).toBeGreaterThan(expectedPurchases(CDNOW_PAPER, 26, 2, 30, 39));
  });

  it('sums per-customer log-likelihoods into the total, weights counting customers', () => {
    const x = [0, 2, 7];
    const tx = [0, 30.43, 29.43];
    const T = [38.86, 38.86, 38.86];
    const each = x.map((_, i) => bgNbdLogLikelihood(CDNOW_PAPER, x[i], tx[i], T[i]));
    expect(bgNbdTotalLogLikelihood(CDNOW_PAPER, x, tx, T)).toBeCloseTo(each[0] + each[1] + each[2], 10);
    expect(bgNbdTotalLogLikelihood(CDNOW_PAPER, x, tx, T, [3, 1, 2])).toBeCloseTo(3 * each[0] + each[1] + 2 * each[2], 10);
    // x = 0 reduces to r ln(alpha / (alpha + T))
    expect(each[0]).toBeCloseTo(0.243 * Math.log(4.414 / (4.414 + 38.86)), 12);
  });
});

describe('fitBgNbd parameter recovery on simulated customers', () => {
  const sets: [string, BgNbdParams][] = [
    ['CDNOW (Fader, Hardie & Lee 2005)', { r: 0.24, alpha: 4.41, a: 0.79, b: 2.43 }],
    ['loyal, slow churn', { r: 1.2, alpha: 8, a: 1.5, b: 6 }],
    ['fickle, fast churn', { r: 0.6, alpha: 2.5, a: 0.4, b: 1.5 }],
  ];
  // Tolerances are about three times the spread seen over 20 seeds at this size (a and b are the least identified).
  it.each(sets)(
    '%s: 5,000 customers recover r ±10%%, alpha ±20%%, a ±35%%, b ±45%%, r/alpha and a/(a+b) ±15%%',
    (_, truth) => {
      const customers = simulateCustomers({ customers: 5000, bgNbd: truth, observationEnd: 78, acquisition: [0, 12], seed: 7 });
      const fit = fitBgNbd(customers);
      const { r, alpha, a, b } = fit.params;
      expect(fit.converged).toBe(true);
      expect(relative(r, truth.r)).toBeLessThan(0.1);
      expect(relative(alpha, truth.alpha)).toBeLessThan(0.2);
      expect(relative(a, truth.a)).toBeLessThan(0.35);
      expect(relative(b, truth.b)).toBeLessThan(0.45);
      expect(relative(r / alpha, truth.r / truth.alpha)).toBeLessThan(0.15);
      expect(relative(a / (a + b), truth.a / (truth.a + truth.b))).toBeLessThan(0.15);
      // the optimum is at least as likely as the truth, or the optimiser stopped short
      const columns = (key: keyof CustomerSummary) => customers.map((c) => c[key]);
      expect(fit.logLikelihood).toBeGreaterThanOrEqual(
        bgNbdTotalLogLikelihood(truth, columns('x'), columns('tx'), columns('T')) - 1e-6,
      );
    },
  );

  it('fits identical rows once: duplicated data gives the same parameters', () => {
    const customers = simulateCustomers({ customers: 400, bgNbd: CDNOW_PAPER, observationEnd: 39, seed: 3 });
    const once = fitBgNbd(customers);
    const twice = fitBgNbd([...customers, ...customers]);
    expect(relative(twice.params.r, once.params.r)).toBeLessThan(1e-4);
    expect(twice.logLikelihood).toBeCloseTo(2 * once.logLikelihood, 3);
  });

  it('shrinks every parameter as the L2 penalizer grows', () => {
    const customers = simulateCustomers({ customers: 1000, bgNbd: CDNOW_PAPER, observationEnd: 39, seed: 5 });
    const none = fitBgNbd(customers).params;
    const some = fitBgNbd(customers, { penalizer: 0.1 }).params;
    for (const key of ['r', 'alpha', 'a', 'b'] as const) expect(some[key]).toBeLessThan(none[key]);
  });
});

describe('fitBgNbd refusals', () => {
  const valid = (): CustomerSummary[] =>
    Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? { x: 0, tx: 0, T: 30 } : { x: i % 4, tx: i % 4 === 0 ? 0 : 10 + i, T: 30 }));
  const refusal = (data: CustomerSummary[], options = {}) => {
    try {
      fitBgNbd(data, options);
    } catch (err) {
      return err as { code: string; message: string };
    }
    throw new Error('fit did not refuse');
  };
  const withRow = (row: CustomerSummary) => [...valid().slice(1), row];

  it.each([
    ['all-zero frequency', Array.from({ length: 12 }, () => ({ x: 0, tx: 0, T: 30 })), /every frequency is zero/],
    ['a negative frequency', withRow({ x: -1, tx: 0, T: 30 }), /negative frequency/],
    ['a negative age', withRow({ x: 0, tx: 0, T: -3 }), /negative T/],
    ['recency above age', withRow({ x: 2, tx: 31, T: 30 }), /recency 31 above age T 30/],
    ['a NaN recency', withRow({ x: 2, tx: Number.NaN, T: 30 }), /non-finite recency/],
    ['an infinite age', withRow({ x: 2, tx: 3, T: Number.POSITIVE_INFINITY }), /non-finite T/],
    ['a fractional frequency', withRow({ x: 1.5, tx: 3, T: 30 }), /fractional frequency/],
    ['recency without repeat purchases', withRow({ x: 0, tx: 3, T: 30 }), /recency 3 but no repeat purchases/],
    ['too few customers', valid().slice(0, 9), /9 customers, at least 10 needed/],
  ])('refuses %s with MODEL_INPUT_INVALID', (_, data, message) => {
    const err = refusal(data);
    expect(err.code).toBe('MODEL_INPUT_INVALID');
    expect(err.message).toMatch(message);
  });

  it('takes the minimum number of customers from its options', () => {
    expect(refusal(valid(), { minCustomers: 50 }).message).toMatch(/12 customers, at least 50 needed/);
  });
});
