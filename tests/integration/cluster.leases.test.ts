// Partition ownership by leases in a real NATS KV bucket: several PartitionLeases in this process, each on its own
// connection as separate processors would be, share 12 partitions. Every start and stop of a partition is recorded in
// one sequence, and a partition is never held by two processors at once, except by a dead one that comes back and is
// told it lost.
import { StorageType, connect, nanos, type KV, type NatsConnection } from 'nats';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { PartitionLeases } from '../../src/cluster/leases.js';
import { silentLogger } from '../../src/shared/logger.js';
import { NATS_URL } from '../helpers/processor.js';
import { eventually } from '../helpers/wait.js';

const PARTITIONS = 12;
const LEASE_MS = 2_000;

const admin = await connect({ servers: NATS_URL, name: 'vigil-leases-test' });
let bucketCount = 0;
const buckets: string[] = [];
const nextBucket = () => {
  const b = `vigil_leases_test_${process.pid}_${bucketCount++}`;
  buckets.push(b);
  return b;
};

afterAll(async () => {
  const jsm = await admin.jetstreamManager();
  for (const b of buckets) await jsm.streams.delete(`KV_${b}`).catch(() => undefined);
  await admin.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `cond` holds; fails with `what` after a generous deadline. Never a timing assertion. */
const until = (what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> => eventually(what, cond, timeoutMs);

/** One holding of a partition (or of the lead) by a processor: from onAssign called to onRevoke settled. */
interface Holding {
  who: string;
  slot: string;
  start: number;
  end: number | null;
  graceful: boolean | null;
}

/** The test's single order of events: everything runs on this thread, so a counter orders them exactly. */
class Journal {
  private seq = 0;
  readonly holdings: Holding[] = [];
  readonly problems: string[] = [];

  open(who: string, slot: string): void {
    if (this.holdings.some((h) => h.who === who && h.slot === slot && h.end === null)) this.problems.push(`${who} given ${slot} twice`);
    this.holdings.push({ who, slot, start: ++this.seq, end: null, graceful: null });
  }

  close(who: string, slot: string, graceful: boolean): void {
    const h = this.holdings.find((x) => x.who === who && x.slot === slot && x.end === null);
    if (!h) {
      this.problems.push(`${who} told to stop ${slot}, which it was not running`);
      return;
    }
    h.end = ++this.seq;
    h.graceful = graceful;
  }

  /** Overlapping holdings of one slot; allowed only when one of the two was told it lost (graceful false). */
  overlaps(): string[] {
    const out: string[] = [];
    const bySlot = new Map<string, Holding[]>();
    for (const h of this.holdings) bySlot.set(h.slot, [...(bySlot.get(h.slot) ?? []), h]);
    for (const [slot, hs] of bySlot) {
      for (let i = 0; i < hs.length; i++) {
        for (let j = i + 1; j < hs.length; j++) {
          const [a, b] = [hs[i], hs[j]];
          const overlap = (a.end === null || a.end > b.start) && (b.end === null || b.end > a.start);
          if (overlap && a.graceful !== false && b.graceful !== false) out.push(`${slot}: ${a.who} [${a.start}, ${a.end}] and ${b.who} [${b.start}, ${b.end}]`);
        }
      }
    }
    return out;
  }

  running(who: string, slot: string): boolean {
    return this.holdings.some((h) => h.who === who && h.slot === slot && h.end === null);
  }
}

interface Member {
  id: string;
  leases: PartitionLeases;
  nc: NatsConnection;
  /** Abandoned (dead or paused): it may still believe it owns what it owned. */
  zombie: boolean;
  /** Graceful revokes, and whether the lease key was still this processor's when each began. */
  gracefulRevokes: { p: number; keyHeld: boolean }[];
  ungracefulRevokes: number[];
  leaderChanges: boolean[];
}

interface Cluster {
  bucket: string;
  kv: KV;
  journal: Journal;
  members: Member[];
  add(id: string, opts?: { callbackMs?: number }): Promise<Member>;
  live(): Member[];
}

let running: Cluster[] = [];
afterEach(async () => {
  for (const c of running) {
    for (const m of c.members) {
      await m.leases.stop().catch(() => undefined);
      await m.nc.close().catch(() => undefined);
    }
  }
  running = [];
});

async function cluster(): Promise<Cluster> {
  const bucket = nextBucket();
  const journal = new Journal();
  const kv = await admin.jetstream().views.kv(bucket, { history: 1, ttl: LEASE_MS, storage: StorageType.File });
  const ownerOf = async (key: string): Promise<string | null> => {
    const e = await kv.get(key);
    return e && e.operation === 'PUT' ? (JSON.parse(e.string()) as { owner: string }).owner : null;
  };
  const c: Cluster = {
    bucket,
    kv,
    journal,
    members: [],
    live: () => c.members.filter((m) => !m.zombie),
    add: async (id, opts = {}) => {
      const nc = await connect({ servers: NATS_URL, name: `vigil-leases-${id}` });
      // Like the processor: one start or stop at a time, each taking a while.
      let serial: Promise<unknown> = Promise.resolve();
      const one = <T>(fn: () => Promise<T>): Promise<T> => {
        const next = serial.then(fn);
        serial = next.catch(() => undefined);
        return next;
      };
      const pause = () => sleep(opts.callbackMs ?? 20);
      const m: Member = {
        id,
        nc,
        zombie: false,
        gracefulRevokes: [],
        ungracefulRevokes: [],
        leaderChanges: [],
        leases: new PartitionLeases({
          nc,
          bucket,
          processorId: id,
          partitions: PARTITIONS,
          leaseMs: LEASE_MS,
          log: silentLogger,
          onAssign: (p) =>
            one(async () => {
              journal.open(id, `p${p}`);
              await pause();
            }),
          onRevoke: (p, graceful) =>
            one(async () => {
              if (graceful) m.gracefulRevokes.push({ p, keyHeld: (await ownerOf(`partition.${p}`)) === id && (await m.leases.stillOwns(p)) });
              else m.ungracefulRevokes.push(p);
              await pause();
              journal.close(id, `p${p}`, graceful);
            }),
          onLeader: (leader) =>
            one(async () => {
              m.leaderChanges.push(leader);
              if (leader) journal.open(id, 'leader');
              await pause();
              // A leader that lost its lease is told so at its next renewal; one resigning is told before it releases.
              if (!leader) journal.close(id, 'leader', m.leases.isLeader());
            }),
        }),
      };
      c.members.push(m);
      await m.leases.start();
      return m;
    },
  };
  running.push(c);
  return c;
}

/** Every partition held by exactly one live processor, and the counts per processor are as given. */
function balanced(c: Cluster, counts: number[]): boolean {
  const live = c.live();
  const owned = live.map((m) => m.leases.owned());
  const all = owned.flat().sort((a, b) => a - b);
  const ready = live.every((m) => m.leases.owned().every((p) => c.journal.running(m.id, `p${p}`)));
  return ready && JSON.stringify(all) === JSON.stringify([...Array(PARTITIONS).keys()]) && JSON.stringify(owned.map((o) => o.length).sort()) === JSON.stringify([...counts].sort());
}

/** Samples every processor's view while a test runs: never two live holders of a partition, never two live leaders. */
function watchOwnership(c: Cluster): { stop(): string[] } {
  const problems: string[] = [];
  const timer = setInterval(() => {
    const live = c.live();
    const holders = new Map<number, string[]>();
    for (const m of live) for (const p of m.leases.owned()) holders.set(p, [...(holders.get(p) ?? []), m.id]);
    for (const [p, ids] of holders) if (ids.length > 1) problems.push(`partition ${p} held by ${ids.join(', ')}`);
    const leaders = live.filter((m) => m.leases.isLeader()).map((m) => m.id);
    if (leaders.length > 1) problems.push(`leaders ${leaders.join(', ')}`);
  }, 10);
  return {
    stop: () => {
      clearInterval(timer);
      return [...new Set(problems)];
    },
  };
}

const leaders = (c: Cluster) => c.live().filter((m) => m.leases.isLeader());

describe('partition leases in a NATS KV bucket', () => {
  it('creates the bucket as designed: history 1, max_age the lease, file storage', async () => {
    const bucket = nextBucket();
    const nc = await connect({ servers: NATS_URL });
    const leases = new PartitionLeases({ nc, bucket, processorId: 'solo', partitions: 3, leaseMs: LEASE_MS, log: silentLogger, onAssign: async () => {}, onRevoke: async () => {} });
    await leases.start();
    const info = await (await admin.jetstreamManager()).streams.info(`KV_${bucket}`);
    expect(info.config.max_msgs_per_subject).toBe(1);
    expect(info.config.max_age).toBe(nanos(LEASE_MS));
    expect(info.config.storage).toBe(StorageType.File);
    // Alone, it holds everything once start() resolves, and leads.
    expect(leases.owned()).toEqual([0, 1, 2]);
    expect(leases.isLeader()).toBe(true);
    expect(leases.members()).toEqual(['solo']);
    await leases.stop();
    const kv = await admin.jetstream().views.kv(bucket);
    const left: string[] = [];
    for await (const k of await kv.keys()) left.push(k);
    expect(left).toEqual([]);
    await nc.close();
  });

  it('brings a bucket made with another lease to this one', async () => {
    const bucket = nextBucket();
    await admin.jetstream().views.kv(bucket, { history: 5, ttl: 60_000 });
    const nc = await connect({ servers: NATS_URL });
    const leases = new PartitionLeases({ nc, bucket, processorId: 'solo', partitions: 1, leaseMs: LEASE_MS, log: silentLogger, onAssign: async () => {}, onRevoke: async () => {} });
    await leases.start();
    const info = await (await admin.jetstreamManager()).streams.info(`KV_${bucket}`);
    expect(info.config.max_age).toBe(nanos(LEASE_MS));
    expect(info.config.max_msgs_per_subject).toBe(1);
    await leases.stop();
    await nc.close();
  });

  it('shares 12 partitions 4/4/4 among three processors, and a clean stop hands its 4 over to the other two', async () => {
    const c = await cluster();
    const watch = watchOwnership(c);
    const [a, b, cc] = [await c.add('proc-a'), await c.add('proc-b'), await c.add('proc-c')];
    await until('4/4/4', () => balanced(c, [4, 4, 4]));
    await until('one leader', () => leaders(c).length === 1);
    expect(a.leases.members()).toEqual(['proc-a', 'proc-b', 'proc-c']);
    for (const m of [a, b, cc]) expect(m.leases.status()).toMatchObject({ member: true, lost: 0, members: ['proc-a', 'proc-b', 'proc-c'] });

    const leaving = leaders(c)[0];
    const itsPartitions = leaving.leases.owned();
    const handedBefore = leaving.gracefulRevokes.length;
    await leaving.leases.stop();
    c.members.splice(c.members.indexOf(leaving), 1);
    await leaving.nc.close();

    // Told to hand over each of its partitions, while its lease key was still its own.
    const revoked = leaving.gracefulRevokes.slice(handedBefore);
    expect(revoked.map((r) => r.p).sort((x, y) => x - y)).toEqual(itsPartitions);
    expect(revoked.every((r) => r.keyHeld)).toBe(true);
    expect(leaving.ungracefulRevokes).toEqual([]);
    expect(leaving.leaderChanges.at(-1)).toBe(false);
    // Its keys are gone at once, not left to expire.
    for (const p of itsPartitions) expect((await c.kv.get(`partition.${p}`))?.operation).not.toBe('PUT');
    expect((await c.kv.get(`member.${leaving.id}`))?.operation).not.toBe('PUT');

    await until('6/6', () => balanced(c, [6, 6]));
    await until('a new leader', () => leaders(c).length === 1);
    for (const m of c.live()) expect(m.leases.status().lost).toBe(0);
    expect(watch.stop()).toEqual([]);
    expect(c.journal.overlaps()).toEqual([]);
    expect(c.journal.problems).toEqual([]);
  });

  it('gives a dead processor’s partitions and lead to the survivors once its leases expire, and refuses its late renewals', async () => {
    const c = await cluster();
    const watch = watchOwnership(c);
    await c.add('proc-a');
    await c.add('proc-b');
    await c.add('proc-c');
    await until('4/4/4', () => balanced(c, [4, 4, 4]));
    await until('one leader', () => leaders(c).length === 1);

    // The leader dies: no renewal, no release.
    const dead = leaders(c)[0];
    const itsPartitions = dead.leases.owned();
    dead.zombie = true;
    dead.leases.abandon();

    await until('6/6 among the survivors', () => balanced(c, [6, 6]));
    await until('a surviving leader', () => leaders(c).length === 1);
    const survivors = c.live();
    for (const p of itsPartitions) expect(survivors.some((m) => m.leases.owned().includes(p))).toBe(true);

    // The dead one still believes it owns them; the fence says otherwise.
    expect(dead.leases.owned()).toEqual(itsPartitions);
    for (const p of itsPartitions) expect(await dead.leases.stillOwns(p)).toBe(false);
    expect(dead.ungracefulRevokes).toEqual([]);

    // It wakes (a process paused past its lease): its renewals are refused and it stops each partition, unsaved.
    dead.leases.resume();
    await until('the zombie told it lost every partition', () => dead.ungracefulRevokes.length === itsPartitions.length);
    expect([...dead.ungracefulRevokes].sort((x, y) => x - y)).toEqual(itsPartitions);
    await until('the zombie told it lost the lead', () => dead.leaderChanges.at(-1) === false);
    expect(dead.gracefulRevokes.filter((r) => itsPartitions.includes(r.p))).toEqual([]);
    expect(dead.leases.status().lost).toBe(itsPartitions.length);
    for (const p of itsPartitions) expect(c.journal.holdings.find((h) => h.who === dead.id && h.slot === `p${p}`)?.graceful).toBe(false);

    // Back as a live member, it rejoins and gets its share again, by hand-over this time.
    dead.zombie = false;
    await until('4/4/4 again', () => balanced(c, [4, 4, 4]));
    expect(leaders(c)).toHaveLength(1);
    expect(watch.stop()).toEqual([]);
    expect(c.journal.overlaps()).toEqual([]);
    expect(c.journal.problems).toEqual([]);
  });

  it('keeps its leases while starts and stops take longer than the lease', async () => {
    const c = await cluster();
    const watch = watchOwnership(c);
    // 12 starts of 600 ms one at a time: 7 s of callbacks against a 2 s lease renewed every 500 ms.
    const slow = await c.add('proc-slow', { callbackMs: 600 });
    expect(slow.leases.owned()).toHaveLength(PARTITIONS);
    await c.add('proc-fast');
    await until('6/6', () => balanced(c, [6, 6]));
    const third = await c.add('proc-third', { callbackMs: 600 });
    await until('4/4/4', () => balanced(c, [4, 4, 4]));
    for (const m of c.members) expect(m.leases.status().lost, m.id).toBe(0);
    expect(slow.ungracefulRevokes).toEqual([]);
    await third.leases.stop();
    expect(third.gracefulRevokes.every((r) => r.keyHeld)).toBe(true);
    expect(watch.stop()).toEqual([]);
    expect(c.journal.overlaps()).toEqual([]);
    expect(c.journal.problems).toEqual([]);
  });

  it('records a NATS failure in its status and carries on', async () => {
    const bucket = nextBucket();
    const nc = await connect({ servers: NATS_URL });
    const assigned: number[] = [];
    const leases = new PartitionLeases({ nc, bucket, processorId: 'solo', partitions: 2, leaseMs: 1_000, log: silentLogger, onAssign: async (p) => void assigned.push(p), onRevoke: async () => {} });
    await leases.start();
    expect(assigned.sort()).toEqual([0, 1]);
    // The bucket vanishes under it: rounds fail, are recorded, and the loop goes on.
    await (await admin.jetstreamManager()).streams.delete(`KV_${bucket}`);
    await until('an error in the status', () => leases.status().lastError !== null);
    // Leases it cannot renew for a whole lease are given up, since the server may have let them go.
    await until('its leases given up', () => leases.owned().length === 0 && !leases.isLeader());
    const failed = leases.status().roundErrors;
    await until('rounds still running', () => leases.status().roundErrors >= failed + 2);
    await leases.stop();
    await nc.close();
  });
});
