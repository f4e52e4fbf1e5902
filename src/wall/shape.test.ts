// The at-risk list the wall sends is bounded and ordered by risk, whatever order the source used.
import { describe, expect, it } from 'vitest';
import type { AtRiskEntry } from '../contract/frames.js';
import { limitAtRisk } from './shape.js';

const entry = (customerId: string, risk: number) => ({ customerId, risk }) as AtRiskEntry;

describe('limitAtRisk', () => {
  it('keeps the highest risks first, at most `size`', () => {
    const out = limitAtRisk([entry('a', 0.7), entry('b', 0.9), entry('c', 0.8)], 2);
    expect(out.map((e) => e.customerId)).toEqual(['b', 'c']);
  });

  it('returns a short, sorted list as it is', () => {
    const list = [entry('b', 0.9), entry('a', 0.7)];
    expect(limitAtRisk(list, 5)).toBe(list);
  });
});
