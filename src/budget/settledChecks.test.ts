import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BUDGET_CHANNELS } from './allowance.js';
import type { BudgetReport } from './reservations.js';
import { emptyReport, reportAt, SettledChecksBuilder } from './settledChecks.js';
import { REASON_CODES } from './suppressionTally.js';

const report = fc.record<BudgetReport>({
  customerId: fc.string({ minLength: 1, maxLength: 12 }),
  channel: fc.constantFrom(...BUDGET_CHANNELS),
  campaignId: fc.option(fc.constantFrom('spring', 'autumn', 'c-3'), { nil: null }),
  at: fc.integer({ min: 0, max: 2 ** 45 }),
  codes: fc.option(fc.uniqueArray(fc.constantFrom(...REASON_CODES), { minLength: 1 }), { nil: null }),
  reserved: fc.boolean(),
  known: fc.boolean(),
  refresh: fc.boolean(),
});

describe('the settled checks in columns', () => {
  it('give back every report as it was added, codes in REASON_CODES order, and the count applied with each', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(report, fc.nat(2 ** 31)), { maxLength: 60 }), (list) => {
        const b = new SettledChecksBuilder();
        for (const [r, seen] of list) b.add(r, seen);
        expect(b.size).toBe(list.length);
        const s = b.take();
        expect(b.size).toBe(0);
        const into = emptyReport();
        list.forEach(([r, seen], i) => {
          const back = { ...reportAt(s, i, into) };
          expect(back).toEqual({ ...r, codes: r.codes === null ? null : REASON_CODES.filter((c) => r.codes!.includes(c)) });
          expect(s.seen[i]).toBe(seen);
        });
        // One entry per campaign named, however many checks name it.
        expect(new Set(s.campaigns).size).toBe(s.campaigns.length);
      }),
    );
  });

  it('start again empty after a take', () => {
    const b = new SettledChecksBuilder();
    b.add({ ...emptyReport(), customerId: 'a', campaignId: 'x' }, 1);
    b.take();
    b.add({ ...emptyReport(), customerId: 'b', campaignId: null }, 2);
    const s = b.take();
    expect(s.ids).toEqual(['b']);
    expect(s.campaigns).toEqual([null]);
    expect([...s.seen]).toEqual([2]);
  });
});
