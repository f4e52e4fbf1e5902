import { describe, expect, it } from 'vitest';
import { minimiseFromStarts, nelderMead } from './nelderMead.js';

const rosenbrock = (v: readonly number[]) => 100 * (v[1] - v[0] ** 2) ** 2 + (1 - v[0]) ** 2;

describe('nelderMead', () => {
  it('finds the Rosenbrock minimum at (1, 1) to 1e-5 and says it converged', () => {
    const result = nelderMead(rosenbrock, [-1.2, 1], { maxIterations: 5000, step: 0.1 });
    expect(result.converged).toBe(true);
    expect(result.x[0]).toBeCloseTo(1, 5);
    expect(result.x[1]).toBeCloseTo(1, 5);
    expect(result.iterations).toBeGreaterThan(10);
  });

  it('keeps going through the shrink steps a kinked objective forces (the step fmin@0.0.4 crashes in)', () => {
    const kinked = (v: readonly number[]) => Math.max(Math.abs(v[0] - 1), 3 * Math.abs(v[1] + 2), Math.abs(v[2]));
    const start = [Math.sin(7) * 5, Math.cos(9.1) * 5, 3];
    // Nelder–Mead may stall on a kink; what matters here is that shrinking works and the descent continues
    expect(nelderMead(kinked, start, { maxIterations: 5000 }).fx).toBeLessThan(kinked(start) / 100);
  });

  it('treats NaN as +Infinity, so an objective can fence off a region', () => {
    const fenced = (v: readonly number[]) => (v[0] < 0 ? Number.NaN : (v[0] - 2) ** 2);
    expect(nelderMead(fenced, [0.1]).x[0]).toBeCloseTo(2, 6);
  });

  it('reports not converged when the iteration budget runs out', () => {
    expect(nelderMead(rosenbrock, [-1.2, 1], { maxIterations: 5 }).converged).toBe(false);
  });
});

describe('minimiseFromStarts', () => {
  it('keeps the best of several starts when the base start sits in a worse, narrow basin', () => {
    // global minimum 0 at −1; a local minimum 1 at 2.5 whose basin is only about ±0.33 wide
    const twoBasins = (v: readonly number[]) => Math.min((v[0] + 1) ** 2, 100 * (v[0] - 2.5) ** 2 + 1);
    expect(minimiseFromStarts(twoBasins, [2.5], { restarts: 1 }).fx).toBeCloseTo(1, 8);
    expect(minimiseFromStarts(twoBasins, [2.5], { restarts: 3 }).fx).toBeCloseTo(0, 8);
  });
});
