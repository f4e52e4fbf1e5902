// Hostile input on real services: every kind of bad message lands in the dead letters with its reason while the
// valid ones around it are counted exactly; generated garbage through the whole pipeline; a flood of distinct
// customer and campaign ids stays inside the configured bounds.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from 'nats';
import type { VigilConfig } from '../../src/config/schema.js';
import type { RunningProcessor } from '../../src/runtime/processor.js';
import { eventually } from '../helpers/clickhouse.js';
import { chQuery, cleanUp, isolatedConfig, natsConnection, startTestProcessor } from '../helpers/processor.js';

const enc = new TextEncoder();

describe('hostile input', () => {
  let config: VigilConfig;
  let nc: NatsConnection;
  let p: RunningProcessor;
  let valid = 0;
  const subject = (t: string) => `${config.nats.subjectPrefix}.${t}`;
  const good = () => {
    valid++;
    return enc.encode(JSON.stringify({ id: `good-${valid}`, customerId: `c${valid % 11}`, type: 'click', ts: Date.now() - 1000 }));
  };

  beforeAll(async () => {
    config = isolatedConfig({ windows: { maxCustomers: 2_000, maxEntities: 100 } });
    nc = await natsConnection();
    p = await startTestProcessor(config);
  });
  afterAll(async () => {
    await p?.stop();
    await cleanUp(config, nc);
    await nc.close();
  });

  it('dead-letters each kind of bad input with its reason and processes the valid ones around it', async () => {
    const now = Date.now();
    const base = { id: 'h', customerId: 'c', type: 'click', ts: now };
    const cases: [string, Uint8Array, string][] = [
      ['invalid UTF-8', new Uint8Array([0x7b, 0x22, 0x69, 0x64, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]), 'INVALID_UTF8'],
      ['not JSON', enc.encode('id=1&type=click'), 'INVALID_JSON'],
      ['JSON of the wrong shape', enc.encode('[{"id":"a"}]'), 'NOT_AN_OBJECT'],
      ['a wrong type', enc.encode(JSON.stringify({ ...base, customerId: { nested: true } })), 'WRONG_TYPE'],
      ['__proto__', enc.encode(`{"__proto__":{"admin":true},"id":"p","customerId":"c","type":"click","ts":${now}}`), 'FORBIDDEN_KEY'],
      ['constructor in props', enc.encode(JSON.stringify({ ...base, props: { constructor: { prototype: 1 } } })), 'FORBIDDEN_KEY'],
      ['NaN', enc.encode(`{"id":"n","customerId":"c","type":"click","ts":${now},"value":NaN}`), 'INVALID_JSON'],
      ['Infinity as a literal', enc.encode(`{"id":"i","customerId":"c","type":"click","ts":${now},"value":1e999}`), 'INVALID_NUMBER'],
      ['1e308', enc.encode(JSON.stringify({ ...base, value: 1e308 })), 'INVALID_NUMBER'],
      ['a timestamp in 1999', enc.encode(JSON.stringify({ ...base, ts: '1999-01-01T00:00:00Z' })), 'TIMESTAMP_OUT_OF_RANGE'],
      ['a timestamp next year', enc.encode(JSON.stringify({ ...base, ts: now + 365 * 86_400_000 })), 'TIMESTAMP_OUT_OF_RANGE'],
      ['an empty id', enc.encode(JSON.stringify({ ...base, id: '' })), 'MISSING_FIELD'],
      ['a 10 KB id', enc.encode(JSON.stringify({ ...base, id: 'x'.repeat(10_000) })), 'FIELD_TOO_LONG'],
      ['a 900 KB payload', enc.encode(JSON.stringify({ ...base, props: { blob: 'y'.repeat(900_000) } })), 'PAYLOAD_TOO_LARGE'],
      ['props 50 levels deep', enc.encode(`{"id":"d","customerId":"c","type":"click","ts":${now},"props":${'{"a":'.repeat(50)}1${'}'.repeat(50)}}`), 'PROPS_TOO_DEEP'],
      ['a lone surrogate in customerId', enc.encode(`{"id":"s","customerId":"c\\ud800","type":"click","ts":${now}}`), 'INVALID_ID'],
      ['a NUL in id', enc.encode(`{"id":"n\\u0000","customerId":"c","type":"click","ts":${now}}`), 'INVALID_ID'],
      ['a C1 control in campaignId', enc.encode(JSON.stringify({ ...base, campaignId: 'spring\u0085' })), 'INVALID_ID'],
      ['30 February', enc.encode(JSON.stringify({ ...base, ts: `${new Date(now).getUTCFullYear()}-02-30T10:00:00Z` })), 'INVALID_TIMESTAMP'],
    ];
    for (const [, bytes] of cases) {
      nc.publish(subject('click'), good());
      nc.publish(subject('click'), bytes);
    }
    nc.publish(subject('click'), good());
    await nc.flush();
    const db = config.clickhouse.database;
    await eventually('every dead letter in ClickHouse', async () => (await chQuery(`SELECT 1 FROM ${db}.rejected_events FINAL`)).length === cases.length, 30_000);
    const rows = await chQuery<{ reason: string; payload_bytes: number; payload: string }>(`SELECT reason, payload_bytes, payload FROM ${db}.rejected_events FINAL ORDER BY stream_seq`);
    expect(rows.map((r) => r.reason)).toEqual(cases.map((c) => c[2]));
    // a megabyte payload is kept bounded in the dead letters, with its real size
    const big = rows[cases.findIndex((c) => c[2] === 'PAYLOAD_TOO_LARGE')];
    expect(big.payload_bytes).toBeGreaterThan(900_000);
    expect(big.payload.length).toBeLessThanOrEqual(4_096);
    await eventually('the valid ones counted', async () => {
      const [r] = await chQuery<{ n: string }>(`SELECT sum(events) AS n FROM ${db}.customer_activity FINAL`);
      return Number(r.n) === valid;
    }, 30_000);
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it('counts every valid event exactly and dead-letters the rest when generated garbage is mixed in', async () => {
    const before = { rejected: p.pipeline.counts.rejected };
    const garbage = fc.sample(fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.jsonValue().map((v) => enc.encode(JSON.stringify(v) ?? '0')), fc.string({ minLength: 1 }).map((s) => enc.encode(s))), { numRuns: 400, seed: 42 });
    for (const g of garbage) {
      nc.publish(subject('click'), g);
      nc.publish(subject('click'), good());
    }
    await nc.flush();
    const expectedValid = valid;
    await eventually('all of it handled', () => p.pipeline.counts.rejected - before.rejected === garbage.length, 30_000);
    const db = config.clickhouse.database;
    await eventually('exact counts in ClickHouse', async () => {
      const [r] = await chQuery<{ n: string }>(`SELECT sum(events) AS n FROM ${db}.customer_activity FINAL`);
      return Number(r.n) === expectedValid;
    }, 30_000);
    await eventually('every piece of garbage dead-lettered', async () => (await chQuery(`SELECT 1 FROM ${db}.rejected_events FINAL`)).length === before.rejected + garbage.length, 30_000);
  });

  it('stays inside its bounds under a flood of distinct customer and campaign ids', async () => {
    const now = Date.now();
    const flood = 20_000;
    for (let i = 0; i < flood; i++) {
      nc.publish(subject('email_sent'), enc.encode(JSON.stringify({ id: `flood-${i}`, customerId: `bot-${i}`, type: 'email_sent', ts: now - 1000, campaignId: `fake-${i}` })));
      if (i % 2_000 === 0) await nc.flush();
    }
    await nc.flush();
    await eventually('the flood handled', () => p.pipeline.counts.processed >= valid + flood, 60_000);
    expect(p.pipeline.windows.size).toBeLessThanOrEqual(2_000);
    expect(p.pipeline.entities.size).toBeLessThanOrEqual(100);
    expect(p.pipeline.windows.evictions.bound).toBeGreaterThanOrEqual(flood - 2_000);
    const metrics = await (await fetch(`http://127.0.0.1:${p.wallPort}/metrics`)).text();
    expect(metrics).toMatch(/vigil_evictions_total\{what="customer",why="bound"\} \d{5}/);
    // evicted from live state, still counted: activity rows are independent of the live windows
    const db = config.clickhouse.database;
    await eventually('the flood counted in ClickHouse', async () => {
      const [r] = await chQuery<{ n: string }>(`SELECT sum(events) AS n FROM ${db}.customer_activity FINAL WHERE event_type = 'email_sent'`);
      return Number(r.n) === flood;
    }, 30_000);
  });
});
