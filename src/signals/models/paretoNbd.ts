// Pareto/NBD (Schmittlein, Morrison & Colombo 1987), in the form of Fader, Hardie & Lee's note "A Note on Deriving
// the Pareto/NBD Model and Related Expressions" (2005): purchases at rate lambda ~ Gamma(r, alpha) while alive,
// an exponential lifetime of rate mu ~ Gamma(s, beta), dropout possible at any moment, not only after a purchase.
import { logCountProbability, logNegativeBinomial } from './countDistribution.js';
import { fitByColumns, logRepeatRate, type Columns, type CustomerSummary, type FitOptions, type ModelFit } from './mle.js';
import { A0Coefficients, exponentOfSmaller, logA0, logA0WithCoefficients, seriesLimit } from './paretoNbdA0.js';
import { gaussLegendreUnit, lnGamma, logAddExp } from './specialFunctions.js';

export interface ParetoNbdParams {
  r: number;
  alpha: number;
  s: number;
  beta: number;
}

// ln A0 of the note's eq. (19)/(20), A0 = F(t_x) − F(T) with F(t) = 2F1(r+s+x, b2; r+s+x+1; |α−β| / (m + t)) /
// (m + t)^(r+s+x), m = max(α, β), b2 = s + 1 when α ≥ β, r + x when α < β, comes from paretoNbdA0.ts: one series
// on the integral F(t_x) − F(T) stands for, or quadrature where that series is long. −∞ when t_x = T.

/**
 * ln L = ln Γ(r + x) − ln Γ(r) + r ln α + s ln β
 *        + ln((α + T)^−(r+x) (β + T)^−s + s / (r + s + x) · A0): alive at T, or died in (t_x, T].
 */
export function paretoNbdLogLikelihood(params: ParetoNbdParams, x: number, tx: number, T: number): number {
  const { r, alpha, s, beta } = params;
  const lead = lnGamma(r + x) - lnGamma(r) + r * Math.log(alpha) + s * Math.log(beta);
  const alive = -(r + x) * Math.log(alpha + T) - s * Math.log(beta + T);
  const died = Math.log(s) - Math.log(r + s + x) + logA0(r, alpha, s, beta, x, tx, T);
  return lead + logAddExp(alive, died);
}

/** P(alive | x, t_x, T) = 1 / (1 + s / (r + s + x) · (α + T)^(r+x) (β + T)^s · A0). */
export function paretoNbdPAlive(params: ParetoNbdParams, x: number, tx: number, T: number): number {
  const { r, alpha, s, beta } = params;
  const logOdds = Math.log(s) - Math.log(r + s + x) + (r + x) * Math.log(alpha + T) + s * Math.log(beta + T) + logA0(r, alpha, s, beta, x, tx, T);
  return 1 / (1 + Math.exp(logOdds));
}

/**
 * E[Y(t) | alive at T] = (r + x) (β + T) / ((α + T) (s − 1)) · (1 − ((β + T) / (β + T + t))^(s−1)), the bracket over
 * (s − 1) formed with expm1 so s = 1 (where it is ln(1 + t / (β + T))) is no 0/0.
 */
export function paretoNbdExpectedIfAlive(params: ParetoNbdParams, t: number, x: number, T: number): number {
  if (t <= 0) return 0;
  const { r, alpha, s, beta } = params;
  const logGrowth = Math.log1p(t / (beta + T));
  const eps = s - 1;
  const growth = eps === 0 ? logGrowth : -Math.expm1(-eps * logGrowth) / eps;
  return ((r + x) / (alpha + T)) * (beta + T) * growth;
}

/** E[Y(t) | x, t_x, T]: expected repeat purchases in the next t time units. */
export function paretoNbdExpectedPurchases(params: ParetoNbdParams, t: number, x: number, tx: number, T: number): number {
  return paretoNbdPAlive(params, x, tx, T) * paretoNbdExpectedIfAlive(params, t, x, T);
}

// Lifetimes shorter than t: 48-point Gauss–Legendre in v = ln(β' + τ), where the integrand is smooth.
const NODES = gaussLegendreUnit(48);

/**
 * P(k in the next t | alive at T): lambda ~ Gamma(r + x, α + T), mu ~ Gamma(s, β + T). Alive all of t with
 * E[e^(−mu t)] = (β'/(β'+t))^s, or dead at τ < t with density s β'^s / (β' + τ)^(s+1), buying NBD(k; τ) meanwhile.
 */
function countProbabilityIfAlive(params: ParetoNbdParams, k: number, t: number, x: number, T: number): number {
  const { r, alpha, s, beta } = params;
  const shape = r + x;
  const rate = alpha + T;
  const b = beta + T;
  const survives = Math.exp(s * Math.log(b / (b + t)) + logNegativeBinomial(k, shape, rate, t));
  const from = Math.log(b);
  const width = Math.log(b + t) - from;
  let dies = 0;
  for (let i = 0; i < NODES.x.length; i++) {
    const v = from + width * NODES.x[i];
    const tau = Math.exp(v) - b;
    // s b^s (b+τ)^−(s+1) dτ with dτ = (b + τ) dv
    dies += NODES.w[i] * Math.exp(Math.log(s) + s * (from - v) + logNegativeBinomial(k, shape, rate, tau));
  }
  return survives + width * dies;
}

/** ln P(k purchases in (T, T + t] | x, t_x, T). */
export function paretoNbdLogCountProbability(params: ParetoNbdParams, k: number, t: number, x: number, tx: number, T: number): number {
  return logCountProbability(paretoNbdPAlive(params, x, tx, T), countProbabilityIfAlive(params, k, t, x, T), k);
}

export type ParetoNbdFit = ModelFit<ParetoNbdParams>;

const fromVector = (v: readonly number[]): ParetoNbdParams => ({ r: v[0], alpha: v[1], s: v[2], beta: v[3] });

/** What a set of columns keeps between evaluations: each distinct x's series coefficients and smallest t_x. */
interface ColumnScratch {
  coefficients: A0Coefficients[];
  minTx: Float64Array;
}

// Keyed by the columns object, so a fit's scratch lives as long as its columns and no longer.
const SCRATCH = new WeakMap<Columns, ColumnScratch>();

function scratchFor(columns: Columns): ColumnScratch {
  let scratch = SCRATCH.get(columns);
  if (!scratch) {
    const { tx, xIndex, distinctX } = columns;
    const minTx = new Float64Array(distinctX.length).fill(Number.POSITIVE_INFINITY);
    for (let i = 0; i < xIndex.length; i++) minTx[xIndex[i]] = Math.min(minTx[xIndex[i]], tx[i]);
    scratch = { coefficients: Array.from(distinctX, () => new A0Coefficients()), minTx };
    SCRATCH.set(columns, scratch);
  }
  return scratch;
}

/**
 * paretoNbdLogLikelihood summed over columns, its ln Γ terms, ln s − ln(r + s + x) and A0's series coefficients once
 * per distinct x (the coefficients scaled to the largest z among that x's rows, so every row's terms only shrink).
 */
export function paretoNbdColumnsLogLikelihood(params: ParetoNbdParams, columns: Columns): number {
  const { r, alpha, s, beta } = params;
  const { x, tx, T, weights, xIndex, distinctX, lead, dropLead } = columns;
  const { coefficients, minTx } = scratchFor(columns);
  const constant = -lnGamma(r) + r * Math.log(alpha) + s * Math.log(beta);
  const m = Math.max(alpha, beta);
  const gap = Math.abs(alpha - beta);
  for (let k = 0; k < distinctX.length; k++) {
    lead[k] = constant + lnGamma(r + distinctX[k]);
    dropLead[k] = Math.log(s) - Math.log(r + s + distinctX[k]);
    const b2 = exponentOfSmaller(r, alpha, s, beta, distinctX[k]);
    coefficients[k].reset(r + s + distinctX[k], b2, Math.min(gap / (m + minTx[k]), seriesLimit(b2)));
  }
  let total = 0;
  for (let i = 0; i < x.length; i++) {
    const k = xIndex[i];
    const co = coefficients[k];
    const alive = -(r + x[i]) * Math.log(alpha + T[i]) - s * Math.log(beta + T[i]);
    const ll = lead[k] + logAddExp(alive, dropLead[k] + logA0WithCoefficients(co, co.a, co.b2, alpha, beta, tx[i], T[i]));
    total += weights ? weights[i] * ll : ll;
  }
  return total;
}

export function fitParetoNbd(data: readonly CustomerSummary[], options: FitOptions = {}): ParetoNbdFit {
  // Start with the lifetime scale beta at the purchase-rate scale alpha: alpha = beta takes the simplest branch.
  const rate = logRepeatRate(data);
  return fitByColumns('Pareto/NBD', data, paretoNbdColumnsLogLikelihood, fromVector, [0, rate, 0, rate], options);
}
