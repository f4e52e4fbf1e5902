// The tracking plot analysts check a purchase model with (Fader, Hardie & Lee 2005, fig. 2 and 3): repeat purchases
// per period and cumulated, actual against the model's expectation summed over the cohort, through calibration and
// holdout, with a line at the split. The data is computed here; the SVG is a plain string, no dependency.
import { COUNT_MODELS, type CountModelName, type ModelParams } from './countModels.js';
import type { PurchaseEvent } from './purchaseLog.js';

export interface TrackingData {
  /** End of each period, in model time units. */
  times: number[];
  actualPerPeriod: number[];
  expectedPerPeriod: number[];
  actualCumulative: number[];
  expectedCumulative: number[];
  /** The cohort's first purchase: where the first period starts. */
  start: number;
  calibrationEnd: number;
}

/**
 * Over the customers whose first purchase is at or before calibrationEnd: repeat purchases (every purchase after a
 * customer's first; same-time purchases merged, as the summaries merge them) in periods of `period` from the first
 * purchase in the log to holdoutEnd, and Σ E[X(τ − first_i)] at each period's end (a new customer's expectation).
 */
export function trackingData(
  events: readonly PurchaseEvent[],
  model: CountModelName,
  params: ModelParams,
  options: { calibrationEnd: number; holdoutEnd: number; period: number },
): TrackingData {
  const { calibrationEnd, holdoutEnd, period } = options;
  const times = new Map<string, number[]>();
  for (const e of events) {
    let list = times.get(e.customerId);
    if (!list) times.set(e.customerId, (list = []));
    list.push(e.time);
  }
  const firsts = new Map<number, number>(); // first-purchase time → customers: the expectation is computed once per time
  const repeats: number[] = [];
  let start = Number.POSITIVE_INFINITY;
  for (const list of times.values()) {
    const distinct = [...new Set(list)].sort((a, b) => a - b);
    if (distinct[0] > calibrationEnd) continue;
    firsts.set(distinct[0], (firsts.get(distinct[0]) ?? 0) + 1);
    start = Math.min(start, distinct[0]);
    for (let i = 1; i < distinct.length && distinct[i] <= holdoutEnd; i++) repeats.push(distinct[i]);
  }
  const periods = Math.max(1, Math.ceil((holdoutEnd - start) / period - 1e-9));
  const ends = Array.from({ length: periods }, (_, k) => Math.min(holdoutEnd, start + (k + 1) * period));
  const actualPerPeriod = new Array<number>(periods).fill(0);
  for (const t of repeats) actualPerPeriod[Math.min(periods - 1, Math.max(0, Math.ceil((t - start) / period) - 1))]++;
  const spec = COUNT_MODELS[model];
  const expectedCumulative = ends.map((end) => {
    let sum = 0;
    for (const [first, count] of firsts) if (end > first) sum += count * spec.expectedPurchases(params, end - first, 0, 0, 0);
    return sum;
  });
  const actualCumulative = cumulate(actualPerPeriod);
  const expectedPerPeriod = expectedCumulative.map((v, k) => v - (k > 0 ? expectedCumulative[k - 1] : 0));
  return { times: ends, actualPerPeriod, expectedPerPeriod, actualCumulative, expectedCumulative, start, calibrationEnd };
}

function cumulate(values: readonly number[]): number[] {
  let sum = 0;
  return values.map((v) => (sum += v));
}

const W = 440;
const H = 220;
const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const round = (v: number) => Number(v.toFixed(2));

function panel(x0: number, title: string, unit: string, data: TrackingData, actual: number[], expected: number[], kind: string): string {
  const left = x0 + 55;
  const top = 40;
  const t0 = data.start;
  const t1 = data.times[data.times.length - 1];
  const max = Math.max(1e-9, ...actual, ...expected) * 1.05;
  const fx = (t: number) => round(left + ((t - t0) / Math.max(1e-9, t1 - t0)) * W);
  const fy = (v: number) => round(top + H - (v / max) * H);
  const line = (values: number[], series: string, style: string) =>
    `<polyline data-series="${series}" data-values="${values.map((v) => v.toFixed(4)).join(' ')}" fill="none" ${style} ` +
    `points="${values.map((v, k) => `${fx(data.times[k])},${fy(v)}`).join(' ')}"/>`;
  const split = fx(data.calibrationEnd);
  const ticks = [0, 0.25, 0.5, 0.75, 1]
    .map((f) => `<text x="${left - 6}" y="${fy(f * max) + 4}" font-size="10" text-anchor="end">${Math.round(f * max).toLocaleString('en-US')}</text>`)
    .join('');
  const xTicks = [0, 0.25, 0.5, 0.75, 1]
    .map((f) => {
      const t = t0 + f * (t1 - t0);
      return `<text x="${fx(t)}" y="${top + H + 15}" font-size="10" text-anchor="middle">${round(t)}</text>`;
    })
    .join('');
  return [
    `<text x="${left}" y="22" font-size="13" font-weight="bold">${escapeXml(title)}</text>`,
    `<line x1="${left}" y1="${top + H}" x2="${left + W}" y2="${top + H}" stroke="#888"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + H}" stroke="#888"/>`,
    ticks,
    xTicks,
    `<text x="${left + W / 2}" y="${top + H + 32}" font-size="11" text-anchor="middle">${escapeXml(unit)}</text>`,
    `<line data-series="split" x1="${split}" y1="${top}" x2="${split}" y2="${top + H}" stroke="#999" stroke-dasharray="4 3"/>`,
    `<text x="${split + 4}" y="${top + 12}" font-size="10" fill="#666">calibration | holdout</text>`,
    line(actual, `actual-${kind}`, 'stroke="#1f77b4" stroke-width="2"'),
    line(expected, `predicted-${kind}`, 'stroke="#d62728" stroke-width="2" stroke-dasharray="6 3"'),
  ].join('\n');
}

/** Two panels, cumulative and per period, actual (solid) against the model (dashed), as a self-contained SVG. */
export function trackingSvg(data: TrackingData, labels: { model: string; unit: string; title?: string }): string {
  const width = 2 * (W + 90);
  const height = H + 110;
  const title = labels.title ?? `Repeat purchases: actual vs ${labels.model}`;
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    panel(0, `Cumulative repeat purchases`, labels.unit, data, data.actualCumulative, data.expectedCumulative, 'cumulative'),
    panel(W + 90, `Repeat purchases per period`, labels.unit, data, data.actualPerPeriod, data.expectedPerPeriod, 'per-period'),
    `<g font-size="11"><line x1="60" y1="${height - 16}" x2="85" y2="${height - 16}" stroke="#1f77b4" stroke-width="2"/>` +
      `<text x="90" y="${height - 12}">actual</text>` +
      `<line x1="150" y1="${height - 16}" x2="175" y2="${height - 16}" stroke="#d62728" stroke-width="2" stroke-dasharray="6 3"/>` +
      `<text x="180" y="${height - 12}">${escapeXml(labels.model)}</text></g>`,
    `</svg>`,
    '',
  ].join('\n');
}
