// Log-gamma, log-beta and hypergeometric series for the customer models: likelihoods stay in log space,
// and the series stop on a proven bound of what they leave out, not on one small term.
import { VigilError } from '../../shared/errors.js';

// Lanczos approximation, g = 7, nine terms: about 15 significant digits for x >= 0.5.
const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];
const HALF_LOG_TWO_PI = 0.5 * Math.log(2 * Math.PI);

/** ln Γ(x) for x > 0 (and for negative non-integers, as ln |Γ(x)|). */
export function lnGamma(x: number): number {
  if (x < 0.5) {
    // reflection: keeps tiny shapes (r = 1e-6) as accurate as moderate ones
    return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x);
  }
  const y = x - 1;
  let sum = LANCZOS[0];
  for (let i = 1; i < LANCZOS.length; i++) sum += LANCZOS[i] / (y + i);
  const t = y + LANCZOS_G + 0.5;
  return HALF_LOG_TWO_PI + (y + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a + b). */
export function lnBeta(a: number, b: number): number {
  return lnGamma(a) + lnGamma(b) - lnGamma(a + b);
}

/** ln(e^u + e^v) without overflow or underflow. */
export function logAddExp(u: number, v: number): number {
  if (u === Number.NEGATIVE_INFINITY) return v;
  if (v === Number.NEGATIVE_INFINITY) return u;
  const hi = Math.max(u, v);
  return hi + Math.log1p(Math.exp(Math.min(u, v) - hi));
}

export interface SeriesOptions {
  /** Stop when the bound on the remaining terms is below this fraction of the sum. */
  relativeTolerance?: number;
  maxTerms?: number;
}

/**
 * The generalized hypergeometric series pFq(upper; lower; z) with p = q + 1, for |z| < 1.
 * Each term ratio is z · Π (u_i + m) / (Π (l_j + m) · (m + 1)). Pairing u_1 with (m + 1) and u_{j+1} with l_j,
 * every pair (u + m')/(l + m') is monotone in m' and tends to 1, so once all u_i + m and l_j + m are positive
 * no later ratio exceeds ρ = |z| · Π max(1, pair at m): the tail is at most |next term| / (1 − ρ).
 */
export function hypergeometricPFQ(
  upper: readonly number[],
  lower: readonly number[],
  z: number,
  options: SeriesOptions = {},
): number {
  if (upper.length !== lower.length + 1) {
    throw new VigilError('MODEL_INPUT_INVALID', `pFq series needs p = q + 1 (got ${upper.length} over ${lower.length})`);
  }
  if (!(Math.abs(z) < 1)) {
    throw new VigilError('MODEL_INPUT_INVALID', `hypergeometric series needs |z| < 1 (got z = ${z})`);
  }
  for (const l of lower) {
    if (l <= 0 && Number.isInteger(l)) {
      throw new VigilError('MODEL_INPUT_INVALID', `hypergeometric series has a pole: lower parameter ${l}`);
    }
  }
  const tolerance = options.relativeTolerance ?? 1e-15;
  const maxTerms = options.maxTerms ?? 1_000_000;
  let term = 1;
  let sum = 1;
  for (let m = 0; m < maxTerms; m++) {
    let ratio = z / (m + 1);
    for (let i = 0; i < upper.length; i++) ratio *= upper[i] + m;
    for (let j = 0; j < lower.length; j++) ratio /= lower[j] + m;
    term *= ratio;
    sum += term;
    if (term === 0) return sum; // a non-positive integer upper parameter ends the series
    // Meeting the bound below needs |term| ≤ tolerance · |sum| · (1 − ρ) / ρ with ρ ≥ |z|: unless z is tiny, terms
    // must first be small, so its cost is skipped until they are. This can only delay a stop, never hasten one.
    if (Math.abs(term) > 1e-3 * Math.abs(sum)) continue;
    const next = m + 1;
    let rho = Math.abs(z) * Math.max(1, (upper[0] + next) / (next + 1));
    let monotoneFromHere = upper[0] + next > 0;
    for (let j = 0; j < lower.length; j++) {
      const u = upper[j + 1] + next;
      const l = lower[j] + next;
      if (u <= 0 || l <= 0) monotoneFromHere = false;
      rho *= Math.max(1, u / l);
    }
    if (monotoneFromHere && rho < 1 && Math.abs(term) * rho <= tolerance * (1 - rho) * Math.abs(sum)) return sum;
  }
  throw new VigilError(
    'MODEL_INPUT_INVALID',
    `hypergeometric series did not converge in ${maxTerms} terms at z = ${z}: the horizon is too long for the customer's age`,
  );
}

/**
 * Gauss's 2F1(a, b; c; z) for z < 1. Negative z goes through Pfaff's transformation
 * 2F1(a, b; c; z) = (1 − z)^(−a) 2F1(a, c − b; c; z / (z − 1)), whose argument lies in [0, 1).
 */
export function hyp2f1(a: number, b: number, c: number, z: number, options?: SeriesOptions): number {
  if (z < 0) {
    return Math.pow(1 - z, -a) * gaussSeries(a, c - b, c, z / (z - 1), options);
  }
  return gaussSeries(a, b, c, z, options);
}

/**
 * hypergeometricPFQ([a, b], [c], z) term for term, with its stopping bound, without the arrays and loops over them:
 * the Pareto/NBD likelihood sums two of these per customer per evaluation of a fit. Anything unusual (a pole, |z| ≥ 1,
 * a non-positive parameter, a series that will not end) goes to the general series, which says what is wrong.
 */
function gaussSeries(a: number, b: number, c: number, z: number, options: SeriesOptions = {}): number {
  if (!(a > 0 && b > 0 && c > 0 && z >= 0 && z < 1)) return hypergeometricPFQ([a, b], [c], z, options);
  const tolerance = options.relativeTolerance ?? 1e-15;
  const maxTerms = options.maxTerms ?? 1_000_000;
  let term = 1;
  let sum = 1;
  for (let m = 0; m < maxTerms; m++) {
    term *= (z * (a + m) * (b + m)) / ((c + m) * (m + 1));
    sum += term;
    if (term === 0) return sum;
    if (term > 1e-3 * sum) continue;
    const next = m + 1;
    const rho = z * Math.max(1, (a + next) / (next + 1)) * Math.max(1, (b + next) / (c + next));
    if (rho < 1 && term * rho <= tolerance * (1 - rho) * sum) return sum;
  }
  return hypergeometricPFQ([a, b], [c], z, options);
}

/** Gauss–Legendre nodes and weights on (0, 1), n points (Newton on P_n from the Chebyshev guesses). */
export function gaussLegendreUnit(n: number): { x: Float64Array; w: Float64Array } {
  const x = new Float64Array(n);
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let t = Math.cos((Math.PI * (i + 0.75)) / (n + 0.5));
    let derivative = 1;
    for (let step = 0; step < 100; step++) {
      let p0 = 1;
      let p1 = t;
      for (let k = 2; k <= n; k++) [p0, p1] = [p1, ((2 * k - 1) * t * p1 - (k - 1) * p0) / k];
      derivative = (n * (t * p1 - p0)) / (t * t - 1);
      const dt = p1 / derivative;
      t -= dt;
      if (Math.abs(dt) < 1e-16) break;
    }
    x[i] = (1 - t) / 2;
    w[i] = 1 / ((1 - t * t) * derivative * derivative);
  }
  return { x, w };
}
