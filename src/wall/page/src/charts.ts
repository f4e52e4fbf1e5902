// The two history charts (events per second, processing lag), drawn by uPlot into boxes the layout sizes.
import uPlot from 'uplot';
import { $ } from './dom.js';
import { fmtAxisDuration, fmtCount } from './format.js';
import { state } from './state.js';

const charts: Record<string, uPlot> = {};
const Y_STEPS = [1, 2, 5].flatMap((m) => Array.from({ length: 13 }, (_, e) => m * 10 ** e)).sort((a, b) => a - b);

/**
 * `log`: a logarithmic y axis (for lag, which spans milliseconds when live and hours while a backlog or a history is
 * replayed: on a linear axis one replay flattens the live minutes to zero for the next ten minutes).
 */
function chartOptions(color: string, formatValue: (v: number) => string, width: number, height: number, log = false): uPlot.Options {
  const fontPx = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
  const axis = {
    stroke: '#8193a7',
    grid: { stroke: 'rgba(255,255,255,0.06)', width: 1 },
    ticks: { stroke: 'rgba(255,255,255,0.12)', width: 1 },
    font: `${Math.round(fontPx * 0.72)}px system-ui, sans-serif`,
  };
  const clock = (_u: uPlot, splits: number[]) => splits.map((s) => new Date(s * 1_000).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' }));
  const y: uPlot.Scale = log
    ? { distr: 3, log: 10, range: (_u, _min, max) => uPlot.rangeLog(1, Math.max(1_000, max), 10, true) }
    : { range: (_u, _min, max) => [0, max > 0 ? Math.max(max * 1.15, 5) : 10] };
  return {
    width,
    height,
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true }, y },
    axes: [
      { ...axis, space: fontPx * 3.6, size: fontPx * 2.8, values: clock },
      // Whole-number steps only: an idle processor shows 0 … 10, not 0, 0, 0, 1, 1, 1.
      { ...axis, space: fontPx * 2.2, size: fontPx * 4.2, ...(log ? {} : { incrs: Y_STEPS }), values: (_u, values) => values.map((v) => (v == null ? '' : formatValue(v))) },
    ],
    series: [{}, { stroke: color, width: Math.max(2, fontPx / 8), fill: `${color}22`, points: { show: false } }],
  };
}

function ensureChart(name: string, containerId: string, color: string, formatValue: (v: number) => string, log = false): uPlot | null {
  if (charts[name]) return charts[name];
  const box = $(containerId);
  const { width, height } = box.getBoundingClientRect();
  if (width < 10 || height < 10) return null;
  const chart = new uPlot(chartOptions(color, formatValue, width, height, log), [[], []], box);
  new ResizeObserver(() => {
    const rect = box.getBoundingClientRect();
    if (rect.width >= 10 && rect.height >= 10) chart.setSize({ width: rect.width, height: rect.height });
  }).observe(box);
  charts[name] = chart;
  return chart;
}

export function renderCharts(): void {
  const h = state.history;
  const eps = ensureChart('eps', 'chart-events', '#38bdf8', (v) => fmtCount(v));
  const lag = ensureChart('lag', 'chart-lag', '#a78bfa', fmtAxisDuration, true);
  eps?.setData([h.t, h.eps]);
  // A log axis has no zero: a lag under 1 ms is drawn at 1 ms.
  lag?.setData([h.t, h.lag.map((ms) => Math.max(1, ms))]);
}
