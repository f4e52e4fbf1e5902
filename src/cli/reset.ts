// `vigil reset --yes`: forgets everything one config's processor has: its stream, checkpoint, ClickHouse database
// and Redis keys. For demos and trials, so a new run does not start behind the event time of an old one.
import { parseArgs } from 'node:util';
import { connect } from 'nats';
import { natsConnectOptions, redisConnectArgs } from '../shared/serviceAuth.js';
import { Redis } from 'ioredis';
import { loadConfig } from '../config/load.js';
import type { VigilConfig } from '../config/schema.js';
import { createClickHouseClient, quoteIdentifier } from '../sinks/clickhouse/client.js';

export async function runReset(argv: string[], out: (s: string) => void): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string' }, yes: { type: 'boolean', default: false } } });
  const config = loadConfig({ file: values.config });
  if (!values.yes) {
    out(`vigil reset deletes ${describeReset(config)}. Run it again with --yes to do it.\n`);
    return 2;
  }
  await reset(config);
  out(`deleted ${describeReset(config)}\n`);
  return 0;
}

export function describeReset(config: VigilConfig): string {
  const { partitions, partialsStream, leaseBucket } = config.cluster;
  const checkpoints = partitions > 0 ? `checkpoints ${config.processor.checkpointBucket}/${config.nats.consumer}-p0..p${partitions - 1}` : `checkpoint ${config.processor.checkpointBucket}/${config.nats.consumer}`;
  const cluster = partitions > 0 ? `, partials stream ${partialsStream}, lease bucket ${leaseBucket}` : '';
  return `stream ${config.nats.stream}, ${checkpoints}${cluster}, ClickHouse database ${config.clickhouse.database}, Redis keys ${config.redis.keyPrefix}*`;
}

/** The checkpoint objects of a config: one, or one per partition in a cluster. */
export function checkpointNames(config: VigilConfig): string[] {
  const { partitions } = config.cluster;
  return partitions > 0 ? Array.from({ length: partitions }, (_, k) => `${config.nats.consumer}-p${k}`) : [config.nats.consumer];
}

export async function reset(config: VigilConfig): Promise<void> {
  const nc = await connect({ ...natsConnectOptions(config), name: 'vigil-reset' });
  try {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.delete(config.nats.stream).catch(() => false);
    const os = await nc.jetstream().views.os(config.processor.checkpointBucket);
    for (const name of checkpointNames(config)) await os.delete(name).catch(() => undefined);
    if (config.cluster.partitions > 0) {
      // Run with every processor stopped: a live one would recreate its lease and publish partials again.
      await jsm.streams.delete(config.cluster.partialsStream).catch(() => false);
      await jsm.streams.delete(`KV_${config.cluster.leaseBucket}`).catch(() => false);
    }
  } finally {
    await nc.close();
  }
  const ch = createClickHouseClient(config.clickhouse);
  try {
    await ch.command(`DROP DATABASE IF EXISTS ${quoteIdentifier(config.clickhouse.database)}`);
  } finally {
    await ch.close();
  }
  const redis = new Redis(...redisConnectArgs(config));
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${config.redis.keyPrefix}*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
