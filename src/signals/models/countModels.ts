// The three purchase-count models behind one shape, so the holdout comparison, the uncertainty and the tracking
// plot treat them alike. Parameters travel as plain records keyed by each model's parameter names.
import { bgNbdColumnsLogLikelihood, bgNbdLogCountProbability, bgNbdLogLikelihood, expectedPurchases, expectedPurchasesIfAlive, fitBgNbd, pAlive, type BgNbdParams } from './bgnbd.js';
import { fitMbgNbd, mbgNbdColumnsLogLikelihood, mbgNbdExpectedPurchases, mbgNbdLogCountProbability, mbgNbdLogLikelihood, mbgNbdPAlive, type MbgNbdParams } from './mbgnbd.js';
import type { Columns, CustomerSummary, FitOptions, ModelFit } from './mle.js';
import {
  fitParetoNbd,
  paretoNbdColumnsLogLikelihood,
  paretoNbdExpectedIfAlive,
  paretoNbdExpectedPurchases,
  paretoNbdLogCountProbability,
  paretoNbdLogLikelihood,
  paretoNbdPAlive,
  type ParetoNbdParams,
} from './paretoNbd.js';

/** `model_params.model` of each. */
export type CountModelName = 'bgnbd' | 'pareto_nbd' | 'mbg_nbd';
export type ModelParams = Record<string, number>;

export interface CountModel {
  name: CountModelName;
  /** As people write it: "BG/NBD". */
  label: string;
  paramNames: readonly string[];
  fit(data: readonly CustomerSummary[], options?: FitOptions): ModelFit<ModelParams>;
  logLikelihood(params: ModelParams, x: number, tx: number, T: number): number;
  /** The log-likelihood summed over grouped columns (mle.ts toColumns), as the fit sums it: NaN where unusable. */
  columnsLogLikelihood(params: ModelParams, columns: Columns): number;
  pAlive(params: ModelParams, x: number, tx: number, T: number): number;
  /** E[Y(t) | x, t_x, T]; at x = t_x = T = 0, a new customer's E[X(t)]. */
  expectedPurchases(params: ModelParams, t: number, x: number, tx: number, T: number): number;
  /** E[Y(t) | alive at T, x]: expectedPurchases without its P(alive) (it does not depend on t_x). */
  expectedIfAlive(params: ModelParams, t: number, x: number, T: number): number;
  /** ln P(k purchases in (T, T + t] | x, t_x, T). */
  logCountProbability(params: ModelParams, k: number, t: number, x: number, tx: number, T: number): number;
}

// Each model's functions take its own params type; the records passed here always carry its parameter names.
const as = <P>(params: ModelParams) => params as unknown as P;

export const COUNT_MODELS: Record<CountModelName, CountModel> = {
  bgnbd: {
    name: 'bgnbd',
    label: 'BG/NBD',
    paramNames: ['r', 'alpha', 'a', 'b'],
    fit: (data, options) => fitBgNbd(data, options) as unknown as ModelFit<ModelParams>,
    logLikelihood: (p, x, tx, T) => bgNbdLogLikelihood(as<BgNbdParams>(p), x, tx, T),
    columnsLogLikelihood: (p, c) => bgNbdColumnsLogLikelihood(as<BgNbdParams>(p), c),
    pAlive: (p, x, tx, T) => pAlive(as<BgNbdParams>(p), x, tx, T),
    expectedPurchases: (p, t, x, tx, T) => expectedPurchases(as<BgNbdParams>(p), t, x, tx, T),
    expectedIfAlive: (p, t, x, T) => expectedPurchasesIfAlive(as<BgNbdParams>(p), t, x, T),
    logCountProbability: (p, k, t, x, tx, T) => bgNbdLogCountProbability(as<BgNbdParams>(p), k, t, x, tx, T),
  },
  pareto_nbd: {
    name: 'pareto_nbd',
    label: 'Pareto/NBD',
    paramNames: ['r', 'alpha', 's', 'beta'],
    fit: (data, options) => fitParetoNbd(data, options) as unknown as ModelFit<ModelParams>,
    logLikelihood: (p, x, tx, T) => paretoNbdLogLikelihood(as<ParetoNbdParams>(p), x, tx, T),
    columnsLogLikelihood: (p, c) => paretoNbdColumnsLogLikelihood(as<ParetoNbdParams>(p), c),
    pAlive: (p, x, tx, T) => paretoNbdPAlive(as<ParetoNbdParams>(p), x, tx, T),
    expectedPurchases: (p, t, x, tx, T) => paretoNbdExpectedPurchases(as<ParetoNbdParams>(p), t, x, tx, T),
    expectedIfAlive: (p, t, x, T) => paretoNbdExpectedIfAlive(as<ParetoNbdParams>(p), t, x, T),
    logCountProbability: (p, k, t, x, tx, T) => paretoNbdLogCountProbability(as<ParetoNbdParams>(p), k, t, x, tx, T),
  },
  mbg_nbd: {
    name: 'mbg_nbd',
    label: 'MBG/NBD',
    paramNames: ['r', 'alpha', 'a', 'b'],
    fit: (data, options) => fitMbgNbd(data, options) as unknown as ModelFit<ModelParams>,
    logLikelihood: (p, x, tx, T) => mbgNbdLogLikelihood(as<MbgNbdParams>(p), x, tx, T),
    columnsLogLikelihood: (p, c) => mbgNbdColumnsLogLikelihood(as<MbgNbdParams>(p), c),
    pAlive: (p, x, tx, T) => mbgNbdPAlive(as<MbgNbdParams>(p), x, tx, T),
    expectedPurchases: (p, t, x, tx, T) => mbgNbdExpectedPurchases(as<MbgNbdParams>(p), t, x, tx, T),
    // BG/NBD's expectation if alive with b + 1 (mbgnbd.ts)
    expectedIfAlive: (p, t, x, T) => expectedPurchasesIfAlive({ ...as<MbgNbdParams>(p), b: p.b + 1 }, t, x, T),
    logCountProbability: (p, k, t, x, tx, T) => mbgNbdLogCountProbability(as<MbgNbdParams>(p), k, t, x, tx, T),
  },
};

export const COUNT_MODEL_NAMES = Object.keys(COUNT_MODELS) as CountModelName[];
