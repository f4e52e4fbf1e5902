// Who withdrew consent: checked for every event before anything about it is stored or scored, so it must
// outlive eviction from live state and restarts (Redis), and stay a fast in-memory lookup on the hot path.
import type { Redis } from 'ioredis';
import { errorMessage } from '../shared/errors.js';

export interface ConsentStore {
  isWithdrawn(customerId: string): boolean;
  /**
   * A withdrawal with its event time: always honoured, whatever its time (privacy first). The time kept is the
   * latest consent change seen for the customer, so a grant stamped before it cannot undo it.
   */
  withdraw(customerId: string, at: number): void;
  /** A grant with its event time; ignored (false) when it is older than the withdrawal in force. */
  grant(customerId: string, at: number): boolean;
  /** Erasure: the customer is forgotten entirely, consent record included. */
  forget(customerId: string): void;
  readonly size: number;
}

/** The Redis set of customers who withdrew consent. */
export function consentKey(prefix: string): string {
  return `${prefix}consent:withdrawn`;
}

/** The Redis hash of the withdrawn customers' withdrawal event times (epoch ms), beside the set. */
export function consentTimesKey(prefix: string): string {
  return `${consentKey(prefix)}:at`;
}

export class MemoryConsentStore implements ConsentStore {
  /** Withdrawn customer → event time of their last consent change (0: unknown, a set written before times were kept). */
  protected readonly withdrawn = new Map<string, number>();
  /** Told each customer whose withdrawn state flips (the contact budget's thread mirrors the set: budgetThread.ts). */
  private readonly listeners = new Set<(customerId: string, withdrawn: boolean) => void>();

  isWithdrawn(customerId: string): boolean {
    return this.withdrawn.has(customerId);
  }
  withdraw(customerId: string, at: number): void {
    const was = this.withdrawn.get(customerId);
    this.withdrawn.set(customerId, Math.max(at, was ?? 0));
    if (was === undefined) this.tell(customerId, true);
  }
  grant(customerId: string, at: number): boolean {
    const since = this.withdrawn.get(customerId);
    if (since === undefined) return true;
    if (at < since) return false;
    this.withdrawn.delete(customerId);
    this.tell(customerId, false);
    return true;
  }
  forget(customerId: string): void {
    if (this.withdrawn.delete(customerId)) this.tell(customerId, false);
  }
  get size(): number {
    return this.withdrawn.size;
  }

  /** The customers withdrawn now (a mirror's first copy; onChange tells the rest). */
  withdrawnIds(): string[] {
    return [...this.withdrawn.keys()];
  }

  /** Told every flip of a customer's withdrawn state from now on. Returns an unsubscribe. */
  onChange(listener: (customerId: string, withdrawn: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private tell(customerId: string, withdrawn: boolean): void {
    for (const l of this.listeners) l(customerId, withdrawn);
  }
}

/**
 * The withdrawn set in memory, written behind to one Redis set (and the withdrawal times to a hash beside it).
 * `persist()` resolves true once every change reached Redis; the processor commits (and acknowledges the consent
 * events) only after it did, so a withdrawal is never acknowledged and then lost.
 */
export class RedisConsentStore extends MemoryConsentStore {
  /** Latest change per customer not yet in Redis: a withdrawal time, or null = granted or forgotten. */
  private readonly dirty = new Map<string, number | null>();
  private lastError: string | null = null;

  constructor(
    private readonly redis: Redis,
    readonly setKey: string,
    readonly timesKey: string = `${setKey}:at`,
  ) {
    super();
  }

  async load(): Promise<number> {
    const [members, times] = await Promise.all([this.redis.smembers(this.setKey), this.redis.hgetall(this.timesKey)]);
    for (const id of members) {
      const at = Number(times[id]);
      this.withdrawn.set(id, Number.isFinite(at) ? at : 0);
    }
    return this.withdrawn.size;
  }

  override withdraw(customerId: string, at: number): void {
    super.withdraw(customerId, at);
    this.dirty.set(customerId, this.withdrawn.get(customerId)!);
  }
  override grant(customerId: string, at: number): boolean {
    if (!this.withdrawn.has(customerId)) return true; // the common case: nothing to write
    if (!super.grant(customerId, at)) return false;
    this.dirty.set(customerId, null);
    return true;
  }
  override forget(customerId: string): void {
    super.forget(customerId);
    this.dirty.set(customerId, null);
  }

  get error(): string | null {
    return this.lastError;
  }

  /** Writes the changes in one MULTI; false (changes kept for the next call) when Redis did not take them. */
  async persist(): Promise<boolean> {
    if (this.dirty.size === 0) return true;
    const changes = [...this.dirty];
    this.dirty.clear();
    const tx = this.redis.multi();
    for (const [id, at] of changes) {
      if (at !== null) tx.sadd(this.setKey, id).hset(this.timesKey, id, String(at));
      else tx.srem(this.setKey, id).hdel(this.timesKey, id);
    }
    try {
      await tx.exec();
      this.lastError = null;
      return true;
    } catch (err) {
      // A newer change made meanwhile wins over the one that failed.
      for (const [id, at] of changes) if (!this.dirty.has(id)) this.dirty.set(id, at);
      this.lastError = `Redis write failed, ${this.dirty.size} consent changes waiting: ${errorMessage(err)}`;
      return false;
    }
  }
}
