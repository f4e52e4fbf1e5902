// Erasure is exact on the real services: erasing customers with one-letter ids (`c`, `a`, `1`, `s`) removes their
// own state and nothing else: no other Redis key, silence, notification group, alert or consent record, and after
// a restart the customers who withdrew consent are still withdrawn.
import { Redis } from 'ioredis';
import type { NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VigilConfig } from '../../src/config/schema.js';
import type { AlertView } from '../../src/contract/frames.js';
import type { RunningProcessor } from '../../src/runtime/processor.js';
import { RedisGroupStore } from '../../src/alerts/groupStore.js';
import { Notifier } from '../../src/alerts/notifier.js';
import { RedisAlertStore } from '../../src/alerts/redisAlertStore.js';
import { fingerprintOf } from '../../src/alerts/engine.js';
import { WriteBehindHash } from '../../src/alerts/writeBehindHash.js';
import { eventually } from '../helpers/clickhouse.js';
import { chQuery, cleanUp, isolatedConfig, natsConnection, startTestProcessor } from '../helpers/processor.js';

const enc = new TextEncoder();
const ERASED = ['c', 'a', '1', 's'];
/** Customers whose ids contain the erased ones, with alerts, groups and silences: every piece of it must stay. */
const OTHERS = ['abc', 'cc', 'a1', 'sass'];
/** Customers whose ids contain the erased ones, who withdrew consent (which drops their own alerts). */
const WITHDRAWN = ['ca', 'b1', 'xs', 'cab'];

function alertView(customer: string, campaign: string): AlertView {
  const rule = 'customer_contact_fatigue';
  const fingerprint = fingerprintOf(rule, { kind: 'customer', key: customer });
  return {
    id: `id-${customer}`, fingerprint, rule, severity: 'warning', state: 'firing', subject: { kind: 'customer', key: customer }, value: 3, threshold: 1.5,
    reasons: ['3 emails in 24 h'], labels: { alertname: rule, severity: 'warning', subject_kind: 'customer', subject_key: customer, campaign },
    summary: 'fatigue 3 >= 1.5', startsAt: 0, updatedAt: 0, endsAt: null, acknowledged: null, trigger: null,
  };
}

/** Silences, groups and active alerts for every customer, written as the processor's own stores write them. */
async function seedRedis(config: VigilConfig, redis: Redis): Promise<void> {
  const prefix = config.redis.keyPrefix;
  const notifier = new Notifier(config.alerts.routing, new WriteBehindHash(redis, `${prefix}silences`), new RedisGroupStore(redis, `${prefix}groups`), []);
  await notifier.load();
  const now = Date.now();
  const alerts = new RedisAlertStore(redis, `${prefix}alerts`);
  await alerts.load();
  for (const [i, who] of [...ERASED, ...OTHERS].entries()) {
    // Campaigns that contain the erased ids as substrings (and the group keys all contain `a`, `c` and `s`).
    const view = alertView(who, `camp-${who}-${i}`);
    notifier.onAlert(view, now);
    const r = notifier.addSilence({ matchers: [{ name: 'subject_key', value: who, op: '=' }], startsAt: now, endsAt: now + 86_400_000, createdBy: 'ops', comment: `quiet ${who}` }, now);
    if (!r.ok) throw new Error(r.error);
    alerts.set(view.fingerprint, {
      id: view.id, fingerprint: view.fingerprint, rule: view.rule, subject: view.subject, state: 'firing', value: 3, reasons: [], startsAt: now, firedAt: now, endsAt: null,
      updatedAt: now, acknowledged: null, trigger: null, labels: { campaign: `camp-${who}-${i}` },
    });
  }
  // Silences matching the erased ids other than by `=`: they name no one.
  for (const [value, op] of [['c', '!='], ['a.*', '=~']] as const) {
    notifier.addSilence({ matchers: [{ name: 'alertname', value: 'customer_contact_fatigue', op: '=' }, { name: 'subject_key', value, op }], startsAt: now, endsAt: now + 86_400_000, createdBy: 'ops', comment: 'x' }, now);
  }
  await notifier.persist();
  await alerts.persist();
}

/** What the test compares: every key, and the entries of the hashes and sets, by customer where they name one. */
async function redisState(config: VigilConfig, redis: Redis) {
  const prefix = config.redis.keyPrefix;
  const silences = Object.values(await redis.hgetall(`${prefix}silences`)).map((v) => (JSON.parse(v) as { comment: string }).comment);
  const groups = Object.keys(await redis.hgetall(`${prefix}groups`));
  // Each group's alerts are a hash of their own (alerts/groupStore.ts): whose alerts they are.
  const groupAlerts = (await Promise.all(groups.map((g) => redis.hvals(`${prefix}groups:alerts:${g}`)))).flat().map((v) => (JSON.parse(v) as { subject: { key: string } }).subject.key);
  const alerts = Object.values(await redis.hgetall(`${prefix}alerts`)).map((v) => (JSON.parse(v) as { subject: { key: string } }).subject.key);
  return {
    // The heartbeat comes and goes with the processor.
    keys: (await redis.keys(`${prefix}*`)).filter((k) => !k.endsWith(':heartbeat')).sort(),
    silences: silences.sort(),
    groups: groups.sort(),
    groupAlerts: groupAlerts.sort(),
    alerts: alerts.sort(),
    withdrawn: (await redis.smembers(`${prefix}consent:withdrawn`)).sort(),
  };
}

describe('erasure of one-letter ids on real services', () => {
  let config: VigilConfig;
  let nc: NatsConnection;
  let redis: Redis;
  let processor: RunningProcessor | null = null;
  const publish = (ev: Record<string, unknown>) => nc.publish(`${config.nats.subjectPrefix}.${String(ev.type)}`, enc.encode(JSON.stringify(ev)));

  beforeAll(async () => {
    config = isolatedConfig({ processor: { checkpointIntervalMs: 300 } });
    config = { ...config, processor: { ...config.processor, checkpointBucket: `cp_${config.nats.consumer}` } };
    nc = await natsConnection();
    redis = new Redis(config.redis.url);
    await seedRedis(config, redis);
    processor = await startTestProcessor(config);
  });

  afterAll(async () => {
    await processor?.stop();
    await cleanUp(config, nc);
    const jsm = await nc.jetstreamManager();
    await jsm.streams.delete(`OBJ_${config.processor.checkpointBucket}`).catch(() => undefined);
    await nc.close();
    redis.disconnect();
  });

  it('removes only the erased customers\' own state, and the others stay withdrawn after a restart', async () => {
    const t0 = Date.now() - 60_000;
    let n = 0;
    for (const who of [...ERASED, ...WITHDRAWN]) publish({ id: `w-${++n}`, customerId: who, type: 'consent_withdrawn', ts: t0 + n });
    await nc.flush();
    await eventually('every withdrawal in Redis', async () => (await redis.smembers(`${config.redis.keyPrefix}consent:withdrawn`)).length === ERASED.length + WITHDRAWN.length, 15_000);
    const before = await redisState(config, redis);
    // A withdrawal already dropped the erased customers' own alerts, groups and silences.
    expect(before.silences).toHaveLength(OTHERS.length + 2);
    expect(before.groups).toHaveLength(OTHERS.length);
    expect(before.groupAlerts).toEqual(OTHERS.slice().sort());
    expect(before.alerts).toHaveLength(OTHERS.length);

    for (const who of ERASED) publish({ id: `e-${++n}`, customerId: who, type: 'erase_request', ts: t0 + n });
    await nc.flush();
    const db = config.clickhouse.database;
    await eventually('every erasure audited', async () => (await chQuery(`SELECT DISTINCT request_id FROM ${db}.erasure_audit`)).length === ERASED.length, 30_000);

    const after = await redisState(config, redis);
    expect(after.keys).toEqual(before.keys);
    expect(after.withdrawn).toEqual(WITHDRAWN.slice().sort());
    expect(after.silences).toEqual(before.silences);
    expect(after.alerts).toEqual(before.alerts);
    expect(after.groups).toEqual(before.groups);
    expect(after.groupAlerts).toEqual(before.groupAlerts);

    // After a restart the other customers are still withdrawn: their events are dropped.
    await processor!.stop();
    processor = await startTestProcessor(config);
    const { dropped_consent: dropped } = processor.pipeline.counts;
    for (const who of WITHDRAWN) publish({ id: `p-${++n}`, customerId: who, type: 'page_view', ts: Date.now() - 1000 });
    // An erased customer starts afresh: consent was forgotten with them.
    publish({ id: `p-${++n}`, customerId: 'c', type: 'page_view', ts: Date.now() - 1000 });
    await nc.flush();
    const p = processor.pipeline;
    await eventually('the post-restart events handled', () => p.counts.dropped_consent >= dropped + WITHDRAWN.length && p.windows.find('c') !== -1, 15_000);
    expect(p.counts.dropped_consent - dropped).toBe(WITHDRAWN.length);
    for (const who of WITHDRAWN) expect(p.windows.find(who), who).toBe(-1);
    expect((await redisState(config, redis)).keys).toEqual(before.keys);
  });
});
