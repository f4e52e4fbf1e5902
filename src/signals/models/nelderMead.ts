// Derivative-free minimiser for the model fits. Written here because fmin@0.0.4 exports nothing under Node ESM
// (a UMD build in a "type": "module" package), throws "i is not defined" in its shrink step, and reports no
// iteration count or convergence.
import { createRng } from './random.js';

export interface NelderMeadOptions {
  /** Size of the initial simplex along each axis. */
  step?: number;
  maxIterations?: number;
  /** Converged once the simplex's objective values span at most fTolerance */
  fTolerance?: number;
  /** and every vertex lies within xTolerance of the best one on every axis. */
  xTolerance?: number;
}

export interface NelderMeadResult {
  x: number[];
  fx: number;
  iterations: number;
  converged: boolean;
}

interface Vertex {
  x: number[];
  fx: number;
}

// Standard coefficients (Lagarias et al. 1998): reflection, expansion, contraction, shrink.
const REFLECT = 1;
const EXPAND = 2;
const CONTRACT = 0.5;
const SHRINK = 0.5;

/** Minimises f from x0. Non-finite objective values count as +Infinity, so f may refuse a region by returning NaN. */
export function nelderMead(
  f: (x: readonly number[]) => number,
  x0: readonly number[],
  options: NelderMeadOptions = {},
): NelderMeadResult {
  const n = x0.length;
  const step = options.step ?? 0.5;
  const maxIterations = options.maxIterations ?? 400 * n;
  const fTolerance = options.fTolerance ?? 1e-10;
  const xTolerance = options.xTolerance ?? 1e-7;
  const evaluate = (x: number[]): Vertex => {
    const fx = f(x);
    return { x, fx: Number.isFinite(fx) ? fx : Number.POSITIVE_INFINITY };
  };
  const along = (from: readonly number[], to: readonly number[], t: number): number[] =>
    from.map((v, i) => v + t * (to[i] - v));

  const simplex: Vertex[] = [evaluate([...x0])];
  for (let i = 0; i < n; i++) {
    const x = [...x0];
    x[i] += step;
    simplex.push(evaluate(x));
  }

  let iterations = 0;
  let converged = false;
  while (iterations < maxIterations) {
    simplex.sort((p, q) => p.fx - q.fx);
    const best = simplex[0];
    const worst = simplex[n];
    let spread = 0;
    for (let k = 1; k <= n; k++) {
      for (let i = 0; i < n; i++) spread = Math.max(spread, Math.abs(simplex[k].x[i] - best.x[i]));
    }
    if (worst.fx - best.fx <= fTolerance && spread <= xTolerance) {
      converged = true;
      break;
    }
    iterations++;

    const centroid = new Array<number>(n).fill(0);
    for (let k = 0; k < n; k++) for (let i = 0; i < n; i++) centroid[i] += simplex[k].x[i] / n;

    const reflected = evaluate(along(centroid, worst.x, -REFLECT));
    if (reflected.fx < best.fx) {
      const expanded = evaluate(along(centroid, worst.x, -EXPAND));
      simplex[n] = expanded.fx < reflected.fx ? expanded : reflected;
      continue;
    }
    if (reflected.fx < simplex[n - 1].fx) {
      simplex[n] = reflected;
      continue;
    }
    const outside = reflected.fx < worst.fx;
    const contracted = evaluate(along(centroid, worst.x, outside ? -CONTRACT : CONTRACT));
    if (contracted.fx < (outside ? reflected.fx : worst.fx)) {
      simplex[n] = contracted;
      continue;
    }
    for (let k = 1; k <= n; k++) simplex[k] = evaluate(along(best.x, simplex[k].x, SHRINK));
  }
  simplex.sort((p, q) => p.fx - q.fx);
  return { x: simplex[0].x, fx: simplex[0].fx, iterations, converged };
}

export interface PolishedMinimum {
  x: number[];
  fx: number;
  /** Iterations of the run that found x, its polishing included. */
  iterations: number;
  converged: boolean;
}

export interface MultiStartOptions {
  /** Starting points (default 3): base, then base plus standard-normal perturbations. */
  restarts?: number;
  /** Seeds the perturbations (default 1). */
  seed?: number;
  maxIterations?: number;
}

/**
 * Nelder–Mead from each starting point; the lowest result is then polished: restarted with a fresh small simplex
 * until a restart gains less than 1e-10, since a simplex can collapse onto a ridge and stop short. Every start
 * runs: stopping once two agree would stop in a local basin whenever the first two land in it.
 */
export function minimiseFromStarts(
  f: (x: readonly number[]) => number,
  base: readonly number[],
  options: MultiStartOptions = {},
): PolishedMinimum {
  const rng = createRng(options.seed ?? 1);
  const maxIterations = options.maxIterations;
  let best = nelderMead(f, base, { maxIterations });
  for (let k = 1; k < (options.restarts ?? 3); k++) {
    const run = nelderMead(f, base.map((v) => v + rng.normal()), { maxIterations });
    if (run.fx < best.fx) best = run;
  }
  let iterations = best.iterations;
  for (let polish = 0; polish < 5; polish++) {
    const again = nelderMead(f, best.x, { maxIterations, step: 0.1 });
    iterations += again.iterations;
    const gain = best.fx - again.fx;
    if (again.fx <= best.fx) best = again;
    if (!(gain > 1e-10)) break;
  }
  return { x: best.x, fx: best.fx, iterations, converged: best.converged };
}
