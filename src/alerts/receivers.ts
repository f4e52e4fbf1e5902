// The notification receivers a processor's configuration asks for: the webhook and the Alertmanagers.
import type { VigilConfig } from '../config/schema.js';
import type { SchedulingClock } from '../shared/clock.js';
import type { Logger } from '../shared/logger.js';
import { AlertmanagerReceiver } from './alertmanager.js';
import type { Notification } from './grouping.js';
import type { Receiver } from './notifier.js';
import { WebhookReceiver } from './webhook.js';

export interface Receivers {
  list: Receiver[];
  webhook: WebhookReceiver | null;
  alertmanager: AlertmanagerReceiver | null;
  stop(): void;
}

/** Where people reach the wall: the configured address, else the wall's own host and port. */
export function externalUrl(config: Pick<VigilConfig, 'alerts' | 'wall'>): string {
  if (config.alerts.externalUrl) return config.alerts.externalUrl.replace(/\/+$/, '');
  const host = config.wall.host.includes(':') ? `[${config.wall.host}]` : config.wall.host;
  return `http://${host}:${config.wall.port}`;
}

export function createReceivers(config: VigilConfig, deadLetter: (n: Notification, reason: string) => void, clock: SchedulingClock, log: Logger, active?: () => boolean): Receivers {
  const url = externalUrl(config);
  const webhook = config.alerts.webhook.url ? new WebhookReceiver({ ...config.alerts.webhook, externalUrl: url }, deadLetter, log.child({ stage: 'webhook' }), clock) : null;
  const am = config.alerts.alertmanager;
  const alertmanager = am.urls.length > 0 ? new AlertmanagerReceiver({ ...am, externalUrl: url, active }, clock, log.child({ stage: 'alertmanager' })) : null;
  alertmanager?.start();
  return {
    list: [webhook, alertmanager].filter((r): r is WebhookReceiver | AlertmanagerReceiver => r !== null),
    webhook,
    alertmanager,
    stop() {
      webhook?.stop();
      alertmanager?.stop();
    },
  };
}
