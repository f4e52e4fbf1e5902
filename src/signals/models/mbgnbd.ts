// MBG/NBD (Batislam, Denizel & Filiztekin 2007): BG/NBD where a customer may also drop out right after the first
// purchase, so a customer without repeat purchases is not alive for sure. Given alive at T the dropout's posterior
// is Beta(a, b + x + 1), one coin more than BG/NBD's, which is how the expectations below reuse BG/NBD's.
import { expectedPurchasesIfAlive } from './bgnbd.js';
import { dropoutCountProbabilityIfAlive, logCountProbability } from './countDistribution.js';
import { fitByColumns, logRepeatRate, type Columns, type CustomerSummary, type FitOptions, type ModelFit } from './mle.js';
import { lnGamma, logAddExp } from './specialFunctions.js';

/** lambda ~ Gamma(r, alpha); p ~ Beta(a, b) dropout at the first purchase and after each repeat one. */
export interface MbgNbdParams {
  r: number;
  alpha: number;
  a: number;
  b: number;
}

/**
 * ln L = ln Γ(r + x) − ln Γ(r) + r ln α + ln B(a, b + x + 1) − ln B(a, b)
 *        + ln((α + T)^−(r+x) + a / (b + x) · (α + t_x)^−(r+x)):
 * alive at T after x + 1 surviving coins, or dropped right after the purchase at t_x (for x = 0, the first).
 */
export function mbgNbdLogLikelihood(params: MbgNbdParams, x: number, tx: number, T: number): number {
  const { r, alpha, a, b } = params;
  const lead = lnGamma(r + x) - lnGamma(r) + r * Math.log(alpha) + lnGamma(a + b) + lnGamma(b + x + 1) - lnGamma(b) - lnGamma(a + b + x + 1);
  const alive = -(r + x) * Math.log(alpha + T);
  const dropped = Math.log(a) - Math.log(b + x) - (r + x) * Math.log(alpha + tx);
  return lead + logAddExp(alive, dropped);
}

/** P(alive | x, t_x, T) = 1 / (1 + a / (b + x) · ((α + T) / (α + t_x))^(r + x)), the odds in log space. */
export function mbgNbdPAlive(params: MbgNbdParams, x: number, tx: number, T: number): number {
  const { r, alpha, a, b } = params;
  const logOdds = Math.log(a) - Math.log(b + x) + (r + x) * Math.log1p((T - tx) / (alpha + tx));
  return 1 / (1 + Math.exp(logOdds));
}

/** E[Y(t) | x, t_x, T]: P(alive) times BG/NBD's expectation if alive with b + 1 in place of b. */
export function mbgNbdExpectedPurchases(params: MbgNbdParams, t: number, x: number, tx: number, T: number): number {
  return mbgNbdPAlive(params, x, tx, T) * expectedPurchasesIfAlive({ ...params, b: params.b + 1 }, t, x, T);
}

/** ln P(k purchases in (T, T + t] | x, t_x, T). */
export function mbgNbdLogCountProbability(params: MbgNbdParams, k: number, t: number, x: number, tx: number, T: number): number {
  const { r, alpha, a, b } = params;
  const ifAlive = dropoutCountProbabilityIfAlive(k, t, r + x, alpha + T, a, b + x + 1);
  return logCountProbability(mbgNbdPAlive(params, x, tx, T), ifAlive, k);
}

export type MbgNbdFit = ModelFit<MbgNbdParams>;

const fromVector = (v: readonly number[]): MbgNbdParams => ({ r: v[0], alpha: v[1], a: v[2], b: v[3] });

/** mbgNbdLogLikelihood summed over columns, its ln Γ terms and ln a − ln(b + x) computed once per distinct x. */
export function mbgNbdColumnsLogLikelihood(params: MbgNbdParams, columns: Columns): number {
  const { r, alpha, a, b } = params;
  const { x, tx, T, weights, xIndex, distinctX, lead, dropLead } = columns;
  const constant = -lnGamma(r) + r * Math.log(alpha) + lnGamma(a + b) - lnGamma(b);
  for (let k = 0; k < distinctX.length; k++) {
    const xk = distinctX[k];
    lead[k] = constant + lnGamma(r + xk) + lnGamma(b + xk + 1) - lnGamma(a + b + xk + 1);
    dropLead[k] = Math.log(a) - Math.log(b + xk);
  }
  let total = 0;
  for (let i = 0; i < x.length; i++) {
    const k = xIndex[i];
    const ll = lead[k] + logAddExp(-(r + x[i]) * Math.log(alpha + T[i]), dropLead[k] - (r + x[i]) * Math.log(alpha + tx[i]));
    total += weights ? weights[i] * ll : ll;
  }
  return total;
}

export function fitMbgNbd(data: readonly CustomerSummary[], options: FitOptions = {}): MbgNbdFit {
  return fitByColumns('MBG/NBD', data, mbgNbdColumnsLogLikelihood, fromVector, [0, logRepeatRate(data), 0, 0], options);
}
