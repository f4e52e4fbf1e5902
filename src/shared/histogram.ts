// A fixed-bucket histogram of seconds, as Prometheus reads one (cumulative buckets, sum, count): the module that
// does the measured work owns one and only adds numbers; /metrics (metrics.ts) reads it at scrape time.

/** Upper bounds in seconds for latencies from a tenth of a millisecond to half a minute. */
export const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;

/** Upper bounds in seconds for event time to processing: milliseconds when live, minutes when behind. */
export const EVENT_LAG_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900] as const;

export class Histogram {
  /** Observations at or below each bound (not yet cumulative); the last slot is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[] = LATENCY_BUCKETS) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** One observation; a value that is not a finite number (a clock step) is ignored. */
  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }

  /** Milliseconds measured as seconds. */
  observeMs(ms: number): void {
    this.observe(ms / 1_000);
  }

  /** Cumulative count per bound, `+Inf` last (equal to count), as Prometheus's `_bucket{le}` series. */
  cumulative(): { le: string; count: number }[] {
    let n = 0;
    const out: { le: string; count: number }[] = [];
    for (let i = 0; i < this.counts.length; i++) {
      n += this.counts[i];
      out.push({ le: i < this.bounds.length ? String(this.bounds[i]) : '+Inf', count: n });
    }
    return out;
  }
}

/** Several histograms (one per pipeline, per worker) read as one: buckets and sums added. */
export function mergeHistograms(hs: readonly Histogram[], bounds: readonly number[] = LATENCY_BUCKETS): Histogram {
  const out = new Histogram(bounds);
  for (const h of hs) {
    if (h.bounds.length !== bounds.length) continue;
    for (let i = 0; i < out.counts.length; i++) out.counts[i] += h.counts[i];
    out.sum += h.sum;
    out.count += h.count;
  }
  return out;
}
