// The webhook's retries on the manual clock against a receiver on loopback: each failure waits its backoff (doubling,
// capped) on the clock, and the notification is dead-lettered after the last attempt.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../../tests/helpers/wait.js';
import { ManualClock } from '../shared/clock.js';
import { silentLogger } from '../shared/logger.js';
import type { Notification } from './grouping.js';
import { WebhookReceiver } from './webhook.js';

let server: Server | null = null;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

/** A receiver that answers each request with the next status of `statuses` (the last one from then on). */
async function receiver(statuses: number[]) {
  const seen = { requests: 0 };
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.statusCode = statuses[Math.min(seen.requests++, statuses.length - 1)];
      res.end();
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { seen, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook` };
}

const alert = { rule: 'customer_contact_fatigue', subject: { kind: 'customer', key: 'c1' }, state: 'firing', summary: '4 touches in 24 h', reasons: [] };
const notification = { groupKey: 'g', groupLabels: {}, firing: 1, resolved: 0, alerts: [alert] } as unknown as Notification;

describe('WebhookReceiver retries', () => {
  it('waits 1 s, then 2 s on the clock between attempts, and delivers on the third', async () => {
    const { seen, url } = await receiver([500, 503, 200]);
    const clock = new ManualClock(0);
    const hook = new WebhookReceiver({ url, maxAttempts: 5, initialBackoffMs: 1_000, maxBackoffMs: 60_000, timeoutMs: 5_000, queueSize: 10 }, () => undefined, silentLogger, clock);
    hook.send(notification);
    await eventually('the first attempt and its backoff', () => seen.requests === 1 && clock.pending() === 1);
    clock.advance(999);
    expect(seen.requests).toBe(1);
    clock.advance(1);
    await eventually('the second attempt and its backoff', () => seen.requests === 2 && clock.pending() === 1);
    clock.advance(1_999);
    expect(seen.requests).toBe(2);
    clock.advance(1);
    await eventually('the delivery', () => hook.stats.delivered === 1);
    expect(hook.stats).toMatchObject({ attempts: 3, failures: 2, deadLettered: 0, queued: 0 });
  });

  it('dead-letters the notification after maxAttempts, with why', async () => {
    const { url } = await receiver([500]);
    const clock = new ManualClock(0);
    const dead: string[] = [];
    const hook = new WebhookReceiver({ url, maxAttempts: 2, initialBackoffMs: 1_000, maxBackoffMs: 60_000, timeoutMs: 5_000, queueSize: 10 }, (_n, why) => dead.push(why), silentLogger, clock);
    hook.send(notification);
    await eventually('the first backoff', () => clock.pending() === 1);
    clock.advance(1_000);
    await eventually('the dead letter', () => dead.length === 1);
    expect(dead).toEqual(['gave up after 2 attempts: HTTP 500']);
    expect(clock.pending()).toBe(0);
  });
});
