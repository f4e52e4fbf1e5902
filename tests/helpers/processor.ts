// Starts a real processor in the test process against the loopback NATS and ClickHouse, isolated by name:
// its own stream, subject prefix, consumer and database, so test files never see each other's events.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { connect, type NatsConnection } from 'nats';
import { parseConfig } from '../../src/config/load.js';
import type { VigilConfig } from '../../src/config/schema.js';
import { startProcessor, type RunningProcessor } from '../../src/runtime/processor.js';
import { silentLogger } from '../../src/shared/logger.js';
import { CLICKHOUSE_URL } from './clickhouse.js';

export const REDIS_URL = process.env.VIGIL_REDIS__URL ?? 'redis://127.0.0.1:6379';
export const NATS_URL = process.env.VIGIL_NATS__SERVERS ?? 'nats://127.0.0.1:4222';

export function isolatedConfig(over: Record<string, unknown> = {}): VigilConfig {
  const tag = randomBytes(4).toString('hex');
  const base = {
    nats: { servers: NATS_URL, stream: `EVENTS_T${tag}`, subjectPrefix: `t${tag}.events`, consumer: `vigil_t${tag}`, deadLetterSubject: `t${tag}.deadletter`, alertSubjectPrefix: `t${tag}.alerts` },
    clickhouse: { url: CLICKHOUSE_URL, database: `vigil_test_${tag}`, batch: { maxDelayMs: 200 } },
    redis: { url: REDIS_URL, keyPrefix: `vigil_t${tag}:` },
    wall: { port: 0, host: '127.0.0.1' },
    processor: { commitIntervalMs: 200 },
    alerts: { evaluateIntervalMs: 200 },
    log: { level: 'silent' },
  };
  return parseConfig(merge(base, over));
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] = cur && typeof cur === 'object' && !Array.isArray(cur) && v && typeof v === 'object' && !Array.isArray(v) ? merge(cur as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

export async function startTestProcessor(config: VigilConfig): Promise<RunningProcessor> {
  return startProcessor({ config, logger: silentLogger });
}

/** Deletes the test's stream, database, spill directory and Redis keys. */
export async function cleanUp(config: VigilConfig, nc: NatsConnection): Promise<void> {
  const redis = new Redis(config.redis.url);
  const keys = await redis.keys(`${config.redis.keyPrefix}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
  const jsm = await nc.jetstreamManager();
  await jsm.streams.delete(config.nats.stream).catch(() => undefined);
  const os = await nc.jetstream().views.os(config.processor.checkpointBucket);
  await os.delete(config.nats.consumer).catch(() => undefined);
  await fetch(`${CLICKHOUSE_URL}/`, { method: 'POST', body: `DROP DATABASE IF EXISTS ${config.clickhouse.database}` });
  // The database's spill directory (clickhouse.spill.dir/<database>): files left there would name a dropped database.
  rmSync(resolve(config.clickhouse.spill.dir, config.clickhouse.database), { recursive: true, force: true });
}

export async function natsConnection(): Promise<NatsConnection> {
  return connect({ servers: NATS_URL, name: 'vigil-test' });
}

export async function chQuery<T = Record<string, unknown>>(sql: string): Promise<T[]> {
  const res = await fetch(`${CLICKHOUSE_URL}/`, { method: 'POST', body: `${sql} FORMAT JSONEachRow` });
  const text = await res.text();
  if (!res.ok) throw new Error(`ClickHouse: ${text}`);
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as T);
}

/**
 * Registers beforeAll/afterAll for a describe block: an isolated config and a NATS connection, cleaned up after.
 * Read `config` and `nc` inside tests (they are set once beforeAll has run).
 */
export function isolatedSuite(over: Record<string, unknown> = {}): { config: VigilConfig; nc: NatsConnection } {
  const suite = {} as { config: VigilConfig; nc: NatsConnection };
  beforeAll(async () => {
    suite.config = isolatedConfig(over);
    suite.nc = await natsConnection();
  });
  afterAll(async () => {
    await cleanUp(suite.config, suite.nc);
    await suite.nc.close();
  });
  return suite;
}

/** isolatedSuite with a processor started on its config before the tests and stopped before the clean-up. */
export function processorSuite(over: Record<string, unknown> = {}): { config: VigilConfig; nc: NatsConnection; processor: RunningProcessor } {
  const suite = isolatedSuite(over) as { config: VigilConfig; nc: NatsConnection; processor: RunningProcessor };
  beforeAll(async () => {
    suite.processor = await startTestProcessor(suite.config);
  });
  afterAll(async () => {
    await suite.processor?.stop();
  });
  return suite;
}
