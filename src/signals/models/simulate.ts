// Draws customers from the BG/NBD and Gamma-Gamma generative processes with a seed, so fits and holdout
// checks can be tested against known parameters.
import type { BgNbdParams, CustomerSummary } from './bgnbd.js';
import type { GammaGammaParams } from './gammaGamma.js';
import type { PurchaseEvent } from './purchaseLog.js';
import { createRng } from './random.js';

export interface SimulationOptions {
  customers: number;
  bgNbd: BgNbdParams;
  /** Adds spend: each customer's nu ~ Gamma(q, gamma), each purchase's value ~ Gamma(p, nu). */
  gammaGamma?: GammaGammaParams;
  /** Every customer is observed up to this time. */
  observationEnd: number;
  /** First purchases fall uniformly in [from, to); default [0, 0], so every T equals observationEnd. */
  acquisition?: readonly [number, number];
  seed?: number;
  /** Keep every purchase (time and value), not only the summary. */
  keepPurchases?: boolean;
}

export interface SimulatedPurchase {
  time: number;
  value?: number;
}

export interface SimulatedCustomer extends CustomerSummary {
  id: string;
  firstPurchase: number;
  /** Mean value of the repeat purchases, when spend is simulated and x > 0. */
  mValue?: number;
  /** The first purchase and every repeat purchase, in time order, when keepPurchases is set. */
  purchases?: SimulatedPurchase[];
}

/**
 * lambda ~ Gamma(r, alpha), p ~ Beta(a, b); repeat purchases arrive as a Poisson process of rate lambda from
 * the first purchase, and after each repeat purchase the customer drops out with probability p.
 */
export function simulateCustomers(options: SimulationOptions): SimulatedCustomer[] {
  const { r, alpha, a, b } = options.bgNbd;
  const spend = options.gammaGamma;
  const [from, to] = options.acquisition ?? [0, 0];
  const rng = createRng(options.seed ?? 1);
  const customers: SimulatedCustomer[] = [];
  for (let i = 0; i < options.customers; i++) {
    const firstPurchase = from + (to - from) * rng.uniform();
    const lambda = rng.gamma(r, alpha);
    const dropout = rng.beta(a, b);
    const nu = spend ? rng.gamma(spend.q, spend.gamma) : 0;
    const drawValue = (): number | undefined => (spend ? rng.gamma(spend.p, nu) : undefined);
    const purchases: SimulatedPurchase[] = [{ time: firstPurchase, value: drawValue() }];
    let time = firstPurchase;
    let repeatSpend = 0;
    for (;;) {
      time += rng.exponential(lambda);
      if (!(time <= options.observationEnd)) break;
      const value = drawValue();
      purchases.push({ time, value });
      repeatSpend += value ?? 0;
      if (rng.uniform() < dropout) break;
    }
    const x = purchases.length - 1;
    customers.push({
      id: `c${i}`,
      firstPurchase,
      x,
      tx: purchases[x].time - firstPurchase,
      T: options.observationEnd - firstPurchase,
      ...(spend && x > 0 ? { mValue: repeatSpend / x } : {}),
      ...(options.keepPurchases ? { purchases } : {}),
    });
  }
  return customers;
}

/** Flattens simulated customers (simulated with keepPurchases) into a purchase log. */
export function toPurchaseLog(customers: readonly SimulatedCustomer[]): PurchaseEvent[] {
  const events: PurchaseEvent[] = [];
  for (const customer of customers) {
    if (!customer.purchases) throw new Error(`customer ${customer.id} was simulated without keepPurchases`);
    for (const purchase of customer.purchases) {
      const event: PurchaseEvent = { customerId: customer.id, time: purchase.time };
      if (purchase.value !== undefined) event.value = purchase.value;
      events.push(event);
    }
  }
  return events;
}

/**
 * A `vigil model fit --holdout` CSV (customer_id,date,value) of customers simulated in days (with keepPurchases):
 * purchase times become UTC dates counted from `startDate` (YYYY-MM-DD).
 */
export function purchaseLogCsv(customers: readonly SimulatedCustomer[], startDate: string): string {
  const origin = Date.parse(`${startDate}T00:00:00Z`);
  const day = (time: number) => new Date(origin + Math.floor(time) * 86_400_000).toISOString().slice(0, 10);
  const lines = toPurchaseLog(customers).map((p) => `${p.customerId},${day(p.time)},${(p.value ?? 0).toFixed(2)}`);
  return ['customer_id,date,value', ...lines].join('\n') + '\n';
}

/**
 * The simulated purchase log the README's holdout figures come from (scripts/simulate-purchase-log.ts writes it):
 * the CDNOW BG/NBD fit in days and the CDNOW spend model, customers acquired over the first 12 weeks from
 * 2024-01-01 and observed for 78 weeks; calibrate up to 2024-09-27 (about week 39) and hold out the rest.
 */
export const HOLDOUT_EXAMPLE = {
  startDate: '2024-01-01',
  calibrationEnd: '2024-09-27',
  simulate: (customers = 8000, seed = 33): SimulatedCustomer[] =>
    simulateCustomers({
      customers,
      bgNbd: { r: 0.24, alpha: 4.41 * 7, a: 0.79, b: 2.43 },
      gammaGamma: { p: 6.25, q: 3.74, gamma: 15.44 },
      observationEnd: 546,
      acquisition: [0, 84],
      seed,
      keepPurchases: true,
    }),
};
