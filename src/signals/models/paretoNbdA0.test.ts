import { describe, expect, it } from 'vitest';
import { paretoNbdColumnsLogLikelihood, paretoNbdLogLikelihood, type ParetoNbdParams } from './paretoNbd.js';
import { A0Coefficients, logA0, logA0ByQuadrature, logA0WithCoefficients, seriesLimit } from './paretoNbdA0.js';
import { toColumns } from './mle.js';
import { createRng } from './random.js';
import { hyp2f1 } from './specialFunctions.js';
import { tanhSinhNodes } from './quadrature.testing.js';

const NODES = tanhSinhNodes(1 / 8, 4);

/**
 * ln(a ∫_{t_x}^{T} (α + τ)^−(r+x) (β + τ)^−(s+1) dτ) a third way: tanh-sinh on pieces of width ≤ min(1/8, 1/(2a)) in
 * v = ln(min(α, β) + τ), the integrand taken straight from α + τ and β + τ, and every node's term summed with
 * Neumaier's compensation (tens of thousands of terms would otherwise cost digits). Stops once the integrand is
 * falling and 45 below its peak (e^−45 ≈ 3e−20).
 */
function referenceLogA0(r: number, alpha: number, s: number, beta: number, x: number, tx: number, T: number): number {
  const a = r + s + x;
  const mu = Math.min(alpha, beta);
  const start = Math.log(mu + tx);
  const V = Math.log1p((T - tx) / (mu + tx));
  const logF = (t: number) => {
    const tau = Math.exp(start + t) - mu;
    return -(r + x) * Math.log(alpha + tau) - (s + 1) * Math.log(beta + tau) + start + t;
  };
  const width = Math.min(1 / 8, 1 / (2 * a));
  const terms: number[] = [];
  let max = Number.NEGATIVE_INFINITY;
  for (let lo = 0; lo < V; lo += width) {
    const h = Math.min(width, V - lo);
    for (const node of NODES) {
      const v = Math.log(node.weight * h) + logF(lo + h * node.x);
      terms.push(v);
      max = Math.max(max, v);
    }
    if (logF(lo + h) < max - 45 && logF(lo + h) < logF(lo)) break;
  }
  let sum = 0;
  let compensation = 0;
  for (const v of terms) {
    const t = Math.exp(v - max);
    const next = sum + t;
    compensation += sum >= t ? sum - next + t : t - next + sum;
    sum = next;
  }
  return Math.log(a) + max + Math.log(sum + compensation);
}

/** The note's form: F(t_x) − F(T) with F from the Gauss series (tight tolerance), differenced in logs. */
function differenceOfSeries(r: number, alpha: number, s: number, beta: number, x: number, tx: number, T: number): number {
  const a = r + s + x;
  const m = Math.max(alpha, beta);
  const b2 = alpha >= beta ? s + 1 : r + x;
  const logF = (t: number) => Math.log(hyp2f1(a, b2, a + 1, Math.abs(alpha - beta) / (m + t), { relativeTolerance: 1e-17 })) - a * Math.log(m + t);
  const u = logF(tx);
  return u + Math.log(-Math.expm1(logF(T) - u));
}

/** |actual − expected| relative to |expected|, or absolute where |expected| < 1. */
const error = (actual: number, expected: number) => Math.abs(actual - expected) / Math.max(1, Math.abs(expected));

interface Row {
  r: number;
  alpha: number;
  s: number;
  beta: number;
  x: number;
  tx: number;
  T: number;
  z: number;
}

/** Rows whose z = |α − β| / (max(α, β) + t_x) takes each given value, with α below and above β. */
function grid(): Row[] {
  const rows: Row[] = [];
  const times = [[0, 30], [0, 300], [10, 40], [40, 40 + 1e-9], [40, 40.001], [100, 300], [5, 6], [0, 1e-6], [250, 250.5]];
  for (const [r, s] of [[0.55, 0.61], [0.1, 0.2], [2, 3], [0.85, 1.2]]) {
    for (const z of [0, 0.3, 0.5, 0.78, 0.9, 0.97, 0.99, 0.999, 0.99999]) {
      for (const x of [0, 1, 3, 10, 30, 100]) {
        for (const [tx, T] of times) {
          if (x === 0 && tx !== 0) continue;
          const m = 50;
          const smaller = m - z * (m + tx);
          if (smaller <= 0) continue;
          rows.push({ r, alpha: smaller, s, beta: m, x, tx, T, z }, { r, alpha: m, s, beta: smaller, x, tx, T, z });
        }
      }
    }
  }
  return rows;
}

describe('ln A0 against an independent quadrature of its integral', () => {
  const rows = grid();

  it(`agrees to 1e-12 over ${rows.length} rows: z from 0 to 0.99999, x 0–100, t_x = 0, T − t_x down to 1e-9`, () => {
    let worst = 0;
    for (const { r, alpha, s, beta, x, tx, T } of rows) {
      const expected = referenceLogA0(r, alpha, s, beta, x, tx, T);
      const actual = logA0(r, alpha, s, beta, x, tx, T);
      worst = Math.max(worst, error(actual, expected));
    }
    // measured: 2e-15 at worst
    expect(worst).toBeLessThan(1e-12);
  });

  it('agrees with both of its methods forced, wherever the series is not too long to try', () => {
    for (const { r, alpha, s, beta, x, tx, T, z } of rows) {
      const a = r + s + x;
      const b2 = alpha >= beta ? s + 1 : r + x;
      const expected = referenceLogA0(r, alpha, s, beta, x, tx, T);
      const quadrature = logA0ByQuadrature(a, b2, Math.min(alpha, beta), Math.max(alpha, beta), tx, T);
      expect(error(quadrature, expected)).toBeLessThan(1e-13);
      if (z > 0.97) continue;
      const co = new A0Coefficients();
      co.reset(a, b2, z);
      expect(error(logA0WithCoefficients(co, a, b2, alpha, beta, tx, T), expected)).toBeLessThan(1e-13);
    }
  });

  it('agrees to 1e-13 at 300 seeded random rows: r, s in (0.001, 20), α, β in (1e-4, 1e4), x up to 200, T up to 1000', () => {
    const rng = createRng(777);
    const logUniform = (lo: number, hi: number) => lo * Math.pow(hi / lo, rng.uniform());
    let worst = 0;
    for (let i = 0; i < 300; i++) {
      const [r, s, alpha, beta] = [logUniform(1e-3, 20), logUniform(1e-3, 20), logUniform(1e-4, 1e4), logUniform(1e-4, 1e4)];
      const x = rng.uniform() < 0.3 ? 0 : Math.floor(logUniform(1, 200));
      const T = logUniform(1e-2, 1e3);
      const tx = x === 0 ? 0 : T * rng.uniform();
      worst = Math.max(worst, error(logA0(r, alpha, s, beta, x, tx, T), referenceLogA0(r, alpha, s, beta, x, tx, T)));
    }
    // measured: 6e-15 (the rounding of ln A0's prefactor, a sum of terms near ±7)
    expect(worst).toBeLessThan(1e-13);
  });

  it('keeps its digits when u_T = (m + t_x) / (m + T) is tiny and a small: 1 − u_T^a from u_T itself, not 1 − d', () => {
    // u_T = 3e-5 here; ln(1 − d) with d = 1 − u_T rounded cost 6e-14 of ln A0 (measured before the fix)
    const row = [0.0028901596931908075, 0.0001945625108026805, 0.010023277075738173, 0.00013438298924660082, 0, 0, 4.8403309420561875] as const;
    expect(error(logA0(...row), referenceLogA0(...row))).toBeLessThan(5e-15);
  });

  it('is −∞ at t_x = T: no time in which to have died', () => {
    expect(logA0(0.5, 3, 0.7, 9, 2, 20, 20)).toBe(Number.NEGATIVE_INFINITY);
  });
});

describe('the integral identity A0 = F(t_x) − F(T) = a ∫ (α+τ)^−(r+x) (β+τ)^−(s+1) dτ', () => {
  it.each([
    [0.55, 10.58, 0.61, 11.67, 2, 30.43, 38.86],
    [0.55, 10.58, 0.61, 11.67, 0, 0, 38.86],
    [0.8, 20, 1.3, 4, 3, 10, 40],
    [0.8, 4, 1.3, 20, 12, 10, 40],
    [2, 0.5, 3, 60, 7, 3, 200],
    [0.85, 56, 1.21, 251, 30, 100, 275],
  ])('r %d, α %d, s %d, β %d, x %d, t_x %d, T %d: the Gauss series difference equals the quadrature to 1e-12', (r, alpha, s, beta, x, tx, T) => {
    const expected = referenceLogA0(r, alpha, s, beta, x, tx, T);
    expect(error(differenceOfSeries(r, alpha, s, beta, x, tx, T), expected)).toBeLessThan(1e-12);
    expect(error(logA0(r, alpha, s, beta, x, tx, T), expected)).toBeLessThan(1e-13);
  });

  it('keeps its digits when T − t_x is tiny, where the difference of two F loses them', () => {
    const [r, alpha, s, beta, x, tx] = [0.55, 10.58, 0.61, 11.67, 5, 30];
    const T = tx + 1e-7;
    const expected = referenceLogA0(r, alpha, s, beta, x, tx, T);
    expect(error(logA0(r, alpha, s, beta, x, tx, T), expected)).toBeLessThan(1e-14);
    // the old difference is off in the 8th or 9th digit here
    expect(error(differenceOfSeries(r, alpha, s, beta, x, tx, T), expected)).toBeGreaterThan(1e-11);
  });
});

describe('the switch between series and quadrature', () => {
  const base = { r: 0.85, s: 1.21, beta: 251 };
  // α where z = (β − α) / β, the z of every t_x = 0 row, sits exactly at the x = 0 rows' switch (b2 = r)
  const switchAlpha = base.beta * (1 - seriesLimit(base.r));

  it('has series and quadrature agreeing to 1e-14 at each switch point (b2 from 0.1 to 400)', () => {
    for (const b2 of [0.1, 0.85, 1.6, 5, 30, 100, 400]) {
      const z = seriesLimit(b2);
      for (const [tx, T, a] of [[0, 30, b2 + 1.2], [0, 300, b2 + 0.3], [20, 25, b2 + 2], [100, 275, b2 + 1.21]]) {
        const m = 251;
        const mu = m - z * (m + tx);
        const co = new A0Coefficients();
        co.reset(a, b2, z);
        const series = logA0WithCoefficients(co, a, b2, mu, m, tx, T);
        expect(error(series, logA0ByQuadrature(a, b2, mu, m, tx, T))).toBeLessThan(1e-14);
      }
    }
  });

  it('has the shared-sum form (t_x at zRef, u_T^a ≤ 1/2) and the per-row recurrence agreeing to 2e-15 on both sides of u_T^a = 1/2', () => {
    const m = 251;
    for (const [a, b2, z] of [[2.06, 0.85, 0.78], [0.3, 0.1, 0.5], [13, 11.8, 0.6], [5, 2.2, 0.95], [101, 100, 0.2]]) {
      const mu = m * (1 - z);
      const boundary = m * (Math.pow(2, 1 / a) - 1);
      for (const T of [boundary * 0.5, boundary * (1 - 1e-12), boundary * (1 + 1e-12), boundary * 3]) {
        const shared = new A0Coefficients();
        shared.reset(a, b2, z);
        // a zRef one ulp above z: every power (z / zRef)^n ≠ 1, so the row takes the recurrence
        const perRow = new A0Coefficients();
        perRow.reset(a, b2, z * (1 + Number.EPSILON));
        const viaShared = logA0WithCoefficients(shared, a, b2, mu, m, 0, T);
        expect(error(viaShared, logA0WithCoefficients(perRow, a, b2, mu, m, 0, T))).toBeLessThan(2e-15);
        expect(error(viaShared, logA0ByQuadrature(a, b2, mu, m, 0, T))).toBeLessThan(2e-15);
      }
    }
  });

  it('moves the mean log-likelihood by under 1e-14 relative when α crosses it (Newton differences by steps of 1e-3)', () => {
    const rows = [
      [0, 0, 10],
      [0, 0, 120],
      [0, 0, 275],
      [1, 30, 200],
      [4, 150, 151],
    ];
    const columns = toColumns(rows.map((c) => c[0]), rows.map((c) => c[1]), rows.map((c) => c[2]));
    const mean = (alpha: number) => paretoNbdColumnsLogLikelihood({ ...base, alpha }, columns) / rows.length;
    // the x = 0 rows take quadrature below the switch (z above the limit) and the series above it
    const quadratureAt = (alpha: number) => logA0ByQuadrature(base.r + base.s, base.r, alpha, base.beta, 0, 10);
    const takesQuadrature = (alpha: number) => logA0(base.r, alpha, base.s, base.beta, 0, 0, 10) === quadratureAt(alpha);
    let below = switchAlpha;
    while (!takesQuadrature(below)) below *= 1 - 2e-16;
    let above = switchAlpha;
    while (takesQuadrature(above)) above *= 1 + 2e-16;
    expect(above / below - 1).toBeLessThan(1e-14);
    // α moves by under 1e-14 relative, whose smooth effect is below 1e-15: what is left is the switch's jump
    expect(Math.abs(mean(above) - mean(below))).toBeLessThan(1e-14 * Math.abs(mean(below)));
  });
});

describe('paretoNbdColumnsLogLikelihood', () => {
  it('sums the row-by-row likelihood, its shared coefficients scaled per x, across the switch and both orders of α, β', () => {
    const rows: [number, number, number][] = [];
    for (let i = 0; i < 60; i++) {
      const x = i % 7 === 0 ? 0 : (i * 37) % 23;
      const T = 5 + ((i * 53) % 270);
      const tx = x === 0 ? 0 : T * (((i * 29) % 100) / 100);
      rows.push([x, tx, T]);
    }
    const columns = toColumns(rows.map((c) => c[0]), rows.map((c) => c[1]), rows.map((c) => c[2]));
    const points: ParetoNbdParams[] = [
      { r: 0.85, alpha: 56, s: 1.21, beta: 251 },
      { r: 0.85, alpha: 251, s: 1.21, beta: 56 },
      { r: 0.5, alpha: 2, s: 0.7, beta: 400 },
      { r: 3, alpha: 0.01, s: 0.2, beta: 30 },
      { r: 0.55, alpha: 10.58, s: 0.61, beta: 10.58 },
    ];
    for (const p of points) {
      const byRow = rows.reduce((sum, [x, tx, T]) => sum + paretoNbdLogLikelihood(p, x, tx, T), 0);
      expect(error(paretoNbdColumnsLogLikelihood(p, columns), byRow)).toBeLessThan(1e-13);
    }
  });
});
