// Simulated purchase histories for the refit tests: BG/NBD customers over 60 days ending two days before `origin`'s
// end, as purchase events with their ids, customers (named by a prefix) and values.
import { DAY_MS as DAY } from '../../src/shared/clock.js';
import { simulateCustomers } from '../../src/signals/models/simulate.js';

export type Purchase = { id: string; customerId: string; type: string; ts: number; value: number; segment?: string };
export type BgNbdProcess = { r: number; alpha: number; a: number; b: number };

/** Purchases of `customers` simulated customers, ids and customer ids prefixed by `prefix`; `segment` named on each. */
export function purchaseHistory(origin: number, prefix: string, customers: number, bgNbd: BgNbdProcess, seed: number, segment?: string): Purchase[] {
  const simulated = simulateCustomers({ customers, bgNbd, gammaGamma: { p: 6, q: 4, gamma: 20 }, observationEnd: 60, acquisition: [0, 40], seed, keepPurchases: true });
  return simulated.flatMap((c) =>
    (c.purchases ?? []).map((p, i) => ({
      id: `${prefix}-${c.id}-${i}`,
      customerId: `${prefix}-${c.id}`,
      type: 'purchase',
      ts: Math.round(origin + p.time * DAY),
      value: Number((p.value ?? 0).toFixed(2)),
      ...(segment === undefined ? {} : { segment }),
    })),
  );
}
