// Several snapshots as one frame, pure: the partitions of one processor (processor.ts) or the processors of a
// cluster (cluster/clusterWall.ts) are shown on one wall, so both merge their frames here.
import { EXPERIENCE_CELLS, type AlertGroupCount, type AlertTotals, type AlertView, type AtRiskEntry, type ExperienceCell, type OverloadCell, type ProcessorStats, type Silence, type SnapshotFrame } from '../contract/frames.js';

/** As the pipeline's: the points a wall's chart holds. */
export const STATS_HISTORY = 300;
/** As AlertTotals promises: customer alert groups, most active first. */
const CUSTOMER_GROUPS = 50;

export interface MergeOptions {
  atRiskLimit: number;
  now: number;
  /** Cut the alerts to this many, in the alert engine's order (active first); absent: every alert. */
  alertLimit?: number;
}

/**
 * Several snapshots as one: partitions of one processor, or processors of a cluster. Counts add up, lag and uptime
 * are the worst, history points add up per second, and lists are merged without repeating an id.
 */
export function mergeSnapshots(frames: SnapshotFrame[], opts: MergeOptions): SnapshotFrame {
  return {
    type: 'snapshot',
    serverTime: opts.now,
    stats: mergeStats(frames.map((f) => f.stats), opts.now),
    statsHistory: mergeHistory(frames.map((f) => f.statsHistory)),
    atRisk: mergeAtRisk(frames.flatMap((f) => f.atRisk), opts.atRiskLimit),
    overload: mergeOverload(frames.flatMap((f) => f.overload)),
    // A processor of a version before the experience cells sends none.
    experience: mergeExperience(frames.flatMap((f) => f.experience ?? [])),
    alerts: mergeAlerts(frames.flatMap((f) => f.alerts), opts.alertLimit),
    silences: mergeSilences(frames.flatMap((f) => f.silences)),
  };
}

/** Sums what adds up across processors; lag and uptime are the largest; `ts` the latest. */
export function mergeStats(list: ProcessorStats[], now: number): ProcessorStats {
  const out: ProcessorStats = { ts: list.length ? 0 : now, eventsPerSec: 0, eventsTotal: 0, rejectedTotal: 0, lateTotal: 0, lagMs: 0, pending: 0, activeCustomers: 0, clickhouseBufferedRows: 0, uptimeS: 0 };
  const totals: AlertTotals[] = [];
  for (const s of list) {
    out.ts = Math.max(out.ts, s.ts);
    out.eventsPerSec += s.eventsPerSec;
    out.eventsTotal += s.eventsTotal;
    out.rejectedTotal += s.rejectedTotal;
    out.lateTotal += s.lateTotal;
    out.pending += s.pending;
    out.activeCustomers += s.activeCustomers;
    out.clickhouseBufferedRows += s.clickhouseBufferedRows;
    out.lagMs = Math.max(out.lagMs, s.lagMs);
    out.uptimeS = Math.max(out.uptimeS, s.uptimeS);
    if (s.alerts) totals.push(s.alerts);
  }
  if (totals.length > 0) out.alerts = mergeAlertTotals(totals);
  return out;
}

export function mergeAlertTotals(list: AlertTotals[]): AlertTotals {
  const out: AlertTotals = { firing: 0, pending: 0, acknowledged: 0, silenced: 0, unattended: 0, customerGroups: [] };
  const groups = new Map<string, AlertGroupCount>();
  for (const t of list) {
    out.firing += t.firing;
    out.pending += t.pending;
    out.acknowledged += t.acknowledged;
    out.silenced += t.silenced;
    out.unattended += t.unattended;
    for (const g of t.customerGroups) {
      const key = `${g.rule}\u0000${g.campaign ?? '\u0001'}`;
      const seen = groups.get(key);
      if (!seen) groups.set(key, { ...g });
      else {
        seen.firing += g.firing;
        seen.pending += g.pending;
        seen.acknowledged += g.acknowledged;
        seen.silenced += g.silenced;
      }
    }
  }
  out.customerGroups = [...groups.values()].sort((a, b) => b.firing + b.pending - (a.firing + a.pending)).slice(0, CUSTOMER_GROUPS);
  return out;
}

/**
 * History points aligned on the second of their `ts`: within one frame the latest point of a second stands for it
 * (two ticks in a second must not double the rate), across frames the points of a second add up.
 */
export function mergeHistory(histories: ProcessorStats[][]): ProcessorStats[] {
  const bySecond = new Map<number, ProcessorStats[]>();
  for (const history of histories) {
    const own = new Map<number, ProcessorStats>();
    for (const p of history) {
      const second = Math.floor(p.ts / 1000);
      const seen = own.get(second);
      if (!seen || p.ts >= seen.ts) own.set(second, p);
    }
    for (const [second, p] of own) {
      const list = bySecond.get(second);
      if (list) list.push(p);
      else bySecond.set(second, [p]);
    }
  }
  return [...bySecond.entries()]
    .sort((a, b) => a[0] - b[0])
    .slice(-STATS_HISTORY)
    .map(([, points]) => {
      const merged = mergeStats(points, 0);
      delete merged.alerts; // totals ride on the current stats only
      return merged;
    });
}

/** Customers at risk, each once (its latest entry), in the pipeline's order: value at risk, then risk, highest first. */
export function mergeAtRisk(entries: AtRiskEntry[], limit: number): AtRiskEntry[] {
  const byId = new Map<string, AtRiskEntry>();
  for (const e of entries) {
    const seen = byId.get(e.customerId);
    if (!seen || e.updatedAt > seen.updatedAt) byId.set(e.customerId, e);
  }
  return [...byId.values()].sort((a, b) => b.valueAtRisk - a.valueAtRisk || b.risk - a.risk).slice(0, limit);
}

/** Cells of the same channel, segment or campaign add up; the surge is the strongest any part saw. */
export function mergeOverload(cells: OverloadCell[]): OverloadCell[] {
  const byKey = new Map<string, OverloadCell>();
  for (const c of cells) {
    const key = `${c.kind}\u0000${c.key}`;
    const seen = byKey.get(key);
    if (!seen) {
      byKey.set(key, { ...c, ...(c.suppressedByChannel ? { suppressedByChannel: { ...c.suppressedByChannel } } : {}) });
      continue;
    }
    seen.touches24h += c.touches24h;
    seen.overloadedCustomers += c.overloadedCustomers;
    seen.negatives1h += c.negatives1h;
    seen.surgeZ = Math.max(seen.surgeZ, c.surgeZ);
    if (c.checked !== undefined) seen.checked = (seen.checked ?? 0) + c.checked;
    if (c.suppressed !== undefined) seen.suppressed = (seen.suppressed ?? 0) + c.suppressed;
    if (c.suppressedByChannel) {
      const into = (seen.suppressedByChannel ??= {});
      for (const [channel, n] of Object.entries(c.suppressedByChannel)) into[channel] = (into[channel] ?? 0) + n;
    }
  }
  return [...byKey.values()];
}

/**
 * Cells of the same product or segment seen by several partitions (each holds its own customers' evidence): index
 * and trend weighted by each part's volume, volumes added, the leading reason of the part with the most volume; then
 * the worst EXPERIENCE_CELLS of each kind.
 */
export function mergeExperience(cells: ExperienceCell[]): ExperienceCell[] {
  const byKey = new Map<string, { cell: ExperienceCell; indexSum: number; trendSum: number; weights: number; lead: number }>();
  for (const c of cells) {
    const key = `${c.kind}\u0000${c.key}`;
    // A part with no volume still counts once: its index stands alone until a part with volume joins.
    const w = Math.max(c.volume, 1e-9);
    const seen = byKey.get(key);
    if (!seen) {
      byKey.set(key, { cell: { ...c }, indexSum: c.index * w, trendSum: c.trend * w, weights: w, lead: c.volume });
      continue;
    }
    seen.indexSum += c.index * w;
    seen.trendSum += c.trend * w;
    seen.weights += w;
    seen.cell.volume += c.volume;
    if (c.volume > seen.lead) {
      seen.lead = c.volume;
      seen.cell.reason = c.reason;
    }
  }
  const merged = [...byKey.values()].map(({ cell, indexSum, trendSum, weights }) => ({ ...cell, index: indexSum / weights, trend: trendSum / weights }));
  return worstExperience(merged);
}

/** The worst EXPERIENCE_CELLS products, then the worst segments: lowest index first, the steeper fall on a tie. */
export function worstExperience(cells: ExperienceCell[]): ExperienceCell[] {
  const order = (a: ExperienceCell, b: ExperienceCell) => a.index - b.index || a.trend - b.trend;
  const of = (kind: ExperienceCell['kind']) => cells.filter((c) => c.kind === kind).sort(order).slice(0, EXPERIENCE_CELLS);
  return [...of('product'), ...of('segment')];
}

/**
 * Each alert once, its latest update. With a limit, the alert engine's order: active before resolved, firing before
 * pending, processor and entity alerts before customer ones, then the most recently updated.
 */
export function mergeAlerts(alerts: AlertView[], limit?: number): AlertView[] {
  const byId = new Map<string, AlertView>();
  for (const a of alerts) {
    const seen = byId.get(a.id);
    if (!seen || a.updatedAt > seen.updatedAt) byId.set(a.id, a);
  }
  const list = [...byId.values()];
  if (limit === undefined) return list;
  const rank = (a: AlertView) => (a.state === 'firing' ? 0 : a.state === 'pending' ? 1 : 2);
  const customerLast = (a: AlertView) => (a.state !== 'resolved' && a.subject.kind === 'customer' ? 1 : 0);
  return list.sort((a, b) => rank(a) - rank(b) || customerLast(a) - customerLast(b) || b.updatedAt - a.updatedAt).slice(0, limit);
}

/** Silences by id; of two versions the one that ends first, since ending early (expiring) is a silence's only change. */
export function mergeSilences(silences: Silence[]): Silence[] {
  const byId = new Map<string, Silence>();
  for (const s of silences) {
    const seen = byId.get(s.id);
    if (!seen || s.endsAt < seen.endsAt) byId.set(s.id, s);
  }
  return [...byId.values()];
}

/**
 * The combined overload (from every partition's buckets) with the contact budget's counts, which only the
 * processors' own cells carry.
 */
export function withBudgetCounts(combined: OverloadCell[], summed: OverloadCell[]): OverloadCell[] {
  const byKey = new Map(combined.map((c) => [`${c.kind}\u0000${c.key}`, { ...c }]));
  for (const s of summed) {
    if (s.checked === undefined && s.suppressed === undefined && s.suppressedByChannel === undefined) continue;
    const key = `${s.kind}\u0000${s.key}`;
    let cell = byKey.get(key);
    if (!cell) byKey.set(key, (cell = { kind: s.kind, key: s.key, touches24h: 0, overloadedCustomers: 0, negatives1h: 0, surgeZ: 0 }));
    if (s.checked !== undefined) cell.checked = s.checked;
    if (s.suppressed !== undefined) cell.suppressed = s.suppressed;
    if (s.suppressedByChannel !== undefined) cell.suppressedByChannel = { ...s.suppressedByChannel };
  }
  return [...byKey.values()];
}


/** A frame with nothing in it, at `now`: what a wall shows when its own snapshot failed. */
export function emptySnapshot(now: number): SnapshotFrame {
  return { type: 'snapshot', serverTime: now, stats: mergeStats([], now), statsHistory: [], atRisk: [], overload: [], experience: [], alerts: [], silences: [] };
}
