// The scheduled refit's reads on both engines: Debian's ClickHouse 18.16 (the server) and current ClickHouse (chdb):
// the last accepted BG/NBD version with its log-likelihood, the latest fit date converged or not, and the purchases
// received after it.
import { describe, expect, it } from 'vitest';
import { toChDateTime, type ClickHouseClient } from '../../src/sinks/clickhouse/client.js';
import type { EventRow } from '../../src/sinks/clickhouse/tables.js';
import { countPurchasesSince, latestFitDate, readAcceptedFit } from '../../src/sources/modelRefitQueries.js';
import { BGNBD_MODEL, GAMMA_GAMMA_MODEL, storeModelFits } from '../../src/sources/purchaseModels.js';
import { CLICKHOUSE_ENGINES, onMigratedDatabase } from '../helpers/bothEngines.js';

const T = Date.parse('2026-11-20T12:00:00Z');

function purchase(id: string, receivedMs: number, type = 'purchase'): EventRow {
  return { id, customer_id: 'c', type, ts: toChDateTime(T - 86_400_000), ts_ms: T - 86_400_000, channel: '', value: 1, segment: '', campaign_id: '', props: '{}', received_at: toChDateTime(receivedMs), stream_seq: 1 };
}

describe.each(CLICKHOUSE_ENGINES)('the refit queries in %s', (_name, make) => {
  let ch: ClickHouseClient;
  onMigratedDatabase(make, (c) => (ch = c));

  it('finds no fit and counts every purchase before the first fit, then counts only what was received after the latest', async () => {
    await ch.insert('events', [purchase('p1', T - 10_000), purchase('p2', T), purchase('v1', T + 5_000, 'page_view'), purchase('p3', T + 1_000), purchase('p4', T + 60_000)]);
    expect(await readAcceptedFit(ch)).toBeNull();
    expect(await latestFitDate(ch)).toBeNull();
    expect(await countPurchasesSince(ch, null)).toBe(4);

    const params = { r: 0.25, alpha: 30, a: 0.8, b: 2.4 };
    await storeModelFits(ch, T, 'test', [
      { model: BGNBD_MODEL, params, logLikelihood: -400, customers: 100, converged: true },
      { model: GAMMA_GAMMA_MODEL, params: { p: 6, q: 4, gamma: 20 }, logLikelihood: -50, customers: 40, converged: true },
    ]);
    // a later fit that did not converge: the latest fit date, but not the accepted version
    await storeModelFits(ch, T + 30_000, 'test', [{ model: BGNBD_MODEL, params: { r: 9, alpha: 1, a: 1, b: 1 }, logLikelihood: -900, customers: 120, converged: false }]);
    expect(await readAcceptedFit(ch)).toEqual({ params, logLikelihood: -400, customers: 100, converged: true, fittedAtMs: T });
    expect(await latestFitDate(ch)).toBe(T + 30_000);
    // received in the fit's second: before it; a second later: after it
    expect(await countPurchasesSince(ch, T)).toBe(2);
    expect(await countPurchasesSince(ch, T + 30_000)).toBe(1);
  });
});
