// The CDNOW sample (2,357 customers, weeks; tests/fixtures/cdnow/README.md) for the model tests: the summaries the
// published fits were made on, and the purchase log they came from.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { CustomerSummary } from './mle.js';
import type { PurchaseEvent } from './purchaseLog.js';

const dir = fileURLToPath(new URL('../../../tests/fixtures/cdnow/', import.meta.url));

/** x, t_x, T in weeks, calibration to week 39 (1997-09-30), as in Fader, Hardie & Lee's papers. */
export function cdnowSummaries(): CustomerSummary[] {
  const lines = readFileSync(`${dir}cdnow_customers_summary.csv`, 'utf8').trim().split('\n').slice(1);
  return lines.map((line) => {
    const [, x, tx, T] = line.split(',').map(Number);
    return { x, tx, T };
  });
}

/** Every purchase, time in weeks since 1997-01-01 (same-day purchases merge when summarised). */
export function cdnowPurchases(): PurchaseEvent[] {
  const origin = Date.parse('1997-01-01T00:00:00Z');
  const lines = readFileSync(`${dir}cdnow_sample_log.csv`, 'utf8').trim().split('\n').slice(1);
  return lines.map((line) => {
    const [customerId, date, value] = line.split(',');
    return { customerId, time: (Date.parse(`${date}T00:00:00Z`) - origin) / (7 * 86_400_000), value: Number(value) };
  });
}
