// `vigil reset` leaves nothing of a config's processor behind, so a demo starts at its own event time.
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { reset } from '../../src/cli/reset.js';
import { eventually } from '../helpers/clickhouse.js';
import { chQuery, isolatedSuite, startTestProcessor } from '../helpers/processor.js';

describe('vigil reset', () => {
  const suite = isolatedSuite();

  it('deletes the stream, the checkpoint, the database and the Redis keys', async () => {
    const { config, nc } = suite;
    const p = await startTestProcessor(config);
    for (let i = 0; i < 3; i++) nc.publish(`${config.nats.subjectPrefix}.email_sent`, new TextEncoder().encode(JSON.stringify({ id: `r${i}`, customerId: 'x', type: 'email_sent', ts: Date.now() + i })));
    await nc.flush();
    await eventually('an alert in Redis', () => p.pipeline.snapshot().alerts.length === 1, 10_000);
    await p.stop();
    await reset(config);
    const jsm = await nc.jetstreamManager();
    await expect(jsm.streams.info(config.nats.stream)).rejects.toThrow(/stream not found/);
    const os = await nc.jetstream().views.os(config.processor.checkpointBucket);
    expect(await os.getBlob(config.nats.consumer)).toBeNull();
    expect(await chQuery(`SELECT name FROM system.databases WHERE name = '${config.clickhouse.database}'`)).toEqual([]);
    const redis = new Redis(config.redis.url);
    expect(await redis.keys(`${config.redis.keyPrefix}*`)).toEqual([]);
    redis.disconnect();
  });

  it('in a cluster, also deletes every partition\'s checkpoint, the partials stream and the lease bucket', async () => {
    const { nc } = suite;
    const tag = `${process.pid}${Date.now() % 100_000}`;
    const config = { ...suite.config, cluster: { ...suite.config.cluster, partitions: 3, partialsStream: `PARTIALS_R${tag}`, partialsSubjectPrefix: `r${tag}.partials`, leaseBucket: `leases_r${tag}` } };
    const os = await nc.jetstream().views.os(config.processor.checkpointBucket);
    for (let k = 0; k < 3; k++) await os.putBlob({ name: `${config.nats.consumer}-p${k}` }, new Uint8Array([k]));
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: config.cluster.partialsStream, subjects: [`${config.cluster.partialsSubjectPrefix}.>`] });
    await (await nc.jetstream().views.kv(config.cluster.leaseBucket)).put('member.a', 'x');
    await reset(config);
    for (let k = 0; k < 3; k++) expect(await os.getBlob(`${config.nats.consumer}-p${k}`)).toBeNull();
    await expect(jsm.streams.info(config.cluster.partialsStream)).rejects.toThrow(/stream not found/);
    await expect(jsm.streams.info(`KV_${config.cluster.leaseBucket}`)).rejects.toThrow(/stream not found/);
  });
});
