// The spine on real services: events published to NATS come back from ClickHouse with exact counts,
// bad input lands in the dead letters with its reason, and an alert frame reaches a real WebSocket.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from 'nats';
import type { VigilConfig } from '../../src/config/schema.js';
import type { RunningProcessor } from '../../src/runtime/processor.js';
import { eventually } from '../helpers/clickhouse.js';
import { chQuery, cleanUp, isolatedConfig, natsConnection, startTestProcessor } from '../helpers/processor.js';
import { WallTestClient } from '../helpers/wallClient.js';

const enc = new TextEncoder();

describe('pipeline on NATS and ClickHouse', () => {
  let config: VigilConfig;
  let nc: NatsConnection;
  let processor: RunningProcessor;
  const publish = (type: string, body: unknown) => nc.publish(`${config.nats.subjectPrefix}.${type}`, enc.encode(typeof body === 'string' ? body : JSON.stringify(body)));

  beforeAll(async () => {
    config = isolatedConfig();
    nc = await natsConnection();
    processor = await startTestProcessor(config);
  });

  afterAll(async () => {
    await processor?.stop();
    await cleanUp(config, nc);
    await nc.close();
  });

  it('stores exactly what was published, however often an event was delivered', async () => {
    const now = Date.now();
    const truth = new Map<string, number>();
    let n = 0;
    const types = ['page_view', 'session_start', 'purchase', 'email_open', 'loyalty_redeemed'];
    for (let c = 0; c < 40; c++) {
      for (let i = 0; i < 25; i++) {
        const type = types[(c + i) % types.length];
        const ev = { id: `ev-${c}-${i}`, customerId: `cust-${c}`, type, ts: now - 60_000 + i * 1000, channel: 'web', value: type === 'purchase' ? 10 + i : undefined };
        publish(type, ev);
        n++;
        // every fifth event is published again: a producer retry the stream does not deduplicate
        if (i % 5 === 0) publish(type, ev);
        truth.set(`cust-${c}|${type}`, (truth.get(`cust-${c}|${type}`) ?? 0) + 1);
      }
    }
    await nc.flush();
    await eventually('every event processed', () => processor.pipeline.counts.processed + processor.pipeline.counts.duplicate >= n + 200, 30_000);
    expect(processor.pipeline.counts.duplicate).toBe(200);

    const db = config.clickhouse.database;
    await eventually(
      'activity rows in ClickHouse',
      async () => {
        const [row] = await chQuery<{ total: string }>(`SELECT sum(events) AS total FROM ${db}.customer_activity FINAL`);
        return Number(row.total) === n;
      },
      30_000,
    );
    const rows = await chQuery<{ customer_id: string; event_type: string; n: string }>(
      `SELECT customer_id, event_type, sum(events) AS n FROM ${db}.customer_activity FINAL GROUP BY customer_id, event_type`,
    );
    const got = new Map(rows.map((r) => [`${r.customer_id}|${r.event_type}`, Number(r.n)]));
    expect(got).toEqual(truth);
    // Each table has its own queue of inserts: the events' last batch may land after the activity's.
    const eventRows = async () => Number((await chQuery<{ n: string }>(`SELECT count() AS n FROM ${db}.events FINAL`))[0].n);
    await eventually('event rows in ClickHouse', async () => (await eventRows()) >= n, 30_000);
    expect(await eventRows()).toBe(n);
    const [revenue] = await chQuery<{ r: number }>(`SELECT sum(revenue) AS r FROM ${db}.customer_activity FINAL WHERE event_type = 'purchase'`);
    const expectedRevenue = [...Array(40).keys()].flatMap((c) => [...Array(25).keys()].filter((i) => types[(c + i) % 5] === 'purchase').map((i) => 10 + i)).reduce((a, b) => a + b, 0);
    expect(revenue.r).toBeCloseTo(expectedRevenue, 6);
    // far fewer aggregate rows than events: one per customer, minute and type
    const [activityRows] = await chQuery<{ n: string }>(`SELECT count() AS n FROM ${db}.customer_activity FINAL`);
    expect(Number(activityRows.n)).toBeLessThan(n / 2);
  });

  it('dead-letters invalid events with their reasons while the valid ones around them are processed', async () => {
    const dead: { reason: string; payloadBase64: string }[] = [];
    const sub = nc.subscribe(config.nats.deadLetterSubject);
    void (async () => {
      for await (const m of sub) dead.push(JSON.parse(new TextDecoder().decode(m.data)));
    })();
    const before = processor.pipeline.counts.processed;
    const now = Date.now();
    const good = (i: number) => ({ id: `ok-${i}`, customerId: 'dl-cust', type: 'click', ts: now });
    publish('click', good(1));
    publish('click', '{"id": "broken"');
    publish('click', good(2));
    publish('click', { id: 'x', customerId: 'c', type: 'click', ts: now + 3_600_000 });
    publish('click', { id: 'y'.repeat(500), customerId: 'c', type: 'click', ts: now });
    publish('click', { id: 'z', customerId: 42, type: 'click', ts: now });
    nc.publish(`${config.nats.subjectPrefix}.click`, new Uint8Array([0x7b, 0xff, 0x7d]));
    publish('click', good(3));
    await nc.flush();

    const reasons = ['INVALID_JSON', 'TIMESTAMP_OUT_OF_RANGE', 'FIELD_TOO_LONG', 'WRONG_TYPE', 'INVALID_UTF8'];
    const db = config.clickhouse.database;
    await eventually(
      'dead letters in ClickHouse',
      async () => (await chQuery(`SELECT reason FROM ${db}.rejected_events FINAL`)).length === reasons.length,
      30_000,
    );
    const rows = await chQuery<{ reason: string; detail: string; payload: string }>(`SELECT reason, detail, payload FROM ${db}.rejected_events FINAL ORDER BY stream_seq`);
    expect(rows.map((r) => r.reason)).toEqual(reasons);
    expect(rows[0].payload).toBe('{"id": "broken"');
    expect(rows[2].detail).toBe('id is 500 characters, limit 128');
    expect(processor.pipeline.counts.processed - before).toBe(3);
    await eventually('dead letters on NATS', () => dead.length === reasons.length, 5_000);
    expect(dead.map((d) => d.reason)).toEqual(reasons);
    expect(Buffer.from(dead[4].payloadBase64, 'base64')).toEqual(Buffer.from([0x7b, 0xff, 0x7d]));
    const metrics = await (await fetch(`http://127.0.0.1:${processor.wallPort}/metrics`)).text();
    expect(metrics).toContain('vigil_rejected_events_total{reason="INVALID_JSON"} 1');
    sub.unsubscribe();
  });

  it('pushes an alert frame, with the event that triggered it, to a WebSocket client', async () => {
    const client = await WallTestClient.connect(`ws://127.0.0.1:${processor.wallPort}/ws`);
    try {
      await client.waitFor((m) => m.type === 'snapshot');
      const now = Date.now();
      // three emails and no response: the allowance halves to 1 per day, fatigue 3 ≥ 1.5 fires on the third
      for (let i = 0; i < 3; i++) publish('email_sent', { id: `mail-${i}`, customerId: 'tired', type: 'email_sent', ts: now + i, campaignId: 'blast' });
      await nc.flush();
      const frame = await client.waitFor<{ type: string; alert: Record<string, unknown> & { trigger: { eventId: string; eventTs: number; receivedAt: number } } }>(
        (m) => m.type === 'alert' && (m.alert as { rule: string }).rule === 'customer_contact_fatigue',
        10_000,
      );
      expect(frame.alert).toMatchObject({ state: 'firing', severity: 'warning', subject: { kind: 'customer', key: 'tired' }, value: 3, threshold: 1.5 });
      expect(frame.alert.reasons).toContain('3 emails in 24 h against an allowance of 1');
      expect(frame.alert.trigger.eventId).toBe('mail-2');
      expect(frame.alert.trigger.eventTs).toBe(now + 2);
      expect(frame.alert.trigger.receivedAt).toBeGreaterThanOrEqual(now);
      const db = config.clickhouse.database;
      await eventually('alert history in ClickHouse', async () => (await chQuery(`SELECT state FROM ${db}.alerts FINAL WHERE subject_key = 'tired'`)).length === 1, 10_000);
    } finally {
      client.socket.close();
    }
  });

  it('answers health and readiness with every dependency', async () => {
    const ready = await fetch(`http://127.0.0.1:${processor.wallPort}/readyz`);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as { checks: Record<string, { ok: boolean }> };
    // The contact budget answers on its own thread (budget.thread, on by default): readiness says whether it runs.
    expect(Object.keys(body.checks).sort()).toEqual(['budget', 'clickhouse', 'consumer', 'nats', 'redis']);
    expect((await fetch(`http://127.0.0.1:${processor.wallPort}/healthz`)).status).toBe(200);
  });
});

describe('clean shutdown and restart', () => {
  it('checkpoints on stop, so the next start restores the state and neither replays nor loses an event', async () => {
    const config = isolatedConfig();
    const nc = await natsConnection();
    try {
      let p = await startTestProcessor(config);
      const now = Date.now();
      const publish = (from: number, to: number) => {
        for (let i = from; i < to; i++) nc.publish(`${config.nats.subjectPrefix}.click`, enc.encode(JSON.stringify({ id: `s-${i}`, customerId: `c${i % 7}`, type: 'click', ts: now - 1000 })));
      };
      publish(0, 300);
      await nc.flush();
      await eventually('300 processed', () => p.pipeline.counts.processed === 300, 20_000);
      await p.stop();
      // published while no processor runs: the next start must take these in, once
      publish(300, 400);
      await nc.flush();
      p = await startTestProcessor(config);
      expect(p.restart().replayed).toBe(100);
      expect(p.pipeline.counts.processed).toBe(400);
      expect(p.pipeline.windows.size).toBe(7);
      publish(400, 450);
      await nc.flush();
      await eventually('the live ones processed', () => p.pipeline.counts.processed === 450, 20_000);
      await p.stop();
      const [row] = await chQuery<{ n: string }>(`SELECT sum(events) AS n FROM ${config.clickhouse.database}.customer_activity FINAL`);
      expect(Number(row.n)).toBe(450);
    } finally {
      await cleanUp(config, nc);
      await nc.close();
    }
  });
});
