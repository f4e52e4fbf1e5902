// Chooses among BG/NBD, Pareto/NBD and MBG/NBD by evidence: each is fitted on the calibration period and scored on
// the holdout period it never saw, by the log-likelihood of each customer's holdout count given the calibration
// history (the full predictive distribution, not only its mean), and by the error of the total holdout purchases.
import { COUNT_MODELS, COUNT_MODEL_NAMES, type CountModelName, type ModelParams } from './countModels.js';
import type { CustomerSummary, FitOptions, ModelFit } from './mle.js';

export interface HoldoutData {
  /** Each customer's summary up to calibrationEnd. */
  calibration: readonly CustomerSummary[];
  /** Purchases in (calibrationEnd, holdoutEnd], aligned with calibration. */
  holdoutPurchases: readonly number[];
  calibrationEnd: number;
  holdoutEnd: number;
}

export interface ModelScore {
  model: CountModelName;
  fit: ModelFit<ModelParams>;
  /** Mean over customers of ln P(holdout count | calibration history): higher is better. */
  holdoutLogLikelihoodPerCustomer: number;
  expectedTotal: number;
  actualTotal: number;
  /** (expected − actual) / actual over all customers' holdout purchases. */
  totalError: number;
}

export interface ModelComparison {
  calibrationEnd: number;
  holdoutEnd: number;
  customers: number;
  /** In COUNT_MODEL_NAMES order. */
  scores: ModelScore[];
  chosen: CountModelName;
}

/** Holdout log-likelihoods per customer closer than this are a tie, decided by the total's error. */
export const HOLDOUT_TIE = 1e-3;

export function scoreHoldout(model: CountModelName, fit: ModelFit<ModelParams>, data: HoldoutData): ModelScore {
  const spec = COUNT_MODELS[model];
  const t = data.holdoutEnd - data.calibrationEnd;
  let logLikelihood = 0;
  let expectedTotal = 0;
  let actualTotal = 0;
  data.calibration.forEach(({ x, tx, T }, i) => {
    const k = data.holdoutPurchases[i];
    logLikelihood += spec.logCountProbability(fit.params, k, t, x, tx, T);
    expectedTotal += spec.expectedPurchases(fit.params, t, x, tx, T);
    actualTotal += k;
  });
  const n = data.calibration.length;
  const totalError = actualTotal > 0 ? (expectedTotal - actualTotal) / actualTotal : Number.NaN;
  return { model, fit, holdoutLogLikelihoodPerCustomer: logLikelihood / n, expectedTotal, actualTotal, totalError };
}

/** Best holdout log-likelihood; within HOLDOUT_TIE of it, the smallest absolute error of the total. Converged fits first. */
export function chooseModel(scores: readonly ModelScore[]): CountModelName {
  const usable = scores.filter((s) => s.fit.converged && Number.isFinite(s.holdoutLogLikelihoodPerCustomer));
  const pool = usable.length > 0 ? usable : scores;
  const best = Math.max(...pool.map((s) => s.holdoutLogLikelihoodPerCustomer));
  const near = pool.filter((s) => s.holdoutLogLikelihoodPerCustomer >= best - HOLDOUT_TIE);
  const absError = (s: ModelScore) => (Number.isFinite(s.totalError) ? Math.abs(s.totalError) : Number.POSITIVE_INFINITY);
  return near.reduce((a, b) => (absError(b) < absError(a) ? b : a)).model;
}

/** Fits every model on the calibration period and scores each on the holdout. */
export function compareModels(data: HoldoutData, options: FitOptions = {}, models: readonly CountModelName[] = COUNT_MODEL_NAMES): ModelComparison {
  const scores = models.map((model) => scoreHoldout(model, COUNT_MODELS[model].fit(data.calibration, options), data));
  return { calibrationEnd: data.calibrationEnd, holdoutEnd: data.holdoutEnd, customers: data.calibration.length, scores, chosen: chooseModel(scores) };
}
