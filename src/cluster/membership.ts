// Who is in the cluster, by gossip: every processor publishes a summary of its snapshot each interval on
// `<prefix>.summary.<id>` and keeps everyone else's; one silent for 3 intervals, or one that says it leaves, is dropped.
import type { Msg } from 'nats';
import type { OverloadCell, ProcessorStats, SnapshotFrame } from '../contract/frames.js';
import type { Clock } from '../shared/clock.js';
import type { Logger } from '../shared/logger.js';
import { STATS_HISTORY } from '../wall/snapshotMerge.js';
import { encodeJson, parseJson, subjectToken, type ClusterBus } from './clusterBus.js';

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

export interface MembershipOptions {
  bus: ClusterBus;
  processorId: string;
  intervalMs: number;
  clock: Clock;
  log: Logger;
  /** The partitions this processor owns now, carried in its summary. */
  partitions?: () => number[];
  /** Only the budget counts of the overload travel: every wall has the combined entity counts already. */
  budgetCellsOnly: boolean;
  /** How long the alerts a vanished processor listed stay, so its successor can take them over without a blink. */
  departureGraceMs?: number;
  /** Points of stats history in each summary; walls accumulate them. */
  historyPoints?: number;
  counters: { summariesSent: number; summariesReceived: number };
  /** A live processor's summary arrived. */
  onSummary(processorId: string, alertIds: string[], now: number): void;
  /** A processor left or went silent. */
  onDepart(processorId: string): void;
}

interface Member {
  summary: ClusterSummary;
  seenAt: number;
  history: ProcessorStats[];
}

export class ClusterMembership {
  private readonly members = new Map<string, Member>();
  /** Alert ids a departed processor listed, until the grace ends. */
  private readonly departed = new Map<string, { alertIds: string[]; at: number }>();
  private readonly subject: string;
  private oversizeWarned = false;

  constructor(private readonly o: MembershipOptions) {
    this.subject = `${o.bus.prefix}.summary.${subjectToken(o.processorId)}`;
  }

  /** The summaries of every processor; this one's own are ignored. */
  listen(): ReturnType<ClusterBus['on']> {
    return this.o.bus.on(`${this.o.bus.prefix}.summary.*`, (m) => this.receive(m, this.o.clock.now()));
  }

  /** Tells the others this processor leaves, so they drop it at once. */
  leave(now: number): void {
    const leaving: Partial<ClusterSummary> = { v: 1, processorId: this.o.processorId, sentAt: now, leaving: true };
    this.o.bus.publish(this.subject, leaving);
  }

  publish(local: SnapshotFrame, alertIds: string[], now: number): void {
    const points = this.o.historyPoints ?? 5;
    const overload = this.o.budgetCellsOnly ? local.overload.filter((c) => c.checked !== undefined || c.suppressed !== undefined) : local.overload;
    const summary: ClusterSummary = {
      v: 1,
      processorId: this.o.processorId,
      sentAt: now,
      partitions: this.o.partitions?.() ?? [],
      alertIds,
      frame: { ...local, statsHistory: local.statsHistory.slice(-points), overload, alerts: [] },
    };
    let data = encodeJson(summary);
    const max = this.o.bus.maxPayload();
    // Thousands of overload cells could outgrow a message: the busiest go first, the rest wait for a calmer moment.
    let cells: OverloadCell[] = [...overload].sort((a, b) => b.touches24h + b.negatives1h - (a.touches24h + a.negatives1h));
    while (data.byteLength > max && cells.length > 0) {
      cells = cells.slice(0, cells.length >> 1);
      summary.frame.overload = cells;
      data = encodeJson(summary);
      if (!this.oversizeWarned) this.o.log.warn({ bytes: data.byteLength, max }, 'cluster summary over the message limit: overload cells cut');
      this.oversizeWarned = true;
    }
    if (this.o.bus.publishBytes(this.subject, data)) this.o.counters.summariesSent++;
  }

  receive(m: Msg, now: number): void {
    const s = parseJson<ClusterSummary>(m.data);
    if (!s || s.v !== 1 || typeof s.processorId !== 'string' || s.processorId === this.o.processorId) return;
    if (s.leaving) {
      this.depart(s.processorId, now, 'left');
      return;
    }
    if (!isFrame(s.frame) || !Array.isArray(s.alertIds)) return;
    this.o.counters.summariesReceived++;
    let member = this.members.get(s.processorId);
    if (!member) {
      this.members.set(s.processorId, (member = { summary: s, seenAt: now, history: [] }));
      this.departed.delete(s.processorId);
      this.o.log.info({ processor: s.processorId, partitions: s.partitions }, 'processor joined the cluster wall');
    }
    member.summary = s;
    member.seenAt = now;
    const last = member.history.length ? member.history[member.history.length - 1].ts : Number.NEGATIVE_INFINITY;
    for (const p of s.frame.statsHistory) if (p.ts > last) member.history.push(p);
    if (member.history.length > STATS_HISTORY) member.history.splice(0, member.history.length - STATS_HISTORY);
    this.o.onSummary(s.processorId, s.alertIds, now);
  }

  /** Drops the processors silent for 3 intervals, and the alert lists of departed ones past the grace. */
  dropStale(now: number): void {
    for (const [id, m] of this.members) if (now - m.seenAt > 3 * this.o.intervalMs) this.depart(id, now, 'went silent');
    const grace = this.o.departureGraceMs ?? 30_000;
    for (const [id, d] of this.departed) if (now - d.at > grace) this.departed.delete(id);
  }

  /** The live processors other than this one. */
  peers(now: number): ClusterMember[] {
    return this.live(now).map(([processorId, m]) => ({ processorId, partitions: m.summary.partitions, seenAt: m.seenAt }));
  }

  /** The live processors' frames, each with the history this wall accumulated. */
  frames(now: number): SnapshotFrame[] {
    return this.live(now).map(([, m]) => ({ ...m.summary.frame, statsHistory: m.history }));
  }

  /** Every member's alert list, live or not yet dropped. */
  alertLists(): [processorId: string, alertIds: string[]][] {
    return [...this.members].map(([id, m]) => [id, m.summary.alertIds]);
  }

  /** The alert ids some processor still lists: members, and departed ones within the grace. */
  listedAlertIds(): Set<string> {
    const listed = new Set<string>();
    for (const m of this.members.values()) for (const id of m.summary.alertIds) listed.add(id);
    for (const d of this.departed.values()) for (const id of d.alertIds) listed.add(id);
    return listed;
  }

  private live(now: number): [string, Member][] {
    const since = now - 3 * this.o.intervalMs;
    return [...this.members].filter(([, m]) => m.seenAt >= since);
  }

  private depart(processorId: string, now: number, why: string): void {
    const m = this.members.get(processorId);
    if (!m) return;
    this.members.delete(processorId);
    this.departed.set(processorId, { alertIds: m.summary.alertIds, at: now });
    this.o.onDepart(processorId);
    this.o.log.info({ processor: processorId }, `processor ${why}: dropped from the cluster wall`);
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
