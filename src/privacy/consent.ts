// Who withdrew consent: checked for every event before anything about it is stored or scored, so it must
// outlive eviction from live state and restarts (Redis), and stay a fast in-memory lookup on the hot path.
import type { Redis } from 'ioredis';
import { errorMessage } from '../shared/errors.js';

export interface ConsentStore {
  isWithdrawn(customerId: string): boolean;
  withdraw(customerId: string): void;
  grant(customerId: string): void;
  /** Erasure: the customer is forgotten entirely, consent record included. */
  forget(customerId: string): void;
  readonly size: number;
}

export class MemoryConsentStore implements ConsentStore {
  protected readonly withdrawn = new Set<string>();

  isWithdrawn(customerId: string): boolean {
    return this.withdrawn.has(customerId);
  }
  withdraw(customerId: string): void {
    this.withdrawn.add(customerId);
  }
  grant(customerId: string): void {
    this.withdrawn.delete(customerId);
  }
  forget(customerId: string): void {
    this.withdrawn.delete(customerId);
  }
  get size(): number {
    return this.withdrawn.size;
  }
}

/**
 * The withdrawn set in memory, written behind to one Redis set. `persist()` resolves true once every change
 * reached Redis; the processor commits (and acknowledges the consent events) only after it did, so a
 * withdrawal is never acknowledged and then lost.
 */
export class RedisConsentStore extends MemoryConsentStore {
  /** Latest change per customer not yet in Redis: true = withdrawn, false = granted or forgotten. */
  private readonly dirty = new Map<string, boolean>();
  private lastError: string | null = null;

  constructor(
    private readonly redis: Redis,
    readonly setKey: string,
  ) {
    super();
  }

  async load(): Promise<number> {
    for (const id of await this.redis.smembers(this.setKey)) this.withdrawn.add(id);
    return this.withdrawn.size;
  }

  override withdraw(customerId: string): void {
    super.withdraw(customerId);
    this.dirty.set(customerId, true);
  }
  override grant(customerId: string): void {
    if (!this.withdrawn.has(customerId) && !this.dirty.has(customerId)) return; // the common case: nothing to write
    super.grant(customerId);
    this.dirty.set(customerId, false);
  }
  override forget(customerId: string): void {
    super.forget(customerId);
    this.dirty.set(customerId, false);
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
    for (const [id, withdrawn] of changes) {
      if (withdrawn) tx.sadd(this.setKey, id);
      else tx.srem(this.setKey, id);
    }
    try {
      await tx.exec();
      this.lastError = null;
      return true;
    } catch (err) {
      // A newer change made meanwhile wins over the one that failed.
      for (const [id, withdrawn] of changes) if (!this.dirty.has(id)) this.dirty.set(id, withdrawn);
      this.lastError = `Redis write failed, ${this.dirty.size} consent changes waiting: ${errorMessage(err)}`;
      return false;
    }
  }
}
