// Tanh-sinh quadrature for the model tests: a second, independent way to compute the closed forms, and
// untroubled by the endpoint singularities (p^(a−1), lambda^(r−1)) that the model integrands have.

export interface QuadratureNode {
  /** Abscissa in (0, 1). */
  x: number;
  /** 1 − x, computed without cancellation so integrands near 1 keep their precision. */
  complement: number;
  weight: number;
}

/** Nodes and weights on (0, 1): x = (1 + tanh(π/2 · sinh t)) / 2 for t = kh, |t| ≤ tMax. */
export function tanhSinhNodes(step = 1 / 64, tMax = 5): QuadratureNode[] {
  const nodes: QuadratureNode[] = [];
  for (let k = -Math.floor(tMax / step); k * step <= tMax; k++) {
    const t = k * step;
    const u = (Math.PI / 2) * Math.sinh(t);
    const x = 1 / (1 + Math.exp(-2 * u));
    const complement = 1 / (1 + Math.exp(2 * u));
    const coshU = Math.cosh(u);
    const weight = (step * (Math.PI / 2) * Math.cosh(t)) / (2 * coshU * coshU);
    if (x > 0 && complement > 0 && weight > 0) nodes.push({ x, complement, weight });
  }
  return nodes;
}

/**
 * ∫∫ exp(logF(u, v, 1 − v)) du dv over (0, ∞) × (0, 1), with u = scale · x / (1 − x). Log-integrands are summed against
 * their maximum, so integrands like lambda^200 neither overflow nor underflow; returns the log of the integral.
 */
export function logIntegrateHalfLineByUnit(
  logF: (u: number, v: number, vComplement: number) => number,
  scale: number,
  nodes: readonly QuadratureNode[] = tanhSinhNodes(),
): number {
  const logWeights = nodes.map((node) => Math.log(node.weight));
  // one pass of log-sum-exp, rescaling the running sum whenever a larger term turns up
  let max = Number.NEGATIVE_INFINITY;
  let sum = 0;
  nodes.forEach((outer, i) => {
    const u = (scale * outer.x) / outer.complement;
    const logJacobian = Math.log(scale) - 2 * Math.log(outer.complement) + logWeights[i];
    nodes.forEach((inner, j) => {
      const term = logF(u, inner.x, inner.complement) + logJacobian + logWeights[j];
      if (Number.isNaN(term)) throw new Error(`integrand is NaN at (${u}, ${inner.x})`);
      if (term <= max) {
        sum += Math.exp(term - max);
      } else if (term > Number.NEGATIVE_INFINITY) {
        sum = sum * Math.exp(max - term) + 1;
        max = term;
      }
    });
  });
  return max + Math.log(sum);
}

/** ∫ f(x) dx over (0, 1); f also receives 1 − x. */
export function integrateUnit(f: (x: number, complement: number) => number, nodes = tanhSinhNodes()): number {
  let sum = 0;
  for (const node of nodes) sum += node.weight * f(node.x, node.complement);
  return sum;
}

/** Total probability and mean of a count distribution given by its log-probabilities, summed over k = 0..kMax. */
export function countMoments(logProbability: (k: number) => number, kMax: number): { total: number; mean: number } {
  let total = 0;
  let mean = 0;
  for (let k = 0; k <= kMax; k++) {
    const p = Math.exp(logProbability(k));
    total += p;
    mean += k * p;
  }
  return { total, mean };
}
