// One processor process with two worker threads (cluster.threads 2) shares four partitions between its threads on a
// private NATS server that carries the partition mapping: each thread is a cluster member holding two partitions,
// ClickHouse holds exactly what was published, the wall on the configured port shows every customer, and SIGTERM
// stops every thread with checkpoints that leave nothing to replay.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from 'nats';
import { customerToken, natsMapping, partitionOf } from '../../src/cluster/partitioning.js';
import type { VigilConfig } from '../../src/config/schema.js';
import { natsCheckpointStore } from '../../src/state/checkpointStore.js';
import { envFor, ProcessorChild } from '../helpers/child.js';
import { CLICKHOUSE_URL } from '../helpers/clickhouse.js';
import { activityInClickHouse, countBy, customerIdOf, leaseBucket, makeEvents, members, owners, publish, sameActivity, until, wallSnapshot, type Truth } from '../helpers/cluster.js';
import { freePortRun, OwnServer } from '../helpers/ownServices.js';
import { isolatedConfig } from '../helpers/processor.js';

const PARTITIONS = 4;
const THREADS = 2;
// The default lease: this test stops and starts gracefully and never waits for a lease to expire, while a shorter lease
// could be lost to a thread's loop held a few seconds on a loaded machine, and a lost lease stops without a checkpoint.
const LEASE_MS = 10_000;
const CUSTOMERS = 300;
const EVENTS = 3_000;

/** The processor's two threads' readings of one metric, from each thread's own /metrics (port, port + 1). */
async function perThread(port: number, name: string): Promise<number[]> {
  return Promise.all(
    Array.from({ length: THREADS }, async (_, i) => {
      const text = await (await fetch(`http://127.0.0.1:${port + i}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(`${name} `));
      return line ? Number(line.slice(name.length + 1)) : Number.NaN;
    }),
  );
}

/** The `partition taken` lines of a processor's log: which partition, and how many messages it replayed. */
function taken(child: ProcessorChild): { partition: number; replayed: number }[] {
  return child.log.filter((l) => l.includes('"msg":"partition taken"')).map((l) => JSON.parse(l) as { partition: number; replayed: number });
}

describe.sequential('one process, two worker threads sharing four partitions', () => {
  let server: OwnServer;
  let nc: NatsConnection;
  let config: VigilConfig;
  let child: ProcessorChild | null = null;

  beforeAll(async () => {
    const [source, destination] = natsMapping('events', PARTITIONS);
    server = await OwnServer.natsWithConfig(`mappings = {\n  "${source}": "${destination}"\n}\n`);
  });

  afterEach(async () => {
    await child?.kill('SIGKILL').catch(() => undefined);
    await nc?.close();
    await fetch(`${CLICKHOUSE_URL}/`, { method: 'POST', body: `DROP DATABASE IF EXISTS ${config.clickhouse.database}` });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('holds two partitions per thread, writes ClickHouse exactly, shows the whole on one wall and stops with nothing to replay', async () => {
    config = isolatedConfig({ nats: { servers: `nats://127.0.0.1:${server.port}`, subjectPrefix: 'events' }, cluster: { partitions: PARTITIONS, leaseMs: LEASE_MS } });
    nc = await connect({ servers: config.nats.servers });
    const port = await freePortRun(THREADS);
    const env = envFor(config, {
      VIGIL_CLUSTER__PARTITIONS: String(PARTITIONS),
      VIGIL_CLUSTER__THREADS: String(THREADS),
      VIGIL_CLUSTER__PROCESSOR_ID: 'solo',
      VIGIL_CLUSTER__LEASE_MS: String(LEASE_MS),
      // The process's spill directory; each thread takes a subdirectory of it.
      VIGIL_CLICKHOUSE__SPILL__DIR: `${config.clickhouse.spill.dir}/solo`,
      VIGIL_PROCESSOR__CHECKPOINT_INTERVAL_MS: '1000',
      VIGIL_WALL__PORT: String(port),
    });
    child = await ProcessorChild.start(env);
    const kv = await leaseBucket(nc, config.cluster.leaseBucket);

    // Both threads are members of their own, and the assignment gives each two of the four partitions.
    const joined = await until('both threads to be members', () => members(kv), (m) => m.length === THREADS).catch((err: unknown) => {
      // What the threads said is what tells why they did not join.
      throw new Error(`${String(err)}\nthe processor's log:\n${child!.log.slice(-40).join('\n')}`);
    });
    expect(joined).toEqual(['solo-t0', 'solo-t1']);
    const spread = async () => {
      const held = await owners(kv, PARTITIONS);
      return { held: Object.fromEntries(held), count: countBy(held) };
    };
    const { held: byPartition } = await until('two partitions per thread', spread, (s) => Object.keys(s.held).length === PARTITIONS && s.count['solo-t0'] === 2 && s.count['solo-t1'] === 2);
    const held = new Map(Object.entries(byPartition).map(([p, o]) => [Number(p), o]));
    // Each thread serves its own /readyz on port + i, naming the partitions it holds.
    for (let i = 0; i < THREADS; i++) {
      const mine = [...held].filter(([, o]) => o === `solo-t${i}`).map(([p]) => p).sort();
      const ready = await until(`thread ${i}'s /readyz`, async () => (await fetch(`http://127.0.0.1:${port + i}/readyz`)).json() as Promise<{ ready: boolean; checks: { consumer: { detail: string } } }>, (r) => r.ready);
      expect(ready.checks.consumer.detail).toContain(`partitions ${mine.join(',')} of ${PARTITIONS}`);
    }

    // A few thousand events over a few hundred customers, every tenth published twice (a producer's retry).
    const truth: Truth = new Map();
    const baseTs = Date.now() - 3 * 3_600_000;
    const events = makeEvents(0, EVENTS, baseTs, CUSTOMERS);
    await publish(nc, events, truth);
    const published = EVENTS + Math.ceil(EVENTS / 10);
    await until('ClickHouse to hold exactly what was published', () => activityInClickHouse(config), (m) => sameActivity(m, truth));
    // Both threads took their share: each handled messages, and together every one once (the retries as duplicates).
    const handled = async () => ({ processed: await perThread(port, 'vigil_events_total{outcome="processed"}'), duplicates: await perThread(port, 'vigil_events_total{outcome="duplicate"}') });
    const { processed } = await until('every message handled, each unique event once', handled, (h) => h.processed[0] + h.processed[1] === EVENTS && h.processed[0] + h.processed[1] + h.duplicates[0] + h.duplicates[1] === published);
    expect(processed.every((n) => n > 0), JSON.stringify(processed)).toBe(true);

    // The wall on the configured port is thread 0's, which holds only its own partitions' customers, yet shows them all.
    const customersOfThread0 = new Set(Array.from({ length: CUSTOMERS }, (_, c) => customerIdOf(c)).filter((id) => held.get(partitionOf(customerToken(id), PARTITIONS)) === 'solo-t0'));
    expect(customersOfThread0.size).toBeGreaterThan(0);
    expect(customersOfThread0.size).toBeLessThan(CUSTOMERS);
    const snap = await until('the wall to show every customer', () => wallSnapshot(port), (s) => s.stats.activeCustomers === CUSTOMERS, 30_000);
    expect(snap.stats.activeCustomers).toBe(CUSTOMERS);

    // SIGTERM: every thread stops, checkpoints its partitions and hands them over; the process exits 0.
    const first = child;
    expect(await child.kill('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(await members(kv)).toEqual([]);
    for (let p = 0; p < PARTITIONS; p++) {
      const store = await natsCheckpointStore(nc, config.processor.checkpointBucket, `${config.nats.consumer}-p${p}`);
      expect(await store.load(), `checkpoint of partition ${p}`).not.toBeNull();
    }

    // Started again, each partition is restored from its checkpoint with nothing to replay (a partition that moves from
    // the first thread up to the second once both are members is taken twice, from the checkpoint each time), and the
    // counts restored with the checkpoints are every message once.
    child = await ProcessorChild.start(env);
    const restarted = child;
    await until('two partitions per thread again', spread, (s) => Object.keys(s.held).length === PARTITIONS && s.count['solo-t0'] === 2 && s.count['solo-t1'] === 2);
    // A lease is claimed before its pipeline is restored: the counts settle once every partition runs on its thread.
    // A partition counted twice, or one whose counts were lost, never reaches exactly the events published.
    await until('the restored counts of all four partitions, on both threads', () => perThread(port, 'vigil_events_total{outcome="processed"}'), (n) => n[0] > 0 && n[1] > 0 && n[0] + n[1] === EVENTS);
    const restored = await until('all four partitions taken again', async () => taken(restarted), (t) => new Set(t.map((x) => x.partition)).size === PARTITIONS);
    // A partition with something to replay was stopped without its final checkpoint: the first run's log says why.
    const why = () => first.log.filter((l) => /lease|handed over|handing|deadline|checkpoint|stop/i.test(l)).slice(-30).join('\n');
    expect(restored.filter((t) => t.replayed !== 0), why()).toEqual([]);
    expect(sameActivity(await activityInClickHouse(config), truth)).toBe(true);
    expect(await child.kill('SIGTERM')).toEqual({ code: 0, signal: null });
  });
});
