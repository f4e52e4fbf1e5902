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
        expect(theilSenSlope(y)).toBe(new TheilSenRegression(y.map((_, i) => i), y).slope);
      }),
      { numRuns: 2_000 },
    );
  });
  it('gives what engagementTrend gives, or null where it has no trend', () => {
    fc.assert(
      fc.property(series, (daily) => {
        const full = engagementTrend(daily);
        expect(liveEngagementTrend(daily)).toEqual(full.kind === 'trend' ? full : null);
      }),
      { numRuns: 2_000 },
    );
  });
});
