import { describe, expect, it } from 'vitest';
import { expectedPurchases, pAlive } from './models/bgnbd.js';
import { customerLifetimeValue } from './models/gammaGamma.js';
import { createRng } from './models/random.js';
import { createPurchaseModel, lifetimeValueOptions } from './purchaseModel.js';

const cfg = { valueHorizonDays: 365, annualDiscountRate: 0.1 };
const gg = { p: 6.25, q: 3.74, gamma: 15.44 };

describe('the live purchase model (forecasts from the table)', () => {
  // The CDNOW fit in days, and a model with a short purchase cycle (small alpha), where T moves fastest against it.
  for (const bg of [
    { r: 0.243, alpha: 30.9, a: 0.793, b: 2.426 },
    { r: 1.8, alpha: 0.7, a: 1.4, b: 4.2 },
  ]) {
    it(`agrees with the series to 1e-6 at alpha ${bg.alpha}`, () => {
      const model = createPurchaseModel(cfg, bg, gg, 'test');
      const options = lifetimeValueOptions(cfg);
      const rng = createRng(3);
      const random = () => rng.uniform();
      for (let i = 0; i < 300; i++) {
        const x = Math.floor(random() * 30);
        const T = random() * 400;
        const tx = x === 0 ? 0 : random() * T;
        const spend = 5 + random() * 200;
        const close = (got: number, want: number) => expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-6 * Math.abs(want) + 1e-12);
        close(model.pAlive(x, tx, T), pAlive(bg, x, tx, T));
        close(model.expectedPurchases(30, x, tx, T), expectedPurchases(bg, 30, x, tx, T));
        close(model.expectedPurchases(90, x, tx, T), expectedPurchases(bg, 90, x, tx, T));
        close(model.expectedPurchases(45, x, tx, T), expectedPurchases(bg, 45, x, tx, T));
        close(model.customerValue(x, tx, T, spend), customerLifetimeValue(bg, gg, x, tx, T, spend, options));
      }
    });
  }

  it('gives the same value however the table was filled before', () => {
    const bg = { r: 0.243, alpha: 30.9, a: 0.793, b: 2.426 };
    const fresh = createPurchaseModel(cfg, bg, gg, 'a');
    const warmed = createPurchaseModel(cfg, bg, gg, 'b');
    for (let T = 0; T < 50; T += 0.37) warmed.customerValue(3, T / 2, T, 40);
    expect(warmed.customerValue(3, 10, 21.3, 40)).toBe(fresh.customerValue(3, 10, 21.3, 40));
  });
});
