// A customer's 90 % intervals of P(alive), expected purchases over 90 days and customer value, for where they are
// shown (the at-risk list, alert reasons), never per event: uncertainty.ts's delta method, without its objects.
import type { CountModel, ModelParams } from './models/countModels.js';
import type { GammaGammaParams, LifetimeValueOptions } from './models/gammaGamma.js';
import type { Interval } from './models/uncertainty.js';

export type Covariance = readonly (readonly number[])[];

export interface CustomerIntervals {
  pAlive: Interval;
  expectedPurchases90d: Interval;
  /** Customer value; null without the spend model's covariance (a fit stored before it was kept) or without spend. */
  value: Interval | null;
}

/** The live model's own estimates: the intervals are centred on what the wall and the signals show. */
export interface LiveEstimates {
  pAlive(x: number, tx: number, T: number): number;
  expectedPurchases(t: number, x: number, tx: number, T: number): number;
  customerValue(x: number, tx: number, T: number, meanRepeatSpend: number): number;
}

const Z90 = 1.6448536269514722;
const STEP = 1e-5;
const HORIZON = 90;
/** The grid of T (days) the spread is worked out on: an hour. */
const HOURS_PER_DAY = 24;
const HOUR = 1 / HOURS_PER_DAY;
/** Spreads kept before the memo starts over (a few hundred bytes each). */
const MAX_SPREADS = 10_000;
const logit = (v: number): number => Math.log(v) - Math.log1p(-v);

/**
 * Value = P(alive) × E[spend] (Gamma-Gamma) × discounted purchases if alive. Its log is a sum, so its gradient in
 * the log-parameters is the count model's part (central differences, as uncertainty.ts's deltaInterval takes them)
 * beside the spend model's (exact: ln E[spend] = ln p + ln(γ + x m) − ln(p x + q − 1)). The two fits maximise
 * separate likelihoods (Gamma-Gamma takes spend to be independent of the purchase process), so the joint observed
 * information is block diagonal and so is the joint covariance: the variance is gᵀ Σ_count g + hᵀ Σ_spend h.
 * P(alive) on the logit scale, the other two on the log scale, so each interval stays where its quantity can be.
 */
export function liveCustomerIntervals(
  spec: Pick<CountModel, 'paramNames' | 'pAlive' | 'expectedIfAlive'>,
  params: ModelParams,
  countCovariance: Covariance,
  gg: GammaGammaParams,
  spendCovariance: Covariance | null,
  value: LifetimeValueOptions,
  live: LiveEstimates,
): (x: number, tx: number, T: number, meanRepeatSpend: number, hasSpend: boolean) => CustomerIntervals {
  const names = spec.paramNames;
  const n = names.length;
  const moved: ModelParams = { ...params };
  const gLogit = new Float64Array(n);
  const gExpected = new Float64Array(n);
  const gValue = new Float64Array(n);
  const discount = Array.from({ length: value.horizonPeriods }, (_, k) => Math.pow(1 + value.discountRatePerPeriod, -(k + 1)));
  // As ForecastTable's exact row: the discounted expected purchases per period over the value horizon, if alive.
  const discounted = (p: ModelParams, x: number, T: number): number => {
    let total = 0;
    let before = 0;
    for (let k = 0; k < discount.length; k++) {
      const upTo = spec.expectedIfAlive(p, (k + 1) * value.periodLength, x, T);
      total += (upTo - before) * discount[k];
      before = upTo;
    }
    return total;
  };
  const countVariance = (g: Float64Array): number => {
    let v = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) v += g[i] * countCovariance[i][j] * g[j];
    return v;
  };
  // Variances by (x, t_x, T on the hour grid, with value): an open alert is re-sampled as its minute moves, and
  // each time its reasons are read (alerts/customerRules.ts); the spread moves little in an hour, the estimates not
  // at all (they are the live model's, at T).
  const spreads = new Map<string, Float64Array>();
  const spreadAt = (x: number, tx: number, T: number, withValue: boolean): Float64Array => {
    const key = `${x} ${tx} ${T} ${withValue ? 1 : 0}`;
    const known = spreads.get(key);
    if (known !== undefined) return known;
    for (let i = 0; i < n; i++) {
      const name = names[i];
      // ln P(alive), its logit, ln E[Y(90) | alive] and ln of the discounted purchases, a step up then down.
      moved[name] = params[name] * Math.exp(STEP);
      const aliveUp = spec.pAlive(moved, x, tx, T);
      const ifAliveUp = Math.log(spec.expectedIfAlive(moved, HORIZON, x, T));
      const discountedUp = withValue ? Math.log(discounted(moved, x, T)) : 0;
      moved[name] = params[name] * Math.exp(-STEP);
      const aliveDown = spec.pAlive(moved, x, tx, T);
      const ifAliveDown = Math.log(spec.expectedIfAlive(moved, HORIZON, x, T));
      const discountedDown = withValue ? Math.log(discounted(moved, x, T)) : 0;
      moved[name] = params[name];
      const lnAlive = Math.log(aliveUp) - Math.log(aliveDown);
      gLogit[i] = (logit(aliveUp) - logit(aliveDown)) / (2 * STEP);
      gExpected[i] = (lnAlive + ifAliveUp - ifAliveDown) / (2 * STEP);
      gValue[i] = (lnAlive + discountedUp - discountedDown) / (2 * STEP);
    }
    const spread = Float64Array.of(countVariance(gLogit), countVariance(gExpected), withValue ? countVariance(gValue) : 0);
    if (spreads.size >= MAX_SPREADS) spreads.clear();
    spreads.set(key, spread);
    return spread;
  };
  return (x, tx, T, meanRepeatSpend, hasSpend) => {
    const m = Math.max(0, meanRepeatSpend);
    const withValue = spendCovariance !== null && hasSpend;
    const [logitVariance, expectedVariance, valueVariance] = spreadAt(x, tx, Math.max(tx, Math.round(T / HOUR) / HOURS_PER_DAY), withValue);
    const pAlive = live.pAlive(x, tx, T);
    const expected = live.expectedPurchases(HORIZON, x, tx, T);
    let valueInterval: Interval | null = null;
    if (withValue) {
      const { p, q, gamma } = gg;
      const denominator = p * x + q - 1;
      // d ln E[spend] / d ln p, ln q, ln γ; with x = 0 the customer's own mean does not enter (expectedAverageValue).
      const h = [1 - (p * x) / denominator, -q / denominator, gamma / (gamma + (x > 0 ? x * m : 0))];
      let spendVariance = 0;
      for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) spendVariance += h[i] * spendCovariance[i][j] * h[j];
      valueInterval = logInterval(live.customerValue(x, tx, T, m), valueVariance + spendVariance);
    }
    return { pAlive: logitInterval(pAlive, logitVariance), expectedPurchases90d: logInterval(expected, expectedVariance), value: valueInterval };
  };
}

function logitInterval(estimate: number, variance: number): Interval {
  const center = logit(estimate);
  if (!Number.isFinite(center)) return { estimate, lower: estimate, upper: estimate, level: 0.9 };
  const half = Z90 * Math.sqrt(Math.max(0, variance));
  return { estimate, lower: 1 / (1 + Math.exp(-(center - half))), upper: 1 / (1 + Math.exp(-(center + half))), level: 0.9 };
}

function logInterval(estimate: number, variance: number): Interval {
  if (!(estimate > 0) || !Number.isFinite(estimate)) return { estimate, lower: estimate, upper: estimate, level: 0.9 };
  const half = Z90 * Math.sqrt(Math.max(0, variance));
  return { estimate, lower: estimate * Math.exp(-half), upper: estimate * Math.exp(half), level: 0.9 };
}
