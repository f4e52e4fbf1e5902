// The wall's view of the whole cluster: this processor's snapshot merged with every other processor's summary
// (membership.ts), every processor's alerts (alertCopies.ts), and acknowledgements and silences routed to the
// processor they concern (alertRequests.ts). It ticks every interval: publish, drop the silent, emit frames.
import type { NatsConnection, Subscription } from 'nats';
import type { AlertView, OverloadCell, SnapshotFrame, WallFrame } from '../contract/frames.js';
import { every, systemClock, type Cancel, type SchedulingClock } from '../shared/clock.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { emptySnapshot, mergeAlerts, mergeSnapshots, withBudgetCounts } from '../wall/snapshotMerge.js';
import { AlertCopies } from './alertCopies.js';
import { AlertRequests } from './alertRequests.js';
import { ClusterBus, subjectToken } from './clusterBus.js';
import { ClusterMembership, type ClusterMember } from './membership.js';

export type { ClusterMember, ClusterSummary } from './membership.js';
export { subjectToken };

/** As the alert engine's views(): what one snapshot carries. */
const ALERT_LIMIT = 200;

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
  /** Reads the time and sets the tick; default the system clock. */
  clock?: SchedulingClock;
}

/**
 * The whole cluster as one wall source: this processor's snapshot merged with the latest summary of every live
 * processor, every processor's alerts, and acknowledgements routed to the processor that holds the alert.
 */
export class ClusterWall {
  /** Counters for metrics and tests. */
  readonly counters = { summariesSent: 0, summariesReceived: 0, alertsReceived: 0, alertFetches: 0, acksForwarded: 0, acksAnswered: 0 };
  private readonly interval: number;
  private readonly clock: SchedulingClock;
  private readonly bus: ClusterBus;
  private readonly membership: ClusterMembership;
  private readonly alerts: AlertCopies;
  private readonly requests: AlertRequests;
  private readonly listeners = new Set<(f: WallFrame) => void>();
  private subs: Subscription[] = [];
  private cancelTick: Cancel | null = null;
  private running = false;
  /** An alert left the wall without a change (an erasure, a departure): clients get a whole snapshot. */
  private snapshotDue = false;
  private lastSnapshotEmit = 0;

  constructor(private readonly o: ClusterWallOptions) {
    this.interval = o.intervalMs ?? 1000;
    this.clock = o.clock ?? systemClock;
    this.bus = new ClusterBus(o.nc, o.subjectPrefix ?? 'vigil.cluster', o.log);
    const { bus, clock, interval: intervalMs, counters } = this;
    const { log, processorId } = o;
    this.alerts = new AlertCopies({ bus, clock, intervalMs, log, counters, resolvedKeepMs: o.resolvedKeepMs, requestTimeoutMs: o.ackTimeoutMs ?? 2_000, emit: (f) => this.emit(f) });
    this.membership = new ClusterMembership({
      bus,
      clock,
      intervalMs,
      log,
      counters,
      processorId,
      partitions: o.partitions,
      budgetCellsOnly: o.overload !== undefined,
      departureGraceMs: o.departureGraceMs,
      historyPoints: o.historyPoints,
      onSummary: (id, alertIds, now) => this.alerts.fetchMissing(id, alertIds, now),
      onDepart: (id) => this.alerts.forget(id),
    });
    this.requests = new AlertRequests({ bus, clock, log, counters, processorId, acknowledgeLocal: (id, by) => o.local.acknowledge(id, by), ackTimeoutMs: o.ackTimeoutMs ?? 2_000 });
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const { bus } = this;
    this.subs = [
      this.membership.listen(),
      bus.on(`${this.o.alertSubjectPrefix ?? 'alerts'}.>`, (m) => this.alerts.receive(m)),
      bus.on(`${bus.prefix}.alerts.${subjectToken(this.o.processorId)}`, (m) => {
        const local = this.safeLocal();
        if (local) this.alerts.answer(m, local.alerts);
      }),
      ...this.requests.listen(),
    ];
    const local = this.safeLocal();
    if (local) this.alerts.seed(local.alerts);
    await this.o.nc.flush();
    bus.guard('tick', () => this.tick());
    this.cancelTick = every(this.clock, this.interval, () => bus.guard('tick', () => this.tick()));
  }

  /** Stops publishing and tells the others, so they drop this processor at once. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.cancelTick?.();
    this.cancelTick = null;
    for (const s of this.subs) s.unsubscribe();
    this.subs = [];
    if (!this.o.nc.isClosed()) {
      this.membership.leave(this.clock.now());
      await this.o.nc.flush().catch(() => undefined);
    }
  }

  /** The live processors other than this one. */
  peers(): ClusterMember[] {
    return this.membership.peers(this.clock.now());
  }

  /** The newest version of every alert this wall holds, from every processor (uncut, unlike the snapshot's list). */
  heldAlerts(): AlertView[] {
    return this.alerts.held();
  }

  snapshot(): SnapshotFrame {
    const now = this.clock.now();
    const local = this.safeLocal() ?? emptySnapshot(now);
    return this.merged(local, now);
  }

  subscribe(listener: (f: WallFrame) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A local alert change, straight from the pipeline (optional): the wall shows it before NATS echoes it back. */
  localAlert(view: AlertView): void {
    this.alerts.learn(view);
  }

  /** Acknowledges here when this processor holds the alert, else asks the one that does; false when none answers. */
  acknowledge(alertId: string, by: string): Promise<boolean> {
    return this.requests.acknowledge(alertId, by);
  }

  /** This processor added or expired a silence: the others reload theirs. */
  silencesChanged(): void {
    this.requests.silencesChanged();
  }

  /** Called when another processor added or expired a silence. Returns an unsubscribe. */
  onSilencesChanged(cb: () => void): () => void {
    return this.requests.onSilencesChanged(cb);
  }

  private tick(): void {
    if (!this.running) return;
    const now = this.clock.now();
    const local = this.safeLocal();
    if (!local) return;
    this.membership.publish(local, this.alerts.shown(local.alerts, now).map((a) => a.id), now);
    this.membership.dropStale(now);
    // Local changes the pipeline made since: shown even before (or without) their NATS echo.
    for (const a of this.alerts.shown(local.alerts, now)) this.alerts.learn(a);
    const listed = this.membership.listedAlertIds();
    for (const a of local.alerts) listed.add(a.id);
    if (this.alerts.prune(listed, now)) this.snapshotDue = true;
    for (const [id, alertIds] of this.membership.alertLists()) this.alerts.fetchMissing(id, alertIds, now);
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
    this.emit({ type: 'experience', experience: merged.experience });
  }

  private merged(local: SnapshotFrame, now: number): SnapshotFrame {
    const merged = mergeSnapshots([local, ...this.membership.frames(now)], { atRiskLimit: this.o.atRiskLimit, now });
    merged.alerts = mergeAlerts([...local.alerts, ...this.alerts.held()], this.o.alertLimit ?? ALERT_LIMIT);
    if (this.o.overload) merged.overload = withBudgetCounts(this.o.overload(), merged.overload);
    return merged;
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
}
