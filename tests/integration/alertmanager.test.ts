// Vigil's alerts in the real Alertmanager (Debian's prometheus-alertmanager): a processor on real NATS, Redis and
// ClickHouse posts its alerts to an HA pair of which one is down; the one up holds them with Vigil's labels, routes
// them by its own config to a webhook the test listens on, and a silence made there silences them there.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from 'nats';
import type { AmWebhookBody } from '../../src/alerts/alertmanagerFormat.js';
import type { VigilConfig } from '../../src/config/schema.js';
import type { RunningProcessor } from '../../src/runtime/processor.js';
import { freePort } from '../helpers/ownServices.js';
import { cleanUp, isolatedConfig, natsConnection, startTestProcessor } from '../helpers/processor.js';
import { startAlertmanager, type OwnInstance } from '../helpers/promStack.js';
import { eventually } from '../helpers/wait.js';

const enc = new TextEncoder();

/** An alert as Alertmanager's GET /api/v2/alerts returns it. */
interface GettableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  fingerprint: string;
  receivers: { name: string }[];
  status: { state: 'active' | 'suppressed' | 'unprocessed'; silencedBy: string[]; inhibitedBy: string[] };
}

describe('Alertmanager as a receiver', () => {
  let hook: Server;
  const routed: AmWebhookBody[] = [];
  let am: OwnInstance;
  let config: VigilConfig;
  let nc: NatsConnection;
  let p: RunningProcessor;
  const campaign = `am${Date.now().toString(36)}`;

  beforeAll(async () => {
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        routed.push(JSON.parse(body) as AmWebhookBody);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const hookPort = (hook.address() as { port: number }).port;
    // Routed by Vigil's labels: warnings of this test's campaign to the test's webhook, everything else nowhere.
    am = await startAlertmanager(`
route:
  receiver: blackhole
  group_by: [alertname, campaign]
  group_wait: 1s
  group_interval: 1s
  routes:
    - matchers: ['severity="warning"', 'campaign="${campaign}"']
      receiver: marketing-oncall
receivers:
  - name: blackhole
  - name: marketing-oncall
    webhook_configs:
      - url: http://127.0.0.1:${hookPort}/hook
        send_resolved: true
`);
    const down = `http://127.0.0.1:${await freePort()}`;
    config = isolatedConfig({
      alerts: {
        routing: { groupBy: ['alertname', 'campaign'], groupWaitMs: 200, groupIntervalMs: 1_000, repeatIntervalMs: 3_600_000 },
        alertmanager: { urls: [down, am.url], initialBackoffMs: 100, maxBackoffMs: 500 },
        externalUrl: 'https://vigil.example.com',
      },
    });
    nc = await natsConnection();
    p = await startTestProcessor(config);
  });

  afterAll(async () => {
    await p?.stop();
    if (nc) {
      await cleanUp(config, nc);
      await nc.close();
    }
    await am?.stop();
    hook?.close();
  });

  const alertsInAm = async (): Promise<GettableAlert[]> => {
    const res = await fetch(`${am.url}/api/v2/alerts?filter=${encodeURIComponent(`campaign="${campaign}"`)}`);
    return (await res.json()) as GettableAlert[];
  };

  it('puts a Vigil alert in Alertmanager with its labels, and Alertmanager routes it by its own config', async () => {
    const now = Date.now();
    for (const c of ['ana', 'bo']) {
      for (let i = 0; i < 3; i++) {
        nc.publish(`${config.nats.subjectPrefix}.email_sent`, enc.encode(JSON.stringify({ id: `${c}-${i}`, customerId: c, type: 'email_sent', ts: now + i, campaignId: campaign, channel: 'email' })));
      }
    }
    await nc.flush();
    await eventually('both alerts in Alertmanager', async () => (await alertsInAm()).length === 2, 30_000);
    const alerts = (await alertsInAm()).sort((a, b) => a.labels.subject_key.localeCompare(b.labels.subject_key));
    expect(alerts[0].labels).toMatchObject({ alertname: 'customer_contact_fatigue', severity: 'warning', subject_kind: 'customer', subject_key: 'ana', campaign });
    expect(alerts[0].annotations.summary).toMatch(/fatigue/);
    expect(Number(alerts[0].annotations.value)).toBeGreaterThanOrEqual(Number(alerts[0].annotations.threshold));
    expect(alerts[0].annotations.reasons.length).toBeGreaterThan(0);
    const fingerprint = p.pipeline.snapshot().alerts.find((a) => a.subject.key === 'ana')!.fingerprint;
    expect(alerts[0].generatorURL).toBe(`https://vigil.example.com/?alert=${fingerprint}`);
    expect(Date.parse(alerts[0].endsAt)).toBeGreaterThan(Date.now());
    expect(alerts.every((a) => a.status.state === 'active')).toBe(true);
    expect(alerts.every((a) => a.receivers.map((r) => r.name).includes('marketing-oncall'))).toBe(true);
    await eventually('Alertmanager to notify the routed webhook', () => routed.some((b) => b.alerts.length === 2), 30_000);
    const body = routed.find((b) => b.alerts.length === 2)!;
    expect(body.receiver).toBe('marketing-oncall');
    expect(body.groupLabels).toEqual({ alertname: 'customer_contact_fatigue', campaign });
    expect(body.alerts.map((a) => a.labels.subject_key).sort()).toEqual(['ana', 'bo']);
    // The Alertmanager that is down never held the other back, and is counted.
    const metrics = await (await fetch(`http://127.0.0.1:${p.wallPort}/metrics`)).text();
    expect(metrics).toMatch(/^vigil_alertmanager_failures_total [1-9]/m);
    expect(metrics).toMatch(/^vigil_alertmanager_posts_total [1-9]/m);
  });

  it('a silence made in Alertmanager silences the alert there', async () => {
    const res = await fetch(`${am.url}/api/v2/silences`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        matchers: [
          { name: 'subject_key', value: 'ana', isRegex: false, isEqual: true },
          { name: 'campaign', value: campaign, isRegex: false, isEqual: true },
        ],
        startsAt: new Date().toISOString(),
        endsAt: new Date(Date.now() + 3_600_000).toISOString(),
        createdBy: 'ana-oncall',
        comment: 'already called her',
      }),
    });
    expect(res.status).toBe(200);
    const { silenceID } = (await res.json()) as { silenceID: string };
    await eventually('ana suppressed in Alertmanager', async () => (await alertsInAm()).find((a) => a.labels.subject_key === 'ana')?.status.state === 'suppressed', 15_000);
    const alerts = await alertsInAm();
    expect(alerts.find((a) => a.labels.subject_key === 'ana')!.status.silencedBy).toEqual([silenceID]);
    expect(alerts.find((a) => a.labels.subject_key === 'bo')!.status.state).toBe('active');
  });
});
