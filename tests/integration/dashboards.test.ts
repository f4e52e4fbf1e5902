// The Grafana dashboards in dashboards/json: wired to the provisioned ClickHouse data source, and every panel's
// query, expanded as Grafana and the plugin would expand it, runs on ClickHouse and returns the columns its
// visualization needs: on the 18.16 server where the SQL allows, and always on the current engine (chdb).
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { ClickHouseClient } from '../../src/sinks/clickhouse/client.js';
import { migrate } from '../../src/sinks/clickhouse/migrate.js';
import { DAY_MS } from '../../src/shared/clock.js';
import { FixtureClock, writeAnalyticsFixture } from '../helpers/analyticsFixture.js';
import { ChdbClient } from '../helpers/clickhouse-chdb.js';
import { CLICKHOUSE_URL, savedQueries, testClickHouseClient, testDatabaseName } from '../helpers/clickhouse.js';
import { expandPanelSql, type PanelTimeRange } from '../helpers/grafanaMacros.js';

interface Target {
  datasource: { type: string; uid: string };
  editorType: string;
  queryType: string;
  format: number;
  rawSql: string;
  refId: string;
}
interface Panel {
  id: number;
  title: string;
  type: string;
  datasource: { type: string; uid: string };
  targets: Target[];
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: string }[] };
}

const dir = new URL('../../dashboards/json/', import.meta.url);
const dashboards: Dashboard[] = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as Dashboard);
const panels = dashboards.flatMap((d) => d.panels.map((p) => ({ dashboard: d, panel: p, key: `${d.uid}/${p.title}` })));

/** The columns each panel's visualization is built on, in order. */
const EXPECTED_COLUMNS: Record<string, string[]> = {
  'vigil-retention/Daily and weekly active customers': ['time', 'active_customers', 'weekly_active_customers'],
  'vigil-retention/Lifecycle per day': ['time', 'new_customers', 'returning_customers', 'resurrecting_customers', 'dormant_customers'],
  'vigil-retention/Weekly retention cohorts': ['cohort_week', 'weeks_since', 'customers', 'cohort_size', 'share'],
  'vigil-risk-overload/Churn risk distribution': ['churn_risk', 'customers', 'value_at_risk'],
  'vigil-risk-overload/Value at risk by segment': ['segment', 'customers', 'at_risk_customers', 'avg_churn_risk', 'customer_value', 'value_at_risk'],
  'vigil-risk-overload/Touches per customer by channel': ['time', 'channel', 'touches_per_customer'],
  'vigil-risk-overload/Overload by campaign': ['campaign_id', 'touches', 'overloaded_customers', 'negatives'],
  'vigil-risk-overload/Customers pushed over a cap, by channel': ['time', 'channel', 'overloaded_customers'],
  'vigil-risk-overload/Model tracking: repeat purchases, predicted against actual': ['time', 'actual_weekly', 'expected_weekly', 'actual_cumulative', 'expected_cumulative'],
  'vigil-risk-overload/Brand experience by product and segment': ['time', 'subject', 'experience_index'],
  'vigil-alerts-privacy/Alerts fired per rule': ['time', 'rule', 'fired'],
  'vigil-alerts-privacy/Time to acknowledge': ['rule', 'severity', 'fired', 'acknowledged', 'median_ack_s', 'p90_ack_s', 'max_ack_s'],
  'vigil-alerts-privacy/Dead letters by reason': ['time', 'reason', 'messages'],
  'vigil-alerts-privacy/Erasures': ['erased_at', 'requested_by', 'via', 'subject_hash', 'rows_removed', 'stream_messages', 'redis_entries', 'duration_ms'],
};

/** Panels whose SQL needs a function 18.16 lacks: `$__timeInterval` expands to toStartOfInterval (ClickHouse 19.x+). */
const CURRENT_ONLY = new Set(['vigil-alerts-privacy/Dead letters by reason']);

describe('dashboards/json', () => {
  it('holds the three dashboards, each on the provisioned ClickHouse data source, with unique uids', () => {
    expect(dashboards.map((d) => d.uid)).toEqual(['vigil-alerts-privacy', 'vigil-retention', 'vigil-risk-overload']);
    const provisioning = parseYaml(readFileSync(new URL('../../dashboards/provisioning/datasources/clickhouse.yaml', import.meta.url), 'utf8')) as {
      datasources: { uid: string; type: string }[];
    };
    const ds = provisioning.datasources[0];
    for (const { panel, key } of panels) {
      expect(panel.datasource, key).toEqual({ type: ds.type, uid: ds.uid });
      expect(panel.targets.length, key).toBe(1);
      for (const t of panel.targets) {
        expect(t.datasource, key).toEqual({ type: ds.type, uid: ds.uid });
        expect(t.editorType, key).toBe('sql');
        // Time series panels ask the plugin for time series (format 0), the rest for tables (format 1).
        const ts = panel.type === 'timeseries';
        expect([t.queryType, t.format], key).toEqual(ts ? ['timeSeries', 0] : ['table', 1]);
      }
    }
    expect(Object.keys(EXPECTED_COLUMNS).sort()).toEqual(panels.map((p) => p.key).sort());
  });

  it('names the database only through the hidden `database` constant, defaulting to the config default', () => {
    for (const d of dashboards) {
      expect(d.templating.list, d.uid).toEqual([expect.objectContaining({ name: 'database', type: 'constant', query: 'vigil' })]);
      for (const p of d.panels) expect(p.targets[0].rawSql, `${d.uid}/${p.title}`).not.toMatch(/\bvigil\./);
    }
  });
});

type QueryJson = (sql: string) => Promise<{ meta: { name: string; type: string }[]; data: Record<string, unknown>[] }>;

async function serverJson(sql: string): Promise<{ meta: { name: string; type: string }[]; data: Record<string, unknown>[] }> {
  const res = await fetch(`${CLICKHOUSE_URL}/?output_format_json_quote_64bit_integers=1`, { method: 'POST', body: `${sql}\nFORMAT JSON` });
  const text = await res.text();
  if (!res.ok) throw new Error(text.trim());
  return JSON.parse(text) as { meta: { name: string; type: string }[]; data: Record<string, unknown>[] };
}

const engines: [string, (db: string) => { client: ClickHouseClient; json: QueryJson }, boolean][] = [
  ['ClickHouse server (18.16 here)', (db) => ({ client: testClickHouseClient(db), json: serverJson }), false],
  [
    'current ClickHouse (chdb)',
    (db) => {
      const client = new ChdbClient(db);
      return { client, json: (sql) => client.queryJson(sql) };
    },
    true,
  ],
];

describe.each(engines)('every panel query on %s', (_name, make, current) => {
  const db = testDatabaseName();
  let client: ClickHouseClient;
  let json: QueryJson;
  let t: FixtureClock;
  let range: PanelTimeRange;

  beforeAll(async () => {
    ({ client, json } = make(db));
    await migrate(client, { database: db });
    t = await FixtureClock.of(client);
    const now = Date.now();
    await writeAnalyticsFixture(client, t, now);
    // "Last 30 days" in the time picker, as the saved queries' window: from midnight 29 days ago to now.
    range = { fromMs: t.todayMs - 29 * DAY_MS, toMs: now, intervalMs: 3_600_000 };
  });

  afterAll(async () => {
    await client.command(`DROP DATABASE IF EXISTS ${db}`);
    await client.close();
  });

  it.each(panels.map((p) => [p.key, p] as const))('%s', async (key, { panel }) => {
    const sql = expandPanelSql(panel.targets[0].rawSql, { database: db }, range);
    expect(sql).not.toContain('$');
    if (!current && CURRENT_ONLY.has(key)) {
      await expect(json(sql)).rejects.toThrow(/Unknown function toStartOfInterval/);
      return;
    }
    const result = await json(sql);
    expect(result.meta.map((m) => m.name)).toEqual(EXPECTED_COLUMNS[key]);
    if (panel.type === 'timeseries') expect(result.meta[0].type, 'the time column').toMatch(/^DateTime/);
    // The fixture has something for every panel in the last 30 days.
    expect(result.data.length, 'rows').toBeGreaterThan(0);
  });

  it('the experience panel: the hourly index per product and segment, a retried row once, customers\' own rows left out', async () => {
    const panel = panels.find((p) => p.panel.title === 'Brand experience by product and segment')!.panel.targets[0].rawSql;
    const { data } = await json(expandPanelSql(panel, { database: db }, range));
    const hour = (daysAgo: number, hh: number) => new Date(t.at(daysAgo, hh)).toISOString().slice(0, 19).replace('T', ' ');
    expect(data.map((r) => ({ ...r, time: String(r.time).slice(0, 19) }))).toEqual([
      { time: hour(3, 10), subject: 'product P1', experience_index: 62 },
      { time: hour(1, 9), subject: 'product P1', experience_index: 40 },
      { time: hour(1, 12), subject: 'product P2', experience_index: 71.5 },
      { time: hour(1, 12), subject: 'segment vip', experience_index: 47.5 },
      { time: hour(1, 15), subject: 'product P1', experience_index: 24 },
    ]);
  });

  it('the lifecycle and active-customer panels agree with the saved queries over the same 30 days', async () => {
    const panel = (title: string) => panels.find((p) => p.panel.title === title)!.panel.targets[0].rawSql;
    const saved = async (name: string) => client.query<Record<string, unknown>>(savedQueries(db).find((q) => q.name === `${name}.sql`)!.sql);
    const asDay = (time: unknown) => String(time).slice(0, 10);

    const lifecycle = (await json(expandPanelSql(panel('Lifecycle per day'), { database: db }, range))).data;
    expect(lifecycle.map((r) => ({ ...r, time: asDay(r.time), dormant_customers: String(-Number(r.dormant_customers)) }))).toEqual(
      (await saved('lifecycle')).map(({ day, ...rest }) => ({ time: day, ...rest })),
    );
    const actives = (await json(expandPanelSql(panel('Daily and weekly active customers'), { database: db }, range))).data;
    expect(actives.map((r) => ({ ...r, time: asDay(r.time) }))).toEqual((await saved('active_customers')).map(({ day, ...rest }) => ({ time: day, ...rest })));
  });
});
