// Renders two analyst views from a Vigil database as static pages, then screenshots them in Chromium: the weekly
// retention cohorts (sql/queries/retention_cohorts.sql) as a heat table, and the daily lifecycle
// (sql/queries/lifecycle.sql) as a stacked bar chart, dormant below the axis as PostHog draws it. The same saved
// queries the Grafana dashboards are built on; Grafana itself cannot run here.
//
//   npx tsx scripts/render-analytics.ts [--config FILE] [--out docs/analytics] [--screenshots docs/screenshots]
//
// The database is clickhouse.database (VIGIL_CLICKHOUSE__DATABASE=vigil_demo for the demo data).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { loadConfig } from '../src/config/load.js';
import { createClickHouseClient } from '../src/sinks/clickhouse/client.js';
import { renderStatement } from '../src/sinks/clickhouse/migrate.js';

interface CohortRow {
  cohort_week: string;
  weeks_since: number;
  customers: number;
  cohort_size: number;
  share: number;
}
interface LifecycleRow {
  day: string;
  new_customers: number;
  returning_customers: number;
  resurrecting_customers: number;
  dormant_customers: number;
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

const PAGE_STYLE = `
  body { margin: 0; padding: 28px 32px; background: #0f1419; color: #d9e1e8; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; }
  h1 { font-size: 20px; font-weight: 600; margin: 0 0 4px; }
  p.sub { margin: 0 0 20px; color: #8b98a5; }
  table { border-collapse: collapse; }
  th, td { padding: 6px 10px; text-align: right; font-variant-numeric: tabular-nums; }
  th { color: #8b98a5; font-weight: 500; }
  td.cell { min-width: 52px; color: #0f1419; font-weight: 600; }
  td.empty { background: transparent; }
  .legend span { display: inline-block; margin-right: 18px; }
  .legend i { display: inline-block; width: 12px; height: 12px; margin-right: 6px; vertical-align: -1px; border-radius: 2px; }
  footer { margin-top: 16px; color: #5c6773; font-size: 12px; }
`;

/** Blue for low retention to green for high; week 0 is always 100%. */
function shade(share: number): string {
  const s = Math.max(0, Math.min(1, share));
  const hue = 200 - 80 * Math.sqrt(s);
  const light = 28 + 42 * Math.sqrt(s);
  return `hsl(${hue.toFixed(0)} 65% ${light.toFixed(0)}%)`;
}

export function retentionHtml(rows: CohortRow[], database: string, generatedAt: string): string {
  const cohorts = [...new Set(rows.map((r) => r.cohort_week))].sort();
  const maxWeek = rows.reduce((m, r) => Math.max(m, r.weeks_since), 0);
  const at = new Map(rows.map((r) => [`${r.cohort_week}|${r.weeks_since}`, r]));
  const size = new Map(rows.filter((r) => r.weeks_since === 0).map((r) => [r.cohort_week, r.cohort_size]));
  const head = `<tr><th>cohort (week of)</th><th>customers</th>${Array.from({ length: maxWeek + 1 }, (_, w) => `<th>week ${w}</th>`).join('')}</tr>`;
  const body = cohorts
    .map((c) => {
      const cells = Array.from({ length: maxWeek + 1 }, (_, w) => {
        const r = at.get(`${c}|${w}`);
        return r ? `<td class="cell" style="background:${shade(r.share)}" title="${r.customers} of ${r.cohort_size}">${(r.share * 100).toFixed(1)}%</td>` : '<td class="empty"></td>';
      }).join('');
      return `<tr><th>${esc(c)}</th><td>${size.get(c) ?? ''}</td>${cells}</tr>`;
    })
    .join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>Weekly retention cohorts</title><style>${PAGE_STYLE}</style></head><body>
<h1>Weekly retention cohorts</h1>
<p class="sub">Customers by the week (Monday, UTC) of their first activity, and the share of them active again N weeks later. Database <code>${esc(database)}</code>, query <code>sql/queries/retention_cohorts.sql</code>.</p>
<table>${head}
${body}</table>
<footer>Active: the customer did something themselves (no outbound touches, negatives or privacy events). Generated ${esc(generatedAt)}.</footer>
</body></html>
`;
}

const SERIES = [
  { key: 'new_customers', label: 'new', color: '#4caf50' },
  { key: 'returning_customers', label: 'returning', color: '#2f8fdd' },
  { key: 'resurrecting_customers', label: 'resurrecting', color: '#f0a030' },
] as const;
const DORMANT = { key: 'dormant_customers', label: 'dormant', color: '#d9534f' } as const;

export function lifecycleHtml(rows: LifecycleRow[], database: string, generatedAt: string, today: string): string {
  const W = 1100;
  const H = 460;
  const pad = { l: 56, r: 16, t: 16, b: 44 };
  const up = rows.map((r) => r.new_customers + r.returning_customers + r.resurrecting_customers);
  const down = rows.map((r) => r.dormant_customers);
  const top = Math.max(1, ...up);
  const bottom = Math.max(1, ...down);
  const plotH = H - pad.t - pad.b;
  const zero = pad.t + (plotH * top) / (top + bottom);
  const scale = plotH / (top + bottom);
  const step = (W - pad.l - pad.r) / Math.max(1, rows.length);
  const bar = Math.max(2, step * 0.72);
  const parts: string[] = [];
  const tick = niceStep((top + bottom) / 6);
  for (let v = -Math.floor(bottom / tick) * tick; v <= top; v += tick) {
    const y = zero - v * scale;
    parts.push(`<line x1="${pad.l}" x2="${W - pad.r}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="${v === 0 ? '#8b98a5' : '#263039'}" stroke-width="1"/>`);
    parts.push(`<text x="${pad.l - 8}" y="${(y + 4).toFixed(1)}" text-anchor="end" fill="#8b98a5" font-size="11">${v}</text>`);
  }
  rows.forEach((r, i) => {
    const x = pad.l + i * step + (step - bar) / 2;
    // Today is not over: whoever was active yesterday and has not been back yet counts as dormant so far.
    const partial = r.day === today;
    if (partial) parts.push(`<g opacity="0.4">`);
    let y = zero;
    for (const s of SERIES) {
      const h = r[s.key] * scale;
      y -= h;
      if (h > 0) parts.push(`<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${bar.toFixed(1)}" height="${h.toFixed(1)}" fill="${s.color}"><title>${r.day} ${s.label}: ${r[s.key]}</title></rect>`);
    }
    const d = r[DORMANT.key] * scale;
    if (d > 0) parts.push(`<rect x="${x.toFixed(1)}" y="${zero.toFixed(1)}" width="${bar.toFixed(1)}" height="${d.toFixed(1)}" fill="${DORMANT.color}"><title>${r.day} dormant: ${r[DORMANT.key]}</title></rect>`);
    if (partial) {
      parts.push('</g>');
      parts.push(`<text x="${(x + bar).toFixed(1)}" y="${(zero - up[i] * scale - 6).toFixed(1)}" text-anchor="end" fill="#8b98a5" font-size="11">today, so far</text>`);
    }
    if (i % Math.max(1, Math.ceil(rows.length / 10)) === 0) {
      parts.push(`<text x="${(x + bar / 2).toFixed(1)}" y="${H - pad.b + 18}" text-anchor="middle" fill="#8b98a5" font-size="11">${r.day.slice(5)}</text>`);
    }
  });
  const legend = [...SERIES, DORMANT].map((s) => `<span><i style="background:${s.color}"></i>${s.label}</span>`).join('');
  const totals = [...SERIES, DORMANT].map((s) => `${s.label} ${rows.reduce((n, r) => n + r[s.key], 0)}`).join(' · ');
  return `<!doctype html><html><head><meta charset="utf-8"><title>Customer lifecycle per day</title><style>${PAGE_STYLE}</style></head><body>
<h1>Customer lifecycle per day</h1>
<p class="sub">New, returning and resurrecting customers above the axis, dormant below, as PostHog's lifecycle defines them, for the last 30 days (UTC). Database <code>${esc(database)}</code>, query <code>sql/queries/lifecycle.sql</code>.</p>
<div class="legend">${legend}</div>
<svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" xmlns="http://www.w3.org/2000/svg">${parts.join('')}</svg>
<footer>Totals over the window: ${esc(totals)}. The faded bar is today, not over yet: everyone active yesterday who has not been back so far counts as dormant. Generated ${esc(generatedAt)}.</footer>
</body></html>
`;
}

function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(Math.max(raw, 1)));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
}

const num = (rows: Record<string, unknown>[]) => rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v])));

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: 'string' }, out: { type: 'string', default: 'docs/analytics' }, screenshots: { type: 'string', default: 'docs/screenshots' } } });
  const config = loadConfig({ file: values.config });
  const db = config.clickhouse.database;
  const ch = createClickHouseClient(config.clickhouse);
  const saved = (name: string) => renderStatement(readFileSync(new URL(`../sql/queries/${name}.sql`, import.meta.url), 'utf8'), db);
  try {
    const cohorts = num(await ch.query(saved('retention_cohorts'))) as unknown as CohortRow[];
    const lifecycle = num(await ch.query(saved('lifecycle'))) as unknown as LifecycleRow[];
    if (cohorts.length === 0 || lifecycle.length === 0) throw new Error(`no activity in ${db}: run a processor and \`vigil simulate --history-days 60\` first`);
    const generatedAt = new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
    mkdirSync(values.out!, { recursive: true });
    mkdirSync(values.screenshots!, { recursive: true });
    const pages = [
      { name: 'retention-cohorts', html: retentionHtml(cohorts, db, generatedAt) },
      { name: 'lifecycle', html: lifecycleHtml(lifecycle, db, generatedAt, new Date().toISOString().slice(0, 10)) },
    ];
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      for (const p of pages) {
        const file = resolve(join(values.out!, `${p.name}.html`));
        writeFileSync(file, p.html);
        const page = await browser.newPage({ viewport: { width: 1200, height: 700 }, deviceScaleFactor: 1 });
        await page.goto(`file://${file}`);
        const png = join(values.screenshots!, `${p.name}.png`);
        await page.screenshot({ path: png, fullPage: true });
        await page.close();
        process.stdout.write(`${file}\n${resolve(png)}\n`);
      }
    } finally {
      await browser.close();
    }
    process.stdout.write(`${JSON.stringify({ database: db, cohorts: new Set(cohorts.map((c) => c.cohort_week)).size, cohortRows: cohorts.length, lifecycleDays: lifecycle.length })}\n`);
  } finally {
    await ch.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    process.stderr.write(`render-analytics: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
