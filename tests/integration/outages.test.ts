// Outages of the services around the processor, each on a private server the test stops and starts: a NATS
// restart loses and doubles nothing; with Redis away the processor goes on, says so in /readyz, and writes the
// alert state it held back once Redis is back.
import { afterAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from 'nats';
import type { AlertView } from '../../src/contract/frames.js';
import { eventually } from '../helpers/clickhouse.js';
import { OwnServer } from '../helpers/ownServices.js';
import { chQuery, cleanUp, isolatedConfig, natsConnection, startTestProcessor } from '../helpers/processor.js';

const enc = new TextEncoder();
const readyz = async (port: number) => (await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()) as { ready: boolean; checks: Record<string, { ok: boolean }> };

describe('a NATS server restart', () => {
  const servers: OwnServer[] = [];
  afterAll(async () => {
    for (const s of servers) await s.stop();
  });

  it('loses and doubles nothing, and /readyz shows the outage', async () => {
    const nats = await OwnServer.nats();
    servers.push(nats);
    const url = `nats://127.0.0.1:${nats.port}`;
    const config = isolatedConfig({ nats: { servers: url } });
    const publisher = await connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
    const p = await startTestProcessor(config);
    const send = async (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const data = enc.encode(JSON.stringify({ id: `n-${i}`, customerId: `c${i % 17}`, type: 'click', ts: Date.now() - 1000 }));
        // JetStream publish with an ack, retried while the server comes back; the msgID lets JetStream drop a
        // retry whose first try did land, as a careful producer does
        for (let attempt = 0; ; attempt++) {
          try {
            await publisher.jetstream().publish(`${config.nats.subjectPrefix}.click`, data, { msgID: `n-${i}` });
            break;
          } catch (err) {
            if (attempt > 50) throw err;
            await new Promise((r) => setTimeout(r, 200));
          }
        }
      }
    };
    try {
      await send(0, 1_000);
      await eventually('the first thousand', () => p.pipeline.counts.processed === 1_000, 30_000);
      await nats.stop();
      await eventually('readiness to show NATS down', async () => !(await readyz(p.wallPort)).checks.nats.ok, 10_000);
      await nats.start();
      await send(1_000, 2_000);
      await eventually('the second thousand after the restart', () => p.pipeline.counts.processed === 2_000, 60_000);
      expect((await readyz(p.wallPort)).checks.nats.ok).toBe(true);
      await p.stop();
      const [row] = await chQuery<{ n: string }>(`SELECT sum(events) AS n FROM ${config.clickhouse.database}.customer_activity FINAL`);
      expect(Number(row.n)).toBe(2_000);
    } finally {
      await p.stop();
      await publisher.close();
      await fetch(`${config.clickhouse.url}/`, { method: 'POST', body: `DROP DATABASE IF EXISTS ${config.clickhouse.database}` });
    }
  });
});

describe('Redis away', () => {
  const servers: OwnServer[] = [];
  let nc: NatsConnection;
  afterAll(async () => {
    for (const s of servers) await s.stop();
    await nc?.close();
  });

  it('keeps processing, reports it, and persists the held-back alert state when Redis returns', async () => {
    const redis = await OwnServer.redis();
    servers.push(redis);
    const config = isolatedConfig({ redis: { url: `redis://127.0.0.1:${redis.port}` } });
    nc = await natsConnection();
    let p = await startTestProcessor(config);
    try {
      for (let i = 0; i < 3; i++) nc.publish(`${config.nats.subjectPrefix}.email_sent`, enc.encode(JSON.stringify({ id: `r${i}`, customerId: 'rita', type: 'email_sent', ts: Date.now() + i })));
      await nc.flush();
      await eventually('the fatigue alert', () => p.pipeline.snapshot().alerts.some((a) => a.state === 'firing'), 10_000);
      const alert = p.pipeline.snapshot().alerts[0] as AlertView;

      await redis.stop();
      // acknowledged while Redis is away, and events keep flowing
      expect(p.pipeline.acknowledge(alert.id, 'oncall')).toBe(true);
      for (let i = 0; i < 200; i++) nc.publish(`${config.nats.subjectPrefix}.click`, enc.encode(JSON.stringify({ id: `k${i}`, customerId: `c${i % 5}`, type: 'click', ts: Date.now() })));
      await nc.flush();
      await eventually('events processed without Redis', () => p.pipeline.counts.processed === 203, 15_000);
      await eventually('readiness to show Redis down', async () => !(await readyz(p.wallPort)).checks.redis.ok, 15_000);

      await redis.start();
      await eventually('readiness to recover', async () => (await readyz(p.wallPort)).checks.redis.ok, 30_000);
      await p.stop();
      p = await startTestProcessor(config);
      expect(p.pipeline.snapshot().alerts.find((a) => a.id === alert.id)?.acknowledged?.by).toBe('oncall');
    } finally {
      await p.stop();
      await cleanUp(config, nc);
    }
  });
});
