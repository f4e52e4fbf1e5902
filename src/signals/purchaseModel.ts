// The live purchase model: BG/NBD (or the count model the refit's holdout comparison chose: Pareto/NBD, MBG/NBD) for
// P(alive) and expected purchases, Gamma-Gamma for spend, in days. Also the one
// definition of a customer's model inputs (x, t_x, T, mean repeat spend), shared by the live windows and
// `vigil model fit`, so the live values and the offline ones are computed from the same numbers.
import type { VigilConfig } from '../config/schema.js';
import { VigilError } from '../shared/errors.js';
import { expectedPurchases, pAlive, type BgNbdParams } from './models/bgnbd.js';
import { expectedAverageValue, type GammaGammaParams, type LifetimeValueOptions } from './models/gammaGamma.js';
import { COUNT_MODELS, type CountModelName, type ModelParams } from './models/countModels.js';
import { bgNbdForecast, ForecastTable } from './forecastTable.js';
import type { Interval } from './models/uncertainty.js';
import { liveCustomerIntervals, type Covariance, type CustomerIntervals, type LiveEstimates } from './liveIntervals.js';

/** What the churn signal needs of a purchase model (BG/NBD with Gamma-Gamma), in days. */
export interface PurchaseModel {
  readonly name: string;
  pAlive(x: number, tx: number, T: number): number;
  expectedPurchases(t: number, x: number, tx: number, T: number): number;
  /** Expected customer value over the configured horizon, discounted; meanRepeatSpend as modelInputs gives it. */
  customerValue(x: number, tx: number, T: number, meanRepeatSpend: number): number;
  /**
   * P(alive) with its 90 % delta-method interval, for a fit stored with its parameters' covariance (absent for the
   * config's parameters). A handful of P(alive) evaluations: for reasons, read where they are shown, not per event.
   */
  pAliveInterval?(x: number, tx: number, T: number): Interval;
  /**
   * The 90 % intervals of P(alive), expected purchases in 90 days and customer value (liveCustomerIntervals), for a fit
   * stored with its covariance; the value's only when the Gamma-Gamma fit's was stored too. A few hundred model
   * evaluations: only where they are shown (the at-risk list, alert reasons), never per event.
   */
  intervals?(x: number, tx: number, T: number, meanRepeatSpend: number, hasSpend: boolean): CustomerIntervals;
}

/**
 * One version of the purchase model: the pooled fit (its methods, its name the version's) and the fits of the
 * customer segments that had enough buyers, in the same version. A customer is scored with its segment's model.
 */
export interface PurchaseModelSet extends PurchaseModel {
  /** The segment's model of this version; the pooled one (this) for no segment or a segment without a fit. */
  forSegment(segment: string | null): PurchaseModel;
  /** The segments with a fit of their own. */
  readonly segments: readonly string[];
}

type ModelConfig = VigilConfig['signals']['model'];

const PERIOD_DAYS = 30;
const DAY_MIN = 1440;

/** A customer's purchases as the live windows and the events table both summarise them, in epoch minutes. */
export interface PurchaseHistory {
  /** Every purchase event, the first included. */
  purchases: number;
  firstMin: number;
  lastMin: number;
  /** Sum of the purchases' values. */
  revenue: number;
  /** Value of the first purchase (the earliest by event time). */
  firstValue: number;
}

/** What BG/NBD and Gamma-Gamma take for one customer, in days. */
export interface ModelInputs {
  /** Repeat purchases: every purchase after the first (each purchase event counts, also two in one minute). */
  x: number;
  /** Days from the first purchase to the last (minute resolution). */
  tx: number;
  /** Days from the first purchase to now (minute resolution), at least t_x. */
  T: number;
  /** Mean value of the repeat purchases; 0 without repeat purchases, never negative. */
  meanRepeatSpend: number;
  /** False when no purchase carried a positive value: no spend to model, and customer value is 0. */
  hasSpend: boolean;
}

export function modelInputs(h: PurchaseHistory, nowMin: number): ModelInputs {
  const x = h.purchases - 1;
  const tx = (h.lastMin - h.firstMin) / DAY_MIN;
  const T = Math.max(tx, (nowMin - h.firstMin) / DAY_MIN);
  const meanRepeatSpend = x > 0 ? Math.max(0, (h.revenue - h.firstValue) / x) : 0;
  return { x, tx, T, meanRepeatSpend, hasSpend: h.revenue > 0 };
}

/** Monthly periods over the value horizon, discounted so a purchase a year out loses exactly the yearly rate. */
export function lifetimeValueOptions(cfg: Pick<ModelConfig, 'valueHorizonDays' | 'annualDiscountRate'>): LifetimeValueOptions {
  return {
    horizonPeriods: Math.max(1, Math.round(cfg.valueHorizonDays / PERIOD_DAYS)),
    discountRatePerPeriod: Math.pow(1 + cfg.annualDiscountRate, PERIOD_DAYS / 365) - 1,
    periodLength: PERIOD_DAYS,
  };
}

/**
 * Throws MODEL_INPUT_INVALID for parameters the live model cannot use: every one finite and positive, and q > 1
 * (else a customer without repeat purchases has no finite expected spend).
 */
export function validateModelParams(counts: BgNbdParams | ModelParams, gg: GammaGammaParams): void {
  for (const [name, v] of Object.entries({ ...counts, ...gg })) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new VigilError('MODEL_INPUT_INVALID', `purchase model parameter ${name} must be a positive number, got ${String(v)}`);
    }
  }
  if (gg.q <= 1) throw new VigilError('MODEL_INPUT_INVALID', `Gamma-Gamma q = ${gg.q} ≤ 1 gives no finite mean spend for new buyers`);
}

/**
 * The live model of a BG/NBD fit: pAlive and the forecast table called directly (the per-event path stays
 * monomorphic); createCountPurchaseModel for the others.
 */
export function createPurchaseModel(
  cfg: Pick<ModelConfig, 'valueHorizonDays' | 'annualDiscountRate'>,
  bg: BgNbdParams,
  gg: GammaGammaParams,
  name: string,
  /** Covariance of ln(r, alpha, a, b) at the fit (the inverse observed information): P(alive) gets an interval. */
  logCovariance?: Covariance | null,
  /** Covariance of ln(p, q, gamma) of the Gamma-Gamma fit: customer value gets an interval too. */
  spendLogCovariance?: Covariance | null,
): PurchaseModel {
  validateModelParams(bg, gg);
  const options = lifetimeValueOptions(cfg);
  // Snapshots read the 30- and 90-day expectations and the value: from a table, not a series per call (forecastTable.ts).
  const table = new ForecastTable(bgNbdForecast(bg), [30, 90], options);
  const live: LiveEstimates = {
    pAlive: (x, tx, T) => pAlive(bg, x, tx, T),
    expectedPurchases: (t, x, tx, T) => {
      const k = table.horizonIndex(t);
      return k < 0 ? expectedPurchases(bg, t, x, tx, T) : pAlive(bg, x, tx, T) * table.ifAlive(k, x, T);
    },
    // The discounted sum of customerLifetimeValue, regrouped: P(alive) × expected spend × discounted purchases if alive.
    customerValue: (x, tx, T, meanRepeatSpend) => pAlive(bg, x, tx, T) * expectedAverageValue(gg, x, Math.max(0, meanRepeatSpend)) * table.discountedPurchases(x, T),
  };
  const counts = usableCovariance(logCovariance, 4) ? logCovariance : null;
  return {
    name,
    pAlive: live.pAlive,
    expectedPurchases: live.expectedPurchases,
    customerValue: live.customerValue,
    // One shape for every model (no conditional spread): the per-event calls stay monomorphic.
    pAliveInterval: counts ? pAliveInterval((p, x, tx, T) => pAlive(p as unknown as BgNbdParams, x, tx, T), { ...bg }, COUNT_MODELS.bgnbd.paramNames, counts) : undefined,
    intervals: counts ? liveCustomerIntervals(COUNT_MODELS.bgnbd, { ...bg }, counts, gg, spendCovariance(spendLogCovariance), options, live) : undefined,
  };
}

/**
 * The live model of any count model's fit (countModels.ts), the one the refit's holdout comparison chose: its own
 * P(alive) and E[Y(t) | alive] (through the same forecast table), Gamma-Gamma for spend as with BG/NBD.
 */
export function createCountPurchaseModel(
  cfg: Pick<ModelConfig, 'valueHorizonDays' | 'annualDiscountRate'>,
  model: CountModelName,
  params: ModelParams,
  gg: GammaGammaParams,
  name: string,
  /** Covariance of the log-parameters in the model's paramNames order. */
  logCovariance?: Covariance | null,
  /** Covariance of ln(p, q, gamma) of the Gamma-Gamma fit. */
  spendLogCovariance?: Covariance | null,
): PurchaseModel {
  if (model === 'bgnbd') return createPurchaseModel(cfg, params as unknown as BgNbdParams, gg, name, logCovariance, spendLogCovariance);
  const spec = COUNT_MODELS[model];
  for (const key of spec.paramNames) if (typeof params[key] !== 'number') throw new VigilError('MODEL_INPUT_INVALID', `${spec.label} parameters need ${key}`);
  const own: ModelParams = Object.fromEntries(spec.paramNames.map((k) => [k, params[k]]));
  validateModelParams(own, gg);
  const options = lifetimeValueOptions(cfg);
  const table = new ForecastTable({ alpha: own.alpha, ifAlive: (t, x, T) => spec.expectedIfAlive(own, t, x, T) }, [30, 90], options);
  const alive = (x: number, tx: number, T: number): number => spec.pAlive(own, x, tx, T);
  const live: LiveEstimates = {
    pAlive: alive,
    expectedPurchases: (t, x, tx, T) => {
      const k = table.horizonIndex(t);
      return k < 0 ? spec.expectedPurchases(own, t, x, tx, T) : alive(x, tx, T) * table.ifAlive(k, x, T);
    },
    customerValue: (x, tx, T, meanRepeatSpend) => alive(x, tx, T) * expectedAverageValue(gg, x, Math.max(0, meanRepeatSpend)) * table.discountedPurchases(x, T),
  };
  const counts = usableCovariance(logCovariance, spec.paramNames.length) ? logCovariance : null;
  return {
    name,
    pAlive: live.pAlive,
    expectedPurchases: live.expectedPurchases,
    customerValue: live.customerValue,
    pAliveInterval: counts ? pAliveInterval(spec.pAlive, own, spec.paramNames, counts) : undefined,
    intervals: counts ? liveCustomerIntervals(spec, own, counts, gg, spendCovariance(spendLogCovariance), options, live) : undefined,
  };
}

const Z90 = 1.6448536269514722;
const STEP = 1e-5;
const logit = (v: number): number => Math.log(v) - Math.log1p(-v);

/**
 * uncertainty.ts's deltaInterval for P(alive) on the logit scale (the same central differences in the log-parameters
 * and the same sums), without its objects: one parameter object moved in place, about 1 µs a customer instead of 6.
 */
function pAliveInterval(
  alive: (p: ModelParams, x: number, tx: number, T: number) => number,
  params: ModelParams,
  names: readonly string[],
  cov: Covariance,
): (x: number, tx: number, T: number) => Interval {
  const n = names.length;
  const moved: ModelParams = { ...params };
  const gradient = new Float64Array(n);
  return (x, tx, T) => {
    const estimate = alive(params, x, tx, T);
    for (let i = 0; i < n; i++) {
      const name = names[i];
      moved[name] = params[name] * Math.exp(STEP);
      const up = logit(alive(moved, x, tx, T));
      moved[name] = params[name] * Math.exp(-STEP);
      const down = logit(alive(moved, x, tx, T));
      moved[name] = params[name];
      gradient[i] = (up - down) / (2 * STEP);
    }
    let variance = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) variance += gradient[i] * cov[i][j] * gradient[j];
    const center = logit(estimate);
    if (!Number.isFinite(center)) return { estimate, lower: estimate, upper: estimate, level: 0.9 };
    const half = Z90 * Math.sqrt(Math.max(0, variance));
    return { estimate, lower: 1 / (1 + Math.exp(-(center - half))), upper: 1 / (1 + Math.exp(-(center + half))), level: 0.9 };
  };
}

/** The Gamma-Gamma fit's 3 × 3 covariance when usable, else null: the value then has no interval. */
function spendCovariance(m: Covariance | null | undefined): Covariance | null {
  return usableCovariance(m, 3) ? m : null;
}

/** An n × n matrix of finite numbers (a stored fit's), else no interval. */
function usableCovariance(m: Covariance | null | undefined, n: number): m is Covariance {
  return Array.isArray(m) && m.length === n && m.every((row) => Array.isArray(row) && row.length === n && row.every((v) => typeof v === 'number' && Number.isFinite(v)));
}

/** A segment's model's name: the version's, then the segment (customer_signals.model says which scored a row). */
export function segmentModelName(version: string, segment: string): string {
  return `${version}@${segment}`;
}

/** The version's set: `pooled` for every customer, but those of a segment in `segments` (named by segmentModelName). */
export function purchaseModelSet(pooled: PurchaseModel, segments: ReadonlyMap<string, PurchaseModel> = new Map()): PurchaseModelSet {
  const set: PurchaseModelSet = {
    name: pooled.name,
    pAlive: pooled.pAlive,
    expectedPurchases: pooled.expectedPurchases,
    customerValue: pooled.customerValue,
    pAliveInterval: pooled.pAliveInterval,
    intervals: pooled.intervals,
    // One Map lookup per scored event; a customer without a segment skips it.
    forSegment: (segment) => (segment === null ? set : (segments.get(segment) ?? set)),
    segments: [...segments.keys()].sort(),
  };
  return set;
}

/** The model from config parameters, used until fitted parameters are stored: no segment has its own. */
export function configuredPurchaseModel(cfg: ModelConfig): PurchaseModelSet {
  return purchaseModelSet(createPurchaseModel(cfg, cfg.bgnbd, cfg.gammaGamma, 'bgnbd-gg:config'));
}
