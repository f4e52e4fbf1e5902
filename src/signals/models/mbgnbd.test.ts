import { describe, expect, it } from 'vitest';
import { bgNbdLogLikelihood } from './bgnbd.js';
import { cdnowSummaries } from './cdnow.testing.js';
import { fitMbgNbd, mbgNbdExpectedPurchases, mbgNbdLogCountProbability, mbgNbdLogLikelihood, mbgNbdPAlive, type MbgNbdParams } from './mbgnbd.js';
import { countMoments, logIntegrateHalfLineByUnit, tanhSinhNodes } from './quadrature.testing.js';
import { logAddExp } from './specialFunctions.js';

const relative = (actual: number, expected: number) => Math.abs(actual - expected) / Math.abs(expected);
const nodes = tanhSinhNodes(1 / 40);
// BTYDplus's fit on CDNOW, as lifetimes asserts it (tests/test_estimation.py, test_params_out_is_close_to_BTYDplus).
const BTYDPLUS: MbgNbdParams = { r: 0.525, alpha: 6.183, a: 0.891, b: 1.614 };

/** Posterior by 2-D quadrature over lambda and p: alive after x + 1 coins, or out right after the purchase at t_x. */
function byQuadrature(params: MbgNbdParams, x: number, tx: number, T: number, t: number) {
  const { r, alpha, a, b } = params;
  const logPrior = (lambda: number, p: number, q: number) => (r - 1) * Math.log(lambda) - alpha * lambda + (a - 1) * Math.log(p) + (b - 1) * Math.log(q);
  const aliveTerm = (lambda: number, p: number, q: number) => logPrior(lambda, p, q) + x * Math.log(lambda) - lambda * T + (x + 1) * Math.log(q);
  const logAlive = logIntegrateHalfLineByUnit(aliveTerm, (r + x) / (alpha + T), nodes);
  const logDropped = logIntegrateHalfLineByUnit(
    (lambda, p, q) => logPrior(lambda, p, q) + x * Math.log(lambda) - lambda * tx + Math.log(p) + x * Math.log(q),
    (r + x) / (alpha + tx),
    nodes,
  );
  const logFuture = logIntegrateHalfLineByUnit(
    (lambda, p, q) => aliveTerm(lambda, p, q) + Math.log(-Math.expm1(-lambda * p * t)) - Math.log(p),
    (r + x) / (alpha + T),
    nodes,
  );
  const logEvidence = logAddExp(logAlive, logDropped);
  return {
    pAlive: Math.exp(logAlive - logEvidence),
    expected: Math.exp(logFuture - logEvidence),
    logLikelihood: logEvidence - logIntegrateHalfLineByUnit(logPrior, r / alpha, nodes),
  };
}

describe('MBG/NBD against published values (CDNOW)', () => {
  it('fits r 0.525, alpha 6.183, a 0.891, b 1.614 on the 2,357 customers, as BTYDplus and lifetimes do (to 1e-3)', () => {
    const fit = fitMbgNbd(cdnowSummaries());
    expect(fit.converged).toBe(true);
    for (const key of ['r', 'alpha', 'a', 'b'] as const) expect(Math.abs(fit.params[key] - BTYDPLUS[key])).toBeLessThan(1e-3);
    // a likelihood a little above BG/NBD's −9582.4: one more way to drop out
    expect(fit.logLikelihood).toBeCloseTo(-9582.13, 1);
    // the fit's sum over grouped columns (per-x terms once per x) is the sum of the row-by-row likelihood
    const rows = cdnowSummaries().reduce((sum, c) => sum + mbgNbdLogLikelihood(fit.params, c.x, c.tx, c.T), 0);
    expect(Math.abs(fit.logLikelihood - rows)).toBeLessThan(1e-8 * Math.abs(rows));
  });

  it('expects about 1.226 purchases in 39 weeks for CDNOW customer 1, as lifetimes checks it (within 0.05)', () => {
    expect(Math.abs(mbgNbdExpectedPurchases(BTYDPLUS, 39, 2, 30.43, 38.86) - 1.226)).toBeLessThan(0.05);
  });
});

describe('MBG/NBD closed forms against 2-D quadrature', () => {
  const cases: [string, MbgNbdParams, number, number, number, number][] = [
    ['no repeat purchases', BTYDPLUS, 0, 0, 38.86, 39],
    ['CDNOW customer 1', BTYDPLUS, 2, 30.43, 38.86, 39],
    ['a + b < 1', { r: 2, alpha: 10, a: 0.3, b: 0.5 }, 3, 12, 20, 15],
    ['frequent, gone quiet', BTYDPLUS, 40, 20, 39, 26],
  ];
  it.each(cases)('%s: P(alive), E[Y(t)] and the likelihood agree to 1e-6', (_, p, x, tx, T, t) => {
    const reference = byQuadrature(p, x, tx, T, t);
    expect(relative(mbgNbdPAlive(p, x, tx, T), reference.pAlive)).toBeLessThan(1e-6);
    expect(relative(mbgNbdExpectedPurchases(p, t, x, tx, T), reference.expected)).toBeLessThan(1e-6);
    expect(Math.abs(mbgNbdLogLikelihood(p, x, tx, T) - reference.logLikelihood)).toBeLessThan(1e-6);
  });

  it('says a customer without repeat purchases may be gone (P(alive) = b / (a + b) at T = 0), unlike BG/NBD', () => {
    expect(mbgNbdPAlive(BTYDPLUS, 0, 0, 0)).toBeCloseTo(1.614 / (0.891 + 1.614), 12);
    expect(mbgNbdLogLikelihood(BTYDPLUS, 0, 0, 20)).not.toBeCloseTo(bgNbdLogLikelihood(BTYDPLUS, 0, 0, 20), 3);
  });

  it('has a holdout count distribution that sums to 1 with the closed-form expectation as its mean', () => {
    for (const [, p, x, tx, T, t] of cases) {
      const { total, mean } = countMoments((k) => mbgNbdLogCountProbability(p, k, t, x, tx, T), 600);
      expect(Math.abs(total - 1)).toBeLessThan(1e-9);
      expect(relative(mean, mbgNbdExpectedPurchases(p, t, x, tx, T))).toBeLessThan(1e-8);
    }
  });
});
