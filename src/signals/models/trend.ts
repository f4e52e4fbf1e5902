// Engagement trend: a slope over recent days that a few outlier days (a campaign spike, a tracking gap) cannot
// swing, and the reason string a falling one puts on a customer's risk.

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

/**
 * daily[i] is the engagement of day i, oldest first, one value per consecutive day. Fitted over the range in place,
 * without copying it: the live pipeline fits it for nearly every event of an active customer.
 */
export function engagementTrend(daily: readonly number[], options: TrendOptions = {}): EngagementTrend | TrendUnavailable {
  const recentDays = options.recentDays ?? 14;
  // As daily.slice(-recentDays) would take it: 0 (or more days than there are) means all of them.
  const from = recentDays > 0 ? Math.max(0, daily.length - recentDays) : 0;
  const to = daily.length;
  const days = to - from;
  const minDays = Math.max(2, options.minDays ?? 3);
  if (days < minDays) {
    return { kind: 'unavailable', reason: `${days} days of engagement, at least ${minDays} needed for a trend` };
  }
  let total = 0;
  for (let i = from; i < to; i++) {
    if (!Number.isFinite(daily[i])) return { kind: 'unavailable', reason: `engagement on day ${i} is not a number` };
    total += daily[i];
  }
  const slopePerDay = theilSenSlope(daily, from, to);
  const mean = total / days;
  const relativeChange = mean > NO_ENGAGEMENT ? Math.max(-1, (slopePerDay * days) / mean) : 0;
  return { kind: 'trend', days, slopePerDay, mean, relativeChange };
}

/** Pairwise slopes of the live fits, reused: the live trend is fitted for nearly every event of an active customer. */
let slopes = new Float64Array(91);

/**
 * The Theil–Sen slope of `y[from..to)` over x = 0, 1, …: the same number as ml-regression-theil-sen's `slope` (its
 * median is median-quickselect's, the element of rank ⌊(m − 1) / 2⌋ of the m pairwise slopes; trend.test.ts checks
 * the two agree on generated series). Not the library itself: it runs for nearly every event of an active customer,
 * and the library allocates two arrays per fit and one per swap of its median, and fits an intercept the trend does
 * not use (~0.8 KB and ~2% of the processor's CPU per event in the benchmark's profile).
 */
export function theilSenSlope(y: ArrayLike<number>, from = 0, to = y.length): number {
  const n = to - from;
  const m = (n * (n - 1)) / 2;
  if (m > slopes.length) slopes = new Float64Array(m);
  let k = 0;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) slopes[k++] = (y[from + j] - y[from + i]) / (j - i);
  return selectRank(slopes, m, (m - 1) >> 1);
}

/** The element of rank `rank` among a[0..m), by quickselect in place (Hoare partition, median-of-three pivot). */
function selectRank(a: Float64Array, m: number, rank: number): number {
  let lo = 0;
  let hi = m - 1;
  while (hi > lo) {
    const mid = (lo + hi) >> 1;
    // Median of three as the pivot, so sorted and reversed inputs (steady trends) do not go quadratic.
    if (a[mid] < a[lo]) swap(a, mid, lo);
    if (a[hi] < a[lo]) swap(a, hi, lo);
    if (a[hi] < a[mid]) swap(a, hi, mid);
    const pivot = a[mid];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) swap(a, i++, j--);
    }
    if (rank <= j) hi = j;
    else if (rank >= i) lo = i;
    else return a[rank];
  }
  return a[rank];
}

function swap(a: Float64Array, i: number, j: number): void {
  const t = a[i];
  a[i] = a[j];
  a[j] = t;
}

/** The trend the live pipeline takes: the fitted trend, or null when there is none to tell. */
export function liveEngagementTrend(daily: readonly number[]): EngagementTrend | null {
  const trend = engagementTrend(daily);
  return trend.kind === 'trend' ? trend : null;
}
