// The purchase models' source: the latest fit read from ClickHouse's `model_params` into the live path (the churn
// signal), re-read on a timer; and, for `vigil model fit`, every customer's purchase history read from `events` and
// the fitted parameters written back. The SQL runs on 18.16 (Debian's server) and on current versions (the tests run
// it on both).
import type { VigilConfig } from '../config/schema.js';
import type { BgNbdParams } from '../signals/models/bgnbd.js';
import type { GammaGammaParams } from '../signals/models/gammaGamma.js';
import { COUNT_MODELS, type CountModelName, type ModelParams } from '../signals/models/countModels.js';
import { createCountPurchaseModel, createPurchaseModel, purchaseModelSet, segmentModelName, type PurchaseHistory, type PurchaseModel, type PurchaseModelSet } from '../signals/purchaseModel.js';
import { backgroundClock, every, type Scheduler } from '../shared/clock.js';
import { errorMessage, VigilError } from '../shared/errors.js';
import { stepPacer } from '../shared/pacing.js';
import type { Logger } from '../shared/logger.js';
import { quoteIdentifier, toChDateTime, type ClickHouseClient } from '../sinks/clickhouse/client.js';
import type { ModelParamsRow } from '../sinks/clickhouse/tables.js';

type ModelConfig = VigilConfig['signals']['model'];

/** `model_params.model` of each fitted model. */
export const BGNBD_MODEL = 'bgnbd';
export const GAMMA_GAMMA_MODEL = 'gamma_gamma';
/**
 * The count models a version may score with instead of BG/NBD: a version holds a pooled fit of one of them (on the
 * same history, same fit date) only when the refit's holdout comparison chose it, so its presence is the choice.
 */
export const CHOSEN_MODELS = ['pareto_nbd', 'mbg_nbd'] as const;
export type ChosenModelName = (typeof CHOSEN_MODELS)[number];

export interface CustomerPurchaseHistory {
  customerId: string;
  history: PurchaseHistory;
  /** The customer's latest segment ('' for none), when read with `segments`. */
  segment?: string;
  /** The purchases up to `calibrationEndMs`, when read with it and the customer had one by then. */
  calibration?: PurchaseHistory;
}

/**
 * One row per customer with a purchase at or before `asOfMs`, in epoch minutes as the live windows keep them. The
 * first purchase is the earliest by event time (argMin over milliseconds, as the live windows order it); FINAL
 * counts a redelivered event once. Holds one row per customer in memory (about 100 bytes each). `pace`, a worker's
 * pacer (shared/pacing.ts), is handed the time of each slice of rows parsed and built, so a refit's read backs off
 * while the processor is busy as its fits do.
 */
export async function readPurchaseHistories(
  ch: ClickHouseClient,
  asOfMs: number,
  opts: { segments?: boolean; calibrationEndMs?: number; pace?: (workedMs: number) => void } = {},
): Promise<CustomerPurchaseHistory[]> {
  const db = quoteIdentifier(ch.database);
  // The holdout comparison's calibration histories come in the same scan (-If aggregates, as on 18.16), not a second.
  const calibration =
    opts.calibrationEndMs === undefined
      ? ''
      : `,
       countIf(ts_ms <= {cal:UInt64}) AS cal_purchases,
       intDiv(minIf(ts_ms, ts_ms <= {cal:UInt64}), 60000) AS cal_first_min,
       intDiv(maxIf(ts_ms, ts_ms <= {cal:UInt64}), 60000) AS cal_last_min,
       sumIf(value, ts_ms <= {cal:UInt64}) AS cal_revenue,
       argMinIf(value, ts_ms, ts_ms <= {cal:UInt64}) AS cal_first_value`;
  const histories = `SELECT
       customer_id,
       count() AS purchases,
       intDiv(min(ts_ms), 60000) AS first_min,
       intDiv(max(ts_ms), 60000) AS last_min,
       sum(value) AS revenue,
       argMin(value, ts_ms) AS first_value${calibration}
     FROM ${db}.events FINAL
     WHERE type = 'purchase' AND ts_ms <= {asOf:UInt64}
     GROUP BY customer_id`;
  // The latest segment any event named (customer_segments, migration 0010), as the live windows hold it; ANY LEFT
  // JOIN … USING reads the same on 18.16 and current servers, '' for a customer that never had one.
  // Columns in this order: the rows come as text fields (queryText), a million of them at a refit. In customer order:
  // a server aggregating in several threads returns groups in any order, and the fits' sums and samples follow the
  // rows' order, so the same purchases would give parameters that differ in the seventh digit (about 0.5 s at a million).
  const columns = ['customer_id', 'purchases', 'first_min', 'last_min', 'revenue', 'first_value'];
  if (opts.calibrationEndMs !== undefined) columns.push('cal_purchases', 'cal_first_min', 'cal_last_min', 'cal_revenue', 'cal_first_value');
  const sql = opts.segments
    ? `SELECT ${columns.join(', ')}, latest_segment
       FROM (${histories}) AS h
       ANY LEFT JOIN (SELECT customer_id, argMax(segment, ts_ms) AS latest_segment FROM ${db}.customer_segments GROUP BY customer_id) AS s USING customer_id
       ORDER BY customer_id`
    : `SELECT ${columns.join(', ')} FROM (${histories}) ORDER BY customer_id`;
  const step = stepPacer(opts.pace);
  const rows = await ch.queryText(sql, { asOf: Math.floor(asOfMs), cal: Math.floor(opts.calibrationEndMs ?? 0) }, step);
  const segmentAt = columns.length;
  return rows.map((f) => {
    step();
    const h: CustomerPurchaseHistory = {
      customerId: f[0],
      history: { purchases: Number(f[1]), firstMin: Number(f[2]), lastMin: Number(f[3]), revenue: Number(f[4]), firstValue: Number(f[5]) },
    };
    if (opts.segments) h.segment = f[segmentAt] ?? '';
    if (opts.calibrationEndMs !== undefined && Number(f[6]) > 0) {
      h.calibration = { purchases: Number(f[6]), firstMin: Number(f[7]), lastMin: Number(f[8]), revenue: Number(f[9]), firstValue: Number(f[10]) };
    }
    return h;
  });
}

/** One fit of one model, as `vigil model fit` stores it. */
export interface ModelFitRecord {
  model: typeof BGNBD_MODEL | typeof GAMMA_GAMMA_MODEL | ChosenModelName;
  params: BgNbdParams | GammaGammaParams | ModelParams;
  logLikelihood: number;
  customers: number;
  converged: boolean;
  /** The segment the fit is of; absent for the pooled fit. */
  segment?: string;
  /**
   * Covariance of the log-parameters, stored in params as `logCovariance`: a count model's gives the live P(alive) and
   * expected purchases intervals, Gamma-Gamma's (of ln p, q, gamma) with it the value's.
   */
  logCovariance?: readonly (readonly number[])[] | null;
}

/** Appends the fits (one row per model) with one fit date, so the processor can take the pair together. */
export async function storeModelFits(ch: ClickHouseClient, fittedAtMs: number, source: string, fits: readonly ModelFitRecord[]): Promise<void> {
  const rows: ModelParamsRow[] = fits.map((f) => ({
    fitted_at: toChDateTime(fittedAtMs),
    model: f.model,
    params: JSON.stringify({ ...f.params, unit: 'days', ...(f.logCovariance ? { logCovariance: f.logCovariance } : {}) }),
    log_likelihood: f.logLikelihood,
    customers: f.customers,
    converged: f.converged ? 1 : 0,
    source,
    segment: f.segment ?? '',
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
  /** Its stored covariance of ln(p, q, gamma), where stored (older rows have none: no value interval). */
  gammaGammaLogCovariance?: number[][];
  /**
   * The converged fits of customer segments in this version, by segment (none: pooled for all): of the count model
   * the version scores with (the chosen one, else BG/NBD).
   */
  segments?: Record<string, { model: CountModelName; params: ModelParams }>;
  /** Stored log-covariances by segment ('' the pooled BG/NBD fit's), where stored: P(alive) intervals. */
  logCovariance?: Record<string, number[][]>;
  /**
   * The count model the holdout comparison chose, when not BG/NBD: its pooled fit scores every customer without a
   * segment fit of their own (BG/NBD stays the drift reference).
   */
  chosen?: { model: ChosenModelName; params: ModelParams; logCovariance: number[][] | null };
}

/**
 * `bgnbd-gg:2026-11-23T12:00:00Z`, or `bgnbd:…,gg:config` when the spend model comes from the config; the chosen
 * count model's name in place of `bgnbd` when the version scores with it (`pareto_nbd-gg:…`).
 */
export function storedModelName(m: Pick<StoredModel, 'fittedAtMs' | 'gammaGamma'> & Partial<StoredModel>): string {
  const at = new Date(m.fittedAtMs).toISOString().replace('.000Z', 'Z');
  const counts = m.chosen?.model ?? BGNBD_MODEL;
  return m.gammaGamma ? `${counts}-gg:${at}` : `${counts}:${at},gg:config`;
}

/**
 * The latest converged fit (a version: its pooled BG/NBD converged), or with `fittedAtMs` the version of that fit
 * date; null when there is none. Throws on parameters that are not a fit's JSON.
 */
export async function readLatestModel(ch: ClickHouseClient, fittedAtMs?: number): Promise<StoredModel | null> {
  const table = `${quoteIdentifier(ch.database)}.model_params`;
  // A scalar subquery rather than LIMIT BY or window functions: the same text runs on 18.16.
  const at =
    fittedAtMs === undefined
      ? `(SELECT max(fitted_at) FROM ${table} WHERE model = {bg:String} AND converged = 1 AND segment = '')`
      : `(SELECT max(fitted_at) FROM ${table} WHERE model = {bg:String} AND converged = 1 AND segment = '' AND fitted_at = toDateTime({at:UInt32}))`;
  const rows = await ch.query<{ model: string; params: string; fitted_s: string; segment: string }>(
    `SELECT model, params, toUnixTimestamp(fitted_at) AS fitted_s, segment
     FROM ${table}
     WHERE fitted_at = ${at}
       AND model IN ({bg:String}, {gg:String}, {pareto:String}, {mbg:String}) AND converged = 1
     ORDER BY model, segment`,
    { bg: BGNBD_MODEL, gg: GAMMA_GAMMA_MODEL, pareto: CHOSEN_MODELS[0], mbg: CHOSEN_MODELS[1], at: Math.floor((fittedAtMs ?? 0) / 1000) },
  );
  const bg = rows.find((r) => r.model === BGNBD_MODEL && !r.segment);
  if (!bg) return null;
  const gg = rows.find((r) => r.model === GAMMA_GAMMA_MODEL && !r.segment);
  const spendCovariance = gg ? covarianceOf(gg.params) : null;
  const segments: NonNullable<StoredModel['segments']> = {};
  const logCovariance: Record<string, number[][]> = {};
  for (const r of rows) {
    const model = r.model === BGNBD_MODEL ? BGNBD_MODEL : CHOSEN_MODELS.find((m) => m === r.model);
    if (!model || (!r.segment && model !== BGNBD_MODEL)) continue;
    if (r.segment) segments[r.segment] = { model, params: pick(r.params, COUNT_MODELS[model].paramNames) };
    const cov = covarianceOf(r.params);
    if (cov) logCovariance[r.segment ?? ''] = cov;
  }
  return {
    fittedAtMs: Number(bg.fitted_s) * 1000,
    bgnbd: pick(bg.params, ['r', 'alpha', 'a', 'b']) as unknown as BgNbdParams,
    gammaGamma: gg ? (pick(gg.params, ['p', 'q', 'gamma']) as unknown as GammaGammaParams) : null,
    ...(spendCovariance ? { gammaGammaLogCovariance: spendCovariance } : {}),
    segments,
    ...(Object.keys(logCovariance).length > 0 ? { logCovariance } : {}),
    ...chosenOf(rows),
  };
}

/** The pooled fit of a chosen count model among a version's rows (at most one is stored; the first if more). */
function chosenOf(rows: readonly { model: string; params: string; segment: string }[]): Pick<StoredModel, 'chosen'> {
  for (const r of rows) {
    const model = CHOSEN_MODELS.find((m) => m === r.model);
    if (!model || r.segment) continue;
    return { chosen: { model, params: pick(r.params, COUNT_MODELS[model].paramNames), logCovariance: covarianceOf(r.params) } };
  }
  return {};
}

/** A fit's stored `logCovariance` (fits stored before it was kept have none: no interval, not an error). */
function covarianceOf(json: string): number[][] | null {
  try {
    const m = (JSON.parse(json) as { logCovariance?: unknown }).logCovariance;
    return Array.isArray(m) ? (m as number[][]) : null;
  } catch {
    return null;
  }
}

/** The fit date of a stored version's name (storedModelName), or null for the config's (`bgnbd-gg:config`). */
export function versionFittedAt(name: string): number | null {
  const m = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/.exec(name);
  return m ? Date.parse(m[0]) : null;
}

/**
 * The live model set of a stored version: the pooled fit (the chosen count model's when the version has one, else
 * BG/NBD's) for every customer, each segment's fit (of the same count model, with the pooled spend model) for that segment's. Throws when the pooled parameters cannot be used; a segment whose parameters
 * cannot be is left to the pooled fit and named in `unusable`.
 */
export function storedModelSet(config: Pick<ModelConfig, 'valueHorizonDays' | 'annualDiscountRate' | 'gammaGamma'>, stored: StoredModel): { set: PurchaseModelSet; unusable: string[] } {
  const name = storedModelName(stored);
  const gg = stored.gammaGamma ?? config.gammaGamma;
  // The config's spend parameters have no covariance: no value interval with them.
  const spend = stored.gammaGamma ? stored.gammaGammaLogCovariance : null;
  const pooled = stored.chosen
    ? createCountPurchaseModel(config, stored.chosen.model, stored.chosen.params, gg, name, stored.chosen.logCovariance, spend)
    : createPurchaseModel(config, stored.bgnbd, gg, name, stored.logCovariance?.[''], spend);
  const segments = new Map<string, PurchaseModel>();
  const unusable: string[] = [];
  for (const [segment, fit] of Object.entries(stored.segments ?? {})) {
    try {
      segments.set(segment, createCountPurchaseModel(config, fit.model, fit.params, gg, segmentModelName(name, segment), stored.logCovariance?.[segment], spend));
    } catch {
      unusable.push(segment);
    }
  }
  return { set: purchaseModelSet(pooled, segments), unusable };
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
  readonly model: PurchaseModelSet;
  setModel(model: PurchaseModelSet): void;
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
        const { set, unusable } = storedModelSet(config, stored);
        target.setModel(set);
        said = name;
        log.info({ model: name, bgnbd: stored.bgnbd, gammaGamma: stored.gammaGamma ?? 'config', segments: set.segments, unusableSegments: unusable }, 'purchase model parameters loaded from model_params');
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
