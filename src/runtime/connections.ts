// The processor's connections to NATS, Redis and ClickHouse's schema: each opened once at start, with what a lost
// connection means (NATS reconnects forever, Redis fails fast, migrations retry behind a running processor).
import { connect, type NatsConnection } from 'nats';
import { Redis } from 'ioredis';
import type { VigilConfig } from '../config/schema.js';
import type { Scheduler } from '../shared/clock.js';
import { errorMessage, VigilError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { natsConnectOptions, redactUrl, redisConnectArgs } from '../shared/serviceAuth.js';
import type { ClickHouseClient } from '../sinks/clickhouse/client.js';
import { migrate } from '../sinks/clickhouse/migrate.js';

export interface NatsLink {
  conn: NatsConnection;
  /** False from a disconnect until the reconnect (and once closed). */
  connected(): boolean;
}

/**
 * `name` tells the server's connection list which it is: the processor's own (the stream, outputs, checkpoints) or
 * the contact budget's (its service and the cluster's forwarded checks, on a socket of their own).
 */
export async function connectNats(config: VigilConfig, log: Logger, name = 'vigil-processor'): Promise<NatsLink> {
  // noAsyncTraces: every request (a KV put, a JetStream publish, an ack) otherwise captures a stack up front for the
  // timeout it may never hit; while senders check, the suppression bucket's puts made that 6% of the processor's CPU.
  const conn = await connect({ ...natsConnectOptions(config), name, maxReconnectAttempts: -1, reconnectTimeWait: 1_000, noAsyncTraces: true });
  let up = true;
  void (async () => {
    for await (const s of conn.status()) {
      if (s.type === 'disconnect') {
        up = false;
        log.warn({ server: s.data, connection: name }, 'NATS disconnected');
      } else if (s.type === 'reconnect') {
        up = true;
        log.info({ server: s.data, connection: name }, 'NATS reconnected');
      }
    }
  })();
  return { conn, connected: () => up && !conn.isClosed() };
}

export async function connectRedis(config: VigilConfig): Promise<Redis> {
  // No offline queue: a command while Redis is away fails at once and the alert store retries it at the next commit.
  const [redisUrl, redisAuth] = redisConnectArgs(config);
  const redis = new Redis(redisUrl, { ...redisAuth, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined); // reported through the alert store's state and /readyz
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new VigilError('REDIS_UNAVAILABLE', `cannot reach Redis at ${redactUrl(config.redis.url)}: alert state, silences and acknowledgements live there`, { cause: err });
  }
  return redis;
}

/** Whether the migrations are applied; `stopped` ends the retries. */
export interface SchemaState {
  ready: boolean;
  detail: string;
  stopped: boolean;
}

/** Applies the migrations, retrying while ClickHouse is away; the processor consumes meanwhile and the sink buffers. */
export function migrateWithRetries(ch: ClickHouseClient, config: VigilConfig, log: Logger, state: SchemaState, attempts: number, timers: Scheduler): Promise<void> {
  return (async () => {
    for (let attempt = 1; !state.stopped && attempt <= attempts; attempt++) {
      try {
        const result = await migrate(ch, { database: config.clickhouse.database, logger: log, analyst: config.clickhouse.analyst });
        state.ready = true;
        state.detail = 'schema ready';
        log.info({ applied: result.applied?.length ?? 0 }, 'ClickHouse schema ready');
        return;
      } catch (err) {
        state.detail = `migrations not applied yet: ${errorMessage(err)}`;
        log.warn({ attempt, err: errorMessage(err) }, 'ClickHouse migrations failed; retrying');
        if (attempt < attempts) await new Promise<void>((r) => timers.schedule(r, Math.min(30_000, 500 * 2 ** Math.min(attempt, 6))));
      }
    }
  })();
}
