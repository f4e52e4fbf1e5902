// Engagement: how active a customer is now, as a 0–100 score from the weighted 7-day window, with its reasons.
import type { CustomerView } from '../windows/customerWindows.js';

export interface EngagementSignal {
  /** 100 × (1 − e^(−E7/scale)): 0 for nothing in a week, 63 at `scale`, saturating toward 100. */
  score: number;
  weighted7d: number;
  weighted24h: number;
  /** Robust slope of daily engagement, per day; null when there is too little history to tell. */
  trendPerDay: number | null;
  /** The trend over the fitted span relative to the mean daily engagement (−0.6 = down 60%). */
  trendRelative: number | null;
}

export interface Trend {
  slopePerDay: number;
  relativeChange: number;
}

export function engagementSignal(view: CustomerView, scale: number, trend: Trend | null): EngagementSignal {
  const e7 = view.engagement.d7;
  return {
    score: 100 * (1 - Math.exp(-e7 / scale)),
    weighted7d: e7,
    weighted24h: view.engagement.h24,
    trendPerDay: trend?.slopePerDay ?? null,
    trendRelative: trend?.relativeChange ?? null,
  };
}

/** Daily engagement for the trend: the last `days` full or partial days, oldest first; null before a customer has 3 active days. */
export function trendInput(view: CustomerView, days: number): number[] | null {
  // Counted in place first: most customers have fewer than 3 active days, and they need no copy.
  const daily = view.engagementDaily;
  const from = Math.max(0, daily.length - days);
  let activeDays = 0;
  for (let i = from; i < daily.length; i++) if (daily[i] > 0) activeDays++;
  return activeDays >= 3 ? daily.slice(from) : null;
}
