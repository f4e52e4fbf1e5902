// Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV: Using Iso-Value Curves"): what a customer's
// purchases will be worth, and with BG/NBD, what the customer is worth.
import { VigilError } from '../../shared/errors.js';
import { expectedPurchases, type BgNbdParams, type ModelFit } from './bgnbd.js';
import { fitLogParameters, searchSample, type FitOptions } from './mle.js';
import { lnGamma } from './specialFunctions.js';

/** Purchase values ~ Gamma(p, nu) around each customer's nu ~ Gamma(q, gamma). */
export interface GammaGammaParams {
  p: number;
  q: number;
  gamma: number;
}

/** x repeat purchases whose mean value is mValue; customers with x = 0 carry no spend information. */
export interface SpendSummary {
  x: number;
  mValue?: number;
}

export interface GammaGammaFit extends ModelFit<GammaGammaParams> {
  /** Repeat buyers the fit used. */
  customers: number;
  /** Pearson correlation of frequency and mean spend; the model assumes they are independent, so near 0 is good. */
  frequencySpendCorrelation: number;
}

/** minCustomers counts repeat buyers; a large fit searches on a sample of them (FitOptions.searchCustomers). */
export type FitGammaGammaOptions = FitOptions;

/**
 * ln f(m | x) = ln Γ(px + q) − ln Γ(px) − ln Γ(q) + q ln γ + (px − 1) ln m + px ln x − (px + q) ln(γ + m x):
 * the mean of x Gamma(p, nu) values is Gamma(px, nu x), mixed over nu ~ Gamma(q, gamma).
 */
export function gammaGammaLogLikelihood(params: GammaGammaParams, x: number, mValue: number): number {
  const { p, q, gamma } = params;
  const px = p * x;
  return (
    lnGamma(px + q) -
    lnGamma(px) -
    lnGamma(q) +
    q * Math.log(gamma) +
    (px - 1) * Math.log(mValue) +
    px * Math.log(x) -
    (px + q) * Math.log(gamma + mValue * x)
  );
}

/**
 * E[M | x, m] = p (gamma + x m) / (p x + q − 1): a weighted average of the population mean p gamma / (q − 1)
 * and the customer's own mean m, the weight on m growing with x.
 */
export function expectedAverageValue(params: GammaGammaParams, x: number, mValue: number): number {
  const { p, q, gamma } = params;
  if (p * x + q <= 1) {
    throw new VigilError(
      'MODEL_INPUT_INVALID',
      `Gamma-Gamma with q = ${q} has no finite mean spend for a customer with ${x} repeat purchases`,
    );
  }
  return (p * (gamma + (x > 0 ? x * mValue : 0))) / (p * x + q - 1);
}

function refuse(message: string): VigilError {
  return new VigilError('MODEL_INPUT_INVALID', `Gamma-Gamma cannot be fitted: ${message}`);
}

/** Maximum likelihood on the repeat buyers (x ≥ 1) and their mean repeat spend, over log-parameters. */
export function fitGammaGamma(data: readonly SpendSummary[], options: FitGammaGammaOptions = {}): GammaGammaFit {
  const minCustomers = options.minCustomers ?? 10;
  const xs: number[] = [];
  const ms: number[] = [];
  for (let i = 0; i < data.length; i++) {
    const { x, mValue } = data[i];
    if (!Number.isFinite(x) || x < 0 || !Number.isInteger(x)) {
      throw refuse(`customer #${i} has frequency ${x}; it must be a whole number of repeat purchases`);
    }
    if (x === 0) continue;
    if (mValue === undefined || !Number.isFinite(mValue)) {
      throw refuse(`customer #${i} has ${x} repeat purchases but a non-finite mean spend (${mValue})`);
    }
    if (mValue <= 0) throw refuse(`customer #${i} has non-positive mean spend ${mValue}; spend must be positive`);
    xs.push(x);
    ms.push(mValue);
  }
  if (xs.length === 0) throw refuse('no repeat buyers (every frequency is zero): there is no repeat spend to model');
  if (xs.length < minCustomers) throw refuse(`${xs.length} repeat buyers, at least ${minCustomers} needed`);

  const n = xs.length;
  const totalOf = (rows: readonly number[] | null) => {
    const t = rows ? gammaGammaTotalLogLikelihood(rows.map((i) => xs[i]), rows.map((i) => ms[i])) : gammaGammaTotalLogLikelihood(xs, ms);
    return (v: readonly number[]) => t(v[0], v[1], v[2]);
  };
  // A large fit searches on a sample of the buyers and finishes on all of them (mle.ts).
  const sample = searchSample(Array.from(xs, (_, i) => i), options);
  const search = sample ? { total: totalOf(sample), customers: sample.length } : undefined;
  // Start at p = 2, q = 3 with gamma matching the mean spend: p gamma / (q − 1) = mean.
  const meanSpend = ms.reduce((s, m) => s + m, 0) / n;
  const fit = fitLogParameters('Gamma-Gamma', totalOf(null), [Math.log(2), Math.log(3), Math.log(meanSpend)], n, options, search);
  const [p, q, gamma] = fit.params;
  return {
    params: { p, q, gamma },
    logLikelihood: fit.logLikelihood,
    converged: fit.converged,
    iterations: fit.iterations,
    customers: n,
    frequencySpendCorrelation: pearson(xs, ms),
    ...(fit.information ? { information: fit.information } : {}),
  };
}

/**
 * Σ gammaGammaLogLikelihood over repeat buyers (x ≥ 1, mean spend m > 0), as a function of the parameters: what the
 * fit maximises and its observed information differentiates. The Γ terms depend on x only and are worked out once per
 * distinct x (a million buyers share a few hundred).
 */
export function gammaGammaTotalLogLikelihood(xs: readonly number[], ms: readonly number[]): (p: number, q: number, gamma: number) => number {
  const n = xs.length;
  const distinct = [...new Set(xs)];
  const slot = new Map(distinct.map((x, i) => [x, i]));
  const at = Int32Array.from(xs, (x) => slot.get(x)!);
  const logX = Float64Array.from(distinct, Math.log);
  const logM = Float64Array.from(ms, Math.log);
  const perX = new Float64Array(distinct.length);
  return (p, q, gamma) => {
    for (let k = 0; k < distinct.length; k++) {
      const px = p * distinct[k];
      perX[k] = lnGamma(px + q) - lnGamma(px) + px * logX[k];
    }
    let ll = n * (q * Math.log(gamma) - lnGamma(q));
    for (let i = 0; i < n; i++) {
      const px = p * xs[i];
      ll += perX[at[i]] + (px - 1) * logM[i] - (px + q) * Math.log(gamma + ms[i] * xs[i]);
    }
    return ll;
  };
}

function pearson(u: readonly number[], v: readonly number[]): number {
  const n = u.length;
  const mu = u.reduce((s, x) => s + x, 0) / n;
  const mv = v.reduce((s, x) => s + x, 0) / n;
  let suv = 0;
  let suu = 0;
  let svv = 0;
  for (let i = 0; i < n; i++) {
    suv += (u[i] - mu) * (v[i] - mv);
    suu += (u[i] - mu) ** 2;
    svv += (v[i] - mv) ** 2;
  }
  return suu > 0 && svv > 0 ? suv / Math.sqrt(suu * svv) : 0;
}

export interface LifetimeValueOptions {
  /** How many periods ahead to count. */
  horizonPeriods: number;
  /** Discount per period: 0.01 means a purchase one period ahead is worth 1/1.01 of one now. */
  discountRatePerPeriod: number;
  /** One period in model time units, e.g. 30 when the models were fitted in days and periods are months. */
  periodLength: number;
}

/**
 * Discounted cash flow, as in lifetimes: the sum over periods k = 1..H of the expected purchases in period k,
 * E[Y(k L)] − E[Y((k − 1) L)], times the expected average value, divided by (1 + d)^k.
 */
export function customerLifetimeValue(
  bgParams: BgNbdParams,
  ggParams: GammaGammaParams,
  x: number,
  tx: number,
  T: number,
  mValue: number,
  options: LifetimeValueOptions,
): number {
  const { horizonPeriods, discountRatePerPeriod, periodLength } = options;
  if (!Number.isInteger(horizonPeriods) || horizonPeriods < 0) {
    throw new VigilError('MODEL_INPUT_INVALID', `horizonPeriods must be a whole number ≥ 0 (got ${horizonPeriods})`);
  }
  if (!(periodLength > 0)) {
    throw new VigilError('MODEL_INPUT_INVALID', `periodLength must be positive (got ${periodLength})`);
  }
  if (!(discountRatePerPeriod > -1)) {
    throw new VigilError('MODEL_INPUT_INVALID', `discountRatePerPeriod must be above −1 (got ${discountRatePerPeriod})`);
  }
  const value = expectedAverageValue(ggParams, x, mValue);
  let total = 0;
  let before = 0;
  for (let k = 1; k <= horizonPeriods; k++) {
    const upTo = expectedPurchases(bgParams, k * periodLength, x, tx, T);
    total += ((upTo - before) * value) / Math.pow(1 + discountRatePerPeriod, k);
    before = upTo;
  }
  return total;
}
