// The purchase histories bench/refitCost.ts refits: simulated customers from the BG/NBD and Gamma-Gamma processes
// (src/signals/models/simulate.ts) in three segments with processes of their own, acquired over 300 days and observed
// for a year up to a day before now, written to a scratch database's `events` as the processor writes purchases.
// About 3.1 purchases a customer; every segment has enough buyers for a fit of its own at the default
// signals.model.refit.minSegmentBuyers from 1,000 customers up.
import { DAY_MS } from '../src/shared/clock.js';
import type { BgNbdParams } from '../src/signals/models/bgnbd.js';
import { simulateCustomers } from '../src/signals/models/simulate.js';
import { toChDateTime, type ClickHouseClient } from '../src/sinks/clickhouse/client.js';
import type { EventRow } from '../src/sinks/clickhouse/tables.js';

/** Mean purchases a customer (first included): regular 2.7, new 1.9, vip 6.9; three in five buy again overall. */
export const SEGMENTS: readonly { segment: string; share: number; bgNbd: BgNbdParams }[] = [
  { segment: 'regular', share: 0.55, bgNbd: { r: 0.6, alpha: 45, a: 0.8, b: 2.5 } },
  { segment: 'new', share: 0.3, bgNbd: { r: 0.4, alpha: 50, a: 1.2, b: 2 } },
  { segment: 'vip', share: 0.15, bgNbd: { r: 1.5, alpha: 35, a: 0.5, b: 4 } },
];
/** CDNOW's spend model: a mean order of about 35. */
const SPEND = { p: 6.25, q: 3.74, gamma: 15.44 };
const OBSERVED_DAYS = 365;
const ACQUISITION: [number, number] = [0, 300];
/** Customers simulated and inserted at once: ~310,000 rows, ~30 MB of RowBinary. */
const BATCH_CUSTOMERS = 100_000;

export interface LoadResult {
  customers: number;
  purchases: number;
  ms: number;
  bySegment: Record<string, { customers: number; purchases: number }>;
}

/**
 * Simulates `customers` customers' purchases and inserts them into `ch`'s events table, batch by batch (the next
 * batch is simulated while the last one is inserted). Deterministic for a seed; ids `rf<segment initial><n>`.
 */
export async function loadPurchaseHistories(ch: ClickHouseClient, o: { customers: number; nowMs: number; seed: number; onBatch?: (done: number) => void }): Promise<LoadResult> {
  const t0 = performance.now();
  const origin = o.nowMs - (OBSERVED_DAYS + 1) * DAY_MS;
  const bySegment: LoadResult['bySegment'] = Object.fromEntries(SEGMENTS.map((s) => [s.segment, { customers: 0, purchases: 0 }]));
  let inserting: Promise<void> = Promise.resolve();
  let purchases = 0;
  for (let from = 0, batch = 0; from < o.customers; from += BATCH_CUSTOMERS, batch++) {
    const size = Math.min(BATCH_CUSTOMERS, o.customers - from);
    const rows: EventRow[] = [];
    let placed = 0;
    SEGMENTS.forEach((s, k) => {
      const n = k === SEGMENTS.length - 1 ? size - placed : Math.round(size * s.share);
      placed += n;
      const simulated = simulateCustomers({ customers: n, bgNbd: s.bgNbd, gammaGamma: SPEND, observationEnd: OBSERVED_DAYS, acquisition: ACQUISITION, seed: o.seed * 1_000 + batch * 10 + k, keepPurchases: true });
      for (const c of simulated) {
        const customerId = `rf${s.segment[0]}${from + Number(c.id.slice(1))}`;
        c.purchases!.forEach((p, i) => {
          const ms = Math.round(origin + p.time * DAY_MS);
          rows.push({
            id: `${customerId}-${i}`,
            customer_id: customerId,
            type: 'purchase',
            ts: toChDateTime(ms),
            ts_ms: ms,
            channel: 'web',
            value: Math.round((p.value ?? 0) * 100) / 100,
            segment: s.segment,
            campaign_id: '',
            props: '',
            received_at: toChDateTime(ms),
            stream_seq: 0,
          });
        });
        bySegment[s.segment].customers++;
        bySegment[s.segment].purchases += c.purchases!.length;
      }
    });
    purchases += rows.length;
    await inserting;
    o.onBatch?.(from);
    inserting = ch.insert('events', rows);
  }
  await inserting;
  o.onBatch?.(o.customers);
  return { customers: o.customers, purchases, ms: Math.round(performance.now() - t0), bySegment };
}
