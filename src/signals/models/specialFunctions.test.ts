import { describe, expect, it } from 'vitest';
import { hyp2f1, hypergeometricPFQ, lnBeta, lnGamma, logAddExp } from './specialFunctions.js';
import { integrateUnit } from './quadrature.testing.js';

/** Euler's integral, normalised by the same quadrature of the Beta integral, so no gamma function is involved. */
function hyp2f1ByEulerIntegral(a: number, b: number, c: number, z: number): number {
  const kernel = (t: number, oneMinusT: number) => Math.exp((b - 1) * Math.log(t) + (c - b - 1) * Math.log(oneMinusT));
  const top = integrateUnit((t, oneMinusT) => kernel(t, oneMinusT) * Math.pow(1 - z * t, -a));
  return top / integrateUnit(kernel);
}

describe('lnGamma', () => {
  it('matches factorials, Γ(1/2) = √π and the reflection region', () => {
    expect(lnGamma(1)).toBeCloseTo(0, 14);
    expect(lnGamma(2)).toBeCloseTo(0, 14);
    expect(lnGamma(11)).toBeCloseTo(Math.log(3628800), 12);
    expect(lnGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 14);
    // Γ(x) ≈ 1/x − γ_Euler for tiny x
    expect(lnGamma(1e-8)).toBeCloseTo(Math.log(1e8 - 0.5772156649), 8);
  });

  it('agrees with Stirling’s series for large arguments to 1e-12 relative', () => {
    for (const x of [50.5, 1234.25, 1e6]) {
      const stirling = (x - 0.5) * Math.log(x) - x + 0.5 * Math.log(2 * Math.PI) + 1 / (12 * x) - 1 / (360 * x ** 3);
      expect(Math.abs(lnGamma(x) - stirling) / stirling).toBeLessThan(1e-12);
    }
  });

  it('gives ln B(a, b) with B(2, 3) = 1/12', () => {
    expect(lnBeta(2, 3)).toBeCloseTo(Math.log(1 / 12), 13);
  });
});

describe('logAddExp', () => {
  it('adds in log space without overflow', () => {
    expect(logAddExp(1000, 1000)).toBeCloseTo(1000 + Math.LN2, 10);
    expect(logAddExp(-1000, Number.NEGATIVE_INFINITY)).toBe(-1000);
    expect(logAddExp(Math.log(2), Math.log(3))).toBeCloseTo(Math.log(5), 14);
  });
});

describe('hyp2f1', () => {
  it('matches closed forms: 2F1(1,1;2;z) = −ln(1−z)/z and 2F1(a,b;b;z) = (1−z)^−a', () => {
    for (const z of [0.1, 0.5, 0.9, 0.99, -0.5, -4]) {
      expect(hyp2f1(1, 1, 2, z)).toBeCloseTo(-Math.log(1 - z) / z, 12);
      expect(hyp2f1(0.7, 2.5, 2.5, z)).toBeCloseTo(Math.pow(1 - z, -0.7), 12);
    }
  });

  it.each([
    [0.5, 1.5, 3, 0.3],
    [2.2, 0.7, 1.9, 0.9],
    [39.243, 3.2, 41.219, 0.5],
    [3, 2, 4, 0.97],
    [0.7, 1.3, 2.5, -3],
    [-2.5, 0.4, 1.1, 0.8],
  ])('2F1(%d, %d; %d; %d) agrees with Euler’s integral to 1e-9 relative', (a, b, c, z) => {
    const series = hyp2f1(a, b, c, z);
    const integral = hyp2f1ByEulerIntegral(a, b, c, z);
    expect(Math.abs(series - integral) / Math.abs(integral)).toBeLessThan(1e-9);
  });

  it('stops a terminating series exactly: 2F1(−2, b; c; z) is a quadratic', () => {
    const [b, c, z] = [1.5, 2.5, 0.4];
    const quadratic = 1 + ((-2 * b) / c) * z + ((-2 * -1 * b * (b + 1)) / (c * (c + 1) * 2)) * z * z;
    expect(hyp2f1(-2, b, c, z)).toBeCloseTo(quadratic, 15);
  });

  it('refuses arguments outside the series domain and poles, with MODEL_INPUT_INVALID', () => {
    expect(() => hypergeometricPFQ([1, 1], [2], 1)).toThrow(expect.objectContaining({ code: 'MODEL_INPUT_INVALID' }));
    expect(() => hypergeometricPFQ([1, 1], [-3], 0.5)).toThrow(/pole/);
    expect(() => hypergeometricPFQ([1, 1], [2], 0.999999, { maxTerms: 100 })).toThrow(/did not converge/);
  });
});
