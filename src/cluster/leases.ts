// Which processor holds which partition, and which one leads: leases in a JetStream KV bucket whose max_age is the
// lease, so a processor that stops renewing loses its keys by the server's clock (docs/scale-out.md, section 2).
// The keys themselves are written by leaseBucket.ts; this file decides: the renewal loop, the rounds, the callbacks.
// Over 300 lines on purpose: the loop, the rounds and the member, partition and leader leases are one state machine
// sharing the halted/stopping flags, the renewal in flight and the per-slot callback chains; apart, each piece would
// need all of them, and their order (renew before deleting, revoke before release) would span files.
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from 'nats';
import { systemClock, type Cancel, type SchedulingClock } from '../shared/clock.js';
import { VigilError, errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { isWrongLastSequence } from '../shared/natsErrors.js';
import { assign } from './assignment.js';
import { LeaseBucket, type Lease, type LeaseBucketOptions } from './leaseBucket.js';

export { assign };

export interface PartitionLeaseOptions {
  nc: NatsConnection;
  /** KV bucket name, e.g. 'vigil_cluster'. */
  bucket: string;
  /** Unique per process; a KV key token ([A-Za-z0-9_-]). */
  processorId: string;
  /** N ≥ 1. */
  partitions: number;
  /** The bucket's max_age: a key not renewed for this long expires. Renewals and rounds run every leaseMs / 4. */
  leaseMs: number;
  log: Logger;
  /** Replicas of the bucket when this processor creates it (default 1). */
  replicas?: number;
  /** This processor now holds partition p's lease: restore and start it; resolve when it consumes. */
  onAssign(p: number): Promise<void>;
  /**
   * Stop partition p. graceful=true: a hand-over (checkpoint first; the lease key is deleted after this settles).
   * graceful=false: the lease was lost (stop at once, do not checkpoint).
   */
  onRevoke(p: number, graceful: boolean): Promise<void>;
  /** Leadership gained (true) or lost (false); the same lease mechanism on key 'leader'. */
  onLeader?(leader: boolean): Promise<void> | void;
  /** Reads the time and sets the renewals; default the system clock. */
  clock?: SchedulingClock;
  /** Opens the lease keys; default the JetStream KV bucket (LeaseBucket.open). Tests give an in-memory one. */
  openBucket?: (o: LeaseBucketOptions) => Promise<LeaseKeys>;
}

/** What the loop asks of the lease keys (leaseBucket.ts). */
export type LeaseKeys = Pick<LeaseBucket, 'claim' | 'renew' | 'delete' | 'holds' | 'liveKeys' | 'readOwner'>;

export interface PartitionLeaseStatus {
  processorId: string;
  /** This processor's member key is held (it takes part in the assignment). */
  member: boolean;
  owned: number[];
  members: string[];
  leader: boolean;
  /** The processor holding the leader key at the last round, if any. */
  leaderId: string | null;
  /** Rounds completed, and rounds that failed (the error is in lastError; the next round retries). */
  rounds: number;
  roundErrors: number;
  lastRoundAt: number | null;
  /** Partition leases claimed, handed over gracefully, and lost (a renewal refused or overdue). */
  claims: number;
  handovers: number;
  lost: number;
  lastError: { at: number; message: string } | null;
}

const PROCESSOR_ID = /^[A-Za-z0-9_-]+$/;
const MEMBER_PREFIX = 'member.';
const PARTITION_PREFIX = 'partition.';
const LEADER_KEY = 'leader';

export class PartitionLeases {
  private readonly opts: PartitionLeaseOptions;
  private readonly log: Logger;
  private readonly clock: SchedulingClock;
  private readonly intervalMs: number;
  private readonly instance = randomUUID();
  private keys: LeaseKeys | null = null;

  private member: Lease | null = null;
  private readonly partitions = new Map<number, Lease>();
  private leader: Lease | null = null;
  /** Callbacks per partition ('p<k>') and for 'leader', one at a time each, in the order they were decided. */
  private readonly chains = new Map<string, Promise<void>>();

  private cancelTimer: Cancel | null = null;
  private halted = true;
  private stopping = false;
  private stopped: Promise<void> | null = null;
  private renewing: Promise<void> | null = null;
  private roundInFlight: Promise<Promise<void>[]> | null = null;
  private warnedDuplicate = false;

  private memberIds: string[] = [];
  private leaderId: string | null = null;
  private rounds = 0;
  private roundErrors = 0;
  private lastRoundAt: number | null = null;
  private claims = 0;
  private handovers = 0;
  private lostCount = 0;
  private lastError: { at: number; message: string } | null = null;

  constructor(opts: PartitionLeaseOptions) {
    if (!PROCESSOR_ID.test(opts.processorId)) throw new VigilError('CONFIG_INVALID', `cluster processor id "${opts.processorId}" must match ${PROCESSOR_ID}: it is a KV key token`);
    if (!Number.isInteger(opts.partitions) || opts.partitions < 1) throw new VigilError('CONFIG_INVALID', `cluster partitions must be an integer ≥ 1, got ${opts.partitions}`);
    if (!Number.isFinite(opts.leaseMs) || opts.leaseMs < 100) throw new VigilError('CONFIG_INVALID', `cluster leaseMs must be ≥ 100, got ${opts.leaseMs}`);
    this.opts = opts;
    this.log = opts.log;
    this.clock = opts.clock ?? systemClock;
    this.intervalMs = Math.max(1, Math.floor(opts.leaseMs / 4));
  }

  /** Opens (or creates) the bucket, registers this processor, runs the first round and waits for what it started. */
  async start(): Promise<void> {
    const { nc, bucket, processorId, leaseMs, log } = this.opts;
    const open = this.opts.openBucket ?? ((o: LeaseBucketOptions) => LeaseBucket.open(o));
    this.keys = await open({ nc, bucket, processorId, instance: this.instance, leaseMs, replicas: this.opts.replicas ?? 1, clock: this.clock, log });
    this.halted = false;
    this.stopping = false;
    // Renewals start with the first round: the starts it queues may take longer than the lease.
    this.schedule();
    const started = await this.runRound();
    await Promise.all(started);
  }

  /** Hands every partition over (onRevoke(p, true), then its key is deleted), resigns the lead, leaves the members. */
  stop(): Promise<void> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  owned(): number[] {
    return [...this.partitions.keys()].sort((a, b) => a - b);
  }

  members(): string[] {
    return [...this.memberIds];
  }

  isLeader(): boolean {
    return this.leader !== null;
  }

  /**
   * True while this processor still holds p's lease as it last wrote it, read from the KV now: the fence before a
   * checkpoint save. False when the read fails: a checkpoint not saved is replayed, one saved by a loser is not.
   */
  async stillOwns(p: number): Promise<boolean> {
    const lease = this.partitions.get(p);
    if (!lease || lease.state === 'lost' || !this.keys) return false;
    try {
      return (await this.keys.holds(lease)) && this.partitions.get(p) === lease;
    } catch (err) {
      this.recordError(err, 'lease check failed');
      return false;
    }
  }

  status(): PartitionLeaseStatus {
    return {
      processorId: this.opts.processorId,
      member: this.member !== null,
      owned: this.owned(),
      members: this.members(),
      leader: this.isLeader(),
      leaderId: this.leader ? this.opts.processorId : this.leaderId,
      rounds: this.rounds,
      roundErrors: this.roundErrors,
      lastRoundAt: this.lastRoundAt,
      claims: this.claims,
      handovers: this.handovers,
      lost: this.lostCount,
      lastError: this.lastError,
    };
  }

  /**
   * For tests: the process "dies" here. Its timers stop; nothing is released, revoked or renewed, so its keys expire
   * on the server as a crashed processor's would. resume() wakes it as a process paused past its lease.
   */
  abandon(): void {
    this.halted = true;
    this.cancelTimer?.();
    this.cancelTimer = null;
  }

  /** For tests: wakes an abandoned instance; its next renewal finds out what it lost. */
  resume(): void {
    if (!this.halted || this.stopping) return;
    this.halted = false;
    void this.tick();
  }

  // ---- the loop ---------------------------------------------------------------------------------------------------

  private schedule(): void {
    if (this.halted) return;
    this.cancelTimer = this.clock.schedule(() => void this.tick(), this.intervalMs);
  }

  /** Renews every held key, then starts a round unless one is still running; renewals never wait for a round. */
  private async tick(): Promise<void> {
    this.cancelTimer = null;
    await this.renewAll();
    if (!this.stopping && !this.halted && !this.roundInFlight) void this.runRound();
    this.schedule();
  }

  private runRound(): Promise<Promise<void>[]> {
    const round = this.round().finally(() => {
      this.roundInFlight = null;
    });
    this.roundInFlight = round;
    return round;
  }

  /** One pass at a time: a pass still in flight is the one awaited. */
  private renewAll(): Promise<void> {
    if (this.renewing) return this.renewing;
    const pass = (async () => {
      const jobs: Promise<void>[] = [];
      const member = this.member;
      if (member && member.state !== 'deleting') jobs.push(this.renew(member, () => this.loseMember(member)));
      for (const [p, lease] of this.partitions) {
        if (lease.state === 'starting' || lease.state === 'owned' || lease.state === 'releasing') jobs.push(this.renew(lease, (why) => this.losePartition(p, lease, why)));
      }
      const leader = this.leader;
      if (leader && leader.state !== 'deleting') jobs.push(this.renew(leader, (why) => this.loseLeader(leader, why)));
      await Promise.all(jobs);
    })().finally(() => {
      this.renewing = null;
    });
    this.renewing = pass;
    return pass;
  }

  private async renew(lease: Lease, lost: (why: string) => void): Promise<void> {
    try {
      await this.keys!.renew(lease);
    } catch (err) {
      if (lease.state === 'lost') return;
      if (isWrongLastSequence(err)) lost(`renewal refused (${errorMessage(err)}): the key expired or another processor holds it`);
      // NATS is the clock of record, but a processor that cannot reach it stops before the key can have expired.
      else if (this.clock.now() - lease.writtenAt >= this.opts.leaseMs) lost(`not renewed for ${this.opts.leaseMs} ms (${errorMessage(err)})`);
      else this.recordError(err, `renewing ${lease.key} failed; retrying`);
    }
  }

  /** Reads the live keys, claims the free partitions assigned here, hands over those assigned to another live member. */
  private async round(): Promise<Promise<void>[]> {
    const started: Promise<void>[] = [];
    try {
      if (!this.member) await this.register();
      const live = await this.keys!.liveKeys();
      const ids = [...live].filter((k) => k.startsWith(MEMBER_PREFIX)).map((k) => k.slice(MEMBER_PREFIX.length));
      if (this.member && !ids.includes(this.opts.processorId)) ids.push(this.opts.processorId);
      this.memberIds = [...new Set(ids)].sort();
      if (!live.has(LEADER_KEY)) this.leaderId = null;
      else if (!this.leader) this.leaderId = await this.keys!.readOwner(LEADER_KEY);

      if (this.member && !this.stopping && !this.halted) {
        const wanted = assign(this.memberIds, this.opts.partitions);
        const toClaim: number[] = [];
        for (let p = 0; p < this.opts.partitions; p++) {
          const lease = this.partitions.get(p);
          const owner = wanted.get(p);
          if (owner === this.opts.processorId) {
            if (!lease && !live.has(PARTITION_PREFIX + p)) toClaim.push(p);
          } else if (lease && lease.state === 'owned') {
            this.log.info({ partition: p, to: owner }, 'handing partition over');
            void this.handOver(p, lease);
          }
        }
        const claimed = await Promise.allSettled(toClaim.map((p) => this.claimPartition(p)));
        for (const c of claimed) {
          if (c.status === 'fulfilled' && c.value) started.push(c.value.started);
          else if (c.status === 'rejected') this.recordError(c.reason, 'claiming a partition failed');
        }
        if (!this.leader && !live.has(LEADER_KEY) && !this.stopping && !this.halted) {
          const s = await this.claimLeader();
          if (s) started.push(s.started);
        }
      }
      this.rounds++;
      this.lastRoundAt = this.clock.now();
    } catch (err) {
      this.roundErrors++;
      this.recordError(err, 'lease round failed; retrying next round');
    }
    return started;
  }

  private async register(): Promise<void> {
    const lease = await this.keys!.claim(MEMBER_PREFIX + this.opts.processorId);
    if (lease) {
      lease.state = 'owned';
      lease.started = true;
      this.member = lease;
      this.warnedDuplicate = false;
      this.log.info({ processorId: this.opts.processorId }, 'joined the cluster');
    } else if (!this.warnedDuplicate) {
      // An earlier run with this id (its key expires within the lease), or a second process given the same id.
      this.warnedDuplicate = true;
      this.log.warn({ processorId: this.opts.processorId }, 'member key held by another run with this processor id; waiting for it to expire');
    }
  }

  // ---- partitions -------------------------------------------------------------------------------------------------

  /** Claims p; when won, returns the start (onAssign) queued for it, boxed so that awaiting the claim does not await it. */
  private async claimPartition(p: number): Promise<{ started: Promise<void> } | null> {
    const lease = await this.keys!.claim(PARTITION_PREFIX + p);
    if (!lease) return null;
    this.partitions.set(p, lease);
    this.claims++;
    this.log.info({ partition: p }, 'partition lease claimed');
    const started = this.enqueue(`p${p}`, async () => {
      // Lost before it started, or claimed by a round that ran into stop(): nothing to start (a hand-over releases it).
      if (this.partitions.get(p) !== lease || this.stopping) return;
      try {
        await this.opts.onAssign(p);
        lease.started = true;
        if (lease.state === 'starting') lease.state = 'owned';
      } catch (err) {
        // Not started: release it, so it is tried again (here or elsewhere) next round.
        this.recordError(err, `starting partition ${p} failed; releasing its lease`);
        if (this.partitions.get(p) === lease) await this.release(lease, () => this.partitions.get(p) === lease && this.partitions.delete(p));
      }
    });
    return { started };
  }

  /** Graceful: onRevoke(p, true) while the lease is still renewed (its checkpoint passes the fence), then delete. */
  private handOver(p: number, lease: Lease): Promise<void> {
    lease.state = 'releasing';
    return this.enqueue(`p${p}`, async () => {
      if (this.partitions.get(p) !== lease) return; // lost meanwhile: losePartition's revoke follows
      if (lease.started && !lease.revoked) {
        lease.revoked = true;
        try {
          await this.opts.onRevoke(p, true);
        } catch (err) {
          // Released anyway: a partition must not stay stuck on a half-stopped worker; the successor replays.
          this.recordError(err, `handing partition ${p} over failed; releasing its lease`);
        }
      }
      const released = await this.release(lease, () => this.partitions.get(p) === lease && this.partitions.delete(p));
      if (released) {
        this.handovers++;
        this.log.info({ partition: p }, 'partition handed over');
      }
    });
  }

  private losePartition(p: number, lease: Lease, why: string): void {
    if (this.partitions.get(p) !== lease) return;
    this.partitions.delete(p);
    lease.state = 'lost';
    this.lostCount++;
    this.log.warn({ partition: p, why }, 'partition lease lost: stopping it without a checkpoint');
    // Queued behind its start or a graceful revoke in progress; a worker already revoked is not revoked twice.
    void this.enqueue(`p${p}`, async () => {
      if (!lease.started || lease.revoked) return;
      lease.revoked = true;
      await this.opts.onRevoke(p, false);
    });
  }

  // ---- leader and member ------------------------------------------------------------------------------------------

  private async claimLeader(): Promise<{ started: Promise<void> } | null> {
    const lease = await this.keys!.claim(LEADER_KEY);
    if (!lease) return null;
    this.leader = lease;
    this.leaderId = this.opts.processorId;
    this.log.info('leader lease claimed');
    const started = this.enqueue('leader', async () => {
      if (this.leader !== lease) return;
      try {
        await this.opts.onLeader?.(true);
        lease.started = true;
        if (lease.state === 'starting') lease.state = 'owned';
      } catch (err) {
        this.recordError(err, 'taking the lead failed; resigning');
        lease.started = true; // what started of the duties is stopped by onLeader(false)
        await this.resignLeader(lease);
      }
    });
    return { started };
  }

  private async resignLeader(lease: Lease): Promise<void> {
    if (this.leader !== lease) return;
    lease.state = 'releasing';
    if (lease.started && !lease.revoked) {
      lease.revoked = true;
      try {
        await this.opts.onLeader?.(false);
      } catch (err) {
        this.recordError(err, 'giving the lead up failed');
      }
    }
    await this.release(lease, () => this.leader === lease && ((this.leader = null), true));
  }

  private loseLeader(lease: Lease, why: string): void {
    if (this.leader !== lease) return;
    this.leader = null;
    this.leaderId = null;
    lease.state = 'lost';
    this.log.warn({ why }, 'leader lease lost');
    void this.enqueue('leader', async () => {
      if (!lease.started || lease.revoked) return;
      lease.revoked = true;
      await this.opts.onLeader?.(false);
    });
  }

  private loseMember(lease: Lease): void {
    if (this.member !== lease) return;
    this.member = null;
    lease.state = 'lost';
    // The others may have reassigned this processor's partitions meanwhile; they move back once it is listed again.
    this.log.warn('member key lost; joining again next round');
  }

  // ---- shared -----------------------------------------------------------------------------------------------------

  /**
   * Deletes the key at the revision last written, after any renewal in flight, so that it cannot delete a
   * successor's lease. `drop` forgets the lease locally; returns whether this run still held it.
   */
  private async release(lease: Lease, drop: () => boolean | void): Promise<boolean> {
    if (lease.state === 'lost') return false;
    lease.state = 'deleting';
    await this.renewing;
    if (lease.state !== 'deleting') return false;
    // Refused: it expired or moved already. Failed: it expires by itself within the lease.
    await this.keys!.delete(lease).catch((err: unknown) => this.recordError(err, `deleting ${lease.key} failed; it expires within the lease`));
    lease.state = 'lost';
    return drop() !== false;
  }

  private enqueue(slot: string, fn: () => Promise<void>): Promise<void> {
    const next = (this.chains.get(slot) ?? Promise.resolve()).then(fn).catch((err: unknown) => this.recordError(err, `${slot}: callback failed`));
    this.chains.set(slot, next);
    void next.finally(() => {
      if (this.chains.get(slot) === next) this.chains.delete(slot);
    });
    return next;
  }

  private recordError(err: unknown, what: string): void {
    const message = errorMessage(err);
    this.lastError = { at: this.clock.now(), message: `${what}: ${message}` };
    this.log.warn({ err: message }, what);
  }

  private async shutdown(): Promise<void> {
    if (this.keys === null) return;
    this.stopping = true;
    // Renewals go on (halted stays false) while the partitions are checkpointed and released.
    if (this.halted) {
      this.halted = false;
      this.schedule();
    }
    await this.roundInFlight;
    const handovers = [...this.partitions].map(([p, lease]) => (lease.state === 'starting' || lease.state === 'owned' ? this.handOver(p, lease) : Promise.resolve()));
    await Promise.all(handovers);
    await Promise.all([...this.chains.values()]);
    const leader = this.leader;
    if (leader) await this.enqueue('leader', () => this.resignLeader(leader));
    const member = this.member;
    if (member) await this.release(member, () => this.member === member && ((this.member = null), true));
    this.halted = true;
    this.cancelTimer?.();
    this.cancelTimer = null;
    await this.renewing;
    this.memberIds = [];
    this.log.info('left the cluster');
  }
}
