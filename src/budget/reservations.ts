// Slots taken by allowing checks and not yet used by a touch event: they count against the allowance until a touch
// consumes them or their time-to-live runs out, so two checks cannot both take the last slot.
import type { BudgetChannel } from './allowance.js';

export class Reservations {
  /** Per customer and channel, the expiry times of its reservations, oldest first (the TTL is one constant). */
  private readonly held = new Map<string, number[]>();
  private total = 0;

  constructor(private readonly ttlMs: number) {}

  get size(): number {
    return this.total;
  }

  reserve(customerId: string, channel: BudgetChannel, now: number): void {
    const key = `${channel}\u0000${customerId}`;
    const list = this.held.get(key);
    if (list) {
      this.expire(key, list, now);
      list.push(now + this.ttlMs);
    } else this.held.set(key, [now + this.ttlMs]);
    this.total++;
  }

  /** A touch was published: its oldest reservation on that channel is used. False when it had none. */
  consume(customerId: string, channel: BudgetChannel, now: number): boolean {
    const key = `${channel}\u0000${customerId}`;
    const list = this.held.get(key);
    if (!list) return false;
    this.expire(key, list, now);
    if (list.length === 0) return false;
    list.shift();
    this.total--;
    if (list.length === 0) this.held.delete(key);
    return true;
  }

  count(customerId: string, channel: BudgetChannel, now: number): number {
    const key = `${channel}\u0000${customerId}`;
    const list = this.held.get(key);
    if (!list) return 0;
    this.expire(key, list, now);
    return list.length;
  }

  forget(customerId: string): void {
    for (const ch of ['email', 'push', 'sms'] as const) {
      const key = `${ch}\u0000${customerId}`;
      this.total -= this.held.get(key)?.length ?? 0;
      this.held.delete(key);
    }
  }

  /** Releases every expired reservation; returns how many. */
  sweep(now: number): number {
    let released = 0;
    for (const [key, list] of this.held) released += this.expire(key, list, now);
    return released;
  }

  private expire(key: string, list: number[], now: number): number {
    let n = 0;
    while (n < list.length && list[n] <= now) n++;
    if (n > 0) {
      list.splice(0, n);
      this.total -= n;
      if (list.length === 0) this.held.delete(key);
    }
    return n;
  }
}
