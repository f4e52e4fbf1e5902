// Copies of the other processors' alerts, so every wall shows every alert: heard on alerts.<severity>, asked of a
// processor whose summary lists alerts this wall has not heard of (it started later), and kept while some processor
// still lists them.
import type { Msg } from 'nats';
import type { AlertView, WallFrame } from '../contract/frames.js';
import type { Clock } from '../shared/clock.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { encodeJson, parseJson, subjectToken, type ClusterBus } from './clusterBus.js';

export interface AlertCopiesOptions {
  bus: ClusterBus;
  clock: Clock;
  intervalMs: number;
  log: Logger;
  /** How long a resolved alert stays on the wall. */
  resolvedKeepMs?: number;
  /** How long asking a processor for its alerts waits. */
  requestTimeoutMs: number;
  counters: { alertsReceived: number; alertFetches: number };
  /** A new alert, or a newer version of one: for the wall's clients. */
  emit(frame: WallFrame): void;
}

interface HeldAlert {
  view: AlertView;
  /** Local time it was last received. */
  seenAt: number;
}

export class AlertCopies {
  private readonly alerts = new Map<string, HeldAlert>();
  /** Per member: when its alerts were last asked for, so a missing alert is asked once per few intervals. */
  private readonly fetches = new Map<string, { fetchedAt: number; fetching: boolean }>();

  constructor(private readonly o: AlertCopiesOptions) {}

  /** What this processor shows already is no change: clients get it with their snapshot. */
  seed(local: AlertView[]): void {
    const now = this.o.clock.now();
    for (const a of this.shown(local, now)) this.alerts.set(a.id, { view: a, seenAt: now });
  }

  /** The newest version of every alert held (uncut, unlike a snapshot's list). */
  held(): AlertView[] {
    return [...this.alerts.values()].map((h) => h.view);
  }

  /** An alert change heard on NATS. */
  receive(m: Msg): void {
    const view = parseJson<AlertView>(m.data);
    if (!isAlertView(view)) return;
    this.o.counters.alertsReceived++;
    this.learn(view);
  }

  /**
   * Holds an alert's newest version and tells the clients about it once: a version already held (the NATS echo of
   * a local change, a repeated fetch) is no change. A fetched alert is new to this wall's clients too.
   */
  learn(view: AlertView): void {
    const held = this.alerts.get(view.id);
    const now = this.o.clock.now();
    if (held && view.updatedAt <= held.view.updatedAt) {
      held.seenAt = now;
      return;
    }
    if (this.resolvedLongAgo(view, now)) return;
    this.alerts.set(view.id, { view, seenAt: now });
    this.o.emit({ type: 'alert', alert: view });
  }

  /** The alerts of a snapshot a wall should hold: active ones and those resolved within resolvedKeepMs. */
  shown(alerts: AlertView[], now: number): AlertView[] {
    return alerts.filter((a) => !this.resolvedLongAgo(a, now));
  }

  /** Answers another processor's request for this one's alerts, cut to the message limit. */
  answer(m: Msg, local: AlertView[]): void {
    if (!m.reply) return;
    let alerts = this.shown(local, this.o.clock.now());
    let data = encodeJson(alerts);
    const max = this.o.bus.maxPayload();
    while (data.byteLength > max && alerts.length > 0) {
      alerts = alerts.slice(0, alerts.length >> 1);
      data = encodeJson(alerts);
    }
    m.respond(data);
  }

  /** Alerts a processor lists that this wall has not heard of: asked of that processor. */
  fetchMissing(processorId: string, alertIds: string[], now: number): void {
    let f = this.fetches.get(processorId);
    if (!f) this.fetches.set(processorId, (f = { fetchedAt: 0, fetching: false }));
    if (f.fetching || now - f.fetchedAt < 5 * this.o.intervalMs || this.o.bus.closed) return;
    if (alertIds.every((id) => this.alerts.has(id))) return;
    const fetch = f;
    fetch.fetching = true;
    fetch.fetchedAt = now;
    this.o.counters.alertFetches++;
    this.o.bus
      .request<AlertView[]>(`${this.o.bus.prefix}.alerts.${subjectToken(processorId)}`, {}, this.o.requestTimeoutMs)
      .then((views) => {
        if (Array.isArray(views)) for (const v of views) if (isAlertView(v)) this.learn(v);
      })
      .catch((err: unknown) => this.o.log.debug({ err: errorMessage(err), processor: processorId }, 'asking a processor for its alerts failed'))
      .finally(() => (fetch.fetching = false));
  }

  /** A processor left: its next arrival is asked for its alerts afresh. */
  forget(processorId: string): void {
    this.fetches.delete(processorId);
  }

  /**
   * Keeps the alerts some processor still lists (`listed`: this one's snapshot, live summaries, departed ones within
   * the grace) or heard of in the last intervals; resolved ones for resolvedKeepMs. True when an active alert left
   * without a change (an erasure, a departure): the clients need a whole snapshot.
   */
  prune(listed: Set<string>, now: number): boolean {
    let snapshotDue = false;
    for (const [id, h] of this.alerts) {
      const resolved = h.view.state === 'resolved';
      const expired = this.resolvedLongAgo(h.view, now);
      const unlisted = !listed.has(id) && now - h.seenAt > 3 * this.o.intervalMs;
      if (!expired && !unlisted) continue;
      this.alerts.delete(id);
      if (!resolved) snapshotDue = true;
    }
    return snapshotDue;
  }

  private resolvedLongAgo(a: AlertView, now: number): boolean {
    return a.state === 'resolved' && now - (a.endsAt ?? a.updatedAt) > (this.o.resolvedKeepMs ?? 5 * 60_000);
  }
}

function isAlertView(v: unknown): v is AlertView {
  const a = v as AlertView | null;
  return typeof a === 'object' && a !== null && typeof a.id === 'string' && typeof a.updatedAt === 'number' && typeof a.state === 'string' && typeof a.subject === 'object' && a.subject !== null;
}
