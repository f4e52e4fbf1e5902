import fc from 'fast-check';
import { TheilSenRegression } from 'ml-regression-theil-sen';
import { describe, expect, it } from 'vitest';
import { engagementTrend, liveEngagementTrend, theilSenSlope, type EngagementTrend } from './trend.js';

const asTrend = (result: ReturnType<typeof engagementTrend>): EngagementTrend => {
  if (result.kind !== 'trend') throw new Error(result.reason);
  return result;
};

describe('engagementTrend', () => {
  it('measures a straight decline exactly: 30 falling by 1 a day over 14 days', () => {
    const daily = Array.from({ length: 14 }, (_, i) => 30 - i);
    const trend = asTrend(engagementTrend(daily));
    expect(trend.slopePerDay).toBeCloseTo(-1, 12);
    expect(trend.mean).toBeCloseTo(23.5, 12);
    expect(trend.relativeChange).toBeCloseTo((-1 * 14) / 23.5, 12);
  });

  it('ignores a couple of outlier days that would swing a least-squares slope', () => {
    const daily = [10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 60, 70]; // a campaign spike at the end
    const trend = asTrend(engagementTrend(daily));
    expect(trend.slopePerDay).toBe(0);
  });

  it('stops the relative change at −1: a line that passes zero within the span means gone, not down 250%', () => {
    // 10, 9, ..., 1: slope −1, mean 5.5, −10 / 5.5 ≈ −1.8 before the floor
    const trend = asTrend(engagementTrend([10, 9, 8, 7, 6, 5, 4, 3, 2, 1]));
    expect(trend.slopePerDay).toBeCloseTo(-1, 12);
    expect(trend.relativeChange).toBe(-1);
  });

  it('is not moved by one outlier day in the middle', () => {
    expect(asTrend(engagementTrend([5, 5, 5, 5, 5, 5, 60, 5, 5, 5])).slopePerDay).toBe(0);
  });

  it('uses only the most recent days', () => {
    const daily = [...Array.from({ length: 30 }, () => 100), ...Array.from({ length: 7 }, (_, i) => 10 - i)];
    const trend = asTrend(engagementTrend(daily, { recentDays: 7 }));
    expect(trend.days).toBe(7);
    expect(trend.slopePerDay).toBeCloseTo(-1, 12);
  });

  it('reports 0 relative change, not a division by zero, when there was no engagement at all', () => {
    const trend = asTrend(engagementTrend(Array.from({ length: 14 }, () => 0)));
    expect(trend.relativeChange).toBe(0);
  });

  it('gives a reason, not a trend, for too few days or a non-number day', () => {
    expect(engagementTrend([5, 4])).toEqual({ kind: 'unavailable', reason: '2 days of engagement, at least 3 needed for a trend' });
    expect(engagementTrend([5, Number.NaN, 4, 3])).toEqual({ kind: 'unavailable', reason: 'engagement on day 1 is not a number' });
  });
});


describe('liveEngagementTrend', () => {
  it('is the trend where there is one and null where there is none, as the pipeline takes it', () => {
    expect(liveEngagementTrend([8, 8, 7, 7, 6, 6, 5, 5])).toMatchObject({ slopePerDay: -0.5, relativeChange: (-0.5 * 8) / 6.5 });
    expect(liveEngagementTrend([1, 2])).toBeNull();
  });
  // The live path fits without the library's arrays; it must give the library's numbers exactly, ties and outliers
  // included (whole numbers make ties common, as daily engagement has them).
  const series = fc.array(fc.oneof(fc.integer({ min: 0, max: 12 }), fc.double({ min: 0, max: 500, noNaN: true })), { maxLength: 30 });
  it('fits the same slope as ml-regression-theil-sen on generated series', () => {
    fc.assert(
      fc.property(series.filter((y) => y.length >= 2), (y) => {
        // `+ 0` makes −0 and +0 one value: among equal slopes either zero may be the median picked, as in the library.
        expect(theilSenSlope(y) + 0).toBe(new TheilSenRegression(y.map((_, i) => i), y).slope + 0);
      }),
      { numRuns: 2_000, seed: 42 },
    );
  });
  it('fits the last 14 days as the library does on a copy of them, and is null where there is too little or a gap', () => {
    // The reference: the library on daily.slice(-14), as the trend was first written.
    const reference = (daily: number[]) => {
      const recent = daily.slice(-14);
      if (recent.length < 3 || recent.some((v) => !Number.isFinite(v))) return null;
      const slopePerDay = new TheilSenRegression(recent.map((_, i) => i), recent).slope;
      const mean = recent.reduce((a, v) => a + v, 0) / recent.length;
      return { kind: 'trend', days: recent.length, slopePerDay, mean, relativeChange: mean > 1e-9 ? Math.max(-1, (slopePerDay * recent.length) / mean) : 0 };
    };
    const withGaps = fc.array(fc.oneof({ arbitrary: fc.integer({ min: 0, max: 12 }), weight: 8 }, { arbitrary: fc.constant(Number.NaN), weight: 1 }), { maxLength: 30 });
    fc.assert(
      fc.property(fc.oneof(series, withGaps), (daily) => {
        const zeroSign = (t: ReturnType<typeof reference>) => t && { ...t, slopePerDay: t.slopePerDay + 0, relativeChange: t.relativeChange + 0 };
        expect(zeroSign(liveEngagementTrend(daily))).toEqual(zeroSign(reference(daily)));
      }),
      { numRuns: 2_000, seed: 42 },
    );
  });
});
