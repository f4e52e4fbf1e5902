// What the scheduled refit reads from ClickHouse besides the fit itself: the last accepted BG/NBD version with its
// log-likelihood (for the drift check) and how many purchases came after it (for the schedule). Runs on 18.16.
import { quoteIdentifier, type ClickHouseClient } from '../sinks/clickhouse/client.js';
import type { BgNbdParams } from '../signals/models/bgnbd.js';
import type { FitFigures } from './modelDrift.js';
import { BGNBD_MODEL } from './purchaseModels.js';

/** The latest converged pooled BG/NBD fit (the version the processors run), or null when none is stored. */
export async function readAcceptedFit(ch: ClickHouseClient): Promise<(FitFigures & { fittedAtMs: number }) | null> {
  const table = `${quoteIdentifier(ch.database)}.model_params`;
  const rows = await ch.query<{ params: string; log_likelihood: number; customers: string; fitted_s: string }>(
    `SELECT params, log_likelihood, customers, toUnixTimestamp(fitted_at) AS fitted_s
     FROM ${table}
     WHERE model = {bg:String} AND converged = 1 AND segment = ''
     ORDER BY fitted_at DESC
     LIMIT 1`,
    { bg: BGNBD_MODEL },
  );
  const row = rows[0];
  if (!row) return null;
  const p = JSON.parse(row.params) as BgNbdParams;
  return {
    params: { r: p.r, alpha: p.alpha, a: p.a, b: p.b },
    logLikelihood: Number(row.log_likelihood),
    customers: Number(row.customers),
    converged: true,
    fittedAtMs: Number(row.fitted_s) * 1000,
  };
}

/**
 * Purchases received after `sinceMs` (every purchase when null): arrivals, not event times, so late history counts too.
 * received_at has whole seconds: a purchase received in the fit's own second counts as before it.
 */
export async function countPurchasesSince(ch: ClickHouseClient, sinceMs: number | null): Promise<number> {
  const rows = await ch.query<{ n: string }>(
    `SELECT count() AS n FROM ${quoteIdentifier(ch.database)}.events FINAL WHERE type = 'purchase' AND received_at > toDateTime({since:UInt32})`,
    { since: Math.max(0, Math.floor((sinceMs ?? 0) / 1000)) },
  );
  return Number(rows[0]?.n ?? 0);
}

/**
 * The date of the latest stored pooled BG/NBD fit, converged or not (a failed fit is a fit too: no refit on the same
 * data).
 */
export async function latestFitDate(ch: ClickHouseClient): Promise<number | null> {
  const rows = await ch.query<{ fitted_s: string; n: string }>(
    `SELECT toUnixTimestamp(max(fitted_at)) AS fitted_s, count() AS n FROM ${quoteIdentifier(ch.database)}.model_params WHERE model = {bg:String} AND segment = ''`,
    { bg: BGNBD_MODEL },
  );
  return rows[0] && Number(rows[0].n) > 0 ? Number(rows[0].fitted_s) * 1000 : null;
}
