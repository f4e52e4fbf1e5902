import { describe, expect, it } from 'vitest';
import { expectedPurchases, type BgNbdParams } from './bgnbd.js';
import {
  customerLifetimeValue,
  expectedAverageValue,
  fitGammaGamma,
  gammaGammaLogLikelihood,
  type GammaGammaParams,
  type SpendSummary,
} from './gammaGamma.js';
import { simulateCustomers } from './simulate.js';
import { integrateUnit } from './quadrature.testing.js';

// Fader, Hardie & Lee (2005), "RFM and CLV", fitted to the CDNOW sample.
const CDNOW_SPEND: GammaGammaParams = { p: 6.25, q: 3.74, gamma: 15.44 };
const CDNOW_BG: BgNbdParams = { r: 0.242593, alpha: 4.413532, a: 0.792886, b: 2.425752 };

const relative = (actual: number, expected: number) => Math.abs(actual - expected) / Math.abs(expected);

/** ∫ g(u) du over (0, ∞) through u = scale · x / (1 − x). */
const integrateHalfLine = (g: (u: number) => number, scale: number) =>
  integrateUnit((x, complement) => (g((scale * x) / complement) * scale) / (complement * complement));

describe('Gamma-Gamma against published values', () => {
  it('gives the conditional average spend of the first ten CDNOW customers to 0.1', () => {
    // Hardie's spreadsheet (brucehardie.com/notes/025), as asserted in lifetimes' tests/test_estimation.py,
    // test_conditional_expected_average_profit (atol 0.1); frequencies and mean spends of CDNOW customers 1..10.
    const customers: [number, number, number][] = [
      [2, 22.35, 24.65],
      [1, 11.77, 18.91],
      [0, 0, 35.17],
      [0, 0, 35.17],
      [0, 0, 35.17],
      [7, 73.74, 71.46],
      [1, 11.77, 18.91],
      [0, 0, 35.17],
      [2, 25.55, 27.28],
      [0, 0, 35.17],
    ];
    for (const [x, m, published] of customers) expect(Math.abs(expectedAverageValue(CDNOW_SPEND, x, m) - published)).toBeLessThan(0.1);
  });

  it('reproduces lifetimes’ Quickstart 12-month CLV (monthly discount 1%, 30-unit months) to 1e-6 relative', () => {
    // docs/Quickstart.md prints these CLVs; its Gamma-Gamma parameters were shown rounded, so these are the ones that
    // reproduce its printed average values 35.170981, 18.911489 and 24.658619 exactly (three equations, three unknowns).
    const spend: GammaGammaParams = { p: 6.37471476416483, q: 3.7999003483104175, gamma: 15.447787971685306 };
    const options = { horizonPeriods: 12, discountRatePerPeriod: 0.01, periodLength: 30 };
    const customers: [number, number, number, number, number][] = [
      [2, 30.43, 38.86, 22.35, 140.096211],
      [1, 1.71, 38.86, 11.77, 18.943467],
      [0, 0, 38.86, 0, 38.180574],
      [7, 29.43, 38.86, 73.74, 1003.868107],
    ];
    for (const [x, tx, T, m, published] of customers) {
      expect(relative(customerLifetimeValue(CDNOW_BG, spend, x, tx, T, m, options), published)).toBeLessThan(1e-6);
    }
  });
});

describe('Gamma-Gamma formulas against numerical integration', () => {
  it('has a likelihood that is a density in the mean spend: it integrates to 1', () => {
    for (const x of [1, 3, 12]) {
      const mass = integrateHalfLine((m) => Math.exp(gammaGammaLogLikelihood(CDNOW_SPEND, x, m)), 35);
      expect(mass).toBeCloseTo(1, 9);
    }
  });

  it('matches the mixture over nu it is derived from, and its posterior mean of p / nu', () => {
    const { p, q, gamma } = CDNOW_SPEND;
    const logGammaPdf = (v: number, shape: number, rate: number, lnGammaShape: number) =>
      shape * Math.log(rate) + (shape - 1) * Math.log(v) - rate * v - lnGammaShape;
    const lnGammaQ = lnGammaByIntegral(q);
    for (const [x, m] of [
      [1, 11.77],
      [7, 73.74],
    ]) {
      // the mean of x Gamma(p, nu) values is Gamma(px, nu x)
      const lnGammaPx = lnGammaByIntegral(p * x);
      const joint = (nu: number) => Math.exp(logGammaPdf(m, p * x, nu * x, lnGammaPx) + logGammaPdf(nu, q, gamma, lnGammaQ));
      const evidence = integrateHalfLine(joint, q / gamma);
      expect(relative(Math.exp(gammaGammaLogLikelihood(CDNOW_SPEND, x, m)), evidence)).toBeLessThan(1e-8);
      const posteriorMean = integrateHalfLine((nu) => (p / nu) * joint(nu), q / gamma) / evidence;
      expect(relative(expectedAverageValue(CDNOW_SPEND, x, m), posteriorMean)).toBeLessThan(1e-8);
    }
  });
});

/** ln Γ by quadrature of Euler's integral Γ(s) = ∫ t^(s−1) e^(−t) dt, kept apart from the code under test. */
function lnGammaByIntegral(s: number): number {
  return Math.log(integrateHalfLine((t) => Math.exp((s - 1) * Math.log(t) - t), Math.max(s, 1)));
}

describe('fitGammaGamma', () => {
  it('recovers p ±30%, q ±15%, gamma ±40% and the mean spend p·gamma/(q−1) ±5% from 8,000 simulated customers', () => {
    const truth = CDNOW_SPEND;
    const customers = simulateCustomers({
      customers: 8000,
      bgNbd: { r: 0.24, alpha: 4.41, a: 0.79, b: 2.43 },
      gammaGamma: truth,
      observationEnd: 78,
      acquisition: [0, 12],
      seed: 11,
    });
    const fit = fitGammaGamma(customers);
    const { p, q, gamma } = fit.params;
    expect(fit.converged).toBe(true);
    expect(fit.customers).toBe(customers.filter((c) => c.x > 0).length);
    expect(relative(p, truth.p)).toBeLessThan(0.3);
    expect(relative(q, truth.q)).toBeLessThan(0.15);
    expect(relative(gamma, truth.gamma)).toBeLessThan(0.4);
    expect(relative((p * gamma) / (q - 1), (truth.p * truth.gamma) / (truth.q - 1))).toBeLessThan(0.05);
    // spend is independent of frequency in the simulation
    expect(Math.abs(fit.frequencySpendCorrelation)).toBeLessThan(0.1);
  });

  const refusal = (data: SpendSummary[], options = {}) => {
    try {
      fitGammaGamma(data, options);
    } catch (err) {
      return err as { code: string; message: string };
    }
    throw new Error('fit did not refuse');
  };
  const buyers = (n: number): SpendSummary[] => Array.from({ length: n }, (_, i) => ({ x: 1 + (i % 3), mValue: 20 + i }));

  it.each([
    ['non-positive spend', [...buyers(12), { x: 2, mValue: 0 }], /non-positive mean spend 0/],
    ['negative spend', [...buyers(12), { x: 2, mValue: -5 }], /non-positive mean spend -5/],
    ['missing spend for a repeat buyer', [...buyers(12), { x: 2 }], /non-finite mean spend/],
    ['no repeat buyers', Array.from({ length: 20 }, () => ({ x: 0 })), /no repeat buyers/],
    ['too few repeat buyers', [...buyers(4), ...Array.from({ length: 20 }, () => ({ x: 0 }))], /4 repeat buyers, at least 10/],
    ['a negative frequency', [...buyers(12), { x: -1, mValue: 3 }], /frequency -1/],
  ])('refuses %s with MODEL_INPUT_INVALID', (_, data, message) => {
    const err = refusal(data);
    expect(err.code).toBe('MODEL_INPUT_INVALID');
    expect(err.message).toMatch(message);
  });
});

describe('customerLifetimeValue', () => {
  const options = { horizonPeriods: 12, discountRatePerPeriod: 0, periodLength: 4 };

  it('without discounting is expected purchases over the horizon times expected average value', () => {
    const clv = customerLifetimeValue(CDNOW_BG, CDNOW_SPEND, 2, 30.43, 38.86, 22.35, options);
    const direct = expectedPurchases(CDNOW_BG, 48, 2, 30.43, 38.86) * expectedAverageValue(CDNOW_SPEND, 2, 22.35);
    expect(clv).toBeCloseTo(direct, 10);
  });

  it('is the discounted sum of each period’s expected purchases (one expectedPurchases call per period)', () => {
    const monthly = { horizonPeriods: 12, discountRatePerPeriod: 0.01, periodLength: 30 };
    for (const [x, tx, T, m] of [[0, 0, 0.5, 0], [2, 30.43, 38.86, 22.35], [12, 200, 210, 40]]) {
      let byPeriod = 0;
      for (let k = 1; k <= 12; k++) {
        const inPeriod = expectedPurchases(CDNOW_BG, 30 * k, x, tx, T) - expectedPurchases(CDNOW_BG, 30 * (k - 1), x, tx, T);
        byPeriod += (inPeriod * expectedAverageValue(CDNOW_SPEND, x, m)) / 1.01 ** k;
      }
      expect(relative(customerLifetimeValue(CDNOW_BG, CDNOW_SPEND, x, tx, T, m, monthly), byPeriod)).toBeLessThan(1e-13);
    }
  });

  it('discounts later periods, and is 0 over no periods', () => {
    const undiscounted = customerLifetimeValue(CDNOW_BG, CDNOW_SPEND, 2, 30.43, 38.86, 22.35, options);
    const discounted = customerLifetimeValue(CDNOW_BG, CDNOW_SPEND, 2, 30.43, 38.86, 22.35, { ...options, discountRatePerPeriod: 0.05 });
    expect(discounted).toBeLessThan(undiscounted);
    expect(discounted).toBeGreaterThan(undiscounted / 1.05 ** 12);
    expect(customerLifetimeValue(CDNOW_BG, CDNOW_SPEND, 2, 30.43, 38.86, 22.35, { ...options, horizonPeriods: 0 })).toBe(0);
  });

  it('refuses a horizon, period or discount it cannot use', () => {
    const clv = (o: Partial<typeof options>) => () => customerLifetimeValue(CDNOW_BG, CDNOW_SPEND, 1, 5, 10, 20, { ...options, ...o });
    expect(clv({ horizonPeriods: 1.5 })).toThrow(/horizonPeriods/);
    expect(clv({ periodLength: 0 })).toThrow(/periodLength/);
    expect(clv({ discountRatePerPeriod: -1 })).toThrow(/discountRatePerPeriod/);
  });

  it('refuses a population mean spend that does not exist (q ≤ 1, x = 0)', () => {
    expect(() => expectedAverageValue({ p: 2, q: 0.9, gamma: 10 }, 0, 0)).toThrow(/no finite mean spend/);
  });
});
