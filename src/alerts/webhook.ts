// Delivers grouped notifications to a webhook (Alertmanager's webhook body, or a Slack-compatible one) with retries
// and backoff, off the hot path; after the last try, or when its queue is full, a notification goes to the dead
// letters instead of being lost.
import type { SchedulingClock } from '../shared/clock.js';
import type { Logger } from '../shared/logger.js';
import { alertmanagerWebhookBody } from './alertmanagerFormat.js';
import { DeliveryQueue, postJson, type DeliveryOptions, type DeliveryStats } from './deliveryQueue.js';
import type { Notification } from './grouping.js';

export type WebhookFormat = 'alertmanager' | 'slack';

export interface WebhookOptions extends DeliveryOptions {
  url: string;
  /** `alertmanager`: Alertmanager's webhook body (version 4); `slack`: `text` for any chat plus the alerts under `vigil`. */
  format: WebhookFormat;
  /** The receiver's name in the Alertmanager body. */
  receiver: string;
  /** The wall's public address, for each alert's generatorURL and the body's externalURL. */
  externalUrl: string;
}

/** The body in the configured format. */
export function webhookBody(n: Notification, opts: Pick<WebhookOptions, 'format' | 'receiver' | 'externalUrl'>): object {
  return opts.format === 'slack' ? slackBody(n) : alertmanagerWebhookBody(n, opts);
}

/** A Slack-compatible body: `text` for any chat, `vigil` with the structured alerts for machines. */
export function slackBody(n: Notification): Record<string, unknown> {
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
  private readonly delivery: DeliveryQueue<Notification>;

  constructor(
    private readonly opts: WebhookOptions,
    deadLetter: (n: Notification, reason: string) => void,
    log: Logger,
    /** Times the backoff between attempts; the system clock when absent. */
    clock?: SchedulingClock,
  ) {
    this.delivery = new DeliveryQueue(opts, (n) => postJson(opts.url, webhookBody(n, opts), opts.timeoutMs), (n, reason) => deadLetter(n, `webhook: ${reason}`), log, clock);
  }

  get stats(): DeliveryStats {
    return this.delivery.stats;
  }

  /** Queues a notification and returns at once: a slow or stuck receiver never slows the caller. */
  send(n: Notification): void {
    this.delivery.push(n);
  }

  /** Stops retrying; what is still queued is dead-lettered so nothing is silently dropped. */
  stop(): void {
    this.delivery.stop();
  }
}
