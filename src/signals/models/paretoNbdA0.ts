// ln A0 of the Pareto/NBD likelihood, computed on the integral it stands for rather than as a difference of two
// Gauss series. With a = r + s + x, m = max(α, β), μ = min(α, β), gap = m − μ and b2 the exponent that goes with μ
// (r + x when α < β, s + 1 when α ≥ β; q = a + 1 − b2 goes with m):
//   A0 = F(t_x) − F(T) = a ∫_{t_x}^{T} (α + τ)^−(r+x) (β + τ)^−(s+1) dτ
//      = (m + t_x)^−a Σ_n (b2)_n / n! · a / (a + n) · z^n · (1 − u_T^(a+n)),
// z = gap / (m + t_x), u_T = (m + t_x) / (m + T): Euler's integral of 2F1 with the u-range cut at u_T, term for term.
// Every term is positive and 1 − u_T^(a+n) comes from a recurrence that never subtracts nearly equal numbers, so a
// short T − t_x loses nothing (the old difference lost digits there), and it is one series instead of two. Rows at
// the largest z of their x (every t_x = 0 row) whose u_T^a ≤ 1/2 take it as Σ c_n − u_T^a Σ c_n u_T^n instead: the
// first sum is computed once for all of them and the second converges as (z u_T)^n.
// The series needs about (b2 z + 37) / (1 − z) terms; where that is long (z near 1) or its sum would overflow
// (1 − z)^−b2, Gauss–Legendre panels on the same integral in t = ln((μ + τ) / (μ + t_x)) take over, where the
// integrand is log-concave and analytic in a strip of half-width π.
import { gaussLegendreUnit } from './specialFunctions.js';

/** Series terms past which quadrature is cheaper (measured: both take about 2.5 µs near z = 0.97, b2 ≈ 1). */
const SERIES_TERMS = 1500;
/** ln of the largest series sum allowed: (1 − z)^−b2 stays well inside a double. */
const SERIES_LOG_SIZE = 500;
/** The tail bound has to fall below this fraction of the sum. */
const TOLERANCE = 1e-17;

/**
 * The largest z for which this b2 takes the series: the series when its estimated length (b2 z + 40) / (1 − z) is at
 * most SERIES_TERMS and its sum below e^SERIES_LOG_SIZE. Per row the choice is a threshold on z, which moves smoothly
 * with the parameters; both sides agree to about 1e-15 there (paretoNbdA0.test.ts).
 */
export function seriesLimit(b2: number): number {
  return Math.min((SERIES_TERMS - 40) / (SERIES_TERMS + b2), -Math.expm1(-SERIES_LOG_SIZE / b2));
}

/**
 * c_n = zRef^n (b2)_n / n! · a / (a + n) for one (a, b2), grown on demand: every row with the same x shares them, so
 * a row's term costs three multiplications and no division. zRef is at least every such row's z, so the scaled
 * terms (z / zRef)^n shrink and c_n never exceeds the largest term at zRef (below e^SERIES_LOG_SIZE).
 */
export class A0Coefficients {
  c: Float64Array = new Float64Array(64);
  filled = 1;
  a = 0;
  b2 = 0;
  zRef = 0;
  /** Σ c_n, the full series at zRef, once computed (NaN until then). */
  full = Number.NaN;

  reset(a: number, b2: number, zRef: number): void {
    this.a = a;
    this.b2 = b2;
    this.zRef = zRef;
    this.c[0] = 1;
    this.filled = 1;
    this.full = Number.NaN;
  }

  /** Up to 64 more coefficients (doubling the storage when it is full); returns the storage, which may be new. */
  extend(): Float64Array {
    if (this.filled >= this.c.length) {
      const bigger = new Float64Array(2 * this.c.length);
      bigger.set(this.c);
      this.c = bigger;
    }
    const { c, a, b2, zRef } = this;
    const end = Math.min(c.length, this.filled + 64);
    for (let n = this.filled - 1; n + 1 < end; n++) c[n + 1] = (c[n] * zRef * (b2 + n) * (a + n)) / ((n + 1) * (a + n + 1));
    this.filled = end;
    return c;
  }
}

/** Hard stop for the series, far past what seriesLimit lets through: beyond it quadrature answers instead. */
const MAX_TERMS = 20 * SERIES_TERMS;

/**
 * Σ_n c_n (z / zRef)^n q_n with q_n = 1 − u_T^(a+n) (q_(n+1) = q_n u_T + d, d = 1 − u_T), or NaN past MAX_TERMS.
 * Four interleaved chains (terms n, n+1, n+2, n+3, each stepping by four with q_(n+4) = q_n u_T⁴ + (1 − u_T⁴)), so
 * no term waits on the one before: about twice as fast as one chain. Stops on a bound: for k ≥ n each term ratio is at
 * most ρ = z · max(1, (b2 + n) / (n + 1)) · (u_T + d / q_n), because (b2 + k)/(k + 1) moves monotonically towards 1,
 * a/(a + k) falls and q_k rises; the tail after term n is at most t_n ρ / (1 − ρ).
 */
function seriesSum(co: A0Coefficients, z: number, uT: number, d: number): number {
  const ratio = co.zRef > 0 ? z / co.zRef : 0;
  // ln u_T from whichever of u_T and d = 1 − u_T is the smaller: each is a correctly rounded quotient, 1 − the other is not
  const aLogU = co.a * (d < 0.5 ? Math.log1p(-d) : Math.log(uT));
  // A row at zRef (every t_x = 0 row, for one) whose u_T^a ≤ 1/2 has Σ c_n q_n = Σ c_n − u_T^a Σ c_n u_T^n: the first sum
  // is shared by the rows, the second converges as (z u_T)^n, and the subtraction costs at most one bit.
  if (ratio === 1 && aLogU <= -Math.LN2) {
    if (co.full !== co.full) co.full = powerSum(co, 1, z);
    return co.full - Math.exp(aLogU) * powerSum(co, uT, z * uT);
  }
  const q0 = -Math.expm1(aLogU);
  let q1 = q0 * uT + d;
  let q2 = q1 * uT + d;
  let q3 = q2 * uT + d;
  let q4 = q3 * uT + d;
  const u2 = uT * uT;
  const u4 = u2 * u2;
  const d4 = d * (1 + uT) * (1 + u2);
  let p1 = ratio;
  let p2 = ratio * ratio;
  let p3 = p2 * ratio;
  let p4 = p2 * p2;
  const r4 = p4;
  let s1 = q0;
  let s2 = 0;
  let s3 = 0;
  let s4 = 0;
  const b2 = co.b2;
  let c = co.c;
  for (let n = 1; n < MAX_TERMS; n += 4) {
    while (n + 3 >= co.filled) c = co.extend();
    const t4 = c[n + 3] * p4 * q4;
    s1 += c[n] * p1 * q1;
    s2 += c[n + 1] * p2 * q2;
    s3 += c[n + 2] * p3 * q3;
    s4 += t4;
    // the bound cannot be met while terms are this large (ρ ≥ z ≥ the term ratio's limit), so skip its divisions;
    // s1 is part of the sum, so this can only delay a stop
    if (t4 <= 1e-13 * s1) {
      const sum = s1 + s2 + s3 + s4;
      const last = n + 3;
      const rho = z * Math.max(1, (b2 + last) / (last + 1)) * (uT + d / q4);
      if (rho < 1 && t4 * rho <= TOLERANCE * (1 - rho) * sum) return sum;
    }
    p1 *= r4;
    p2 *= r4;
    p3 *= r4;
    p4 *= r4;
    q1 = q1 * u4 + d4;
    q2 = q2 * u4 + d4;
    q3 = q3 * u4 + d4;
    q4 = q4 * u4 + d4;
  }
  return Number.NaN;
}

/**
 * Σ_n c_n w^n (w ≤ 1) in four chains, stopping on the bound that each later term ratio is at most
 * ρ = zw · max(1, (b2 + n) / (n + 1)) with zw = zRef · w; NaN past MAX_TERMS.
 */
function powerSum(co: A0Coefficients, w: number, zw: number): number {
  let p1 = w;
  let p2 = w * w;
  let p3 = p2 * w;
  let p4 = p2 * p2;
  const w4 = p4;
  let s1 = 1;
  let s2 = 0;
  let s3 = 0;
  let s4 = 0;
  const b2 = co.b2;
  let c = co.c;
  for (let n = 1; n < MAX_TERMS; n += 4) {
    while (n + 3 >= co.filled) c = co.extend();
    const t4 = c[n + 3] * p4;
    s1 += c[n] * p1;
    s2 += c[n + 1] * p2;
    s3 += c[n + 2] * p3;
    s4 += t4;
    if (t4 <= 1e-13 * s1) {
      const sum = s1 + s2 + s3 + s4;
      const last = n + 3;
      const rho = zw * Math.max(1, (b2 + last) / (last + 1));
      if (rho < 1 && t4 * rho <= TOLERANCE * (1 - rho) * sum) return sum;
    }
    p1 *= w4;
    p2 *= w4;
    p3 *= w4;
    p4 *= w4;
  }
  return Number.NaN;
}

const PANEL_NODES = gaussLegendreUnit(12);
/** A panel's width in t, at most: the integrand's poles are π off the real axis. */
const PANEL_WIDTH = 1;
/** At most this change of ln(integrand) across a panel, so its exponential stays within the rule's reach. */
const PANEL_RISE = 4;

/** ln(integrand) in t: ℓ(t) = (1 − b2) t − q ln(1 + ψ (e^t − 1)), ψ = (μ + t_x) / (m + t_x) = 1 − z. */
function ell(t: number, oneMinusB2: number, q: number, psi: number): number {
  return oneMinusB2 * t - q * Math.log1p(psi * Math.expm1(t));
}

/** ℓ'(t) = (1 − b2) − q σ with σ = ψ e^t / (1 + ψ (e^t − 1)) in (0, 1); ℓ'' = −q σ (1 − σ) < 0. */
function slope(t: number, oneMinusB2: number, q: number, psi: number): number {
  const e = psi * Math.exp(t);
  return oneMinusB2 - (q * e) / (1 - psi + e);
}

/**
 * J = ∫_0^V e^ℓ(t) dt by Gauss–Legendre panels, each narrow enough that ℓ changes by at most PANEL_RISE on it (ℓ' is
 * monotone, so its ends bound it). Past the peak, concavity bounds what is left by e^ℓ(t) / |ℓ'(t)|, which ends the
 * sum early when the integrand has decayed. Returns ln J.
 */
function logQuadrature(V: number, oneMinusB2: number, q: number, psi: number): number {
  let t = 0;
  let sum = 0;
  const { x, w } = PANEL_NODES;
  while (t < V) {
    const s1 = Math.abs(slope(t, oneMinusB2, q, psi));
    let h = Math.min(PANEL_WIDTH, V - t, PANEL_RISE / s1);
    const s2 = Math.abs(slope(t + h, oneMinusB2, q, psi));
    if (s2 * h > PANEL_RISE) h = PANEL_RISE / s2;
    let panel = 0;
    for (let i = 0; i < x.length; i++) panel += w[i] * Math.exp(ell(t + h * x[i], oneMinusB2, q, psi));
    sum += h * panel;
    t += h;
    const end = slope(t, oneMinusB2, q, psi);
    if (end < 0 && Math.exp(ell(t, oneMinusB2, q, psi)) <= -end * TOLERANCE * sum) break;
  }
  return Math.log(sum);
}

/**
 * ln A0 by quadrature: A0 = a ∫ (μ + τ)^−b2 (m + τ)^−q dτ over (t_x, T), with μ + τ = (μ + t_x) e^t and
 * m + τ = (m + t_x)(1 + ψ (e^t − 1)), is a (μ + t_x)^(1−b2) (m + t_x)^−q ∫_0^V e^ℓ(t) dt, V = ln((μ + T) / (μ + t_x)).
 */
export function logA0ByQuadrature(a: number, b2: number, mu: number, m: number, tx: number, T: number): number {
  const q = a + 1 - b2;
  const V = Math.log1p((T - tx) / (mu + tx));
  const psi = (mu + tx) / (m + tx);
  return Math.log(a) + (1 - b2) * Math.log(mu + tx) - q * Math.log(m + tx) + logQuadrature(V, 1 - b2, q, psi);
}

/**
 * ln A0 for one row; `co` holds this row's coefficients (reset for a, b2 and a zRef ≥ z when the series is taken).
 * −∞ when t_x = T (no time to have died in).
 */
export function logA0WithCoefficients(
  co: A0Coefficients,
  a: number,
  b2: number,
  alpha: number,
  beta: number,
  tx: number,
  T: number,
): number {
  if (!(T > tx)) return Number.NEGATIVE_INFINITY;
  const m = alpha >= beta ? alpha : beta;
  const mu = alpha >= beta ? beta : alpha;
  const z = (m - mu) / (m + tx);
  if (z <= co.zRef || z === 0) {
    const sum = seriesSum(co, z, (m + tx) / (m + T), (T - tx) / (m + T));
    if (sum === sum) return Math.log(sum) - a * Math.log(m + tx);
  }
  return logA0ByQuadrature(a, b2, mu, m, tx, T);
}

/** The row's b2: the exponent of the smaller of α + τ and β + τ. */
export function exponentOfSmaller(r: number, alpha: number, s: number, beta: number, x: number): number {
  return alpha >= beta ? s + 1 : r + x;
}

// The per-customer path's coefficients, reset on every call: nothing is shared between calls, only the storage.
const ROW = new A0Coefficients();

/** ln A0 for one row, without shared coefficients (the per-customer scoring path). */
export function logA0(r: number, alpha: number, s: number, beta: number, x: number, tx: number, T: number): number {
  const a = r + s + x;
  const b2 = exponentOfSmaller(r, alpha, s, beta, x);
  const m = Math.max(alpha, beta);
  const z = Math.abs(alpha - beta) / (m + tx);
  ROW.reset(a, b2, Math.min(z, seriesLimit(b2)));
  return logA0WithCoefficients(ROW, a, b2, alpha, beta, tx, T);
}
