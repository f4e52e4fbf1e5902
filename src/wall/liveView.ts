// What the wall shows of one pipeline (or of the cluster leader), built from their outputs: the stats and their
// history, the at-risk list, the overload cells, alert totals, and the frames its listeners receive.
import type { VigilConfig } from '../config/schema.js';
import type { AlertGroupCount, AlertTotals, AtRiskEntry, ExperienceCell, ModelState, OverloadCell, ProcessorStats, SnapshotFrame, WallFrame } from '../contract/frames.js';
import type { CustomerSignals, Outcome } from '../contract/pipeline.js';
import type { AlertDesk } from '../alerts/alertDesk.js';
import { alertLabels, byGroupName } from '../alerts/engine.js';
import { MINUTE_MS, type Clock } from '../shared/clock.js';

const STATS_HISTORY = 300;

export interface LiveViewDeps {
  config: VigilConfig;
  clock: Clock;
  desk: AlertDesk;
  counts: Readonly<Record<Outcome, number>>;
  /** Customers held in live windows now. */
  activeCustomers: () => number;
  /** Messages still in the stream for this processor (from the consumer). */
  pending?: () => number;
  /** Rows waiting for ClickHouse. */
  bufferedRows?: () => number;
  /** The channel, segment and campaign cells with the contact budget's suppressions, at an event-time minute. */
  overload: (nowMin: number, now: number) => OverloadCell[];
  watermark: (now: number) => number;
  /** The worst products and segments by brand experience at an event time (ms); absent: none (the cluster leader). */
  experience?: (atMs: number) => ExperienceCell[];
  /** The purchase model's version and the scheduled refit's drift state, for the stats. */
  model?: () => ModelState;
}

export class LiveView {
  private readonly listeners = new Set<(f: WallFrame) => void>();
  private readonly statsHistory: ProcessorStats[] = [];
  private readonly atRisk = new Map<string, AtRiskEntry>();
  private readonly startedAt: number;
  private lagSamples: number[] = [];
  private lastTick: { at: number; processed: number };
  private lastStats: ProcessorStats;

  constructor(private readonly deps: LiveViewDeps) {
    this.startedAt = deps.clock.now();
    this.lastTick = { at: this.startedAt, processed: 0 };
    this.lastStats = this.measure(this.startedAt);
    deps.desk.onAlertChange((alert) => this.emit({ type: 'alert', alert }));
    deps.desk.onSilencesChange(() => this.emit({ type: 'silences', silences: deps.desk.listSilences() }));
  }

  get stats(): ProcessorStats {
    return this.lastStats;
  }

  subscribe(listener: (f: WallFrame) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** One processed event's delay from event time to processing, for the tick's median lag. */
  lag(ms: number): void {
    this.lagSamples.push(ms);
  }

  /** Keeps the customer on the at-risk list while its churn risk is at the threshold or above. */
  trackAtRisk(customerId: string, s: CustomerSignals, now: number): void {
    const cfg = this.deps.config;
    if (s.churn.risk < cfg.signals.atRiskThreshold) {
      this.atRisk.delete(customerId);
      return;
    }
    this.atRisk.set(customerId, new UnfilledEntry(customerId, s.churn, now));
    // Keep a bounded candidate set: twice the wall's list, the highest value at risk first.
    const cap = cfg.wall.atRiskListSize * 2;
    if (this.atRisk.size > cap * 2) {
      const keep = this.atRiskList(cap);
      this.atRisk.clear();
      for (const e of keep) this.atRisk.set(e.customerId, e);
    }
  }

  /** The customer leaves the at-risk list (evicted, erased, consent withdrawn); true when it was on it. */
  forget(customerId: string): boolean {
    return this.atRisk.delete(customerId);
  }

  /** A frame every screen takes instead of what it holds (after an erasure or a withdrawal). */
  resend(): void {
    this.emit(this.snapshot());
  }

  /** The tick's stats (throughput, lag, pending), into the history; processor rules read them before totals are in. */
  measure(now: number): ProcessorStats {
    const dt = Math.max(1, now - this.lastTick.at);
    const processed = this.deps.counts.processed;
    const lags = this.lagSamples;
    lags.sort((a, b) => a - b);
    const stats: ProcessorStats = {
      ts: now,
      eventsPerSec: ((processed - this.lastTick.processed) * 1000) / dt,
      eventsTotal: processed,
      rejectedTotal: this.deps.counts.rejected,
      lateTotal: this.deps.counts.late,
      lagMs: lags.length ? lags[Math.floor(lags.length / 2)] : 0,
      pending: this.deps.pending?.() ?? 0,
      activeCustomers: this.deps.activeCustomers(),
      clickhouseBufferedRows: this.deps.bufferedRows?.() ?? 0,
      uptimeS: Math.round((now - this.startedAt) / 1000),
      ...(this.deps.model ? { model: this.deps.model() } : {}),
    };
    this.lagSamples = [];
    this.lastTick = { at: now, processed };
    this.lastStats = stats;
    this.statsHistory.push(stats);
    if (this.statsHistory.length > STATS_HISTORY) this.statsHistory.shift();
    return stats;
  }

  /** The end of a tick: totals over every active alert ride on the current stats; stats, at-risk and overload frames. */
  tickFrames(stats: ProcessorStats, nowMin: number, now: number): void {
    this.lastStats = { ...stats, alerts: this.alertTotals(now) };
    this.emit({ type: 'stats', stats: this.lastStats });
    this.emit({ type: 'at_risk', atRisk: this.shownAtRisk() });
    this.emit({ type: 'overload', overload: this.deps.overload(nowMin, now) });
    if (this.deps.experience) this.emit({ type: 'experience', experience: this.deps.experience(this.deps.watermark(now)) });
  }

  snapshot(): SnapshotFrame {
    const now = this.deps.clock.now();
    const desk = this.deps.desk;
    return {
      type: 'snapshot',
      serverTime: now,
      stats: this.lastStats,
      statsHistory: [...this.statsHistory],
      atRisk: this.shownAtRisk(),
      overload: this.deps.overload(Math.floor(this.deps.watermark(now) / MINUTE_MS), now),
      experience: this.deps.experience?.(this.deps.watermark(now)) ?? [],
      alerts: desk.engine.views().map((a) => desk.withSilences(a, now)),
      silences: desk.notifier?.listSilences(now) ?? [],
    };
  }

  /** The at-risk entries a checkpoint keeps, and their restore; a restore starts the throughput count afresh. */
  savedAtRisk(): AtRiskEntry[] {
    return [...this.atRisk.values()];
  }

  restore(atRisk: AtRiskEntry[], now: number): void {
    this.atRisk.clear();
    for (const e of atRisk) this.atRisk.set(e.customerId, e);
    this.lastTick = { at: now, processed: this.deps.counts.processed };
  }

  private atRiskList(n = this.deps.config.wall.atRiskListSize): AtRiskEntry[] {
    return [...this.atRisk.values()].sort((a, b) => b.valueAtRisk - a.valueAtRisk || b.risk - a.risk).slice(0, n);
  }

  /**
   * The list the wall is sent, each entry with its intervals: worked out once an entry is shown, so per tick for at
   * most the entries that changed among the shown ones, never per event.
   */
  private shownAtRisk(): AtRiskEntry[] {
    const list = this.atRiskList();
    for (let i = 0; i < list.length; i++) {
      const e = list[i];
      if (!(e instanceof UnfilledEntry)) continue;
      list[i] = e.filled();
      this.atRisk.set(e.customerId, list[i]);
    }
    return list;
  }

  private emit(frame: WallFrame): void {
    for (const l of this.listeners) l(frame);
  }

  /**
   * Counts over every active alert, and customer alerts by rule and campaign, for screens that hold only some. Runs
   * every tick over thousands of alerts: it reads the records as they are, and works out labels only while a silence
   * is active.
   */
  private alertTotals(now: number): AlertTotals {
    const notifier = this.deps.desk.notifier;
    const anySilence = notifier !== undefined && notifier.listSilences(now).some((s) => s.startsAt <= now && now < s.endsAt);
    // No silence active (the usual case): the engine's tallies, kept as alerts change, without a walk.
    if (!anySilence) {
      const t = this.deps.desk.engine.tallies();
      return { ...t, silenced: 0, unattended: t.firing - t.acknowledged };
    }
    const totals: AlertTotals = { firing: 0, pending: 0, acknowledged: 0, silenced: 0, unattended: 0, customerGroups: [] };
    const groups = new Map<string, AlertGroupCount>();
    for (const { record: r, rule } of this.deps.desk.engine.activeRecords()) {
      const firing = r.state === 'firing';
      const acknowledged = firing && r.acknowledged !== null;
      const silenced = anySilence && notifier.silencedBy(alertLabels(rule, r), now).length > 0;
      if (firing) totals.firing++;
      else totals.pending++;
      if (acknowledged) totals.acknowledged++;
      if (silenced) totals.silenced++;
      if (firing && !acknowledged && !silenced) totals.unattended++;
      if (r.subject.kind !== 'customer') continue;
      // As alertLabels merges them: a rule's own labels win over the triggering event's.
      const campaign = rule?.labels?.campaign ?? r.labels?.campaign ?? null;
      const key = `${r.rule}\u0000${campaign ?? ''}`;
      let group = groups.get(key);
      if (!group) groups.set(key, (group = { rule: r.rule, campaign, firing: 0, pending: 0, acknowledged: 0, silenced: 0 }));
      if (firing) group.firing++;
      else group.pending++;
      if (acknowledged) group.acknowledged++;
      if (silenced) group.silenced++;
    }
    totals.customerGroups = [...groups.values()].sort((a, b) => b.firing + b.pending - (a.firing + a.pending) || byGroupName(a, b)).slice(0, 50);
    return totals;
  }
}

/**
 * An at-risk entry as the derive step makes it, the signal it came from carried along in a private field (neither
 * JSON nor a copy takes it): its intervals cost a few hundred model evaluations, so they are worked out only once a
 * list shows the entry (filled), and a per-event update costs no more than a plain entry.
 */
class UnfilledEntry implements AtRiskEntry {
  customerId: string;
  risk: number;
  pAlive: number;
  valueAtRisk: number;
  reasons: string[];
  updatedAt: number;
  readonly #churn: CustomerSignals['churn'];

  constructor(customerId: string, churn: CustomerSignals['churn'], now: number) {
    this.customerId = customerId;
    this.risk = churn.risk;
    this.pAlive = churn.pAlive;
    this.valueAtRisk = churn.valueAtRisk;
    this.reasons = churn.reasons;
    this.updatedAt = now;
    this.#churn = churn;
  }

  /** A plain entry, with the intervals when the signal's model has them. */
  filled(): AtRiskEntry {
    const { customerId, risk, pAlive, valueAtRisk, reasons, updatedAt } = this;
    const intervals = this.#churn.intervals?.();
    return intervals ? { customerId, risk, pAlive, valueAtRisk, reasons, updatedAt, intervals } : { customerId, risk, pAlive, valueAtRisk, reasons, updatedAt };
  }
}

/** Overload per channel, segment and campaign, with the contact budget's suppressions per campaign and channel. */
export function overloadWithSuppressions(cells: OverloadCell[], counts: { campaignId: string | null; channel: string; suppressed: number; checked: number }[]): OverloadCell[] {
  if (counts.length === 0) return cells;
  const byKey = new Map(cells.map((c) => [`${c.kind}\u0000${c.key}`, c]));
  const add = (kind: 'channel' | 'campaign', key: string, channel: string, suppressed: number, checked: number) => {
    const copy = byKey.get(`${kind}\u0000${key}`) ?? { kind, key, touches24h: 0, overloadedCustomers: 0, negatives1h: 0, surgeZ: 0 };
    const next: OverloadCell = { ...copy, suppressed: (copy.suppressed ?? 0) + suppressed, checked: (copy.checked ?? 0) + checked, suppressedByChannel: { ...copy.suppressedByChannel } };
    next.suppressedByChannel![channel] = (next.suppressedByChannel![channel] ?? 0) + suppressed;
    byKey.set(`${kind}\u0000${key}`, next);
  };
  for (const c of counts) {
    add('channel', c.channel, c.channel, c.suppressed, c.checked);
    if (c.campaignId !== null) add('campaign', c.campaignId, c.channel, c.suppressed, c.checked);
  }
  return [...byKey.values()];
}
