// Three processors share six partitions on a private NATS server that carries the partition mapping: one is killed
// mid-run, or all are restarted in turn under load, and ClickHouse still holds exactly what was published, while
// every customer's signals equal those of one pipeline that saw the whole stream.
import type { AmWebhookBody } from '../../src/alerts/alertmanagerFormat.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, type KV, type NatsConnection } from 'nats';
import type { VigilConfig } from '../../src/config/schema.js';
import { customerToken, natsMapping, partitionOf } from '../../src/cluster/partitioning.js';
import { createServer } from 'node:http';
import { MemoryAlertStore } from '../../src/alerts/alertStore.js';
import type { PipelineOutputs } from '../../src/contract/outputs.js';
import type { SnapshotFrame } from '../../src/contract/frames.js';
import { Pipeline } from '../../src/pipeline.js';
import { customerPressure } from '../../src/budget/requests.js';
import { configuredPurchaseModel } from '../../src/signals/purchaseModel.js';
import { liveEngagementTrend } from '../../src/signals/models/trend.js';
import { natsCheckpointStore } from '../../src/state/checkpointStore.js';
import { ManualClock } from '../../src/shared/clock.js';
import { EntityCombiner } from '../../src/cluster/entityCombiner.js';
import { silentLogger } from '../../src/shared/logger.js';
import { isolatedConfig } from '../helpers/processor.js';
import { envFor, ProcessorChild } from '../helpers/child.js';
import { OwnServer } from '../helpers/ownServices.js';
import { CLICKHOUSE_URL } from '../helpers/clickhouse.js';
import { activityInClickHouse, countBy, customerIdOf, leaseBucket, makeEvents as makeClusterEvents, owners as leaseOwners, publish, sameActivity, until, wallSnapshot, type Published } from '../helpers/cluster.js';

const PARTITIONS = 6;
const LEASE_MS = 3_000;
const CUSTOMERS = 180;
const enc = new TextEncoder();
const makeEvents = (from: number, count: number, baseTs: number) => makeClusterEvents(from, count, baseTs, CUSTOMERS);
const owners = (kv: KV) => leaseOwners(kv, PARTITIONS);

const noOutputs: PipelineOutputs = { event() {}, customerActivity() {}, entityActivity() {}, signals() {}, alert() {}, rejected() {} };

function pipelineFor(config: VigilConfig, clock: ManualClock, partition?: number): Pipeline {
  return new Pipeline({ config, clock, outputs: noOutputs, model: configuredPurchaseModel(config.signals.model), trend: liveEngagementTrend, alertStore: new MemoryAlertStore(), partition });
}

/** Every customer's signals from the partitions' final checkpoints, against the single-processor run's. */
/** One pipeline fed every published message in order (duplicates included) on the unpartitioned subject. */
function referencePipeline(config: VigilConfig, published: Published[], lastTs: number): Pipeline {
  const clock = new ManualClock(lastTs + 60_000);
  const reference = pipelineFor(config, clock);
  let seq = 0;
  for (const e of published) {
    const type = e.subject.split('.')[1];
    reference.handle({ subject: `events.${type}`, data: e.data, streamSeq: ++seq, receivedAt: clock.now() });
  }
  return reference;
}

async function compareSignals(nc: NatsConnection, config: VigilConfig, reference: Pipeline, lastTs: number): Promise<number> {
  const clock = new ManualClock(lastTs + 60_000);
  const nowMin = Math.floor(lastTs / 60_000);
  let compared = 0;
  for (let p = 0; p < PARTITIONS; p++) {
    const store = await natsCheckpointStore(nc, config.processor.checkpointBucket, `${config.nats.consumer}-p${p}`);
    const blob = await store.load();
    expect(blob, `checkpoint of partition ${p}`).not.toBeNull();
    const part = pipelineFor(config, clock, p);
    part.restore(blob!);
    for (const id of part.windows.customerIds()) {
      const mine = part.customerSignals(part.windows.find(id), nowMin);
      const single = reference.customerSignals(reference.windows.find(id), nowMin);
      expect({ id, engagement: mine.engagement.score, risk: mine.churn.risk, fatigue: mine.fatigue.score, value: mine.churn.valueAtRisk }).toEqual({
        id,
        engagement: single.engagement.score,
        risk: single.churn.risk,
        fatigue: single.fatigue.score,
        value: single.churn.valueAtRisk,
      });
      compared++;
    }
  }
  expect(compared).toBe(reference.windows.size);
  // The channel and campaign counts combined from the partials stream equal the single run's.
  const combiner = new EntityCombiner({ nc, stream: config.cluster.partialsStream, subjectPrefix: config.cluster.partialsSubjectPrefix, surge: config.signals.surge, maxEntities: config.windows.maxEntities, log: silentLogger });
  await combiner.start();
  try {
    for (const [kind, key] of [['campaign', 'camp-0'], ['campaign', 'camp-1'], ['campaign', 'camp-2'], ['channel', 'email'], ['channel', 'web'], ['segment', 'vip']] as const) {
      const combined = combiner.signal(kind, key, nowMin);
      const single = reference.entities.signal(kind, key, nowMin);
      expect(combined && { touches: combined.touches24h, negatives: combined.negatives1h, overloaded: combined.overloadedCustomers, events: combined.events1h }).toEqual(
        single && { touches: single.touches24h, negatives: single.negatives1h, overloaded: single.overloadedCustomers, events: single.events1h },
      );
    }
  } finally {
    await combiner.stop();
  }
  return compared;
}

describe.sequential('three processors sharing six partitions', () => {
  let server: OwnServer;
  let nc: NatsConnection;
  let config: VigilConfig;
  let children: ProcessorChild[] = [];

  let extraEnv: Record<string, string> = {};
  const env = (id: string) =>
    envFor(config, {
      ...extraEnv,
      VIGIL_CLUSTER__PARTITIONS: String(PARTITIONS),
      VIGIL_CLUSTER__PROCESSOR_ID: id,
      VIGIL_CLUSTER__LEASE_MS: String(LEASE_MS),
      // Each processor spills to its own directory, kept across its restarts (a spill directory has one owner).
      VIGIL_CLICKHOUSE__SPILL__DIR: `${config.clickhouse.spill.dir}/${id}`,
      VIGIL_PROCESSOR__CHECKPOINT_INTERVAL_MS: '1000',
      VIGIL_LOG__LEVEL: 'info',
    });

  beforeAll(async () => {
    const [source, destination] = natsMapping('events', PARTITIONS);
    server = await OwnServer.natsWithConfig(`mappings = {\n  "${source}": "${destination}"\n}\n`);
  });

  afterEach(async () => {
    await Promise.all(children.map((c) => c.kill('SIGKILL').catch(() => undefined)));
    children = [];
    await nc?.close();
    await fetch(`${CLICKHOUSE_URL}/`, { method: 'POST', body: `DROP DATABASE IF EXISTS ${config.clickhouse.database}` });
  });

  afterAll(async () => {
    await server?.stop();
  });

  async function setUp(more: Record<string, string> = {}): Promise<KV> {
    extraEnv = more;
    config = isolatedConfig({
      nats: { servers: `nats://127.0.0.1:${server.port}`, subjectPrefix: 'events' },
      cluster: { partitions: PARTITIONS, leaseMs: LEASE_MS },
    });
    nc = await connect({ servers: config.nats.servers });
    // A new stream per test on the same server: the previous test's is deleted first (both would capture events.>).
    const jsm = await nc.jetstreamManager();
    for (const s of await jsm.streams.names().next()) if (s.startsWith('EVENTS_')) await jsm.streams.delete(s);
    await jsm.streams.delete(config.cluster.partialsStream).catch(() => undefined);
    await jsm.streams.delete(`KV_${config.cluster.leaseBucket}`).catch(() => undefined);
    // If one fails to start, the others are still stopped after the test (not left running).
    const started = await Promise.allSettled(['a', 'b', 'c'].map((id) => ProcessorChild.start(env(id))));
    children = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const kv = await leaseBucket(nc, config.cluster.leaseBucket);
    // Spread evenly: two partitions each, every partition held.
    await until('an even spread', () => owners(kv), (m) => m.size === PARTITIONS && Object.values(countBy(m)).every((n) => n === 2) && Object.keys(countBy(m)).length === 3);
    await summariesNameHeldPartitions(kv);
    return kv;
  }

  /** Every processor's wall summary names the partitions it holds (they once always said `partitions: []`). */
  async function summariesNameHeldPartitions(kv: KV): Promise<void> {
    const said = new Map<string, number[]>();
    const sub = nc.subscribe(`${config.cluster.subjectPrefix}.summary.*`, {
      callback: (err, m) => {
        const s = err ? null : (m.json() as { processorId?: string; partitions?: number[] });
        if (s?.processorId && s.partitions) said.set(s.processorId, s.partitions);
      },
    });
    try {
      const held = async () => ({ held: Object.fromEntries(await owners(kv)), said: Object.fromEntries(said) });
      const own = (held: Record<number, string>, id: string) => Object.entries(held).flatMap(([p, owner]) => (owner === id ? [Number(p)] : []));
      await until('every summary to name the partitions its processor holds', held, (v) => ['a', 'b', 'c'].every((id) => JSON.stringify(v.said[id]) === JSON.stringify(own(v.held, id))));
    } finally {
      sub.unsubscribe();
    }
  }

  it('survives a SIGKILL mid-run: the partitions move, ClickHouse holds exactly what was published, signals equal one processor\'s', async () => {
    const kv = await setUp();
    const truth = new Map<string, { n: number; revenue: number }>();
    const baseTs = Date.now() - 3 * 3_600_000;
    const first = makeEvents(0, 1_500, baseTs);
    const second = makeEvents(1_500, 1_500, baseTs);
    await publish(nc, first, truth);

    const before = await owners(kv);
    const victim = children[1];
    const killedAt = Date.now();
    await victim.kill('SIGKILL');
    // The rest arrives while the victim's partitions are without an owner and while they move.
    const publishing = publish(nc, second, truth);
    // Moved and settled: every partition held, none by the dead one, three each (a survivor starved of CPU past its
    // lease may lose some for a moment: they come back).
    await until('the dead processor\'s partitions to move', () => owners(kv), (m) => m.size === PARTITIONS && ![...m.values()].includes('b'), LEASE_MS * 4 + 20_000);
    const moveMs = Date.now() - killedAt;
    await until('an even spread over the survivors', () => owners(kv), (m) => m.size === PARTITIONS && JSON.stringify(Object.values(countBy(m)).sort()) === '[3,3]', LEASE_MS * 4 + 20_000);
    await publishing;
    expect(before.size).toBe(PARTITIONS);
    console.info(`cluster: partitions of the killed processor moved after ${moveMs} ms (lease ${LEASE_MS} ms)`);

    await until('ClickHouse to hold exactly what was published', () => activityInClickHouse(config), (m) => sameActivity(m, truth));

    // Each wall shows the whole cluster, not its own partitions: every customer, and the combined campaign counts.
    const all = [...first, ...second].flatMap((e, i) => (i % 10 === 0 ? [e, e] : [e]));
    const reference = referencePipeline(config, all, baseTs + 3_000 * 1_000);
    const single = reference.entities.signal('campaign', 'camp-0', Math.floor(Date.now() / 60_000))!;
    const campaignCell = (snap: SnapshotFrame) => {
      const cell = snap.overload.find((c) => c.kind === 'campaign' && c.key === 'camp-0');
      return cell ? { customers: snap.stats.activeCustomers, touches: cell.touches24h, overloaded: cell.overloadedCustomers } : null;
    };
    await until(
      'both walls to show every customer and the whole campaign',
      () => Promise.all(children.filter((c) => c !== victim).map(async (c) => campaignCell(await wallSnapshot(c.port)))),
      (cells) => cells.every((c) => JSON.stringify(c) === JSON.stringify({ customers: CUSTOMERS, touches: single.touches24h, overloaded: single.overloadedCustomers })),
      30_000,
    );

    // The contact budget answers from any processor with the customer's own partition's state: the same per-channel
    // reasons from either wall, and the same as the single run's budget (quiet hours aside: they follow the clock).
    const survivors = children.filter((c) => c !== victim);
    const codes = (answer: { channels: Record<string, { codes: string[] }> }) =>
      Object.fromEntries(Object.entries(answer.channels).map(([ch, d]) => [ch, d.codes.filter((c) => c !== 'quiet_hours').sort()]));
    let withHistory = 0;
    for (let c = 0; c < CUSTOMERS; c++) {
      const id = customerIdOf(c);
      const [fromA, fromC] = await Promise.all(
        survivors.map(async (child) => {
          // As a sender would: a 503 (the customer's partition between two holders) is retried.
          const url = `http://127.0.0.1:${child.port}/api/v1/customers/${encodeURIComponent(id)}/pressure`;
          let res = await fetch(url);
          for (let tries = 0; res.status === 503 && tries < 20; tries++) {
            await new Promise((r) => setTimeout(r, 250));
            res = await fetch(url);
          }
          const body = (await res.json()) as { channels: Record<string, { codes: string[] }> };
          expect(res.status, JSON.stringify(body)).toBe(200);
          return codes(body);
        }),
      );
      const single = codes(customerPressure(reference.budget, id, (x) => x) as { channels: Record<string, { codes: string[] }> });
      expect({ id, fromA, fromC }).toEqual({ id, fromA: single, fromC: single });
      if (Object.values(single).some((list) => list.length > 0)) withHistory++;
    }
    // Most customers have touches or complaints behind their answer: a processor without their state would say none.
    expect(withHistory).toBeGreaterThan(CUSTOMERS / 5);
    // A campaign's batch on one wall is split by partition, asked of each holder and merged into one answer.
    const ids = Array.from({ length: CUSTOMERS }, (_, c) => customerIdOf(c));
    const batch = (await (await fetch(`http://127.0.0.1:${survivors[0].port}/api/v1/pressure/check`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ customerIds: ids, channel: 'email', campaignId: 'camp-9' }) })).json()) as {
      checked: number;
      allowed: string[];
      suppressed: { customerId: string; reasons: number[] }[];
      reasons: string[];
    };
    expect(batch.checked).toBe(CUSTOMERS);
    expect([...batch.allowed, ...batch.suppressed.map((x) => x.customerId)].sort()).toEqual([...ids].sort());
    for (const x of batch.suppressed) for (const r of x.reasons) expect(batch.reasons[r]).toBeTypeOf('string');

    // Clean stops checkpoint every partition; then the signals are compared with one pipeline's.
    await Promise.all(survivors.map((c) => c.kill('SIGTERM')));
    expect(await compareSignals(nc, config, reference, baseTs + 3_000 * 1_000)).toBe(CUSTOMERS);
  });

  it('goes through a rolling restart of every processor under load with the same result', async () => {
    const kv = await setUp();
    const truth = new Map<string, { n: number; revenue: number }>();
    const baseTs = Date.now() - 3 * 3_600_000;
    const events = makeEvents(0, 3_000, baseTs);
    let done = false;
    const publishing = (async () => {
      for (let at = 0; at < events.length; at += 250) await publish(nc, events.slice(at, at + 250), truth);
      done = true;
    })();
    const ids = ['a', 'b', 'c'];
    for (let i = 0; i < children.length; i++) {
      // SIGTERM hands the partitions over at once; the restarted processor gets its share back.
      await children[i].kill('SIGTERM');
      children[i] = await ProcessorChild.start(env(ids[i]));
      await until('the partitions to settle', () => owners(kv), (m) => m.size === PARTITIONS && Object.values(countBy(m)).every((n) => n === 2) && Object.keys(countBy(m)).length === 3);
    }
    await publishing;
    expect(done).toBe(true);
    await until('ClickHouse to hold exactly what was published', () => activityInClickHouse(config), (m) => sameActivity(m, truth));
    await Promise.all(children.map((c) => c.kill('SIGTERM')));
    const lastTs = baseTs + 3_000 * 1_000;
    const reference = referencePipeline(config, events.flatMap((e, i) => (i % 250 % 10 === 0 ? [e, e] : [e])), lastTs);
    expect(await compareSignals(nc, config, reference, lastTs)).toBe(CUSTOMERS);
  });

  it('sends one notification for a campaign\'s tired customers, whichever processors hold them', async () => {
    const delivered: AmWebhookBody[] = [];
    const firing = (d: AmWebhookBody) => d.alerts.filter((a) => a.status === 'firing').length;
    const hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        delivered.push(JSON.parse(body));
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    try {
      // Group wait as Alertmanager has it: the first message goes out with what is firing by then, and a processor that
      // fires a little later is carried by the update one group interval on, never by a message of its own.
      const kv = await setUp({
        VIGIL_ALERTS__WEBHOOK__URL: `http://127.0.0.1:${(hook.address() as { port: number }).port}/hook`,
        VIGIL_ALERTS__ROUTING__GROUP_WAIT_MS: '3000',
        VIGIL_ALERTS__ROUTING__GROUP_INTERVAL_MS: '2000',
      });
      const customers = Array.from({ length: 12 }, (_, i) => `tired-${i}`);
      const held = await owners(kv);
      // The twelve are spread over partitions of all three processors.
      expect(new Set(customers.map((c) => held.get(partitionOf(customerToken(c), PARTITIONS)))).size).toBe(3);
      const js = nc.jetstream();
      const now = Date.now();
      for (const c of customers) {
        for (let i = 0; i < 3; i++) {
          await js.publish(`events.email_sent.${customerToken(c)}`, enc.encode(JSON.stringify({ id: `spring-${c}-${i}`, customerId: c, type: 'email_sent', ts: now + i, campaignId: 'spring' })));
        }
      }
      // Deadlines, not waits: generous, since three processors on two loaded cores can take long to fire all twelve.
      await until('a notification with all twelve', async () => delivered.map(firing), (n) => n.includes(12), 90_000);
      // Nothing more once all twelve are in: a marker campaign fired now waits the same group wait, so a second sender
      // (a follower) or a repeat (one group interval on) of spring would show up before the marker's message.
      for (let i = 0; i < 3; i++) {
        await js.publish(`events.email_sent.${customerToken('marker')}`, enc.encode(JSON.stringify({ id: `autumn-marker-${i}`, customerId: 'marker', type: 'email_sent', ts: Date.now() + i, campaignId: 'autumn' })));
      }
      await until('the marker campaign\'s notification', async () => delivered.map((d) => d.groupLabels.campaign), (c) => c.includes('autumn'), 60_000);
      const marker = delivered.findIndex((d) => d.groupLabels.campaign === 'autumn');
      expect(delivered[marker].groupLabels).toEqual({ alertname: 'customer_contact_fatigue', campaign: 'autumn' });
      const spring = delivered.slice(0, marker);
      const group = { alertname: 'customer_contact_fatigue', campaign: 'spring' };
      for (const d of spring) expect(d.groupLabels).toEqual(group);
      const counts = spring.map(firing);
      // One message, or a first one and its update: each carries more than the one before, the last carries all.
      expect(counts.length, JSON.stringify(counts)).toBeLessThanOrEqual(2);
      expect(counts.at(-1)).toBe(12);
      expect([...counts].sort((a, b) => a - b)).toEqual(counts);
      expect(new Set(counts).size).toBe(counts.length);
      const last = spring.at(-1)!;
      expect(new Set(last.alerts.filter((a) => a.status === 'firing').map((a) => a.labels.subject_key)).size).toBe(12);
    } finally {
      hook.close();
    }
  }, 240_000);
});
