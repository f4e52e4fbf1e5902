// Newton's method with central-difference derivatives, for the last steps of a large fit: started near the optimum
// (the multi-start search on a sample of customers, mle.ts), it reaches the full data's optimum in two or three
// steps of 2n² + 1 evaluations each, where Nelder–Mead polishing takes hundreds of evaluations of the whole data.
import { invert, positiveDefinite } from './linearAlgebra.js';

export interface NewtonResult {
  x: number[];
  fx: number;
  /** Newton steps taken. */
  iterations: number;
  /** The last step moved every coordinate by less than xTolerance and gained less than fTolerance. */
  converged: boolean;
  /** f's Hessian where the last step began: at the minimum to within that step, when converged. */
  hessian: number[][];
}

export interface NewtonOptions {
  /** Central-difference step (default 1e-3: the objectives here are means near 1, rounding near 1e-15). */
  step?: number;
  maxIterations?: number;
  xTolerance?: number;
  fTolerance?: number;
  /**
   * A Hessian of f near x0 from elsewhere (the same mean objective on a sample of the customers, at the sample's
   * optimum): the first step then needs only the gradient, 2n + 1 evaluations instead of 2n² + 1. Later steps, and the
   * Hessian returned, are f's own; an estimate that is not positive definite is ignored.
   */
  initialHessian?: number[][];
}

/** A full Newton step shorter than this (in the log-parameters) ends the search. */
const QUADRATIC_STOP = 1e-4;

/**
 * Gradient and Hessian of f at x by central differences: 2n² + 1 evaluations (n = 4: 33); with `given` as the
 * Hessian, the gradient alone: 2n + 1 (n = 4: 9).
 */
export function centralDerivatives(f: (x: readonly number[]) => number, x: readonly number[], h: number, given?: number[][]): { fx: number; gradient: number[]; hessian: number[][] } {
  const n = x.length;
  const at = (moves: [number, number][]): number => {
    const v = [...x];
    for (const [i, d] of moves) v[i] += d;
    return f(v);
  };
  const fx = f(x);
  const gradient = new Array<number>(n);
  const hessian = given ?? Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    const up = at([[i, h]]);
    const down = at([[i, -h]]);
    gradient[i] = (up - down) / (2 * h);
    if (given) continue;
    hessian[i][i] = (up - 2 * fx + down) / (h * h);
    for (let j = 0; j < i; j++) {
      const d = (at([[i, h], [j, h]]) - at([[i, h], [j, -h]]) - at([[i, -h], [j, h]]) + at([[i, -h], [j, -h]])) / (4 * h * h);
      hessian[i][j] = hessian[j][i] = d;
    }
  }
  return { fx, gradient, hessian };
}

/**
 * Minimises f from x0 by Newton steps with step halving. Returns null where Newton cannot work, so the caller falls
 * back to a derivative-free method: the Hessian is not positive definite (x0 is not in the optimum's basin) or no
 * halving of a step lowers f. A non-finite f counts as +Infinity.
 */
export function newtonMinimise(f: (x: readonly number[]) => number, x0: readonly number[], options: NewtonOptions = {}): NewtonResult | null {
  const h = options.step ?? 1e-3;
  const maxIterations = options.maxIterations ?? 20;
  const xTolerance = options.xTolerance ?? 1e-6;
  const fTolerance = options.fTolerance ?? 1e-12;
  const value = (x: readonly number[]): number => {
    const v = f(x);
    return Number.isFinite(v) ? v : Number.POSITIVE_INFINITY;
  };
  let x = [...x0];
  let last: number[][] = [];
  let estimate = options.initialHessian && options.initialHessian.every((row) => row.every(Number.isFinite)) && positiveDefinite(options.initialHessian) ? options.initialHessian : undefined;
  let estimateMoved = Number.POSITIVE_INFINITY;
  for (let iteration = 1; iteration <= maxIterations; iteration++) {
    const approximate = estimate !== undefined;
    const { fx, gradient, hessian } = centralDerivatives(value, x, h, estimate);
    if (!Number.isFinite(fx) || !gradient.every(Number.isFinite) || !hessian.every((row) => row.every(Number.isFinite))) return null;
    const inverse = invert(hessian);
    if (!inverse || !positiveDefinite(hessian)) return null;
    const direction = inverse.map((row) => -row.reduce((s, v, j) => s + v * gradient[j], 0));
    let t = 1;
    let next: number[] | null = null;
    let fNext = fx;
    // The estimate's step is tried at a few lengths only: f's own Hessian is 2n² evaluations away, not 30.
    for (let halving = 0; halving < (approximate ? 4 : 30); halving++, t /= 2) {
      const candidate = x.map((v, i) => v + t * direction[i]);
      const fc = value(candidate);
      if (fc <= fx) {
        next = candidate;
        fNext = fc;
        break;
      }
    }
    // No step lowers f. With a tiny Newton step that is rounding: x is the optimum to the precision f has (the step
    // is far below any standard error). With a large one Newton is lost here: the caller falls back.
    if (next === null) {
      // The estimate's step went nowhere: f's own Hessian decides.
      if (approximate) {
        estimate = undefined;
        continue;
      }
      return Math.max(...direction.map((d) => Math.abs(d))) < 1e-4 ? { x, fx, iterations: iteration, converged: true, hessian } : null;
    }
    const moved = Math.max(...next.map((v, i) => Math.abs(v - x[i])));
    x = next;
    // A step with the estimate ends nothing: convergence, and the Hessian returned, are judged on f's own. The
    // estimate is kept while its steps shrink at least eightfold (it is close to f's Hessian: each such step costs
    // 2n + 1 evaluations where f's own costs 2n² + 1) and are still longer than a full step that would end the search.
    if (approximate) {
      if (!(moved > QUADRATIC_STOP && moved < estimateMoved / 8)) estimate = undefined;
      estimateMoved = moved;
      continue;
    }
    if (moved < xTolerance && fx - fNext < fTolerance) return { x, fx: fNext, iterations: iteration, converged: true, hessian };
    // A full step this short is inside Newton's quadratic convergence: the next would move about its square (1e-8 at
    // most, far below any standard error), so its 2n² + 1 evaluations are saved.
    if (t === 1 && moved < QUADRATIC_STOP) return { x, fx: fNext, iterations: iteration, converged: true, hessian };
    last = hessian;
  }
  return { x, fx: value(x), iterations: maxIterations, converged: false, hessian: last };
}
