// Consent and erasure on the real services: a processor consuming NATS, writing ClickHouse (18.16 here) and keeping
// alert, notification and consent state in Redis. After an erase_request, or `vigil forget`, nothing of the
// customer is left in any ClickHouse table, Redis key, the event stream, the checkpoint store or the wall.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import type { NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VigilConfig } from '../../src/config/schema.js';
import { heartbeatKey, startProcessor, type RunningProcessor } from '../../src/runtime/processor.js';
import { keyedHash } from '../../src/privacy/pseudonym.js';
import { createLogger } from '../../src/shared/logger.js';
import { unpackSnapshot } from '../../src/shared/snapshotCodec.js';
import { eventually } from '../helpers/clickhouse.js';
import { chQuery, cleanUp, isolatedConfig, natsConnection, startTestProcessor } from '../helpers/processor.js';
import { WallTestClient } from '../helpers/wallClient.js';
import { Writable } from 'node:stream';

const run = promisify(execFile);
const enc = new TextEncoder();
const AUDIT_KEY = 'audit-key-for-the-privacy-tests-0123456789';

/** A config for one suite: its own checkpoint bucket, frequent checkpoints, an audit key (ids not pseudonymized). */
function privacyConfig(): VigilConfig {
  const config = isolatedConfig({ processor: { checkpointIntervalMs: 300 }, privacy: { pseudonymKey: AUDIT_KEY } });
  return { ...config, processor: { ...config.processor, checkpointBucket: `cp_${config.nats.consumer}` } };
}

async function dropCheckpointBucket(config: VigilConfig, nc: NatsConnection): Promise<void> {
  const jsm = await nc.jetstreamManager();
  await jsm.streams.delete(`OBJ_${config.processor.checkpointBucket}`).catch(() => undefined);
}

/** Every table of the test database, dumped whole as text. */
async function clickhouseText(config: VigilConfig): Promise<Record<string, string>> {
  const db = config.clickhouse.database;
  const tables = await chQuery<{ name: string }>(`SELECT name FROM system.tables WHERE database = '${db}' ORDER BY name`);
  const out: Record<string, string> = {};
  for (const { name } of tables) {
    const res = await fetch(`http://127.0.0.1:8123/`, { method: 'POST', body: `SELECT * FROM ${db}.${name} FORMAT TSV` });
    out[name] = await res.text();
  }
  return out;
}

/** Every Redis key under the prefix with its value, whatever its type, as text. */
async function redisText(config: VigilConfig): Promise<string> {
  const redis = new Redis(config.redis.url);
  try {
    const keys = await redis.keys(`${config.redis.keyPrefix}*`);
    const parts: string[] = [];
    for (const key of keys) {
      const type = await redis.type(key);
      const value =
        type === 'hash' ? await redis.hgetall(key) : type === 'set' ? await redis.smembers(key) : type === 'list' ? await redis.lrange(key, 0, -1) : type === 'zset' ? await redis.zrange(key, 0, -1) : await redis.get(key);
      parts.push(`${key} ${JSON.stringify(value)}`);
    }
    return parts.join('\n');
  } finally {
    redis.disconnect();
  }
}

/** Every message still stored in a stream, as text (subject and payload). */
async function streamText(nc: NatsConnection, stream: string): Promise<string[]> {
  const jsm = await nc.jetstreamManager();
  const info = await jsm.streams.info(stream).catch(() => null);
  if (!info || info.state.messages === 0) return [];
  const out: string[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (m) out.push(`${m.subject} ${Buffer.from(m.data).toString('latin1')}`);
  }
  return out;
}

/**
 * The checkpoint store as text: each object's chunks joined and, as checkpoints are stored deflated, inflated (a
 * search of the raw chunks would find nothing whatever they held), plus the objects' info messages.
 */
async function checkpointText(nc: NatsConnection, stream: string): Promise<string[]> {
  const jsm = await nc.jetstreamManager();
  const info = await jsm.streams.info(stream).catch(() => null);
  if (!info || info.state.messages === 0) return [];
  const objects = new Map<string, Buffer[]>();
  const out: string[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (!m) continue;
    if (/\.C\.[^.]+$/.test(m.subject)) objects.set(m.subject, [...(objects.get(m.subject) ?? []), Buffer.from(m.data)]);
    else out.push(`${m.subject} ${Buffer.from(m.data).toString('latin1')}`);
  }
  for (const [subject, chunks] of objects) out.push(`${subject} ${Buffer.from(unpackSnapshot(Buffer.concat(chunks))).toString('latin1')}`);
  return out;
}

describe('consent on real services', () => {
  let config: VigilConfig;
  let nc: NatsConnection;
  let processor: RunningProcessor | null = null;
  const publish = (ev: Record<string, unknown>) => nc.publish(`${config.nats.subjectPrefix}.${String(ev.type)}`, enc.encode(JSON.stringify(ev)));

  beforeAll(async () => {
    config = privacyConfig();
    nc = await natsConnection();
    processor = await startTestProcessor(config);
  });

  afterAll(async () => {
    await processor?.stop();
    await cleanUp(config, nc);
    await dropCheckpointBucket(config, nc);
    await nc.close();
  });

  it('stores nothing of a customer between consent_withdrawn and consent_granted, counts each as dropped, and remembers it across a restart', async () => {
    const t0 = Date.now() - 60_000;
    const ev = (id: string, type: string, dt: number, over: Record<string, unknown> = {}) => ({ id, customerId: 'consent-c1', type, ts: t0 + dt, ...over });
    const db = config.clickhouse.database;
    publish(ev('c-1', 'purchase', 0, { value: 12 }));
    await nc.flush();
    // Its snapshot first: a customer who withdraws before the next derive tick is never derived at all.
    await eventually('the purchase\'s snapshot', async () => (await chQuery(`SELECT ts_ms FROM ${db}.customer_signals FINAL WHERE customer_id = 'consent-c1'`)).length === 1, 10_000);
    publish(ev('c-2', 'consent_withdrawn', 1_000));
    publish(ev('c-3', 'purchase', 2_000, { value: 99 }));
    publish(ev('c-4', 'email_sent', 3_000, { campaignId: 'spring' }));
    publish(ev('c-5', 'page_view', 4_000, { segment: 'vip' }));
    publish({ id: 'o-1', customerId: 'consent-other', type: 'page_view', ts: t0 + 4_500 });
    await nc.flush();
    await eventually('the withdrawn events dropped', () => processor!.pipeline.counts.dropped_consent === 3, 10_000);

    // Withdrawn across a restart: consent lives in Redis, not in the (evictable) live state.
    await processor!.stop();
    processor = await startTestProcessor(config);
    const droppedBefore = processor.pipeline.counts.dropped_consent; // restored from the checkpoint
    publish(ev('c-6', 'click', 5_000));
    await nc.flush();
    await eventually('the post-restart event dropped', () => processor!.pipeline.counts.dropped_consent === droppedBefore + 1, 10_000);
    publish(ev('c-7', 'consent_granted', 6_000));
    publish(ev('c-8', 'click', 7_000));
    await nc.flush();

    await eventually('the grant and the click after it stored', async () => (await chQuery(`SELECT id FROM ${db}.events FINAL WHERE customer_id = 'consent-c1'`)).length === 4, 15_000);
    const events = await chQuery<{ id: string }>(`SELECT id FROM ${db}.events FINAL WHERE customer_id = 'consent-c1' ORDER BY ts_ms`);
    expect(events.map((e) => e.id)).toEqual(['c-1', 'c-2', 'c-7', 'c-8']);
    await eventually('activity rows', async () => (await chQuery(`SELECT event_type FROM ${db}.customer_activity FINAL WHERE customer_id = 'consent-c1'`)).length === 4, 15_000);
    const activity = await chQuery<{ event_type: string; n: string }>(
      `SELECT event_type, sum(events) AS n FROM ${db}.customer_activity FINAL WHERE customer_id = 'consent-c1' GROUP BY event_type ORDER BY event_type`,
    );
    expect(activity).toEqual([
      { event_type: 'click', n: '1' },
      { event_type: 'consent_granted', n: '1' },
      { event_type: 'consent_withdrawn', n: '1' },
      { event_type: 'purchase', n: '1' },
    ]);
    // No signal snapshot was taken from anything in the withdrawn span [c-2, c-7).
    const signals = await chQuery<{ ts_ms: string }>(`SELECT ts_ms FROM ${db}.customer_signals FINAL WHERE customer_id = 'consent-c1'`);
    expect(signals.length).toBeGreaterThan(0);
    for (const s of signals) expect(Number(s.ts_ms) < t0 + 1_000 || Number(s.ts_ms) >= t0 + 6_000, s.ts_ms).toBe(true);
    const [campaign] = await chQuery<{ n: string }>(`SELECT count() AS n FROM ${db}.entity_activity FINAL WHERE key = 'spring'`);
    expect(campaign.n).toBe('0');
    const segments = await chQuery(`SELECT * FROM ${db}.customer_segments FINAL WHERE customer_id = 'consent-c1'`);
    expect(segments).toEqual([]);
    const metrics = await (await fetch(`http://127.0.0.1:${processor!.wallPort}/metrics`)).text();
    expect(metrics).toContain('vigil_rejected_events_total{reason="CONSENT_WITHDRAWN"}');
    expect(metrics).toMatch(/vigil_events_total\{outcome="dropped_consent"\} [1-9]/);
    // The grant reaches Redis at the commit that also flushed the rows above, a moment after them.
    const redis = new Redis(config.redis.url);
    await eventually('the grant persisted in Redis', async () => (await redis.smembers(`${config.redis.keyPrefix}consent:withdrawn`)).length === 0, 10_000);
    redis.disconnect();
  });
});

describe('erasure on real services', () => {
  let config: VigilConfig;
  let nc: NatsConnection;
  let processor: RunningProcessor | null = null;
  const publish = (ev: Record<string, unknown>) => nc.publish(`${config.nats.subjectPrefix}.${String(ev.type)}`, enc.encode(JSON.stringify(ev)));

  beforeAll(async () => {
    config = privacyConfig();
    nc = await natsConnection();
    processor = await startTestProcessor(config);
  });

  afterAll(async () => {
    await processor?.stop();
    await cleanUp(config, nc);
    await dropCheckpointBucket(config, nc);
    await nc.close();
  });

  /** Gives the customer a footprint in every store: events, activity, signals, alerts, a silence, a dead letter, a checkpoint. */
  async function leaveFootprint(who: string, tag: string): Promise<void> {
    const now = Date.now();
    const db = config.clickhouse.database;
    publish({ id: `${tag}-p1`, customerId: who, type: 'purchase', ts: now - 30_000, value: 40, segment: 'vip', channel: 'web' });
    for (let i = 0; i < 3; i++) publish({ id: `${tag}-m${i}`, customerId: who, type: 'email_sent', ts: now - 20_000 + i, campaignId: 'blast' });
    publish({ id: `${tag}-late`, customerId: who, type: 'click', ts: now - 3_600_000 }); // a dead letter: LATE_EVENT
    publish({ id: `${tag}-k1`, customerId: `${tag}-bystander`, type: 'purchase', ts: now - 10_000, value: 5 });
    await nc.flush();
    processor!.pipeline.addSilence({ matchers: [{ name: 'subject_key', op: '=', value: who }], startsAt: now, endsAt: now + 3_600_000, createdBy: 'ops', comment: 'quiet' });
    await eventually('the fatigue alert in ClickHouse', async () => (await chQuery(`SELECT 1 FROM ${db}.alerts WHERE subject_key = '${who}'`)).length > 0, 15_000);
    await eventually('the dead letter in ClickHouse', async () => (await chQuery(`SELECT 1 FROM ${db}.rejected_events WHERE position(payload, '${who}') > 0`)).length > 0, 15_000);
    for (const table of ['events', 'customer_activity', 'customer_signals', 'customer_days', 'customer_segments']) {
      await eventually(`${table} rows`, async () => (await chQuery(`SELECT 1 FROM ${db}.${table} WHERE customer_id = '${who}'`)).length > 0, 15_000);
    }
    await processor!.checkpointNow();
    expect(await redisText(config)).toContain(who);
    expect((await checkpointText(nc, `OBJ_${config.processor.checkpointBucket}`)).some((m) => m.includes(who)), 'checkpoint store before the erasure').toBe(true);
  }

  /** Asserts nothing of `who` is left: ClickHouse, Redis, the stream, the checkpoint store, live state and the wall. */
  async function expectNothingLeft(who: string): Promise<void> {
    const tables = await clickhouseText(config);
    expect(Object.keys(tables)).toEqual(expect.arrayContaining(['events', 'customer_activity', 'customer_signals', 'alerts', 'rejected_events', 'customer_days', 'customer_segments', 'erasure_audit']));
    for (const [table, text] of Object.entries(tables)) expect(text.includes(who), `ClickHouse ${table}`).toBe(false);
    const mutations = await chQuery<{ command: string }>(`SELECT command FROM system.mutations WHERE database = '${config.clickhouse.database}'`);
    expect(mutations.length).toBeGreaterThan(0);
    for (const m of mutations) expect(m.command).not.toContain(who);
    expect((await redisText(config)).includes(who), 'Redis').toBe(false);
    await eventually('the erase_request gone from the stream', async () => !(await streamText(nc, config.nats.stream)).some((m) => m.includes(who)), 10_000);
    expect((await checkpointText(nc, `OBJ_${config.processor.checkpointBucket}`)).some((m) => m.includes(who)), 'checkpoint store').toBe(false);
    if (processor) {
      expect(processor.pipeline.windows.find(who)).toBe(-1);
      expect(JSON.stringify(processor.pipeline.snapshot()).includes(who), 'pipeline snapshot').toBe(false);
      const wall = await (await fetch(`http://127.0.0.1:${processor.wallPort}/api/v1/snapshot`)).text();
      expect(wall.includes(who), 'the wall snapshot').toBe(false);
    }
  }

  it('an erase_request removes the customer from live state, Redis, every ClickHouse table and the stream, with an audit record', async () => {
    const who = 'erase-me-7f3a91';
    await leaveFootprint(who, 'x1');
    const db = config.clickhouse.database;
    const before = Object.fromEntries(
      await Promise.all(['events', 'customer_activity', 'customer_signals', 'alerts', 'rejected_events', 'customer_days', 'customer_segments'].map(async (t) => {
        const where = t === 'alerts' ? `subject_key = '${who}'` : t === 'rejected_events' ? `position(payload, '${who}') > 0` : `customer_id = '${who}'`;
        const [r] = await chQuery<{ n: string }>(`SELECT count() AS n FROM ${db}.${t} WHERE ${where}`);
        return [t, Number(r.n)] as const;
      })),
    );

    publish({ id: 'req-0001', customerId: who, type: 'erase_request', ts: Date.now(), props: { requestedBy: 'privacy-desk#4711' } });
    await nc.flush();
    await eventually('the audit record', async () => (await chQuery(`SELECT 1 FROM ${db}.erasure_audit WHERE request_id = 'req-0001'`)).length === 1, 30_000);

    const [audit] = await chQuery<{ requested_by: string; via: string; subject_hash: string; tables: string[]; rows: string[]; redis_entries: number; stream_messages: number; live_state: number }>(
      `SELECT requested_by, via, subject_hash, tables, rows, redis_entries, stream_messages, live_state FROM ${db}.erasure_audit WHERE request_id = 'req-0001'`,
    );
    const removed = Object.fromEntries(audit.tables.map((t, i) => [t, Number(audit.rows[i])]));
    expect(removed, JSON.stringify({ audit, before })).toMatchObject(before);
    expect(audit).toMatchObject({ requested_by: 'privacy-desk#4711', via: 'event', subject_hash: keyedHash(AUDIT_KEY, who), live_state: 1 });
    // The purchase, three emails and the erase_request itself (the late click was dead-lettered by its own message).
    expect(audit.stream_messages).toBe(6);
    await expectNothingLeft(who);
    // A bystander is untouched.
    const [kept] = await chQuery<{ n: string }>(`SELECT count() AS n FROM ${db}.events WHERE customer_id = 'x1-bystander'`);
    expect(kept.n).toBe('1');
  });

  it('`vigil forget` publishes the request and prints the audit when a processor runs, and queues it when none does', async () => {
    const who = 'forget-me-c9d2e0';
    await leaveFootprint(who, 'x2');
    const dir = mkdtempSync(join(tmpdir(), 'vigil-forget-'));
    const file = join(dir, 'vigil.json');
    // The config as a file, minus the secret (only the environment may carry it).
    writeFileSync(file, JSON.stringify({ ...config, privacy: { ...config.privacy, pseudonymKey: undefined } }));
    const env = { ...process.env, VIGIL_PRIVACY__PSEUDONYM_KEY: AUDIT_KEY };
    const cli = (args: string[]) => run('npx', ['tsx', 'src/cli/vigil.ts', 'forget', ...args, '--config', file], { env, timeout: 60_000 });

    const redis = new Redis(config.redis.url);
    await eventually('the heartbeat', async () => (await redis.exists(heartbeatKey(config))) === 1, 5_000);
    const { stdout } = await cli([who, '--by', 'dpo@example.org', '--timeout', '30']);
    const out = JSON.parse(stdout.trim().split('\n').at(-1)!) as { status: string; audit: { via: string; requested_by: string; subject_hash: string } };
    expect(out.status).toBe('erased');
    expect(out.audit).toMatchObject({ via: 'cli', requested_by: 'dpo@example.org', subject_hash: keyedHash(AUDIT_KEY, who) });
    expect(stdout).not.toContain(who);
    await expectNothingLeft(who);

    // No processor: the request is stored in the stream and carried out at the next start.
    const later = 'forget-offline-51ab';
    await leaveFootprint(later, 'x3');
    await processor!.stop();
    processor = null;
    expect(await redis.exists(heartbeatKey(config))).toBe(0);
    const queued = await cli([later, '--by', 'dpo@example.org']);
    expect(JSON.parse(queued.stdout.trim())).toMatchObject({ status: 'queued', stream: config.nats.stream });
    expect(queued.stderr).toContain('no processor is running');
    processor = await startTestProcessor(config);
    const db = config.clickhouse.database;
    await eventually('the queued erasure carried out', async () => (await chQuery(`SELECT 1 FROM ${db}.erasure_audit WHERE via = 'cli' AND subject_hash = '${keyedHash(AUDIT_KEY, later)}'`)).length === 1, 30_000);
    await expectNothingLeft(later);
    redis.disconnect();
  }, 120_000);
});

describe('pseudonymization on real services', () => {
  const KEY = 'pseudonym-key-for-the-tests-0123456789abcdef';
  let config: VigilConfig;
  let nc: NatsConnection;
  let processor: RunningProcessor;
  const logs: string[] = [];
  const publish = (ev: Record<string, unknown>) => nc.publish(`${config.nats.subjectPrefix}.${String(ev.type)}`, enc.encode(JSON.stringify(ev)));

  beforeAll(async () => {
    config = isolatedConfig({
      privacy: { pseudonymize: true, pseudonymKey: KEY, revealToResponders: true },
      wall: { tokens: { viewer: ['viewer-token-1'], responder: ['responder-token-1'] } },
    });
    nc = await natsConnection();
    const sink = new Writable({
      write(chunk: Buffer, _e, done) {
        logs.push(chunk.toString('utf8'));
        done();
      },
    });
    // The processor's own logger at debug, writing here: the key must never show, whatever is logged.
    const logger = createLogger('debug', false, sink);
    logger.info({ config }, 'the whole config, as an operator might log it');
    processor = await startProcessor({ config, logger });
  });

  afterAll(async () => {
    await processor?.stop();
    await cleanUp(config, nc);
    await nc.close();
  });

  it('stores, publishes and logs only the keyed pseudonym; responders alone see the original on the wall', async () => {
    const alice = 'alice@example.com';
    const h = keyedHash(KEY, alice);
    const dead: string[] = [];
    const deadSub = nc.subscribe(config.nats.deadLetterSubject);
    void (async () => {
      for await (const m of deadSub) dead.push(new TextDecoder().decode(m.data));
    })();
    const alerts: string[] = [];
    const alertSub = nc.subscribe(`${config.nats.alertSubjectPrefix}.>`);
    void (async () => {
      for await (const m of alertSub) alerts.push(new TextDecoder().decode(m.data));
    })();
    const responder = await WallTestClient.connect(`ws://127.0.0.1:${processor.wallPort}/ws?token=responder-token-1`);
    const viewer = await WallTestClient.connect(`ws://127.0.0.1:${processor.wallPort}/ws?token=viewer-token-1`);
    const now = Date.now();
    for (let i = 0; i < 3; i++) publish({ id: `p-m${i}`, customerId: alice, type: 'email_sent', ts: now - 20_000 + i, campaignId: 'blast' });
    publish({ id: 'p-late', customerId: alice, type: 'click', ts: now - 3_600_000 });
    await nc.flush();

    const db = config.clickhouse.database;
    await eventually('the alert and the dead letter in ClickHouse', async () => (await chQuery(`SELECT 1 FROM ${db}.alerts WHERE subject_key = '${h}'`)).length > 0 && (await chQuery(`SELECT 1 FROM ${db}.rejected_events`)).length > 0, 15_000);
    await eventually('events in ClickHouse', async () => (await chQuery(`SELECT 1 FROM ${db}.events WHERE customer_id = '${h}'`)).length === 3, 15_000);
    for (const [table, text] of Object.entries(await clickhouseText(config))) expect(text.includes(alice), `ClickHouse ${table}`).toBe(false);
    expect((await redisText(config)).includes(alice), 'Redis').toBe(false);
    await eventually('the dead letter and the alert on NATS', () => dead.length > 0 && alerts.length > 0, 5_000);
    // The stored and published dead letter carries the pseudonym too (its payload is rewritten, not the exact bytes).
    expect(dead.join('').includes(alice)).toBe(false);
    expect(Buffer.from((JSON.parse(dead[0]) as { payloadBase64: string }).payloadBase64, 'base64').toString()).toContain(h);
    expect(alerts.join('').includes(alice)).toBe(false);

    const snapshot = async (token: string) => (await fetch(`http://127.0.0.1:${processor.wallPort}/api/v1/snapshot`, { headers: { authorization: `Bearer ${token}` } })).text();
    const asViewer = await snapshot('viewer-token-1');
    expect(asViewer).toContain(h);
    expect(asViewer).not.toContain(alice);
    const asResponder = JSON.parse(await snapshot('responder-token-1')) as { alerts: { subject: { key: string }; summary: string }[] };
    expect(asResponder.alerts.find((a) => a.subject.key === alice)?.summary).toContain(alice);

    const revealed = await responder.waitFor<{ type: string; alert?: { subject: { key: string } } }>((m) => JSON.stringify(m).includes(alice), 10_000);
    expect(revealed).toBeTruthy();
    await viewer.waitFor((m) => JSON.stringify(m).includes(h), 10_000);
    expect(viewer.messages.some((m) => JSON.stringify(m).includes(alice))).toBe(false);
    responder.socket.close();
    viewer.socket.close();
    deadSub.unsubscribe();
    alertSub.unsubscribe();

    const logged = logs.join('');
    expect(logged.length).toBeGreaterThan(0);
    expect(logged.includes(KEY), 'the pseudonym key in the logs').toBe(false);
    expect(logged.includes(alice), 'an original id in the logs').toBe(false);
  });

  it('a silence a responder makes with a revealed original id is stored with the pseudonym and silences the alert', async () => {
    const bob = 'bob@example.com';
    const h = keyedHash(KEY, bob);
    const wall = `http://127.0.0.1:${processor.wallPort}`;
    const asResponder = { authorization: 'Bearer responder-token-1', 'content-type': 'application/json' };
    const now = Date.now();
    for (let i = 0; i < 3; i++) publish({ id: `s-m${i}`, customerId: bob, type: 'email_sent', ts: now - 10_000 + i, campaignId: 'blast' });
    await nc.flush();
    const firing = () => processor.pipeline.snapshot().alerts.find((a) => a.subject.key === h && a.state === 'firing');
    await eventually("bob's alert firing", () => firing() !== undefined, 15_000);

    // Regexes cannot match keyed hashes: refused, with a reason that does not echo the pattern.
    const regex = await fetch(`${wall}/api/v1/silences`, {
      method: 'POST',
      headers: asResponder,
      body: JSON.stringify({ matchers: [{ name: 'subject_key', op: '=~', value: 'bob@.*' }], endsAt: now + 3_600_000, comment: 'by regex' }),
    });
    expect(regex.status).toBe(400);
    const refused = await regex.text();
    expect(refused).toMatch(/match customers by exact id/);
    expect(refused).not.toContain('bob@');

    // The responder sees bob's original id on the wall and silences by it.
    const res = await fetch(`${wall}/api/v1/silences`, {
      method: 'POST',
      headers: asResponder,
      body: JSON.stringify({ matchers: [{ name: 'alertname', op: '=', value: firing()!.rule }, { name: 'subject_key', op: '=', value: bob }], endsAt: now + 3_600_000, comment: 'talked to bob' }),
    });
    expect(res.status).toBe(201);
    const { silence } = (await res.json()) as { silence: { id: string } };
    await eventually('the alert counted as silenced', () => processor.pipeline.snapshot().stats.alerts?.silenced === 1, 15_000);

    await eventually('the silence written to Redis', async () => (await redisText(config)).includes(h), 10_000);
    const stored = await redisText(config);
    expect(stored.includes(bob), 'Redis').toBe(false);
    const list = (token: string) => fetch(`${wall}/api/v1/silences`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.text());
    const forViewers = await list('viewer-token-1');
    expect(forViewers).toContain(h);
    expect(forViewers).not.toContain(bob);
    const snapshot = (await (await fetch(`${wall}/api/v1/snapshot`, { headers: { authorization: 'Bearer responder-token-1' } })).json()) as { silences: { id: string; matchers: { value: string }[] }[] };
    expect(snapshot.silences.find((s) => s.id === silence.id)?.matchers.map((m) => m.value)).toContain(bob);
    expect(logs.join('').includes(bob), 'an original id in the logs').toBe(false);
  });
});
