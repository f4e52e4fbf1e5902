import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { groupSummaries, type CustomerSummary } from './mle.js';

/** The plain way: a string key per row, rows in first-seen order. */
function reference(data: readonly CustomerSummary[]) {
  const rows = new Map<string, { row: CustomerSummary; weight: number }>();
  for (const r of data) {
    const key = `${r.x}|${r.tx}|${r.T}`;
    const at = rows.get(key);
    if (at) at.weight++;
    else rows.set(key, { row: { x: r.x + 0, tx: r.tx + 0, T: r.T + 0 }, weight: 1 });
  }
  return [...rows.values()];
}

describe('groupSummaries', () => {
  it('groups identical (x, t_x, T) rows in first-seen order with their counts, as a string key per row would', () => {
    // Few distinct values, so rows repeat and hash slots collide; −0 among them.
    const value = fc.constantFrom(0, -0, 1, 2.5, 1 / 1440, 365.25, 1e-9, 1e9);
    const row = fc.record({ x: fc.constantFrom(0, 1, 2, 40), tx: value, T: value });
    fc.assert(
      fc.property(fc.array(row, { maxLength: 300 }), (data) => {
        const g = groupSummaries(data);
        const want = reference(data);
        expect(g.customers).toBe(data.length);
        expect(Array.from(g.x)).toEqual(want.map((w) => w.row.x));
        expect(Array.from(g.tx)).toEqual(want.map((w) => w.row.tx));
        expect(Array.from(g.T)).toEqual(want.map((w) => w.row.T));
        expect(Array.from(g.weights)).toEqual(want.map((w) => w.weight));
      }),
      { numRuns: 300 },
    );
  });
});
