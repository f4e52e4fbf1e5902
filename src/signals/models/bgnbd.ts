// BG/NBD churn model (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way"): who is still alive and
// how many purchases to expect, from each customer's repeat purchases x, recency t_x and age T.
import { VigilError } from '../../shared/errors.js';
import { dropoutCountProbabilityIfAlive, logCountProbability } from './countDistribution.js';
import { fitByColumns, logRepeatRate, toColumns, validateSummaries, type Columns, type CustomerSummary, type FitOptions, type ModelFit } from './mle.js';
import { hypergeometricPFQ, lnGamma, logAddExp } from './specialFunctions.js';

export type { CustomerSummary, ModelFit };

/** lambda ~ Gamma(r, alpha) purchase rates; p ~ Beta(a, b) dropout after each repeat purchase. */
export interface BgNbdParams {
  r: number;
  alpha: number;
  a: number;
  b: number;
}

/**
 * ln L(r, α, a, b | x, t_x, T) = A1 + A2 + ln(e^A3 + δ(x > 0) e^A4), with
 * A1 = ln Γ(r + x) − ln Γ(r) + r ln α, A2 = ln B(a, b + x) − ln B(a, b),
 * A3 = −(r + x) ln(α + T), A4 = ln a − ln(b + x − 1) − (r + x) ln(α + t_x).
 */
export function bgNbdLogLikelihood(params: BgNbdParams, x: number, tx: number, T: number): number {
  const { r, alpha, a, b } = params;
  const a1 = lnGamma(r + x) - lnGamma(r) + r * Math.log(alpha);
  const a2 = lnGamma(a + b) + lnGamma(b + x) - lnGamma(b) - lnGamma(a + b + x);
  const a3 = -(r + x) * Math.log(alpha + T);
  if (x === 0) return a1 + a2 + a3;
  const a4 = Math.log(a) - Math.log(b + x - 1) - (r + x) * Math.log(alpha + tx);
  return a1 + a2 + logAddExp(a3, a4);
}

/** Sum of per-customer log-likelihoods over parallel arrays, each customer counted `weights[i]` times (default 1). */
export function bgNbdTotalLogLikelihood(
  params: BgNbdParams,
  x: ArrayLike<number>,
  tx: ArrayLike<number>,
  T: ArrayLike<number>,
  weights?: ArrayLike<number>,
): number {
  if (x.length !== tx.length || x.length !== T.length || (weights && weights.length !== x.length)) {
    throw new VigilError('MODEL_INPUT_INVALID', 'x, t_x, T (and weights) must have the same length');
  }
  return bgNbdColumnsLogLikelihood(params, toColumns(x, tx, T, weights));
}

/** bgNbdLogLikelihood summed over columns, with its ln Γ terms computed once per distinct x. */
export function bgNbdColumnsLogLikelihood(params: BgNbdParams, columns: Columns): number {
  const { r, alpha, a, b } = params;
  const { x, tx, T, weights, xIndex, distinctX, lead, dropLead } = columns;
  const constant = -lnGamma(r) + r * Math.log(alpha) + lnGamma(a + b) - lnGamma(b);
  for (let k = 0; k < distinctX.length; k++) {
    const xk = distinctX[k];
    lead[k] = constant + lnGamma(r + xk) + lnGamma(b + xk) - lnGamma(a + b + xk);
    dropLead[k] = xk > 0 ? Math.log(a) - Math.log(b + xk - 1) : Number.NEGATIVE_INFINITY;
  }
  let total = 0;
  for (let i = 0; i < x.length; i++) {
    const k = xIndex[i];
    const alive = -(r + x[i]) * Math.log(alpha + T[i]);
    const ll =
      x[i] === 0 ? lead[k] + alive : lead[k] + logAddExp(alive, dropLead[k] - (r + x[i]) * Math.log(alpha + tx[i]));
    total += weights ? weights[i] * ll : ll;
  }
  return total;
}

/**
 * P(alive | x, t_x, T) = 1 / (1 + δ(x > 0) · a / (b + x − 1) · ((α + T) / (α + t_x))^(r + x)).
 * The odds are formed in log space (log1p of the gap), so x = 200 or T = 10^6 give 0..1, never NaN.
 */
export function pAlive(params: BgNbdParams, x: number, tx: number, T: number): number {
  if (x === 0) return 1;
  const { r, alpha, a, b } = params;
  const logOdds = Math.log(a) - Math.log(b + x - 1) + (r + x) * Math.log1p((T - tx) / (alpha + tx));
  return 1 / (1 + Math.exp(logOdds));
}

/**
 * Expected purchases in (T, T + t] for a customer known to be alive at T. Paper eq. (10) without its P(alive)
 * denominator: (a+b+x−1)/(a−1) · [1 − (1−z)^(r+x) 2F1(r+x, b+x; a+b+x−1; z)], z = t / (α+T+t).
 * Euler's transformation turns (1−z)^(r+x) 2F1(...) into (1−z)^(a−1) 2F1(a+b−1−r, a−1; a+b+x−1; z); every term of
 * that series but the first carries (a−1), so dividing it out analytically leaves
 * (a+b+x−1) · (1 − (1−z)^(a−1)) / (a−1) − (1−z)^(a−1) · A z · 3F2(A+1, a, 1; a+b+x, 2; z), A = a+b−1−r,
 * which has no 0/0 at a = 1, no pole when a + b < 1, and no huge 2F1 values at large x.
 */
export function expectedPurchasesIfAlive(params: BgNbdParams, t: number, x: number, T: number): number {
  if (t <= 0) return 0;
  const { r, alpha, a, b } = params;
  const u = t / (alpha + T);
  const z = u / (1 + u);
  const logOneMinusZ = -Math.log1p(u);
  const eps = a - 1;
  const growth = eps === 0 ? -logOneMinusZ : -Math.expm1(eps * logOneMinusZ) / eps;
  const shape = a + b - 1 - r;
  const series = shape * z * hypergeometricPFQ([shape + 1, a, 1], [a + b + x, 2], z);
  return (a + b + x - 1) * growth - Math.exp(eps * logOneMinusZ) * series;
}

/** E[Y(t) | x, t_x, T]: expected repeat purchases in the next t time units for a customer with this history. */
export function expectedPurchases(params: BgNbdParams, t: number, x: number, tx: number, T: number): number {
  return pAlive(params, x, tx, T) * expectedPurchasesIfAlive(params, t, x, T);
}

/** E[X(t)] for a customer just acquired (paper eq. 9): eq. (10) at x = 0, T = 0, where P(alive) = 1. */
export function expectedPurchasesNewCustomer(params: BgNbdParams, t: number): number {
  return expectedPurchasesIfAlive(params, t, 0, 0);
}

export type FitBgNbdOptions = FitOptions;

export type BgNbdFit = ModelFit<BgNbdParams>;

/** Refuses, naming the first offending customer, data the BG/NBD likelihood cannot use. */
export function validateBgNbdInput(data: readonly CustomerSummary[], minCustomers = 10): void {
  validateSummaries(data, 'BG/NBD', minCustomers);
}

const fromVector = (v: readonly number[]): BgNbdParams => ({ r: v[0], alpha: v[1], a: v[2], b: v[3] });

/** Maximum likelihood over log-parameters, so they stay positive, with Nelder–Mead from several starting points. */
export function fitBgNbd(data: readonly CustomerSummary[], options: FitBgNbdOptions = {}): BgNbdFit {
  // Start at r = a = b = 1 with alpha set so that r / alpha matches the observed repeat rate.
  return fitByColumns('BG/NBD', data, bgNbdColumnsLogLikelihood, fromVector, [0, logRepeatRate(data), 0, 0], options);
}

/** ln P(k purchases in (T, T + t] | x, t_x, T): given alive, lambda ~ Gamma(r + x, α + T), p ~ Beta(a, b + x). */
export function bgNbdLogCountProbability(params: BgNbdParams, k: number, t: number, x: number, tx: number, T: number): number {
  const { r, alpha, a, b } = params;
  return logCountProbability(pAlive(params, x, tx, T), dropoutCountProbabilityIfAlive(k, t, r + x, alpha + T, a, b + x), k);
}
