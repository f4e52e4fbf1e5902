// Delivers grouped notifications to a webhook (Slack-compatible body) with retries and backoff, off the hot path;
// after the last try, or when its queue is full, a notification goes to the dead letters instead of being lost.
import { sleep, systemClock, type SchedulingClock } from '../shared/clock.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { Notification } from './grouping.js';

export interface WebhookOptions {
  url: string;
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  timeoutMs: number;
  queueSize: number;
}

export interface WebhookStats {
  delivered: number;
  attempts: number;
  failures: number;
  deadLettered: number;
  queued: number;
}

/** A Slack-compatible body: `text` for any chat, `vigil` with the structured alerts for machines. */
export function webhookBody(n: Notification): Record<string, unknown> {
  const status = n.firing > 0 ? `FIRING:${n.firing}` : `RESOLVED:${n.resolved}`;
  const head = n.alerts[0];
  const group = Object.entries(n.groupLabels)
    .filter(([k]) => k !== 'alertname')
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const customers = n.alerts.filter((a) => a.subject.kind === 'customer' && a.state === 'firing').length;
  const who = customers > 1 ? `${customers} customers` : `${head.subject.kind} ${head.subject.key}`;
  const lines = n.alerts.slice(0, 5).map((a) => `• ${a.state} ${a.subject.kind} ${a.subject.key}: ${a.summary}${a.reasons.length ? ` (${a.reasons.slice(0, 2).join('; ')})` : ''}`);
  const more = n.alerts.length > 5 ? [`…and ${n.alerts.length - 5} more`] : [];
  return {
    text: [`[${status}] ${head.rule}${group ? ` ${group}` : ''}: ${who}`, ...lines, ...more].join('\n'),
    vigil: { groupKey: n.groupKey, groupLabels: n.groupLabels, firing: n.firing, resolved: n.resolved, alerts: n.alerts },
  };
}

export class WebhookReceiver {
  readonly stats: WebhookStats = { delivered: 0, attempts: 0, failures: 0, deadLettered: 0, queued: 0 };
  private readonly queue: { n: Notification; attempt: number; notBefore: number }[] = [];
  private running = false;
  private stopped = false;

  constructor(
    private readonly opts: WebhookOptions,
    private readonly deadLetter: (n: Notification, reason: string) => void,
    private readonly log: Logger,
    /** Times the backoff between attempts; the system clock when absent. */
    private readonly clock: SchedulingClock = systemClock,
  ) {}

  /** Queues a notification and returns at once: a slow or stuck receiver never slows the caller. */
  send(n: Notification): void {
    if (this.queue.length >= this.opts.queueSize) {
      this.stats.deadLettered++;
      this.deadLetter(n, `webhook queue full (${this.opts.queueSize})`);
      return;
    }
    this.queue.push({ n, attempt: 0, notBefore: 0 });
    this.stats.queued = this.queue.length;
    if (!this.running) void this.drain();
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0 && !this.stopped) {
        const item = this.queue[0];
        const wait = item.notBefore - this.clock.now();
        if (wait > 0) await sleep(this.clock, wait);
        item.attempt++;
        this.stats.attempts++;
        const error = await this.post(item.n);
        if (error === null) {
          this.queue.shift();
          this.stats.delivered++;
        } else {
          this.stats.failures++;
          if (item.attempt >= this.opts.maxAttempts) {
            this.queue.shift();
            this.stats.deadLettered++;
            this.deadLetter(item.n, `gave up after ${item.attempt} attempts: ${error}`);
          } else {
            const backoff = Math.min(this.opts.maxBackoffMs, this.opts.initialBackoffMs * 2 ** (item.attempt - 1));
            item.notBefore = this.clock.now() + backoff;
            this.log.warn({ attempt: item.attempt, backoffMs: backoff, err: error }, 'webhook delivery failed; retrying');
          }
        }
        this.stats.queued = this.queue.length;
      }
    } finally {
      this.running = false;
    }
  }

  /** null on success (2xx), else why not. */
  private async post(n: Notification): Promise<string | null> {
    try {
      const res = await fetch(this.opts.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(webhookBody(n)),
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      return res.ok ? null : `HTTP ${res.status}`;
    } catch (err) {
      return errorMessage(err);
    }
  }

  /** Stops retrying; what is still queued is dead-lettered so nothing is silently dropped. */
  stop(): void {
    this.stopped = true;
    for (const item of this.queue.splice(0)) {
      this.stats.deadLettered++;
      this.deadLetter(item.n, 'processor stopped before delivery');
    }
    this.stats.queued = 0;
  }
}
