// Alertmanager as a receiver: Vigil's alerts posted to each configured Alertmanager's API v2 (`POST /api/v2/alerts`)
// as Prometheus posts its own, so Alertmanager's routing, grouping, inhibition, silences and integrations apply.
// It hears every alert change the notifier lets through (no Vigil silence holds it), not Vigil's grouped
// notifications: Alertmanager groups by itself. Changes are collected and posted at the notifier's tick, in batches;
// firing alerts are posted again every resend interval with an end a few intervals ahead (Alertmanager resolves what
// stops coming); a resolved one is posted once, at once, with its end. Each URL (an HA pair) has its own queue, so one
// that is down never holds the others back; nothing here throws into the notifier.
import type { AlertView } from '../contract/frames.js';
import type { Cancel, SchedulingClock } from '../shared/clock.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { toAmAlert, type AmAlert } from './alertmanagerFormat.js';
import { DeliveryQueue, postJson, type DeliveryStats } from './deliveryQueue.js';

export interface AlertmanagerOptions {
  /** Base URLs (`http://am-1:9093`), each sent every batch. */
  urls: string[];
  resendIntervalMs: number;
  timeoutMs: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  queueSize: number;
  maxAlerts: number;
  externalUrl: string;
  /** Whether this processor notifies now (a cluster's leader); always when absent. */
  active?: () => boolean;
}

/** A firing alert is posted with an end this many resend intervals ahead, as Prometheus does (4 × its resend delay). */
export const ENDS_AFTER_RESENDS = 4;

/** Alerts per POST at most: a large campaign's thousands of customers go in several requests. */
const BATCH = 1_000;

export function alertsEndpoint(base: string): string {
  return `${base.replace(/\/+$/, '')}/api/v2/alerts`;
}

export class AlertmanagerReceiver {
  /** Firing alerts by fingerprint, oldest first: re-sent each interval. */
  private readonly firing = new Map<string, AlertView>();
  /** Changes heard since the last flush, by fingerprint: the latest of each (at most maxAlerts). */
  private readonly changed = new Map<string, AlertView>();
  private readonly queues: { url: string; q: DeliveryQueue<AmAlert[]> }[];
  private cancel: Cancel | null = null;
  /** Firing alerts dropped from re-sending at maxAlerts (Alertmanager ends them by their endsAt). */
  dropped = 0;

  constructor(
    private readonly opts: AlertmanagerOptions,
    private readonly clock: SchedulingClock,
    private readonly log: Logger,
    /** How a batch is posted (a test's fake); real HTTP by default. */
    post: (url: string, body: unknown, timeoutMs: number) => Promise<string | null> = postJson,
  ) {
    // A batch that fails is retried until the next resend carries the same alerts again: more tries would only queue up.
    const maxAttempts = Math.max(1, Math.ceil(Math.log2(Math.max(2, opts.resendIntervalMs / Math.max(1, opts.initialBackoffMs)))) + 1);
    this.queues = opts.urls.map((url) => {
      const endpoint = alertsEndpoint(url);
      const q = new DeliveryQueue<AmAlert[]>(
        { ...opts, maxAttempts },
        (batch) => post(endpoint, batch, opts.timeoutMs),
        (batch, reason) => log.warn({ alertmanager: url, alerts: batch.length, reason }, 'alerts not delivered to Alertmanager'),
        log,
        clock,
      );
      return { url, q };
    });
  }

  /** Starts re-sending firing alerts every resend interval. */
  start(): void {
    if (this.cancel || this.queues.length === 0) return;
    const tick = (): void => {
      try {
        // In a cluster only the leader notifies: a follower holds what it restored and waits.
        if (this.opts.active?.() ?? true) this.resend();
      } catch (err) {
        this.log.warn({ err: errorMessage(err) }, 're-sending alerts to Alertmanager failed');
      }
      this.cancel = this.clock.schedule(tick, this.opts.resendIntervalMs);
    };
    this.cancel = this.clock.schedule(tick, this.opts.resendIntervalMs);
  }

  /** Firing alerts from before a restart or a new leader (the notifier's restored groups): they replace what was held. */
  restore(alerts: readonly AlertView[]): void {
    this.firing.clear();
    for (const a of alerts) if (a.state === 'firing') this.remember(a);
  }

  /** An alert change: a firing one is remembered for re-sending, a resolved one forgotten; posted at the next flush. */
  alert(a: AlertView): void {
    if (a.state === 'firing') this.remember(a);
    else this.firing.delete(a.fingerprint);
    this.changed.delete(a.fingerprint);
    // A storm larger than one POST can carry between two ticks keeps the newest changes; firing ones come back at the
    // next resend, and Alertmanager ends a resolved one that stops coming by its endsAt.
    if (this.changed.size >= this.opts.maxAlerts) this.changed.delete(this.changed.keys().next().value as string);
    this.changed.set(a.fingerprint, a);
  }

  /** Posts the changes heard since the last flush. */
  flush(): void {
    if (this.changed.size === 0) return;
    const alerts = [...this.changed.values()];
    this.changed.clear();
    this.post(alerts);
  }

  /** Posts every firing alert again with a fresh end. */
  resend(): void {
    if (this.firing.size > 0) this.post([...this.firing.values()]);
  }

  private remember(a: AlertView): void {
    this.firing.delete(a.fingerprint);
    if (this.firing.size >= this.opts.maxAlerts) {
      const oldest = this.firing.keys().next().value as string;
      this.firing.delete(oldest);
      this.dropped++;
    }
    this.firing.set(a.fingerprint, a);
  }

  private post(alerts: readonly AlertView[]): void {
    const endsAt = this.clock.now() + ENDS_AFTER_RESENDS * this.opts.resendIntervalMs;
    for (let i = 0; i < alerts.length; i += BATCH) {
      const batch = alerts.slice(i, i + BATCH).map((a) => toAmAlert(a, this.opts.externalUrl, endsAt));
      for (const { q } of this.queues) q.push(batch);
    }
  }

  /** Alerts remembered as firing now. */
  get firingCount(): number {
    return this.firing.size;
  }

  /** Delivery counters summed over the Alertmanagers. */
  get stats(): DeliveryStats {
    const s: DeliveryStats = { delivered: 0, attempts: 0, failures: 0, deadLettered: 0, queued: 0 };
    for (const { q } of this.queues) for (const k of Object.keys(s) as (keyof DeliveryStats)[]) s[k] += q.stats[k];
    return s;
  }

  stop(): void {
    this.cancel?.();
    this.cancel = null;
    for (const { q } of this.queues) q.stop();
  }
}
