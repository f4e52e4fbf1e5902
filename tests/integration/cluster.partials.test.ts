// The cluster's channel, segment and campaign counts on a real JetStream: two partitions publish their minute buckets
// (some republished with a higher count, some republished as they were, one an older version after a newer one),
// and a combiner, started before or after, reads exactly what one processor seeing every event would have counted.
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { categoryOf, touchChannel } from '../../src/contract/event.js';
import type { EntityActivityRecord } from '../../src/contract/outputs.js';
import { EntityCombiner } from '../../src/cluster/entityCombiner.js';
import { PartialsPublisher, ensurePartialsStream } from '../../src/cluster/entityPartials.js';
import { silentLogger } from '../../src/shared/logger.js';
import { eventually } from '../helpers/wait.js';
import { EntityStats, type EntityKind, type EntitySignal } from '../../src/signals/entityStats.js';
import { MinuteActivity } from '../../src/windows/minuteActivity.js';
import { MINUTE_MS as MIN } from '../../src/shared/clock.js';

const NATS_URL = process.env.VIGIL_NATS__SERVERS ?? 'nats://127.0.0.1:4222';
const surge = { minVolume: 5, baselineHalfLifeMs: 30 * MIN, bucketMs: MIN };
const T0 = Date.UTC(2024, 2, 1, 9, 0);
const MINUTES = 40;

interface TestEvent {
  type: string;
  ts: number;
  channel: string | null;
  segment: string | null;
  overloaded: boolean;
}

/** A deterministic day's slice for one partition: touches, clicks, complaints, and a burst of complaints at the end. */
function eventsOf(partition: number, minute: number): TestEvent[] {
  let seed = 1 + partition * 7919 + minute * 104_729;
  const rand = (n: number) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const out: TestEvent[] = [];
  const n = 4 + rand(6);
  for (let i = 0; i < n; i++) {
    const type = ['email_sent', 'email_sent', 'push_sent', 'click', 'complaint', 'unsubscribe'][rand(6)];
    const touch = categoryOf(type) === 'touch';
    out.push({ type, ts: T0 + minute * MIN + i * 1000, channel: touch ? null : 'email', segment: rand(3) === 0 ? 'vip' : null, overloaded: touch && rand(4) === 0 });
  }
  if (minute >= MINUTES - 3) for (let i = 0; i < 8; i++) out.push({ type: 'complaint', ts: T0 + minute * MIN + 30_000 + i, channel: 'email', segment: null, overloaded: false });
  return out;
}

/** The entities an event counts toward, as the pipeline's recordEntities picks them. */
function entitiesOf(e: TestEvent): [EntityKind, string][] {
  const channel = categoryOf(e.type) === 'touch' ? touchChannel(e.type, e.channel) : e.channel;
  const out: [EntityKind, string][] = [['campaign', 'spring']];
  if (channel) out.push(['channel', channel]);
  if (e.segment) out.push(['segment', e.segment]);
  return out;
}

const KINDS: EntityKind[] = ['channel', 'segment', 'campaign'];

/** One partition as the pipeline runs it: minute buckets drained at each commit, handed to the publisher. */
class FakePartition {
  private readonly activity = new MinuteActivity(KINDS);
  readonly drained: EntityActivityRecord[] = [];

  constructor(
    readonly publisher: PartialsPublisher,
    private readonly nextSeq: () => number,
  ) {}

  handle(e: TestEvent, reference: EntityStats): void {
    const seq = this.nextSeq();
    const category = categoryOf(e.type);
    for (const [kind, key] of entitiesOf(e)) {
      reference.record(kind, key, Math.floor(e.ts / MIN), { touch: category === 'touch', negative: category === 'negative', overloaded: e.overloaded });
      this.activity.add(key, e.type, e.ts, 0, seq, e.overloaded, KINDS.indexOf(kind));
    }
  }

  async commit(watermark: number): Promise<void> {
    for (const b of this.activity.drain(watermark - 2 * MIN)) {
      const [kind, key, eventType] = b.key.split('\u0000');
      const r: EntityActivityRecord = { kind: kind as EntityKind, key, eventType, minuteMs: b.minuteMs, events: b.events, revenue: b.revenue, overloaded: b.overloaded, writer: b.writer, version: b.version };
      this.drained.push(r);
      this.publisher.collect(r);
    }
    await this.publisher.flush();
  }
}

const byEntity = (list: EntitySignal[]) => [...list].sort((a, b) => `${a.kind}:${a.key}`.localeCompare(`${b.kind}:${b.key}`));

describe('entity partials across partitions', () => {
  const tag = randomBytes(4).toString('hex');
  const stream = `VIGIL_PARTIALS_T${tag}`;
  const subjectPrefix = `t${tag}.partials`;
  let nc: NatsConnection;
  const combiners: EntityCombiner[] = [];

  beforeAll(async () => {
    nc = await connect({ servers: NATS_URL, name: 'vigil-test-partials' });
    await ensurePartialsStream(await nc.jetstreamManager(), { stream, subjectPrefix, maxAgeMs: 25 * 3_600_000 });
  });
  afterAll(async () => {
    for (const c of combiners) await c.stop();
    await (await nc.jetstreamManager()).streams.delete(stream).catch(() => undefined);
    await nc.close();
  });

  it('creates the stream once and leaves it as configured when asked again', async () => {
    const jsm = await nc.jetstreamManager();
    await ensurePartialsStream(jsm, { stream, subjectPrefix, maxAgeMs: 25 * 3_600_000 });
    const info = await jsm.streams.info(stream);
    expect(info.config.subjects).toEqual([`${subjectPrefix}.>`]);
    expect(info.config.max_age).toBe(25 * 3_600_000 * 1_000_000);
  });

  it('folds both partitions into the counts one processor would have, each bucket once, for a combiner started before and one started after', async () => {
    const newCombiner = () => {
      const c = new EntityCombiner({ nc, stream, subjectPrefix, surge, maxEntities: 1000, log: silentLogger });
      combiners.push(c);
      return c;
    };
    const early = newCombiner();
    const changed = new Set<string>();
    early.onChange((list) => list.forEach((e) => changed.add(`${e.kind}:${e.key}`)));
    await early.start();
    expect(early.caughtUp).toBe(true);

    const reference = new EntityStats(surge, 1000);
    let seq = 0;
    // Partition 1's messages are cut small: its buckets travel in several messages per commit.
    const partitions = [
      new FakePartition(new PartialsPublisher({ nc, subject: `${subjectPrefix}.entities.0`, log: silentLogger }), () => ++seq),
      new FakePartition(new PartialsPublisher({ nc, subject: `${subjectPrefix}.entities.1`, log: silentLogger, maxMessageBytes: 400 }), () => ++seq),
    ];
    for (let m = 0; m < MINUTES; m++) {
      const events = partitions.map((_, k) => eventsOf(k, m));
      // Two commits within the minute: buckets of the first half are republished with a higher count at the second.
      for (const half of [0, 1]) {
        for (const [k, p] of partitions.entries()) {
          const list = events[k];
          const part = half === 0 ? list.slice(0, list.length >> 1) : list.slice(list.length >> 1);
          for (const e of part) p.handle(e, reference);
          await p.commit(T0 + m * MIN + (half + 1) * 29_000);
        }
      }
    }
    // Republished as it was (an acknowledgement lost, a retry), and an older version of a bucket after a newer one
    // (a successor replaying the partition from an earlier checkpoint).
    const [p0, p1] = partitions;
    p0.publisher.collect({ ...p0.drained[p0.drained.length - 1] });
    const same = (a: EntityActivityRecord, b: EntityActivityRecord) => a.kind === b.kind && a.key === b.key && a.eventType === b.eventType && a.minuteMs === b.minuteMs && a.writer === b.writer;
    const older = p1.drained.find((r, i) => p1.drained.slice(i + 1).some((later) => same(r, later) && later.events > r.events));
    expect(older).toBeDefined();
    p1.publisher.collect({ ...older! });
    await p0.publisher.flush();
    await p1.publisher.flush();
    expect(p1.publisher.messages).toBeGreaterThan(2 * MINUTES + 1); // more messages than flushes: chunked

    const published = p0.publisher.messages + p1.publisher.messages;
    await eventually('the early combiner reads every message', () => early.counters.messages === published, 20_000);
    const nows = [Math.floor(T0 / MIN) + MINUTES - 1, Math.floor(T0 / MIN) + MINUTES + 10, Math.floor(T0 / MIN) + 23 * 60];
    for (const now of nows) expect(byEntity(early.all(now))).toEqual(byEntity(reference.all(now)));
    // The end's burst of complaints is a surge on the combined counts too: the baseline matched, not just the sums.
    const last = Math.floor(T0 / MIN) + MINUTES - 1;
    expect(early.signal('campaign', 'spring', last)!.surgeZ).toBeGreaterThan(2);
    expect(early.signal('campaign', 'spring', last)!.surgeZ).toBe(reference.signal('campaign', 'spring', last)!.surgeZ);
    expect(early.overloadCells(last)).toEqual(expect.arrayContaining(reference.overloadCells(last)));
    expect(early.counters.duplicatesIgnored).toBeGreaterThanOrEqual(2);
    expect(early.counters.bucketsFolded).toBeGreaterThan(0);
    expect(changed).toEqual(new Set(['campaign:spring', 'channel:email', 'channel:push', 'segment:vip']));

    // A processor that joins now, or a new leader: caught up from the stream alone once start() resolves.
    const late = newCombiner();
    await late.start();
    expect(late.caughtUp).toBe(true);
    expect(late.counters.messages).toBe(published);
    for (const now of nows) expect(byEntity(late.all(now))).toEqual(byEntity(reference.all(now)));
    expect(late.counters).toEqual(early.counters);
  });
});
