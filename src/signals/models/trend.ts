// Engagement trend: a slope over recent days that a few outlier days (a campaign spike, a tracking gap) cannot
// swing, and the reason string a falling one puts on a customer's risk.
import { TheilSenRegression } from 'ml-regression-theil-sen';

export interface EngagementTrend {
  kind: 'trend';
  /** Days the slope was fitted over. */
  days: number;
  /** Theil–Sen slope: the median of the pairwise slopes, in engagement per day. */
  slopePerDay: number;
  mean: number;
  /**
   * slopePerDay × days / mean: −0.6 reads "down 60% over the span". At least −1: engagement cannot fall below
   * none, so a line steep enough to pass zero within the span means "gone", not "down 250%". 0 when there was no
   * engagement at all.
   */
  relativeChange: number;
}

export interface TrendUnavailable {
  kind: 'unavailable';
  reason: string;
}

export interface TrendOptions {
  /** Use only the most recent days (default 14). */
  recentDays?: number;
  /** Fewer days than this give no trend (default 3). */
  minDays?: number;
}

/** Below this mean, engagement counts as none, and a relative change would only amplify noise. */
const NO_ENGAGEMENT = 1e-9;

/** daily[i] is the engagement of day i, oldest first, one value per consecutive day. */
export function engagementTrend(daily: readonly number[], options: TrendOptions = {}): EngagementTrend | TrendUnavailable {
  const recent = daily.slice(-(options.recentDays ?? 14));
  const minDays = Math.max(2, options.minDays ?? 3);
  if (recent.length < minDays) {
    return { kind: 'unavailable', reason: `${recent.length} days of engagement, at least ${minDays} needed for a trend` };
  }
  const bad = recent.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    return { kind: 'unavailable', reason: `engagement on day ${daily.length - recent.length + bad} is not a number` };
  }
  const days = recent.length;
  const slopePerDay = new TheilSenRegression(
    recent.map((_, i) => i),
    recent,
  ).slope;
  const mean = recent.reduce((s, v) => s + v, 0) / days;
  const relativeChange = mean > NO_ENGAGEMENT ? Math.max(-1, (slopePerDay * days) / mean) : 0;
  return { kind: 'trend', days, slopePerDay, mean, relativeChange };
}

/** The trend the live pipeline takes: the fitted trend, or null when there is none to tell. */
export function liveEngagementTrend(daily: readonly number[]): EngagementTrend | null {
  const trend = engagementTrend(daily);
  return trend.kind === 'trend' ? trend : null;
}
