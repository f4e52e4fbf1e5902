import { describe, expect, it } from 'vitest';
import { Histogram, mergeHistograms } from './histogram.js';

describe('Histogram', () => {
  it('counts each observation in the first bucket at or above it, cumulatively, +Inf last', () => {
    const h = new Histogram([0.01, 0.1, 1]);
    for (const ms of [5, 10, 50, 2_000]) h.observeMs(ms);
    h.observe(Number.NaN);
    expect(h.cumulative()).toEqual([
      { le: '0.01', count: 2 },
      { le: '0.1', count: 3 },
      { le: '1', count: 3 },
      { le: '+Inf', count: 4 },
    ]);
    expect(h.count).toBe(4);
    expect(h.sum).toBeCloseTo(2.065, 10);
  });

  it('merges histograms of the same buckets', () => {
    const a = new Histogram([1]);
    const b = new Histogram([1]);
    a.observe(0.5);
    b.observe(2);
    const m = mergeHistograms([a, b], [1]);
    expect(m.cumulative()).toEqual([{ le: '1', count: 1 }, { le: '+Inf', count: 2 }]);
    expect(m.sum).toBe(2.5);
  });
});
