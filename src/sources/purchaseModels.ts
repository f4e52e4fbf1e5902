// The purchase models' source: the latest fit read from ClickHouse's `model_params` into the live path (the churn
// signal), re-read on a timer; and, for `vigil model fit`, every customer's purchase history read from `events` and
// the fitted parameters written back. The SQL runs on 18.16 (Debian's server) and on current versions (the tests run
// it on both).
import type { VigilConfig } from '../config/schema.js';
import type { PurchaseModel } from '../signals/churn.js';
import type { BgNbdParams } from '../signals/models/bgnbd.js';
import type { GammaGammaParams } from '../signals/models/gammaGamma.js';
import { createPurchaseModel, type PurchaseHistory } from '../signals/purchaseModel.js';
import { backgroundClock, every, type Scheduler } from '../shared/clock.js';
import { errorMessage, VigilError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { quoteIdentifier, toChDateTime, type ClickHouseClient } from '../sinks/clickhouse/client.js';
import type { ModelParamsRow } from '../sinks/clickhouse/tables.js';

type ModelConfig = VigilConfig['signals']['model'];

/** `model_params.model` of each fitted model. */
export const BGNBD_MODEL = 'bgnbd';
export const GAMMA_GAMMA_MODEL = 'gamma_gamma';

export interface CustomerPurchaseHistory {
  customerId: string;
  history: PurchaseHistory;
}

/**
 * One row per customer with a purchase at or before `asOfMs`, in epoch minutes as the live windows keep them. The
 * first purchase is the earliest by event time (argMin over milliseconds, as the live windows order it); FINAL
 * counts a redelivered event once. Holds one row per customer in memory (about 100 bytes each).
 */
export async function readPurchaseHistories(ch: ClickHouseClient, asOfMs: number): Promise<CustomerPurchaseHistory[]> {
  const rows = await ch.query<{ customer_id: string; purchases: string; first_min: string; last_min: string; revenue: number; first_value: number }>(
    `SELECT
       customer_id,
       count() AS purchases,
       intDiv(min(ts_ms), 60000) AS first_min,
       intDiv(max(ts_ms), 60000) AS last_min,
       sum(value) AS revenue,
       argMin(value, ts_ms) AS first_value
     FROM ${quoteIdentifier(ch.database)}.events FINAL
     WHERE type = 'purchase' AND ts_ms <= {asOf:UInt64}
     GROUP BY customer_id`,
    { asOf: Math.floor(asOfMs) },
  );
  return rows.map((r) => ({
    customerId: r.customer_id,
    history: { purchases: Number(r.purchases), firstMin: Number(r.first_min), lastMin: Number(r.last_min), revenue: Number(r.revenue), firstValue: Number(r.first_value) },
  }));
}

/** One fit of one model, as `vigil model fit` stores it. */
export interface ModelFitRecord {
  model: typeof BGNBD_MODEL | typeof GAMMA_GAMMA_MODEL;
  params: BgNbdParams | GammaGammaParams;
  logLikelihood: number;
  customers: number;
  converged: boolean;
}

/** Appends the fits (one row per model) with one fit date, so the processor can take the pair together. */
export async function storeModelFits(ch: ClickHouseClient, fittedAtMs: number, source: string, fits: readonly ModelFitRecord[]): Promise<void> {
  const rows: ModelParamsRow[] = fits.map((f) => ({
    fitted_at: toChDateTime(fittedAtMs),
    model: f.model,
    params: JSON.stringify({ ...f.params, unit: 'days' }),
    log_likelihood: f.logLikelihood,
    customers: f.customers,
    converged: f.converged ? 1 : 0,
    source,
  }));
  await ch.insert('model_params', rows);
}

/** The parameters the processor runs on: the latest converged BG/NBD fit and the Gamma-Gamma fit stored with it. */
export interface StoredModel {
  /** Whole seconds, as `model_params.fitted_at` keeps them. */
  fittedAtMs: number;
  bgnbd: BgNbdParams;
  /** Null when that fit had no Gamma-Gamma (too few repeat buyers with spend) or it did not converge. */
  gammaGamma: GammaGammaParams | null;
}

/** `bgnbd-gg:2026-11-23T12:00:00Z`, or `bgnbd:…,gg:config` when the spend model comes from the config. */
export function storedModelName(m: StoredModel): string {
  const at = new Date(m.fittedAtMs).toISOString().replace('.000Z', 'Z');
  return m.gammaGamma ? `bgnbd-gg:${at}` : `bgnbd:${at},gg:config`;
}

/** The latest converged fit, or null when none is stored. Throws on parameters that are not a fit's JSON. */
export async function readLatestModel(ch: ClickHouseClient): Promise<StoredModel | null> {
  const table = `${quoteIdentifier(ch.database)}.model_params`;
  // A scalar subquery rather than LIMIT BY or window functions: the same text runs on 18.16.
  const rows = await ch.query<{ model: string; params: string; fitted_s: string; converged: number }>(
    `SELECT model, params, toUnixTimestamp(fitted_at) AS fitted_s, converged
     FROM ${table}
     WHERE fitted_at = (SELECT max(fitted_at) FROM ${table} WHERE model = {bg:String} AND converged = 1)
       AND model IN ({bg:String}, {gg:String}) AND converged = 1
     ORDER BY model`,
    { bg: BGNBD_MODEL, gg: GAMMA_GAMMA_MODEL },
  );
  const bg = rows.find((r) => r.model === BGNBD_MODEL);
  if (!bg) return null;
  const gg = rows.find((r) => r.model === GAMMA_GAMMA_MODEL);
  return {
    fittedAtMs: Number(bg.fitted_s) * 1000,
    bgnbd: pick(bg.params, ['r', 'alpha', 'a', 'b']) as unknown as BgNbdParams,
    gammaGamma: gg ? (pick(gg.params, ['p', 'q', 'gamma']) as unknown as GammaGammaParams) : null,
  };
}

function pick(json: string, keys: readonly string[]): Record<string, number> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    parsed = null;
  }
  const out: Record<string, number> = {};
  for (const k of keys) {
    const v = (parsed as Record<string, unknown> | null)?.[k];
    if (typeof v !== 'number') throw new VigilError('MODEL_INPUT_INVALID', `model_params.params ${JSON.stringify(json).slice(0, 120)} has no number ${k}`);
    out[k] = v;
  }
  return out;
}

/** What the watcher swaps the model of: the pipeline. */
export interface ModelTarget {
  readonly model: PurchaseModel;
  setModel(model: PurchaseModel): void;
}

export interface ModelWatch {
  /** Settles after the first read: the stored fit is in use, or the config defaults are, with a log line saying why. */
  readonly ready: Promise<void>;
  stop(): void;
}

/**
 * Reads the latest stored fit now and every `refreshMs`, and hands the pipeline a new model when it changed. Until a
 * fit is stored (or while ClickHouse cannot be read) the model stays what it was: the config defaults at start.
 */
export function watchStoredModel(opts: { ch: ClickHouseClient; config: ModelConfig; log: Logger; target: ModelTarget; clock?: Scheduler }): ModelWatch {
  const { ch, config, log, target, clock = backgroundClock } = opts;
  let said = '';
  const once = (what: string, say: () => void) => {
    if (said !== what) say();
    said = what;
  };
  let busy = false;
  const load = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      const stored = await readLatestModel(ch);
      if (!stored) {
        once('none', () => log.info({ model: target.model.name }, 'no fitted purchase model in model_params yet (run `vigil model fit`); using the config defaults signals.model.*'));
        return;
      }
      const name = storedModelName(stored);
      if (name === target.model.name) return;
      try {
        target.setModel(createPurchaseModel(config, stored.bgnbd, stored.gammaGamma ?? config.gammaGamma, name));
        said = name;
        log.info({ model: name, bgnbd: stored.bgnbd, gammaGamma: stored.gammaGamma ?? 'config' }, 'purchase model parameters loaded from model_params');
      } catch (err) {
        once(`bad ${name}`, () => log.warn({ model: name, err: errorMessage(err), keeping: target.model.name }, 'stored purchase model parameters cannot be used'));
      }
    } catch (err) {
      once('unreadable', () => log.warn({ err: errorMessage(err), keeping: target.model.name }, 'cannot read model_params; keeping the current purchase model'));
    } finally {
      busy = false;
    }
  };
  const stop = every(clock, config.refreshMs, () => void load());
  return { ready: load(), stop };
}
