// The scheduled refit in a cluster, on real NATS, Redis and ClickHouse: two processors share two partitions; only
// the leader refits, every processor's every partition takes the same version through the watch, and when the
// purchase process changes the drift is raised once for the cluster (subject `cluster`), not once per partition.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertView } from '../../src/contract/frames.js';
import type { VigilConfig } from '../../src/config/schema.js';
import { customerToken, partitionOf } from '../../src/cluster/partitioning.js';
import { startProcessor, type RunningProcessor } from '../../src/runtime/processor.js';
import { DAY_MS as DAY } from '../../src/shared/clock.js';
import { silentLogger } from '../../src/shared/logger.js';
import { eventually } from '../helpers/clickhouse.js';
import { purchaseHistory, type BgNbdProcess, type Purchase } from '../helpers/purchaseHistory.js';
import { cleanUp, isolatedConfig, natsConnection } from '../helpers/processor.js';
import type { NatsConnection } from 'nats';

const enc = new TextEncoder();
const PARTITIONS = 2;


describe('scheduled refit in a cluster of two processors', () => {
  const origin = Date.now() - 62 * DAY;
  const history = (prefix: string, customers: number, bgNbd: BgNbdProcess, seed: number) => purchaseHistory(origin, prefix, customers, bgNbd, seed);
  const before = history('a', 300, { r: 0.8, alpha: 12, a: 0.6, b: 2.5 }, 11);
  const after = history('b', 150, { r: 2, alpha: 4, a: 0.2, b: 8 }, 12);

  let config: VigilConfig;
  let nc: NatsConnection;
  const processors: RunningProcessor[] = [];
  const alerts: AlertView[] = [];

  beforeAll(async () => {
    const base = isolatedConfig({
      ingest: { allowedLatenessMs: 100 * DAY },
      windows: { idleEvictMs: 400 * DAY },
      signals: { model: { refreshMs: 300, refit: { enabled: true, intervalMs: 500, minNewPurchases: before.length, minCustomers: 100, minSegmentBuyers: 0 } } },
    });
    const tag = base.nats.stream.slice('EVENTS_T'.length);
    // The cluster's buckets and streams named for this test alone (others may run a cluster on the same server).
    config = { ...base, cluster: { ...base.cluster, partitions: PARTITIONS, leaseMs: 2_000, leaseBucket: `lease_t${tag}`, subjectPrefix: `t${tag}.cluster`, partialsStream: `PARTIALS_T${tag}`, partialsSubjectPrefix: `t${tag}.partials` } };
    nc = await natsConnection();
    const sub = nc.subscribe(`${config.nats.alertSubjectPrefix}.>`, { callback: (err, m) => void (err || alerts.push(m.json() as AlertView)) });
    void sub;
    for (const id of ['a', 'b']) {
      processors.push(await startProcessor({ config: { ...config, cluster: { ...config.cluster, processorId: id }, clickhouse: { ...config.clickhouse, spill: { ...config.clickhouse.spill, dir: `${config.clickhouse.spill.dir}/${id}` } } }, logger: silentLogger }));
    }
  });

  afterAll(async () => {
    await Promise.all(processors.map((p) => p.stop().catch(() => undefined)));
    const jsm = await nc.jetstreamManager();
    await jsm.streams.delete(config.cluster.partialsStream).catch(() => undefined);
    await jsm.streams.delete(`KV_${config.cluster.leaseBucket}`).catch(() => undefined);
    const os = await nc.jetstream().views.os(config.processor.checkpointBucket);
    for (let p = 0; p < PARTITIONS; p++) await os.delete(`${config.nats.consumer}-p${p}`).catch(() => undefined);
    await cleanUp(config, nc);
    await nc.close();
  });

  const pipelines = () => processors.flatMap((p) => p.pipelines());
  const processed = () => pipelines().reduce((n, p) => n + p.counts.processed, 0);

  async function send(purchases: Purchase[]): Promise<void> {
    const was = processed();
    for (const p of purchases) {
      const token = customerToken(p.customerId);
      nc.publish(`${config.nats.subjectPrefix}.part.${partitionOf(token, PARTITIONS)}.purchase.${token}`, enc.encode(JSON.stringify(p)));
    }
    await nc.flush();
    await eventually('every purchase processed', () => processed() >= was + purchases.length, 60_000);
  }

  it('refits on the leader only, runs one version on every partition, and raises the drift once for the cluster', async () => {
    await eventually('a partition each', () => processors.every((p) => p.partitions().length === 1), 60_000);
    await send(before);
    await eventually('the first refit', () => processors.some((p) => (p.refitStatus()?.refits ?? 0) >= 1), 60_000);
    const leader = processors.find((p) => (p.refitStatus()?.refits ?? 0) >= 1)!;
    const other = processors.find((p) => p !== leader)!;
    expect(other.refitStatus()).toMatchObject({ refits: 0, accepted: null });
    const first = leader.refitStatus()!.accepted!.model;
    await eventually('every partition on the version', () => pipelines().length === PARTITIONS && pipelines().every((p) => p.model.name === first), 30_000);

    const fittedMs = Date.parse(leader.refitStatus()!.accepted!.fittedAt);
    await eventually("the clock past the first fit's second", () => Date.now() >= fittedMs + 1_000, 5_000);
    await send(after);
    await eventually('a refit that drifted', () => leader.refitStatus()!.recent.some((r) => r.drift.drifted), 60_000);
    await eventually('the model_drift alert', () => alerts.some((a) => a.rule === 'model_drift'), 30_000);
    // The newest version reaches every partition of both processors.
    await eventually('every partition on the newest version', () => {
      const latest = leader.refitStatus()!.accepted!.model;
      return pipelines().every((p) => p.model.name === latest) && latest !== first;
    }, 30_000);
    expect(other.refitStatus()!.refits).toBe(0);
    // One subject for the cluster's drift, however many partitions the leader holds.
    expect([...new Set(alerts.filter((a) => a.rule === 'model_drift').map((a) => `${a.subject.kind}:${a.subject.key}`))]).toEqual(['processor:cluster']);
    expect(pipelines().flatMap((p) => p.alerts.views()).filter((a) => a.rule === 'model_drift')).toEqual([]);
  });
});
