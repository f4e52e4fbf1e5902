// One lease key's life in the JetStream KV bucket: created when free, rewritten at its revision to renew it, deleted
// at its revision to release it, so that no write can touch a successor's lease. What leases.ts decides, this does.
//
// Measured on NATS 2.9.10 (file storage, history 1): a value not rewritten for max_age is gone from kv.get() and
// kv.keys() 1-15 ms after max_age (ttl 1 s, 2 s, 5 s and 10 s; keys written alone, staggered, or renewed every
// max_age/4 and then left); create() succeeds on the expired key, and an update() at the old revision is refused
// ("wrong last sequence: 0"), as it is after a successor's create. create() also succeeds over a delete or purge
// marker (nats.js 2.29 reads the marker and updates at its revision, so two creators cannot both win).
import { StorageType, nanos, type KV, type NatsConnection } from 'nats';
import type { Cancel, SchedulingClock } from '../shared/clock.js';
import type { Logger } from '../shared/logger.js';
import { isNoMessageFound, isWrongLastSequence } from '../shared/natsErrors.js';
import { utf8 } from '../shared/wtf8.js';

/**
 * starting: claimed, onAssign running · owned: running · releasing: graceful revoke running, still renewed ·
 * deleting: being deleted, not renewed · lost: renewal refused or overdue.
 */
export type LeaseState = 'starting' | 'owned' | 'releasing' | 'deleting' | 'lost';

export interface Lease {
  readonly key: string;
  revision: number;
  /** When the last accepted write was sent: the server expires the key no sooner than leaseMs after this. */
  writtenAt: number;
  state: LeaseState;
  /** onAssign / onLeader(true) resolved. */
  started: boolean;
  /** onRevoke / onLeader(false) has been called. */
  revoked: boolean;
}

/** What a lease key holds: who wrote it, which run of that processor, and when. */
interface LeaseValue {
  owner: string;
  /** Distinguishes two runs with the same processor id (a restarted container keeps its host name and pid 1). */
  instance: string;
  at: string;
}

export interface LeaseBucketOptions {
  nc: NatsConnection;
  bucket: string;
  processorId: string;
  /** Distinguishes two runs with the same processor id (a restarted container keeps its host name and pid 1). */
  instance: string;
  leaseMs: number;
  replicas: number;
  clock: SchedulingClock;
  log: Logger;
}

const decoder = new TextDecoder();

function parseValue(data: Uint8Array): LeaseValue | null {
  try {
    const v = JSON.parse(decoder.decode(data)) as Partial<LeaseValue>;
    return typeof v.owner === 'string' && typeof v.instance === 'string' ? (v as LeaseValue) : null;
  } catch {
    return null;
  }
}

export class LeaseBucket {
  private constructor(
    private readonly o: LeaseBucketOptions,
    private readonly kv: KV,
    /** Reads from the stream leader (no direct get): the fencing check must not see a stale replica. */
    private readonly kvLeaderRead: KV,
  ) {}

  /** Opens (or creates) the bucket; one made with another lease is reconfigured to this one. */
  static async open(o: LeaseBucketOptions): Promise<LeaseBucket> {
    const { nc, bucket, leaseMs } = o;
    const js = nc.jetstream();
    const kv = await js.views.kv(bucket, { history: 1, ttl: leaseMs, storage: StorageType.File, replicas: o.replicas });
    const status = await kv.status();
    if (status.ttl !== leaseMs || status.history !== 1) {
      // A bucket made with another lease (the config changed): this processor's lease wins, or its keys would
      // outlive or undercut the renewals.
      const jsm = await nc.jetstreamManager();
      const info = await jsm.streams.info(`KV_${bucket}`);
      // The server refuses a duplicate window longer than max_age; it defaults to min(2 min, max_age) on creation.
      const duplicateWindow = nanos(Math.min(leaseMs, 120_000));
      await jsm.streams.update(info.config.name, { ...info.config, max_age: nanos(leaseMs), max_msgs_per_subject: 1, duplicate_window: duplicateWindow });
      o.log.warn({ bucket, was: { maxAgeMs: status.ttl, history: status.history }, leaseMs }, 'lease bucket reconfigured to this lease');
    }
    return new LeaseBucket(o, kv, await js.views.kv(bucket, { allow_direct: false, bindOnly: true }));
  }

  /** Creates the key; null when another holds it (create() refused). */
  async claim(key: string): Promise<Lease | null> {
    const sentAt = this.o.clock.now();
    try {
      const revision = await this.kv.create(key, this.value());
      return { key, revision, writtenAt: sentAt, state: 'starting', started: false, revoked: false };
    } catch (err) {
      if (isWrongLastSequence(err)) return null;
      throw err;
    }
  }

  /** Rewrites the key at the revision last written; throws when refused (see isWrongLastSequence) or unreachable. */
  async renew(lease: Lease): Promise<void> {
    const sentAt = this.o.clock.now();
    lease.revision = await this.kv.update(lease.key, this.value(), lease.revision);
    lease.writtenAt = sentAt;
  }

  /** Deletes the key at the revision last written; false when it expired or moved already. */
  async delete(lease: Lease): Promise<boolean> {
    try {
      await this.kv.delete(lease.key, { previousSeq: lease.revision });
      return true;
    } catch (err) {
      if (isWrongLastSequence(err)) return false;
      throw err;
    }
  }

  /** True while the key holds what this run last wrote, read from the stream leader now; throws when the read fails. */
  async holds(lease: Lease): Promise<boolean> {
    try {
      const entry = await this.kvLeaderRead.get(lease.key);
      if (!entry || entry.operation !== 'PUT') return false;
      const v = parseValue(entry.value);
      // A renewal in flight may already have moved the revision on: ours as long as this run wrote it.
      return v !== null && v.owner === this.o.processorId && v.instance === this.o.instance && entry.revision >= lease.revision;
    } catch (err) {
      if (isNoMessageFound(err)) return false;
      throw err;
    }
  }

  /** The keys holding a value now (expired ones and delete markers excluded); rejects after leaseMs. */
  async liveKeys(): Promise<Set<string>> {
    const iter = await this.kv.keys();
    const out = new Set<string>();
    let cancel: Cancel = () => undefined;
    const timeout = new Promise<never>((_, reject) => {
      cancel = this.o.clock.schedule(() => {
        iter.stop();
        reject(new Error(`listing the lease keys took over ${this.o.leaseMs} ms`));
      }, this.o.leaseMs);
    });
    try {
      await Promise.race([
        (async () => {
          for await (const k of iter) out.add(k);
        })(),
        timeout,
      ]);
    } finally {
      cancel();
    }
    return out;
  }

  /** Who wrote the key, or null when it holds nothing. */
  async readOwner(key: string): Promise<string | null> {
    const e = await this.kv.get(key);
    return e && e.operation === 'PUT' ? (parseValue(e.value)?.owner ?? null) : null;
  }

  private value(): Uint8Array {
    const v: LeaseValue = { owner: this.o.processorId, instance: this.o.instance, at: new Date(this.o.clock.now()).toISOString() };
    return utf8(JSON.stringify(v));
  }
}
