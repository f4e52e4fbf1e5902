// Notifications on real services: five tired customers of one campaign become one webhook message (Alertmanager's
// webhook body), delivered once through a receiver that fails its first tries; a silence keeps the next campaign
// quiet; every change is on NATS.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from 'nats';
import type { AmWebhookBody } from '../../src/alerts/alertmanagerFormat.js';
import type { VigilConfig } from '../../src/config/schema.js';
import type { RunningProcessor } from '../../src/runtime/processor.js';
import { eventually } from '../helpers/clickhouse.js';
import { cleanUp, isolatedConfig, natsConnection, startTestProcessor } from '../helpers/processor.js';

const enc = new TextEncoder();

describe('grouped notifications', () => {
  let server: Server;
  let attempts = 0;
  const delivered: AmWebhookBody[] = [];
  let config: VigilConfig;
  let nc: NatsConnection;
  let p: RunningProcessor;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        attempts++;
        // the receiver is down for its first two tries
        if (attempts <= 2) {
          res.writeHead(503).end('busy');
          return;
        }
        delivered.push(JSON.parse(body));
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    config = isolatedConfig({
      alerts: {
        routing: { groupBy: ['alertname', 'campaign'], groupWaitMs: 500, groupIntervalMs: 60_000, repeatIntervalMs: 3_600_000 },
        webhook: { url: `http://127.0.0.1:${port}/hook`, initialBackoffMs: 100, maxBackoffMs: 200, maxAttempts: 5 },
      },
    });
    nc = await natsConnection();
    p = await startTestProcessor(config);
  });

  afterAll(async () => {
    await p?.stop();
    await cleanUp(config, nc);
    await nc.close();
    server.close();
  });

  const blast = (campaign: string, customers: string[]) => {
    const now = Date.now();
    for (const c of customers) {
      for (let i = 0; i < 3; i++) {
        nc.publish(`${config.nats.subjectPrefix}.email_sent`, enc.encode(JSON.stringify({ id: `${campaign}-${c}-${i}`, customerId: c, type: 'email_sent', ts: now + i, campaignId: campaign })));
      }
    }
  };

  it('sends one message for the campaign, once, after the receiver recovers; NATS gets every change', async () => {
    const onNats: string[] = [];
    const sub = nc.subscribe(`${config.nats.alertSubjectPrefix}.warning`);
    void (async () => {
      for await (const m of sub) onNats.push((JSON.parse(new TextDecoder().decode(m.data)) as { subject: { key: string } }).subject.key);
    })();
    blast('spring', ['a', 'b', 'c', 'd', 'e']);
    await nc.flush();
    await eventually('the webhook to accept a message', () => delivered.length >= 1, 15_000);
    expect(attempts).toBe(3);
    // Nothing more for spring: a marker campaign fired after it is the next message and the next try, and the next
    // change on NATS (one publisher, so in order), so a second spring message, try or change would show up before it.
    blast('autumn', ['m']);
    await nc.flush();
    await eventually('the marker campaign on the webhook', () => delivered.some((d) => d.groupLabels.campaign === 'autumn'), 15_000);
    await eventually('the marker alert on NATS', () => onNats.includes('m'), 10_000);
    expect(delivered.map((d) => d.groupLabels.campaign)).toEqual(['spring', 'autumn']);
    expect(attempts).toBe(4);
    expect(delivered[0].alerts.filter((a) => a.status === 'firing')).toHaveLength(5);
    expect(delivered[0].status).toBe('firing');
    expect(delivered[0].groupLabels).toEqual({ alertname: 'customer_contact_fatigue', campaign: 'spring' });
    expect(delivered[0].commonLabels).toMatchObject({ alertname: 'customer_contact_fatigue', campaign: 'spring', severity: 'warning', subject_kind: 'customer' });
    expect(delivered[0].alerts.map((a) => a.labels.subject_key).sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(onNats.sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'm']);
    sub.unsubscribe();
  });

  it('keeps a silenced campaign off the webhook but still shows its alerts', async () => {
    const before = delivered.length;
    const r = p.pipeline.addSilence({
      matchers: [{ name: 'campaign', value: 'summer', op: '=' }],
      startsAt: Date.now() - 1000,
      endsAt: Date.now() + 3_600_000,
      createdBy: 'ana',
      comment: 'planned reactivation blast',
    });
    expect(r.ok).toBe(true);
    blast('summer', ['f', 'g']);
    await nc.flush();
    await eventually('the summer alerts on the wall', () => p.pipeline.snapshot().alerts.filter((a) => a.labels.campaign === 'summer').length === 2, 10_000);
    // A campaign that is not silenced, fired after summer's alerts are shown: with the same group wait, summer's message
    // would leave before its own, so the next message being the marker's says summer sent none.
    blast('winter', ['h']);
    await nc.flush();
    await eventually('the marker campaign on the webhook', () => delivered.length > before, 15_000);
    expect(delivered.slice(before).map((d) => d.groupLabels.campaign)).toEqual(['winter']);
    const shown = p.pipeline.snapshot().alerts.filter((a) => a.labels.campaign === 'summer');
    expect(shown.every((a) => a.silencedBy?.length === 1)).toBe(true);
  });
});
