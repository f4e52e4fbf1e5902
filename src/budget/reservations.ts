// Slots taken by allowing checks and not yet used by a touch event: they count against the allowance until a touch
// consumes them or their time-to-live runs out, so two checks cannot both take the last slot. Bounded: a sender
// can ask for ids Vigil has never seen, and each would pin a reservation for the whole TTL.
import type { BudgetChannel } from './allowance.js';

export interface ReservationLimits {
  /** Reservations held at once, all customers together (budget.maxReservations). */
  maxTotal: number;
  /** Of those, reservations taken for customers with no live state (budget.maxUnknownReservations). */
  maxUnknown: number;
  /**
   * Per customer and channel: the most any allowance can be. With that many held every capped decision suppresses
   * already, so one more changes no answer (transactional checks, which always allow, would pile up without it).
   */
  maxPerKey: number;
}

/** What reserve() did: took a slot, had no need to (maxPerKey held), or found no room (the caps). */
export type ReserveOutcome = 'reserved' | 'saturated' | 'full';

type Held = Map<string, number[]>;

export class Reservations {
  /** Per customer and channel, the expiry times of its reservations, oldest first (the TTL is one constant). */
  private readonly held: Held = new Map();
  /** The same for keys first reserved while the customer had no live state; counted against maxUnknown. */
  private readonly heldUnknown: Held = new Map();
  /**
   * Reservations held per customer, all channels together: a customer with none (nearly every one the stream's events
   * ask about) is one lookup by the id itself, with no key built.
   */
  private readonly perCustomer = new Map<string, number>();
  private total = 0;
  private unknownTotal = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly limits: ReservationLimits = { maxTotal: Number.MAX_SAFE_INTEGER, maxUnknown: Number.MAX_SAFE_INTEGER, maxPerKey: Number.MAX_SAFE_INTEGER },
  ) {}

  get size(): number {
    return this.total;
  }

  /** Reservations held for customers that had no live state when they were taken. */
  get unknownSize(): number {
    return this.unknownTotal;
  }

  /**
   * Whether one more reservation fits for this customer: under maxTotal, and under maxUnknown when it would be held
   * for a customer with no live state (`known` false), or join reservations that were.
   */
  hasRoom(customerId: string, channel: BudgetChannel, known: boolean): boolean {
    if (this.total >= this.limits.maxTotal) return false;
    const key = `${channel}\u0000${customerId}`;
    const unknown = this.heldUnknown.has(key) || (!known && !this.held.has(key));
    return !unknown || this.unknownTotal < this.limits.maxUnknown;
  }

  /** Takes a slot, unless maxPerKey are held for the customer's channel or the caps leave no room. */
  reserve(customerId: string, channel: BudgetChannel, now: number, known = true): ReserveOutcome {
    if (this.count(customerId, channel, now) >= this.limits.maxPerKey) return 'saturated';
    if (!this.hasRoom(customerId, channel, known)) return 'full';
    const key = `${channel}\u0000${customerId}`;
    const found = this.find(key);
    if (found) {
      found.list.push(now + this.ttlMs);
      if (found.unknown) this.unknownTotal++;
    } else if (known) this.held.set(key, [now + this.ttlMs]);
    else {
      this.heldUnknown.set(key, [now + this.ttlMs]);
      this.unknownTotal++;
    }
    this.total++;
    this.perCustomer.set(customerId, (this.perCustomer.get(customerId) ?? 0) + 1);
    return 'reserved';
  }

  /** A touch was published: its oldest reservation on that channel is used. False when it had none. */
  consume(customerId: string, channel: BudgetChannel, now: number): boolean {
    if (!this.perCustomer.has(customerId)) return false;
    const key = `${channel}\u0000${customerId}`;
    // No key built for a customer without reservations, no object: this runs for every touch event.
    let unknown = false;
    let list = this.held.get(key);
    if (!list) {
      list = this.heldUnknown.get(key);
      unknown = true;
    }
    if (!list) return false;
    this.expire(key, list, unknown, now);
    if (list.length === 0) return false;
    list.shift();
    this.release(customerId, 1, unknown);
    if (list.length === 0) (unknown ? this.heldUnknown : this.held).delete(key);
    return true;
  }

  count(customerId: string, channel: BudgetChannel, now: number): number {
    if (!this.perCustomer.has(customerId)) return 0;
    const key = `${channel}\u0000${customerId}`;
    // As consume(): this runs three times per check, and for every touch and negative event.
    let unknown = false;
    let list = this.held.get(key);
    if (!list) {
      list = this.heldUnknown.get(key);
      unknown = true;
    }
    if (!list) return 0;
    this.expire(key, list, unknown, now);
    return list.length;
  }

  forget(customerId: string): void {
    for (const ch of ['email', 'push', 'sms'] as const) {
      const key = `${ch}\u0000${customerId}`;
      const found = this.find(key);
      if (!found) continue;
      this.release(customerId, found.list.length, found.unknown);
      (found.unknown ? this.heldUnknown : this.held).delete(key);
    }
  }

  /** Releases every expired reservation; returns how many. */
  sweep(now: number): number {
    const steps = this.sweepSteps(now);
    for (let r = steps.next(); ; r = steps.next()) if (r.done) return r.value;
  }

  /**
   * The sweep a key at a time, for a caller that spreads it over turns of the event loop: keys reserved or released
   * between the steps are swept or skipped as the maps' iterators go (a key released is never visited after). Returns
   * how many reservations it released.
   */
  *sweepSteps(now: number): Generator<void, number> {
    let released = 0;
    for (const [key, list] of this.held) {
      released += this.expire(key, list, false, now);
      yield;
    }
    for (const [key, list] of this.heldUnknown) {
      released += this.expire(key, list, true, now);
      yield;
    }
    return released;
  }

  private find(key: string): { list: number[]; unknown: boolean } | null {
    const list = this.held.get(key);
    if (list) return { list, unknown: false };
    const u = this.heldUnknown.get(key);
    return u ? { list: u, unknown: true } : null;
  }

  private release(customerId: string, n: number, unknown: boolean): void {
    this.total -= n;
    if (unknown) this.unknownTotal -= n;
    const left = (this.perCustomer.get(customerId) ?? 0) - n;
    if (left > 0) this.perCustomer.set(customerId, left);
    else this.perCustomer.delete(customerId);
  }

  private expire(key: string, list: number[], unknown: boolean, now: number): number {
    let n = 0;
    while (n < list.length && list[n] <= now) n++;
    if (n > 0) {
      list.splice(0, n);
      this.release(key.slice(key.indexOf('\u0000') + 1), n, unknown);
      if (list.length === 0) (unknown ? this.heldUnknown : this.held).delete(key);
    }
    return n;
  }
}
