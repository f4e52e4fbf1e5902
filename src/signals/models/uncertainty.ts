// How sure a fit is: standard errors from the observed information (the numerical Hessian of the total
// log-likelihood at the optimum, taken in the log-parameters the fit optimises, then carried to the parameters by
// the delta method), and delta-method intervals for any quantity of the parameters, such as a customer's P(alive),
// formed on the logit or log scale so they stay inside (0, 1) or above 0.
import { VigilError } from '../../shared/errors.js';
import { COUNT_MODELS, type CountModelName, type ModelParams } from './countModels.js';
import { gammaGammaTotalLogLikelihood, type GammaGammaParams, type SpendSummary } from './gammaGamma.js';
import { invert } from './linearAlgebra.js';
import { groupSummaries, toColumns, type CustomerSummary } from './mle.js';
import { centralDerivatives } from './newton.js';

export interface ParameterUncertainty {
  paramNames: readonly string[];
  /** Covariance of ln(parameter), the inverse of the observed information in log space; null when singular. */
  logCovariance: number[][] | null;
  /** Standard error of each parameter: parameter × sd(ln parameter); NaN when the information is singular. */
  standardErrors: ModelParams;
}

// Central differences in log space: 1e-3 keeps the rounding of a total near 1e4 (about 1e-12) well below h².
const HESSIAN_STEP = 1e-3;

/** The observed information's inverse at `params` (a maximum of the likelihood of `data`). */
export function parameterUncertainty(
  model: CountModelName,
  params: ModelParams,
  data: readonly CustomerSummary[],
  /** The fit's own (ModelFit.information), when it has it: then nothing is evaluated again. */
  information?: number[][],
): ParameterUncertainty {
  const spec = COUNT_MODELS[model];
  const names = spec.paramNames;
  if (information) return fromInformation(names, params, information);
  const g = groupSummaries(data);
  // The fit's own sum (per-x terms once per x): 33 evaluations of a million customers take seconds, not half a minute.
  const columns = toColumns(g.x, g.tx, g.T, g.weights);
  const p: ModelParams = {};
  return logParameterUncertainty(names, params, (logs) => {
    names.forEach((name, i) => (p[name] = Math.exp(logs[i])));
    return spec.columnsLogLikelihood(p, columns);
  });
}

/**
 * The Gamma-Gamma fit's: the covariance of ln(p, q, gamma) from the observed information of its likelihood over the
 * repeat buyers (x ≥ 1 with a positive mean spend; the others carry no spend information, as in fitGammaGamma).
 */
export function gammaGammaUncertainty(params: GammaGammaParams, data: readonly SpendSummary[], information?: number[][]): ParameterUncertainty {
  if (information) return fromInformation(GAMMA_GAMMA_PARAMS, { ...params }, information);
  const buyers = data.filter((d) => d.x > 0 && d.mValue !== undefined && d.mValue > 0);
  const total = gammaGammaTotalLogLikelihood(buyers.map((b) => b.x), buyers.map((b) => b.mValue!));
  return logParameterUncertainty(GAMMA_GAMMA_PARAMS, { ...params }, (logs) => total(Math.exp(logs[0]), Math.exp(logs[1]), Math.exp(logs[2])));
}

const GAMMA_GAMMA_PARAMS = ['p', 'q', 'gamma'] as const;

/**
 * The inverse of the observed information at `params`: minus the Hessian of `total` (a total log-likelihood of the
 * log-parameters, in `names` order) by central differences, inverted; null covariance when it is not positive definite.
 */
export function logParameterUncertainty(names: readonly string[], params: ModelParams, total: (logs: readonly number[]) => number): ParameterUncertainty {
  return fromInformation(names, params, observedInformation(total, names.map((name) => Math.log(params[name]))));
}

/** The covariance of the log-parameters and the standard errors from the observed information in them. */
function fromInformation(names: readonly string[], params: ModelParams, information: readonly (readonly number[])[]): ParameterUncertainty {
  const inverse = invert(information);
  const positive = inverse !== null && inverse.every((row, i) => row[i] > 0 && row.every(Number.isFinite));
  const logCovariance = positive ? inverse : null;
  const standardErrors: ModelParams = {};
  names.forEach((name, i) => (standardErrors[name] = logCovariance ? params[name] * Math.sqrt(logCovariance[i][i]) : Number.NaN));
  return { paramNames: names, logCovariance, standardErrors };
}

/** Minus the Hessian of `total` at `at`, by central differences of step `h` (HESSIAN_STEP). */
export function observedInformation(total: (logs: readonly number[]) => number, at: readonly number[], h = HESSIAN_STEP): number[][] {
  return centralDerivatives(total, at, h).hessian.map((row) => row.map((v) => -v));
}

export interface Interval {
  estimate: number;
  lower: number;
  upper: number;
  /** 0.9 for a 90 % interval. */
  level: number;
}

// Two-sided standard normal quantiles for the levels offered.
const Z: Record<string, number> = { '0.5': 0.6744897501960817, '0.8': 1.2815515655446004, '0.9': 1.6448536269514722, '0.95': 1.959963984540054, '0.99': 2.5758293035489004 };

const SCALES = {
  /** For probabilities: the interval stays inside (0, 1). */
  logit: { to: (v: number) => Math.log(v) - Math.log1p(-v), from: (u: number) => 1 / (1 + Math.exp(-u)) },
  /** For positive quantities (expected purchases, value). */
  log: { to: Math.log, from: Math.exp },
  identity: { to: (v: number) => v, from: (u: number) => u },
} as const;

/**
 * Delta-method interval for quantity(params): on the chosen scale, estimate ± z · sqrt(∇ᵀ Σ ∇), with ∇ the gradient
 * with respect to the log-parameters (central differences) and Σ their covariance; back on the natural scale.
 */
export function deltaInterval(
  quantity: (params: ModelParams) => number,
  params: ModelParams,
  uncertainty: ParameterUncertainty,
  options: { level?: number; scale?: keyof typeof SCALES } = {},
): Interval {
  const level = options.level ?? 0.9;
  const z = Z[String(level)];
  if (z === undefined) throw new VigilError('MODEL_INPUT_INVALID', `interval level ${level} is not one of ${Object.keys(Z).join(', ')}`);
  const scale = SCALES[options.scale ?? 'log'];
  const estimate = quantity(params);
  const cov = uncertainty.logCovariance;
  if (!cov) return { estimate, lower: Number.NaN, upper: Number.NaN, level };
  const names = uncertainty.paramNames;
  const h = 1e-5;
  const gradient = names.map((name) => {
    const moved = (d: number) => scale.to(quantity({ ...params, [name]: params[name] * Math.exp(d) }));
    return (moved(h) - moved(-h)) / (2 * h);
  });
  let variance = 0;
  for (let i = 0; i < names.length; i++) for (let j = 0; j < names.length; j++) variance += gradient[i] * cov[i][j] * gradient[j];
  const center = scale.to(estimate);
  const half = z * Math.sqrt(Math.max(0, variance));
  if (!Number.isFinite(center)) return { estimate, lower: estimate, upper: estimate, level };
  return { estimate, lower: scale.from(center - half), upper: scale.from(center + half), level };
}

/** A customer's P(alive) and expected purchases in the next t, each with its interval. */
export function customerIntervals(
  model: CountModelName,
  params: ModelParams,
  uncertainty: ParameterUncertainty,
  customer: CustomerSummary,
  t: number,
  level = 0.9,
): { pAlive: Interval; expectedPurchases: Interval } {
  const spec = COUNT_MODELS[model];
  const { x, tx, T } = customer;
  return {
    pAlive: deltaInterval((p) => spec.pAlive(p, x, tx, T), params, uncertainty, { level, scale: 'logit' }),
    expectedPurchases: deltaInterval((p) => spec.expectedPurchases(p, t, x, tx, T), params, uncertainty, { level, scale: 'log' }),
  };
}

/** "P(alive) 0.31, 90 % 0.24–0.39": the estimate and its interval, as alert reasons and the at-risk list say it. */
export function formatInterval(label: string, interval: Interval, digits = 2): string {
  const f = (v: number) => v.toFixed(digits);
  const percent = `${Number((interval.level * 100).toFixed(1))} %`;
  if (!Number.isFinite(interval.lower) || !Number.isFinite(interval.upper)) return `${label} ${f(interval.estimate)} (no interval)`;
  return `${label} ${f(interval.estimate)}, ${percent} ${f(interval.lower)}–${f(interval.upper)}`;
}
