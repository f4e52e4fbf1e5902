// A small SVG of how the processor's cost grows: state bytes and µs per event against customers, and CPU per event
// and p99 event-to-wall against the publish rate. No dependencies: two panels of polylines with labelled points.
import type { BenchResults } from './report.js';

interface Series {
  label: string;
  color: string;
  points: [number, number][];
}

function panel(x0: number, title: string, xLabel: string, xs: number[], series: Series[], logX: boolean): string {
  const w = 320;
  const h = 180;
  const left = x0 + 50;
  const top = 40;
  const fx = (v: number) => {
    const lo = logX ? Math.log10(Math.min(...xs)) : 0;
    const hi = logX ? Math.log10(Math.max(...xs)) : Math.max(...xs);
    const t = hi === lo ? 0.5 : ((logX ? Math.log10(v) : v) - lo) / (hi - lo);
    return left + 10 + t * (w - 20);
  };
  let out = `<text x="${left}" y="20" font-size="13" font-weight="bold">${title}</text>`;
  out += `<line x1="${left}" y1="${top + h}" x2="${left + w}" y2="${top + h}" stroke="#888"/><line x1="${left}" y1="${top}" x2="${left}" y2="${top + h}" stroke="#888"/>`;
  out += `<text x="${left + w / 2}" y="${top + h + 32}" font-size="11" text-anchor="middle">${xLabel}</text>`;
  for (const x of xs) out += `<text x="${fx(x)}" y="${top + h + 15}" font-size="10" text-anchor="middle">${x >= 1000 ? `${x / 1000}k` : x}</text>`;
  series.forEach((s, k) => {
    // Each series is scaled to its own maximum: the panel shows shape, the labels give the numbers.
    const max = Math.max(...s.points.map((p) => p[1]), 1e-9);
    const fy = (v: number) => top + h - (v / max) * (h - 20);
    out += `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${s.points.map(([x, y]) => `${fx(x)},${fy(y)}`).join(' ')}"/>`;
    for (const [x, y] of s.points) out += `<circle cx="${fx(x)}" cy="${fy(y)}" r="3" fill="${s.color}"/><text x="${fx(x) + 5}" y="${fy(y) - 5}" font-size="10" fill="${s.color}">${Number.isInteger(y) ? y : y.toFixed(1)}</text>`;
    out += `<text x="${left + 10}" y="${top + 12 + 14 * k}" font-size="11" fill="${s.color}">${s.label}</text>`;
  });
  return out;
}

export function costSvg(r: BenchResults): string {
  const sizes = r.memory.bySize;
  const byCustomers = panel(
    0,
    'cost by customers in state',
    'customers',
    sizes.map((s) => s.customers),
    [
      { label: 'state bytes per customer', color: '#1f77b4', points: sizes.map((s) => [s.customers, s.stateBytesPerCustomer]) },
      { label: 'µs per event (pipeline, no I/O)', color: '#d62728', points: sizes.map((s) => [s.customers, s.usPerEvent]) },
    ],
    true,
  );
  const lat = r.latency;
  const byRate = panel(
    420,
    'cost by publish rate',
    'events per second',
    lat.map((l) => l.ratePerSec),
    [
      { label: 'CPU µs per event (whole processor)', color: '#2ca02c', points: lat.map((l) => [l.ratePerSec, l.cpuUsPerEvent]) },
      { label: 'p99 event to wall, ms', color: '#9467bd', points: lat.map((l) => [l.ratePerSec, l.p99Ms]) },
    ],
    false,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="840" height="270" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>${byCustomers}${byRate}</svg>\n`;
}
