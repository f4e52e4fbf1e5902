// Maximum likelihood for the purchase-count models (BG/NBD, MBG/NBD, Pareto/NBD): identical (x, t_x, T) rows
// grouped into one weighted row (exact: they are sufficient statistics), log-parameters so every parameter stays
// positive, and the same multi-start Nelder–Mead for every model. A large fit searches on a sample of customers and
// finishes on all of them with Newton steps (searchSample, fitLogParameters).
import { VigilError } from '../../shared/errors.js';
import { centralDerivatives, newtonMinimise } from './newton.js';
import { minimiseFromStarts, type MultiStartOptions } from './nelderMead.js';
import { createRng } from './random.js';

/** One customer in model time units: x repeat purchases, the last at t_x, observed for T since the first. */
export interface CustomerSummary {
  x: number;
  tx: number;
  T: number;
}

/** Distinct (x, t_x, T) rows with how many customers each stands for. */
export interface GroupedSummaries {
  x: Float64Array;
  tx: Float64Array;
  T: Float64Array;
  weights: Float64Array;
  /** Customers in all (the sum of the weights). */
  customers: number;
}

/**
 * Identical rows in first-seen order, by an open-addressing hash over the three numbers' bits (a string key per row
 * cost about 3 s for a million customers; this, well under one). −0 counts as 0.
 */
export function groupSummaries(data: readonly CustomerSummary[]): GroupedSummaries {
  const n = data.length;
  const size = 2 ** Math.ceil(Math.log2(Math.max(16, 2 * n)));
  const mask = size - 1;
  const table = new Int32Array(size).fill(-1);
  const x = new Float64Array(n);
  const tx = new Float64Array(n);
  const T = new Float64Array(n);
  const weights = new Float64Array(n);
  const bits = new Float64Array(1);
  const words = new Uint32Array(bits.buffer);
  const mix = (h: number, v: number): number => {
    bits[0] = v;
    return Math.imul(Math.imul(h ^ words[0], 0x9e3779b1) ^ words[1], 0x85ebca6b);
  };
  let rows = 0;
  for (const row of data) {
    // + 0 turns −0 into 0, so both hash alike (=== already finds them equal).
    const rx = row.x + 0;
    const rtx = row.tx + 0;
    const rT = row.T + 0;
    let h = mix(mix(mix(0x811c9dc5, rx), rtx), rT);
    h ^= h >>> 15;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const k = table[slot];
      if (k === -1) {
        table[slot] = rows;
        x[rows] = rx;
        tx[rows] = rtx;
        T[rows] = rT;
        weights[rows++] = 1;
        break;
      }
      if (x[k] === rx && tx[k] === rtx && T[k] === rT) {
        weights[k]++;
        break;
      }
    }
  }
  return { x: x.slice(0, rows), tx: tx.slice(0, rows), T: T.slice(0, rows), weights: weights.slice(0, rows), customers: n };
}

/** Refuses, naming the first offending customer, data a purchase-count likelihood cannot use. */
export function validateSummaries(data: readonly CustomerSummary[], model: string, minCustomers = 10): void {
  const refuse = (message: string) => new VigilError('MODEL_INPUT_INVALID', `${model} cannot be fitted: ${message}`);
  if (data.length < minCustomers) throw refuse(`${data.length} customers, at least ${minCustomers} needed`);
  let repeatBuyers = 0;
  for (let i = 0; i < data.length; i++) {
    const { x, tx, T } = data[i];
    for (const [name, v] of [['frequency', x], ['recency', tx], ['T', T]] as const) {
      if (!Number.isFinite(v)) throw refuse(`customer #${i} has a non-finite ${name} (${v})`);
      if (v < 0) throw refuse(`customer #${i} has a negative ${name} (${v})`);
    }
    if (!Number.isInteger(x)) throw refuse(`customer #${i} has a fractional frequency (${x}); it counts repeat purchases`);
    if (tx > T) throw refuse(`customer #${i} has recency ${tx} above age T ${T}`);
    if (x === 0 && tx !== 0) throw refuse(`customer #${i} has recency ${tx} but no repeat purchases`);
    if (x > 0) repeatBuyers++;
  }
  if (repeatBuyers === 0) {
    throw refuse('every frequency is zero: with no repeat purchases the purchase and dropout rates cannot be estimated');
  }
}

export interface FitOptions extends MultiStartOptions {
  /** Refuse to fit fewer customers than this (default 10). */
  minCustomers?: number;
  /** L2 penalty on the parameters, added to the mean negative log-likelihood (default 0). */
  penalizer?: number;
  /**
   * Above twice this many customers, the multi-start search runs on a seeded sample of this many and Newton steps on
   * every customer finish from its optimum (default 20,000; 0 or Infinity: search on every customer).
   */
  searchCustomers?: number;
}

export const DEFAULT_SEARCH_CUSTOMERS = 20_000;

// Called after every evaluation of a fit's likelihood with the time it took: a thread that fits in the background
// sets it to back off while the processor is busy (shared/pacing.ts); by default it does nothing.
let afterEvaluation: (ms: number) => void = () => undefined;

/** This thread's pacing of every fit's likelihood evaluations (refitWorker.ts and fitWorker.ts set it). */
export function paceEvaluations(pace: (ms: number) => void): void {
  afterEvaluation = pace;
}

/** The search stage's customers: a seeded simple random sample of searchCustomers, or null to search on all. */
export function searchSample<T>(data: readonly T[], options: FitOptions = {}): T[] | null {
  const m = options.searchCustomers ?? DEFAULT_SEARCH_CUSTOMERS;
  if (!(m > 0) || !Number.isFinite(m) || data.length <= 2 * m) return null;
  return seededSample(data, m, options.seed ?? 1);
}

/** A simple random sample of m of `data` (all of it when m ≥ its length), in data's order, repeatable from the seed. */
export function seededSample<T>(data: readonly T[], m: number, seed: number): T[] {
  if (m >= data.length) return [...data];
  // Selection sampling (Knuth's algorithm S): each item in turn with probability (still needed) / (still left).
  const rng = createRng(seed + 0x5eed);
  const sample: T[] = [];
  for (let i = 0; i < data.length && sample.length < m; i++) {
    if ((data.length - i) * rng.uniform() < m - sample.length) sample.push(data[i]);
  }
  return sample;
}

/** The search stage of a large fit: the total log-likelihood of the sample and its size. */
export interface SearchStage {
  total: (params: readonly number[]) => number;
  customers: number;
}

export interface ModelFit<P> {
  params: P;
  /** Total log-likelihood at params, without the penalty. */
  logLikelihood: number;
  /** The winning run met its tolerances before its iteration limit. */
  converged: boolean;
  /** Nelder–Mead iterations of the winning run, polishing restarts included (and Newton steps, for a large fit). */
  iterations: number;
  /**
   * The observed information in the log-parameters (minus the Hessian of the total log-likelihood), from Newton's last
   * step: present for a converged staged fit without a penalty, so its standard errors cost no more evaluations.
   */
  information?: number[][];
}

/** ln(Σ x / Σ T): the log of the observed repeat rate, where every model's purchase-rate scale starts. */
export function logRepeatRate(data: readonly CustomerSummary[]): number {
  let sumX = 0;
  let sumT = 0;
  for (const row of data) {
    sumX += row.x;
    sumT += row.T;
  }
  return Math.log(Math.max(sumT, 1e-9) / Math.max(sumX, 1));
}

/**
 * Maximises totalLogLikelihood over log-parameters from `baseLog`, with the mean negative log-likelihood per
 * customer (plus the penalty) as the objective so the tolerances mean the same at any size. With a `search` stage
 * (a sample of the customers), the multi-start search runs on it and Newton steps on every customer finish from its
 * optimum, the first ones with the sample's Hessian (gradient only): about 75 evaluations of the whole data instead
 * of about 700 (100 with every step's Hessian computed on the whole data). Where Newton cannot work from there (a
 * Hessian that is not positive definite), Nelder–Mead on the whole data takes over from the same point.
 */
export function fitLogParameters(
  model: string,
  totalLogLikelihood: (params: readonly number[]) => number,
  baseLog: readonly number[],
  customers: number,
  options: FitOptions = {},
  search?: SearchStage,
): ModelFit<number[]> {
  const penalizer = options.penalizer ?? 0;
  const objectiveOf = (total: (params: readonly number[]) => number, n: number) => (theta: readonly number[]): number => {
    const params = theta.map(Math.exp);
    const penalty = penalizer * params.reduce((s, v) => s + v * v, 0);
    const start = performance.now();
    const value = -total(params) / n + penalty;
    afterEvaluation(performance.now() - start);
    return value;
  };
  const objective = objectiveOf(totalLogLikelihood, customers);
  let best: { x: number[]; fx: number; converged: boolean; iterations: number };
  let information: number[][] | undefined;
  if (search) {
    const sampleObjective = objectiveOf(search.total, search.customers);
    const found = minimiseFromStarts(sampleObjective, baseLog, options);
    // The sample's Hessian of the same per-customer mean, at its optimum (2n² + 1 evaluations of the sample only), is
    // close to every customer's: Newton's first step on all of them then needs only their gradient.
    const initialHessian = Number.isFinite(found.fx) ? centralDerivatives(sampleObjective, found.x, 1e-3).hessian : undefined;
    const finished = Number.isFinite(found.fx) ? newtonMinimise(objective, found.x, { initialHessian }) : null;
    best = finished
      ? { ...finished, iterations: found.iterations + finished.iterations }
      : minimiseFromStarts(objective, Number.isFinite(found.fx) ? found.x : baseLog, { ...options, restarts: 1 });
    // The objective is −total / customers: the total's information is customers × its Hessian.
    if (finished?.converged && penalizer === 0) information = finished.hessian.map((row) => row.map((v) => v * customers));
  } else {
    best = minimiseFromStarts(objective, baseLog, options);
  }
  if (!Number.isFinite(best.fx)) {
    throw new VigilError('MODEL_FIT_FAILED', `${model} likelihood was not finite at any point the optimiser tried`);
  }
  const params = best.x.map(Math.exp);
  return { params, logLikelihood: totalLogLikelihood(params), converged: best.converged, iterations: best.iterations, ...(information ? { information } : {}) };
}

/** Grouped rows as columns, indexed by distinct x: a likelihood's terms that depend on x only, once per distinct x. */
export interface Columns {
  x: ArrayLike<number>;
  tx: ArrayLike<number>;
  T: ArrayLike<number>;
  /** How many customers each row stands for; 1 each when absent. */
  weights?: ArrayLike<number>;
  /** Each row's position in distinctX: terms that depend on x only are computed once per distinct x. */
  xIndex: Int32Array;
  distinctX: Float64Array;
  /** Scratch for those per-x terms (two per x), so the optimiser's inner loop allocates nothing. */
  lead: Float64Array;
  dropLead: Float64Array;
}

export function toColumns(
  x: ArrayLike<number>,
  tx: ArrayLike<number>,
  T: ArrayLike<number>,
  weights?: ArrayLike<number>,
): Columns {
  const xIndex = new Int32Array(x.length);
  const position = new Map<number, number>();
  for (let i = 0; i < x.length; i++) {
    let k = position.get(x[i]);
    if (k === undefined) position.set(x[i], (k = position.size));
    xIndex[i] = k;
  }
  return {
    x,
    tx,
    T,
    weights,
    xIndex,
    distinctX: Float64Array.from(position.keys()),
    lead: new Float64Array(position.size),
    dropLead: new Float64Array(position.size),
  };
}

/**
 * Validates, groups identical rows into columns and fits: the path of every model whose likelihood is a sum over
 * customers. A large fit searches on a sample's columns first (fitLogParameters).
 */
export function fitByColumns<P>(
  model: string,
  data: readonly CustomerSummary[],
  columnsLogLikelihood: (params: P, columns: Columns) => number,
  fromVector: (v: readonly number[]) => P,
  baseLog: readonly number[],
  options: FitOptions = {},
): ModelFit<P> {
  validateSummaries(data, model, options.minCustomers ?? 10);
  const total = (rows: readonly CustomerSummary[]) => {
    const g = groupSummaries(rows);
    const columns = toColumns(g.x, g.tx, g.T, g.weights);
    return (v: readonly number[]) => columnsLogLikelihood(fromVector(v), columns);
  };
  const sample = searchSample(data, options);
  const search = sample ? { total: total(sample), customers: sample.length } : undefined;
  const fit = fitLogParameters(model, total(data), baseLog, data.length, options, search);
  return { ...fit, params: fromVector(fit.params) };
}
