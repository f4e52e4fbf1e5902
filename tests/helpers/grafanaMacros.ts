// Grafana's ClickHouse data source (grafana-clickhouse-datasource 4.x) rewrites a panel's SQL before sending it:
// Grafana first fills template variables (`${database}`), then the plugin expands its macros. This is the same
// expansion, taken from the plugin's pkg/macros/macros.go, so the tests run exactly what a dashboard would send.

export interface PanelTimeRange {
  fromMs: number;
  toMs: number;
  /** Grafana's computed interval for the panel. */
  intervalMs: number;
}

const seconds = (ms: number) => Math.floor(ms / 1000);
const dateOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const dateTime = (ms: number) => `toDateTime(${seconds(ms)})`;
const dateTime64 = (ms: number) => `fromUnixTimestamp64Milli(${ms})`;

type Macro = (args: string[], r: PanelTimeRange) => string;

function oneArg(name: string, args: string[]): string {
  if (args.length !== 1) throw new Error(`$__${name} expects 1 argument, got ${args.length}`);
  return args[0];
}

const dateTimeFilter: Macro = (args, r) => {
  if (args.length !== 2) throw new Error(`$__dateTimeFilter expects 2 arguments, got ${args.length}`);
  const [d, t] = args;
  return `(${d} >= toDate('${dateOf(r.fromMs)}') AND ${d} <= toDate('${dateOf(r.toMs)}')) AND (${t} >= ${dateTime(r.fromMs)} AND ${t} <= ${dateTime(r.toMs)})`;
};

export const MACROS: Record<string, Macro> = {
  fromTime: (_a, r) => dateTime(r.fromMs),
  toTime: (_a, r) => dateTime(r.toMs),
  fromTime_ms: (_a, r) => dateTime64(r.fromMs),
  toTime_ms: (_a, r) => dateTime64(r.toMs),
  timeFilter: (a, r) => {
    const c = oneArg('timeFilter', a);
    return `${c} >= ${dateTime(r.fromMs)} AND ${c} <= ${dateTime(r.toMs)}`;
  },
  timeFilter_ms: (a, r) => {
    const c = oneArg('timeFilter_ms', a);
    return `${c} >= ${dateTime64(r.fromMs)} AND ${c} <= ${dateTime64(r.toMs)}`;
  },
  dateFilter: (a, r) => {
    const c = oneArg('dateFilter', a);
    return `${c} >= toDate('${dateOf(r.fromMs)}') AND ${c} <= toDate('${dateOf(r.toMs)}')`;
  },
  dateTimeFilter,
  dt: dateTimeFilter,
  timeInterval: (a, r) => `toStartOfInterval(toDateTime(${oneArg('timeInterval', a)}), INTERVAL ${Math.max(seconds(r.intervalMs), 1)} second)`,
  timeInterval_ms: (a, r) => `toStartOfInterval(toDateTime64(${oneArg('timeInterval_ms', a)}, 3), INTERVAL ${Math.max(r.intervalMs, 1)} millisecond)`,
  interval_s: (_a, r) => String(Math.max(seconds(r.intervalMs), 1)),
};

/** Grafana's template variables (`$name`, `${name}`), then the plugin's macros; an unknown one fails loudly. */
export function expandPanelSql(sql: string, vars: Record<string, string>, range: PanelTimeRange): string {
  const withVars = sql.replace(/\$\{(\w+)\}|\$(?!__)(\w+)/g, (m, braced: string | undefined, bare: string | undefined) => {
    const name = braced ?? bare!;
    if (!(name in vars)) throw new Error(`template variable ${m} has no value`);
    return vars[name];
  });
  return withVars.replace(/\$__(\w+)(?:\(([^()]*)\))?/g, (m, name: string, args: string | undefined) => {
    const macro = MACROS[name];
    if (!macro) throw new Error(`unknown macro ${m}`);
    const list = args === undefined || args.trim() === '' ? [] : args.split(',').map((a) => a.trim().replace(/["']/g, ''));
    return macro(list, range);
  });
}
