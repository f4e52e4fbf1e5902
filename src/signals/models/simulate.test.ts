import { describe, expect, it } from 'vitest';
import { expectedPurchasesNewCustomer } from './bgnbd.js';
import { createRng } from './random.js';
import { simulateCustomers, toPurchaseLog } from './simulate.js';

const CDNOW = { r: 0.24, alpha: 4.41, a: 0.79, b: 2.43 };

/** |sample mean − expected| in standard errors of the mean. */
function standardErrorsOff(values: readonly number[], expected: number): number {
  const n = values.length;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1);
  return Math.abs(mean - expected) / Math.sqrt(variance / n);
}

describe('createRng', () => {
  it('repeats exactly from a seed and differs between seeds', () => {
    const draw = (seed: number) => Array.from({ length: 5 }, createRng(seed).uniform);
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
  });

  it('draws gamma (shape below and above 1) and beta with the right means, within 4 standard errors', () => {
    const rng = createRng(9);
    const n = 20_000;
    expect(standardErrorsOff(Array.from({ length: n }, () => rng.gamma(0.24, 4.41)), 0.24 / 4.41)).toBeLessThan(4);
    expect(standardErrorsOff(Array.from({ length: n }, () => rng.gamma(6.25, 2)), 6.25 / 2)).toBeLessThan(4);
    expect(standardErrorsOff(Array.from({ length: n }, () => rng.beta(0.79, 2.43)), 0.79 / (0.79 + 2.43))).toBeLessThan(4);
    expect(standardErrorsOff(Array.from({ length: n }, () => rng.exponential(3)), 1 / 3)).toBeLessThan(4);
  });
});

describe('simulateCustomers', () => {
  it('makes as many repeat purchases on average as the model’s E[X(T)], within 4 standard errors', () => {
    for (const bgNbd of [CDNOW, { r: 1.2, alpha: 8, a: 1.5, b: 6 }]) {
      const customers = simulateCustomers({ customers: 20_000, bgNbd, observationEnd: 52, seed: 2 });
      expect(standardErrorsOff(customers.map((c) => c.x), expectedPurchasesNewCustomer(bgNbd, 52))).toBeLessThan(4);
    }
  });

  it('summarises each customer’s own purchases: x, t_x, T and the mean repeat spend', () => {
    const customers = simulateCustomers({
      customers: 300,
      bgNbd: { r: 2, alpha: 4, a: 1, b: 5 },
      gammaGamma: { p: 6, q: 4, gamma: 15 },
      observationEnd: 40,
      acquisition: [0, 10],
      seed: 4,
      keepPurchases: true,
    });
    for (const c of customers) {
      const purchases = c.purchases ?? [];
      expect(purchases[0].time).toBe(c.firstPurchase);
      expect(c.x).toBe(purchases.length - 1);
      expect(c.tx).toBeCloseTo(purchases[purchases.length - 1].time - c.firstPurchase, 12);
      expect(c.T).toBeCloseTo(40 - c.firstPurchase, 12);
      expect(c.firstPurchase >= 0 && c.firstPurchase < 10).toBe(true);
      if (c.x > 0) {
        const repeatSpend = purchases.slice(1).reduce((s, p) => s + (p.value ?? 0), 0);
        expect(c.mValue).toBeCloseTo(repeatSpend / c.x, 10);
      } else {
        expect(c.mValue).toBeUndefined();
      }
    }
    expect(toPurchaseLog(customers)).toHaveLength(customers.reduce((s, c) => s + c.x + 1, 0));
  });

  it('repeats exactly from a seed', () => {
    const run = () => simulateCustomers({ customers: 50, bgNbd: CDNOW, observationEnd: 39, seed: 8 });
    expect(run()).toEqual(run());
  });
});
