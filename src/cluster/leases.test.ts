// The lease loop on the manual clock over an in-memory lease bucket that expires keys as the server does (leaseMs
// after their last write) and refuses writes at a stale revision: claims, renewals, losing a lease, hand-overs of
// partitions and of the lead, stop. The bucket itself on a real NATS is tests/integration/cluster.leases.test.ts.
import type { NatsConnection } from 'nats';
import { describe, expect, it } from 'vitest';
import { settle } from '../../tests/helpers/wait.js';
import { ManualClock } from '../shared/clock.js';
import { JS_ERR } from '../shared/natsErrors.js';
import { silentLogger } from '../shared/logger.js';
import type { Lease, LeaseBucketOptions } from './leaseBucket.js';
import { PartitionLeases, type LeaseKeys } from './leases.js';

const LEASE_MS = 1_000;
const TICK_MS = LEASE_MS / 4;

/** What a refused expected-revision write carries: JetStream's wrong-last-sequence code. */
const wrongLastSequence = (seq: number) => Object.assign(new Error(`wrong last sequence: ${seq}`), { api_error: { code: 400, err_code: JS_ERR.streamWrongLastSequence, description: `wrong last sequence: ${seq}` } });

/** The KV bucket as the loop sees it: one revision counter, keys gone leaseMs after their last write. */
class FakeServer {
  readonly keys = new Map<string, { revision: number; owner: string; instance: string; writtenAt: number }>();
  private seq = 0;
  writes = 0;
  unreachable = false;

  constructor(readonly clock: ManualClock) {}

  live(key: string) {
    const e = this.keys.get(key);
    if (e && this.clock.now() - e.writtenAt >= LEASE_MS) this.keys.delete(key);
    return this.keys.get(key);
  }

  /** Another writer takes the key (as a successor's create after an expiry does). */
  overwrite(key: string, owner: string) {
    this.keys.set(key, { revision: ++this.seq, owner, instance: 'other', writtenAt: this.clock.now() });
  }

  bucket(o: LeaseBucketOptions): LeaseKeys {
    const reach = () => {
      if (this.unreachable) throw new Error('TIMEOUT');
    };
    const write = (key: string) => {
      this.writes++;
      const revision = ++this.seq;
      this.keys.set(key, { revision, owner: o.processorId, instance: o.instance, writtenAt: this.clock.now() });
      return revision;
    };
    return {
      claim: async (key) => {
        reach();
        if (this.live(key)) return null;
        return { key, revision: write(key), writtenAt: this.clock.now(), state: 'starting', started: false, revoked: false };
      },
      renew: async (lease: Lease) => {
        reach();
        const e = this.live(lease.key);
        if (!e || e.revision !== lease.revision) throw wrongLastSequence(e?.revision ?? 0);
        lease.revision = write(lease.key);
        lease.writtenAt = this.clock.now();
      },
      delete: async (lease: Lease) => {
        reach();
        const e = this.live(lease.key);
        if (!e || e.revision !== lease.revision) return false;
        this.keys.delete(lease.key);
        return true;
      },
      holds: async (lease: Lease) => {
        reach();
        const e = this.live(lease.key);
        return e !== undefined && e.owner === o.processorId && e.instance === o.instance && e.revision >= lease.revision;
      },
      liveKeys: async () => {
        reach();
        return new Set([...this.keys.keys()].filter((k) => this.live(k)));
      },
      readOwner: async (key) => {
        reach();
        return this.live(key)?.owner ?? null;
      },
    };
  }
}

/** Moves the clock on one renewal interval at a time, letting each tick's work finish. */
async function advance(clock: ManualClock, ms: number) {
  for (let t = 0; t < ms; t += TICK_MS) {
    clock.advance(Math.min(TICK_MS, ms - t));
    await settle(20);
  }
}

function processor(server: FakeServer, processorId: string, partitions = 4) {
  const events: string[] = [];
  const leases = new PartitionLeases({
    nc: {} as NatsConnection,
    bucket: 'vigil_cluster',
    processorId,
    partitions,
    leaseMs: LEASE_MS,
    log: silentLogger,
    clock: server.clock,
    openBucket: async (o) => server.bucket(o),
    onAssign: async (p) => void events.push(`assign ${p}`),
    onRevoke: async (p, graceful) => void events.push(`revoke ${p} ${graceful ? 'graceful' : 'lost'}`),
    onLeader: async (leader) => void events.push(leader ? 'lead' : 'unlead'),
  });
  return { leases, events };
}

/** Processor a starts alone (every partition and the lead), then b joins. */
async function aThenB() {
  const server = new FakeServer(new ManualClock(1_000_000));
  const a = processor(server, 'a');
  const b = processor(server, 'b');
  await a.leases.start();
  await b.leases.start();
  return { server, a, b };
}

describe('PartitionLeases on the manual clock', () => {
  it('claims every partition, the lead and its member key at start, and keeps them renewed past many leases', async () => {
    const server = new FakeServer(new ManualClock(1_000_000));
    const a = processor(server, 'a');
    await a.leases.start();
    expect(a.leases.owned()).toEqual([0, 1, 2, 3]);
    expect(a.leases.isLeader()).toBe(true);
    expect(a.events.sort()).toEqual(['assign 0', 'assign 1', 'assign 2', 'assign 3', 'lead']);
    expect([...server.keys.keys()].sort()).toEqual(['leader', 'member.a', 'partition.0', 'partition.1', 'partition.2', 'partition.3']);

    const writes = server.writes;
    await advance(server.clock, 10 * LEASE_MS);
    // Six keys renewed every quarter lease: none expired, nothing revoked.
    expect(server.writes - writes).toBe(6 * 40);
    expect(a.leases.owned()).toEqual([0, 1, 2, 3]);
    expect(a.events).toHaveLength(5);
    expect(a.leases.status()).toMatchObject({ member: true, leader: true, claims: 4, lost: 0, roundErrors: 0 });
    expect(await a.leases.stillOwns(2)).toBe(true);
    await a.leases.stop();
  });

  it('loses a partition whose key another processor wrote: stopped without a checkpoint, fenced at once', async () => {
    const server = new FakeServer(new ManualClock(1_000_000));
    const a = processor(server, 'a');
    await a.leases.start();
    server.overwrite('partition.1', 'b');
    expect(await a.leases.stillOwns(1)).toBe(false);
    await advance(server.clock, TICK_MS);
    expect(a.leases.owned()).toEqual([0, 2, 3]);
    expect(a.events).toContain('revoke 1 lost');
    expect(a.leases.status().lost).toBe(1);
    // Still assigned here, but held: not claimed again until the other's key expires (a lease after it wrote it).
    await advance(server.clock, LEASE_MS - 2 * TICK_MS);
    expect(a.leases.owned()).toEqual([0, 2, 3]);
    await advance(server.clock, TICK_MS);
    expect(a.leases.owned()).toEqual([0, 1, 2, 3]);
    expect(a.events.filter((e) => e === 'assign 1')).toHaveLength(2);
    await a.leases.stop();
  });

  it('keeps its leases through a NATS outage shorter than the lease, and loses them all once it lasts the lease', async () => {
    const server = new FakeServer(new ManualClock(1_000_000));
    const a = processor(server, 'a');
    await a.leases.start();
    server.unreachable = true;
    await advance(server.clock, LEASE_MS - TICK_MS);
    expect(a.leases.owned()).toEqual([0, 1, 2, 3]);
    expect(a.leases.status().lastError?.message).toMatch(/TIMEOUT/);
    await advance(server.clock, TICK_MS);
    // Not renewed for the lease: stopped before the keys can have expired on the server.
    expect(a.leases.owned()).toEqual([]);
    expect(a.leases.isLeader()).toBe(false);
    expect(a.events.slice(5).sort()).toEqual(['revoke 0 lost', 'revoke 1 lost', 'revoke 2 lost', 'revoke 3 lost', 'unlead']);
    expect(a.leases.status()).toMatchObject({ member: false, lost: 4 });

    // Back: it joins again and, once its old keys have expired, claims everything anew.
    server.unreachable = false;
    await advance(server.clock, 2 * LEASE_MS);
    expect(a.leases.owned()).toEqual([0, 1, 2, 3]);
    expect(a.leases.isLeader()).toBe(true);
    expect(a.leases.status().member).toBe(true);
    await a.leases.stop();
  });

  it('hands partitions over to a processor that joins, checkpointing first, and the lead to it when the leader stops', async () => {
    const { server, a, b } = await aThenB();
    // b is a member, but every partition is a's until a hands over those assigned to b.
    expect(b.leases.owned()).toEqual([]);
    expect(b.leases.members()).toEqual(['a', 'b']);
    await advance(server.clock, 2 * TICK_MS);
    const aOwns = a.leases.owned();
    const bOwns = b.leases.owned();
    expect(aOwns).toHaveLength(2);
    expect([...aOwns, ...bOwns].sort()).toEqual([0, 1, 2, 3]);
    for (const p of bOwns) expect(a.events).toContain(`revoke ${p} graceful`);
    expect(a.events.some((e) => e.endsWith(' lost'))).toBe(false);
    expect(a.leases.status().handovers).toBe(2);
    expect(a.leases.isLeader()).toBe(true);
    expect(b.leases.status().leaderId).toBe('a');

    // a stops: its partitions are handed over and its lead resigned; b's next round takes them all and the lead.
    await a.leases.stop();
    expect(a.events.slice(-3)).toEqual([...aOwns.map((p) => `revoke ${p} graceful`), 'unlead']);
    expect([...server.keys.keys()].filter((k) => server.keys.get(k)!.owner === 'a')).toEqual([]);
    await advance(server.clock, TICK_MS);
    expect(b.leases.owned()).toEqual([0, 1, 2, 3]);
    expect(b.leases.isLeader()).toBe(true);
    expect(b.events).toContain('lead');
    expect(b.leases.members()).toEqual(['b']);
    await b.leases.stop();
  });

  it('gives a paused leader\'s partitions and lead to the other once its keys expire; the late renewals are refused', async () => {
    const { server, a, b } = await aThenB();
    await advance(server.clock, 2 * TICK_MS);
    a.leases.abandon();
    await advance(server.clock, LEASE_MS + TICK_MS);
    expect(b.leases.owned()).toEqual([0, 1, 2, 3]);
    expect(b.leases.isLeader()).toBe(true);
    expect(b.events).toContain('lead');

    // a wakes: every renewal is refused (the keys are b's now), and it stops what it ran, without a checkpoint.
    const aOwned = a.leases.owned();
    a.leases.resume();
    await settle(20);
    expect(a.leases.owned()).toEqual([]);
    expect(a.leases.isLeader()).toBe(false);
    expect(a.events.slice(-3).sort()).toEqual([...aOwned.map((p) => `revoke ${p} lost`), 'unlead'].sort());
    expect(b.leases.owned()).toEqual([0, 1, 2, 3]);
    await a.leases.stop();
    await b.leases.stop();
  });

  it('after stop writes nothing more and leaves no timer behind', async () => {
    const server = new FakeServer(new ManualClock(1_000_000));
    const a = processor(server, 'a');
    await a.leases.start();
    await a.leases.stop();
    expect(a.leases.owned()).toEqual([]);
    expect(a.leases.isLeader()).toBe(false);
    expect(server.keys.size).toBe(0);
    expect(server.clock.pending()).toBe(0);
    const writes = server.writes;
    await advance(server.clock, 5 * LEASE_MS);
    expect(server.writes).toBe(writes);
    expect(a.events.filter((e) => e.startsWith('assign')).length).toBe(4);
  });
});
