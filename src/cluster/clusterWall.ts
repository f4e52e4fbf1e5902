// The wall's view of the whole cluster: every processor publishes a summary each interval and keeps everyone else's,
// alerts come from alerts.<severity>, and acknowledgements find the processor that holds the alert.
import type { Msg, NatsConnection, Subscription } from 'nats';
import type { AlertGroupCount, AlertTotals, AlertView, AtRiskEntry, OverloadCell, ProcessorStats, Silence, SnapshotFrame, WallFrame } from '../contract/frames.js';
import type { Logger } from '../shared/logger.js';
import { errorMessage } from '../shared/errors.js';

/** As the pipeline's: the points a wall's chart holds. */
const STATS_HISTORY = 300;
/** As AlertTotals promises: customer alert groups, most active first. */
const CUSTOMER_GROUPS = 50;
/** As the alert engine's views(): what one snapshot carries. */
const ALERT_LIMIT = 200;
const enc = new TextEncoder();
const dec = new TextDecoder();

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

/** What this processor alone holds; in the processor, its partitions' pipelines merged. */
export interface ClusterLocal {
  snapshot(): SnapshotFrame;
  /** True when this processor holds the alert and acknowledged it. */
  acknowledge(alertId: string, by: string): Promise<boolean>;
}

export interface ClusterWallOptions {
  nc: NatsConnection;
  processorId: string;
  local: ClusterLocal;
  atRiskLimit: number;
  log: Logger;
  /** How often summaries go out and stats frames are emitted; a processor silent for 3 intervals is dropped. */
  intervalMs?: number;
  /** The cluster's own subjects: `<prefix>.summary.<id>`, `<prefix>.alerts.<id>`, `<prefix>.ack`, `<prefix>.silences`. */
  subjectPrefix?: string;
  /** Where NatsOutputs publishes alert changes (`<prefix>.<severity>`). */
  alertSubjectPrefix?: string;
  /** The combined entity overload (EntityCombiner); replaces the processors' summed cells, budget counts kept. */
  overload?: () => OverloadCell[];
  /** The partitions this processor owns now, carried in its summary. */
  partitions?: () => number[];
  /** Alerts in a snapshot (the alert engine's views() carries 200). */
  alertLimit?: number;
  /** How long a resolved alert stays on the wall. */
  resolvedKeepMs?: number;
  /** How long an acknowledgement waits for the processor that holds the alert. */
  ackTimeoutMs?: number;
  /** How long the alerts a vanished processor listed stay, so its successor can take them over without a blink. */
  departureGraceMs?: number;
  /** Points of stats history in each summary; walls accumulate them. */
  historyPoints?: number;
  now?: () => number;
}

/** What a processor publishes every interval on `<prefix>.summary.<id>`. */
export interface ClusterSummary {
  v: 1;
  processorId: string;
  sentAt: number;
  partitions: number[];
  /** Ids of the alerts this processor's own snapshot shows: walls keep what some processor still lists. */
  alertIds: string[];
  /** The local snapshot with the last few history points and no alerts (they travel on alerts.<severity>). */
  frame: SnapshotFrame;
  /** A clean stop: drop this processor now. */
  leaving?: boolean;
}

export interface ClusterMember {
  processorId: string;
  partitions: number[];
  /** Local time the latest summary arrived. */
  seenAt: number;
}

interface Member {
  summary: ClusterSummary;
  seenAt: number;
  history: ProcessorStats[];
  /** When its alerts were last asked for, so a missing alert is asked once per few intervals. */
  fetchedAt: number;
  fetching: boolean;
}

interface HeldAlert {
  view: AlertView;
  /** Local time it was last received. */
  seenAt: number;
}

/** A processor id as one subject token: host names carry dots. */
export function subjectToken(processorId: string): string {
  return processorId.replace(/[^A-Za-z0-9_-]/g, '_') || '_';
}

/**
 * The whole cluster as one wall source: this processor's snapshot merged with the latest summary of every live
 * processor, every processor's alerts, and acknowledgements routed to the processor that holds the alert.
 */
export class ClusterWall {
  /** Counters for metrics and tests. */
  readonly counters = { summariesSent: 0, summariesReceived: 0, alertsReceived: 0, alertFetches: 0, acksForwarded: 0, acksAnswered: 0 };
  private readonly prefix: string;
  private readonly interval: number;
  private readonly now: () => number;
  private readonly token: string;
  private readonly members = new Map<string, Member>();
  /** Alert ids a departed processor listed, until the grace ends. */
  private readonly departed = new Map<string, { alertIds: string[]; at: number }>();
  private readonly alerts = new Map<string, HeldAlert>();
  private readonly listeners = new Set<(f: WallFrame) => void>();
  private readonly silenceListeners = new Set<() => void>();
  private subs: Subscription[] = [];
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  /** An alert left the wall without a change (an erasure, a departure): clients get a whole snapshot. */
  private snapshotDue = false;
  private lastSnapshotEmit = 0;
  private oversizeWarned = false;

  constructor(private readonly o: ClusterWallOptions) {
    this.prefix = o.subjectPrefix ?? 'vigil.cluster';
    this.interval = o.intervalMs ?? 1000;
    this.now = o.now ?? Date.now;
    this.token = subjectToken(o.processorId);
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const { nc } = this.o;
    const alertPrefix = this.o.alertSubjectPrefix ?? 'alerts';
    // A bad message (or a listener that throws) is logged, never thrown into the NATS client or a timer.
    const on = (subject: string, handle: (m: Msg) => unknown) =>
      nc.subscribe(subject, { callback: (err, m) => (err ? undefined : this.guard(subject, () => handle(m))) });
    this.subs = [
      on(`${this.prefix}.summary.*`, (m) => this.onSummary(m)),
      on(`${alertPrefix}.>`, (m) => this.onAlertMessage(m)),
      on(`${this.prefix}.alerts.${this.token}`, (m) => this.answerAlerts(m)),
      on(`${this.prefix}.ack`, (m) => void this.answerAck(m)),
      on(`${this.prefix}.silences`, (m) => this.onSilences(m)),
    ];
    // What this processor shows already is no change: clients get it with their snapshot.
    const local = this.safeLocal();
    if (local) for (const a of this.shown(local.alerts, this.now())) this.alerts.set(a.id, { view: a, seenAt: this.now() });
    await nc.flush();
    this.guard('tick', () => this.tick());
    this.timer = setInterval(() => this.guard('tick', () => this.tick()), this.interval);
  }

  /** Stops publishing and tells the others, so they drop this processor at once. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const s of this.subs) s.unsubscribe();
    this.subs = [];
    if (!this.o.nc.isClosed()) {
      const leaving: Partial<ClusterSummary> = { v: 1, processorId: this.o.processorId, sentAt: this.now(), leaving: true };
      this.publish(`${this.prefix}.summary.${this.token}`, leaving);
      await this.o.nc.flush().catch(() => undefined);
    }
  }

  /** The live processors other than this one. */
  peers(): ClusterMember[] {
    const live = this.now() - 3 * this.interval;
    return [...this.members.entries()].filter(([, m]) => m.seenAt >= live).map(([processorId, m]) => ({ processorId, partitions: m.summary.partitions, seenAt: m.seenAt }));
  }

  /** The newest version of every alert this wall holds, from every processor (uncut, unlike the snapshot's list). */
  heldAlerts(): AlertView[] {
    return [...this.alerts.values()].map((h) => h.view);
  }

  snapshot(): SnapshotFrame {
    const now = this.now();
    const local = this.safeLocal() ?? emptyFrame(now);
    return this.merged(local, now);
  }

  subscribe(listener: (f: WallFrame) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A local alert change, straight from the pipeline (optional): the wall shows it before NATS echoes it back. */
  localAlert(view: AlertView): void {
    this.learn(view);
  }

  /** Acknowledges here when this processor holds the alert, else asks the one that does; false when none answers. */
  async acknowledge(alertId: string, by: string): Promise<boolean> {
    if (await this.o.local.acknowledge(alertId, by)) return true;
    if (this.o.nc.isClosed()) return false;
    this.counters.acksForwarded++;
    try {
      const reply = await this.o.nc.request(`${this.prefix}.ack`, enc.encode(JSON.stringify({ alertId, by, from: this.o.processorId })), { timeout: this.o.ackTimeoutMs ?? 2_000 });
      return (JSON.parse(dec.decode(reply.data)) as { ok?: unknown }).ok === true;
    } catch {
      return false;
    }
  }

  /** This processor added or expired a silence: the others reload theirs. */
  silencesChanged(): void {
    this.publish(`${this.prefix}.silences`, { from: this.o.processorId, at: this.now() });
  }

  /** Called when another processor added or expired a silence. Returns an unsubscribe. */
  onSilencesChanged(cb: () => void): () => void {
    this.silenceListeners.add(cb);
    return () => this.silenceListeners.delete(cb);
  }

  private tick(): void {
    if (!this.running) return;
    const now = this.now();
    const local = this.safeLocal();
    if (!local) return;
    this.publishSummary(local, now);
    this.dropStale(now);
    // Local changes the pipeline made since: shown even before (or without) their NATS echo.
    for (const a of this.shown(local.alerts, now)) this.learn(a);
    this.pruneAlerts(local, now);
    for (const [id, m] of this.members) this.fetchMissing(id, m, now);
    const merged = this.merged(local, now);
    if (this.snapshotDue && now - this.lastSnapshotEmit >= 5 * this.interval) {
      this.snapshotDue = false;
      this.lastSnapshotEmit = now;
      this.emit(merged);
      return;
    }
    this.emit({ type: 'stats', stats: merged.stats });
    this.emit({ type: 'at_risk', atRisk: merged.atRisk });
    this.emit({ type: 'overload', overload: merged.overload });
  }

  private merged(local: SnapshotFrame, now: number): SnapshotFrame {
    const live = now - 3 * this.interval;
    const remote = [...this.members.values()].filter((m) => m.seenAt >= live).map((m) => ({ ...m.summary.frame, statsHistory: m.history }));
    const merged = mergeSnapshots([local, ...remote], { atRiskLimit: this.o.atRiskLimit, now });
    merged.alerts = mergeAlerts([...local.alerts, ...[...this.alerts.values()].map((h) => h.view)], this.o.alertLimit ?? ALERT_LIMIT);
    if (this.o.overload) merged.overload = withBudgetCounts(this.o.overload(), merged.overload);
    return merged;
  }

  private publishSummary(local: SnapshotFrame, now: number): void {
    const points = this.o.historyPoints ?? 5;
    // With the combined overload every wall has the entity counts already: only the budget counts need to travel.
    const overload = this.o.overload ? local.overload.filter((c) => c.checked !== undefined || c.suppressed !== undefined) : local.overload;
    const summary: ClusterSummary = {
      v: 1,
      processorId: this.o.processorId,
      sentAt: now,
      partitions: this.o.partitions?.() ?? [],
      alertIds: this.shown(local.alerts, now).map((a) => a.id),
      frame: { ...local, statsHistory: local.statsHistory.slice(-points), overload, alerts: [] },
    };
    let data = enc.encode(JSON.stringify(summary));
    const max = this.o.nc.info?.max_payload ?? 1024 * 1024;
    // Thousands of overload cells could outgrow a message: the busiest go first, the rest wait for a calmer moment.
    let cells = [...overload].sort((a, b) => b.touches24h + b.negatives1h - (a.touches24h + a.negatives1h));
    while (data.byteLength > max && cells.length > 0) {
      cells = cells.slice(0, cells.length >> 1);
      summary.frame.overload = cells;
      data = enc.encode(JSON.stringify(summary));
      if (!this.oversizeWarned) this.o.log.warn({ bytes: data.byteLength, max }, 'cluster summary over the message limit: overload cells cut');
      this.oversizeWarned = true;
    }
    if (this.publishBytes(`${this.prefix}.summary.${this.token}`, data)) this.counters.summariesSent++;
  }

  private onSummary(m: Msg): void {
    const s = parseJson<ClusterSummary>(m.data);
    if (!s || s.v !== 1 || typeof s.processorId !== 'string' || s.processorId === this.o.processorId) return;
    const now = this.now();
    if (s.leaving) {
      this.depart(s.processorId, now, 'left');
      return;
    }
    if (!isFrame(s.frame) || !Array.isArray(s.alertIds)) return;
    this.counters.summariesReceived++;
    let member = this.members.get(s.processorId);
    if (!member) {
      this.members.set(s.processorId, (member = { summary: s, seenAt: now, history: [], fetchedAt: 0, fetching: false }));
      this.departed.delete(s.processorId);
      this.o.log.info({ processor: s.processorId, partitions: s.partitions }, 'processor joined the cluster wall');
    }
    member.summary = s;
    member.seenAt = now;
    const last = member.history.length ? member.history[member.history.length - 1].ts : Number.NEGATIVE_INFINITY;
    for (const p of s.frame.statsHistory) if (p.ts > last) member.history.push(p);
    if (member.history.length > STATS_HISTORY) member.history.splice(0, member.history.length - STATS_HISTORY);
    this.fetchMissing(s.processorId, member, now);
  }

  private dropStale(now: number): void {
    for (const [id, m] of this.members) if (now - m.seenAt > 3 * this.interval) this.depart(id, now, 'went silent');
    const grace = this.o.departureGraceMs ?? 30_000;
    for (const [id, d] of this.departed) if (now - d.at > grace) this.departed.delete(id);
  }

  private depart(processorId: string, now: number, why: string): void {
    const m = this.members.get(processorId);
    if (!m) return;
    this.members.delete(processorId);
    this.departed.set(processorId, { alertIds: m.summary.alertIds, at: now });
    this.o.log.info({ processor: processorId }, `processor ${why}: dropped from the cluster wall`);
  }

  /** Alerts a processor lists that this wall has not heard of (it started later): asked of that processor. */
  private fetchMissing(processorId: string, m: Member, now: number): void {
    if (m.fetching || now - m.fetchedAt < 5 * this.interval || this.o.nc.isClosed()) return;
    if (m.summary.alertIds.every((id) => this.alerts.has(id))) return;
    m.fetching = true;
    m.fetchedAt = now;
    this.counters.alertFetches++;
    this.o.nc
      .request(`${this.prefix}.alerts.${subjectToken(processorId)}`, enc.encode('{}'), { timeout: this.o.ackTimeoutMs ?? 2_000 })
      .then((reply) => {
        const views = parseJson<AlertView[]>(reply.data);
        if (Array.isArray(views)) for (const v of views) if (isAlertView(v)) this.learn(v);
      })
      .catch((err: unknown) => this.o.log.debug({ err: errorMessage(err), processor: processorId }, 'asking a processor for its alerts failed'))
      .finally(() => (m.fetching = false));
  }

  private answerAlerts(m: Msg): void {
    const local = this.safeLocal();
    if (!local || !m.reply) return;
    let alerts = this.shown(local.alerts, this.now());
    let data = enc.encode(JSON.stringify(alerts));
    const max = this.o.nc.info?.max_payload ?? 1024 * 1024;
    while (data.byteLength > max && alerts.length > 0) {
      alerts = alerts.slice(0, alerts.length >> 1);
      data = enc.encode(JSON.stringify(alerts));
    }
    m.respond(data);
  }

  private onAlertMessage(m: Msg): void {
    const view = parseJson<AlertView>(m.data);
    if (!isAlertView(view)) return;
    this.counters.alertsReceived++;
    this.learn(view);
  }

  /**
   * Holds an alert's newest version and tells the clients about it once: a version already held (the NATS echo of
   * a local change, a repeated fetch) is no change. A fetched alert is new to this wall's clients too.
   */
  private learn(view: AlertView): void {
    const held = this.alerts.get(view.id);
    const now = this.now();
    if (held && view.updatedAt <= held.view.updatedAt) {
      held.seenAt = now;
      return;
    }
    if (this.resolvedLongAgo(view, now)) return;
    this.alerts.set(view.id, { view, seenAt: now });
    this.emit({ type: 'alert', alert: view });
  }

  private resolvedLongAgo(a: AlertView, now: number): boolean {
    return a.state === 'resolved' && now - (a.endsAt ?? a.updatedAt) > (this.o.resolvedKeepMs ?? 5 * 60_000);
  }

  /** The alerts of a snapshot a wall should hold: active ones and those resolved within resolvedKeepMs. */
  private shown(alerts: AlertView[], now: number): AlertView[] {
    return alerts.filter((a) => !this.resolvedLongAgo(a, now));
  }

  /**
   * Keeps the alerts some processor still shows (this one's snapshot, a live summary's ids, a departed processor's
   * within the grace) or heard of in the last intervals; resolved ones for resolvedKeepMs.
   */
  private pruneAlerts(local: SnapshotFrame, now: number): void {
    const listed = new Set(local.alerts.map((a) => a.id));
    for (const m of this.members.values()) for (const id of m.summary.alertIds) listed.add(id);
    for (const d of this.departed.values()) for (const id of d.alertIds) listed.add(id);
    for (const [id, h] of this.alerts) {
      const resolved = h.view.state === 'resolved';
      const expired = this.resolvedLongAgo(h.view, now);
      const unlisted = !listed.has(id) && now - h.seenAt > 3 * this.interval;
      if (!expired && !unlisted) continue;
      this.alerts.delete(id);
      if (!resolved) this.snapshotDue = true;
    }
  }

  private async answerAck(m: Msg): Promise<void> {
    const req = parseJson<{ alertId?: unknown; by?: unknown; from?: unknown }>(m.data);
    if (!req || req.from === this.o.processorId || typeof req.alertId !== 'string' || typeof req.by !== 'string' || !m.reply) return;
    try {
      // Only the holder answers: the others stay silent, so the asker hears true or times out.
      if (await this.o.local.acknowledge(req.alertId, req.by)) {
        m.respond(enc.encode(JSON.stringify({ ok: true, processorId: this.o.processorId })));
        this.counters.acksAnswered++;
      }
    } catch (err) {
      this.o.log.warn({ err: errorMessage(err), alertId: req.alertId }, 'acknowledging for another processor failed');
    }
  }

  private onSilences(m: Msg): void {
    const msg = parseJson<{ from?: unknown }>(m.data);
    if (!msg || msg.from === this.o.processorId) return;
    for (const cb of this.silenceListeners) this.guard('silences listener', cb);
  }

  private guard(what: string, fn: () => unknown): void {
    try {
      fn();
    } catch (err) {
      this.o.log.warn({ err: errorMessage(err), what }, 'cluster wall: handling failed');
    }
  }

  private safeLocal(): SnapshotFrame | null {
    try {
      return this.o.local.snapshot();
    } catch (err) {
      this.o.log.warn({ err: errorMessage(err) }, 'the local snapshot failed');
      return null;
    }
  }

  private emit(frame: WallFrame): void {
    for (const l of this.listeners) l(frame);
  }

  private publish(subject: string, body: unknown): boolean {
    return this.publishBytes(subject, enc.encode(JSON.stringify(body)));
  }

  private publishBytes(subject: string, data: Uint8Array): boolean {
    if (this.o.nc.isClosed()) return false;
    try {
      this.o.nc.publish(subject, data);
      return true;
    } catch (err) {
      this.o.log.debug({ err: errorMessage(err), subject }, 'cluster publish failed');
      return false;
    }
  }
}

function emptyFrame(now: number): SnapshotFrame {
  return { type: 'snapshot', serverTime: now, stats: mergeStats([], now), statsHistory: [], atRisk: [], overload: [], alerts: [], silences: [] };
}

function parseJson<T>(data: Uint8Array): T | null {
  try {
    return JSON.parse(dec.decode(data)) as T;
  } catch {
    return null;
  }
}

function isFrame(f: unknown): f is SnapshotFrame {
  const x = f as SnapshotFrame | null;
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof x.stats === 'object' &&
    x.stats !== null &&
    Array.isArray(x.statsHistory) &&
    Array.isArray(x.atRisk) &&
    Array.isArray(x.overload) &&
    Array.isArray(x.alerts) &&
    Array.isArray(x.silences)
  );
}

function isAlertView(v: unknown): v is AlertView {
  const a = v as AlertView | null;
  return typeof a === 'object' && a !== null && typeof a.id === 'string' && typeof a.updatedAt === 'number' && typeof a.state === 'string' && typeof a.subject === 'object' && a.subject !== null;
}
