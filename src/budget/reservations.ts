// Slots taken by allowing checks and not yet used by a touch event: they count against the allowance until a touch
// consumes them or their time-to-live runs out, so two checks cannot both take the last slot. Bounded: a sender
// can ask for ids Vigil has never seen, and each would pin a reservation for the whole TTL.
import type { BudgetConfig } from '../config/schema.js';
import type { BudgetChannel } from './allowance.js';
import { refuseUnreserved, type BudgetRequest, type Decision, type ReasonCode } from './decision.js';

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

/** Reservations in columns, as copy() gives them. */
export interface ReservationsCopy {
  ids: string[];
  /** The channel's index in a customer's lists (email, push, sms). */
  channel: Uint8Array;
  expires: Float64Array;
  /** 1: counted against maxUnknown. */
  unknown: Uint8Array;
}

/** What reserve() did: took a slot, had no need to (maxPerKey held), or found no room (the caps). */
export type ReserveOutcome = 'reserved' | 'saturated' | 'full';

/** A channel's index in a customer's lists: BUDGET_CHANNELS' order. */
const AT: Record<BudgetChannel, number> = { email: 0, push: 1, sms: 2 };

/**
 * One customer's reservations: per channel (AT), the expiry times, oldest first, or null when it holds none; and a
 * bit per channel whose list was started while the customer had no live state (counted against maxUnknown until the
 * list empties).
 */
interface Held {
  lists: [number[] | null, number[] | null, number[] | null];
  unknown: number;
}

export class Reservations {
  /**
   * By customer id: a customer with none (nearly every one the stream's events ask about) is one lookup by the id
   * itself, and one with some is one more index, with no key built per channel (count() runs four times per check).
   */
  private readonly held = new Map<string, Held>();
  private total = 0;
  private unknownTotal = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly limits: ReservationLimits = { maxTotal: Number.MAX_SAFE_INTEGER, maxUnknown: Number.MAX_SAFE_INTEGER, maxPerKey: Number.MAX_SAFE_INTEGER },
    /** Told +1 as a customer's first reservation is taken and -1 as its last one goes (the budget thread's `holders`). */
    private readonly onHolder?: (customerId: string, delta: 1 | -1) => void,
  ) {}

  /** Whether the customer holds any reservation (expired ones not yet removed included). */
  holds(customerId: string): boolean {
    return this.total > 0 && this.held.has(customerId);
  }

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
    const h = this.held.get(customerId);
    const at = AT[channel];
    const unknown = h && h.lists[at] ? (h.unknown & (1 << at)) !== 0 : !known;
    return !unknown || this.unknownTotal < this.limits.maxUnknown;
  }

  /** Takes a slot, unless maxPerKey are held for the customer's channel or the caps leave no room. */
  reserve(customerId: string, channel: BudgetChannel, now: number, known = true): ReserveOutcome {
    if (this.count(customerId, channel, now) >= this.limits.maxPerKey) return 'saturated';
    if (!this.hasRoom(customerId, channel, known)) return 'full';
    this.add(customerId, AT[channel], now + this.ttlMs, !known);
    return 'reserved';
  }

  /**
   * One reservation at the end of a customer's list for channel index `at`; `unknown` marks the list when this
   * starts it (a list keeps the mark it was started with until it empties).
   */
  private add(customerId: string, at: number, expiresAt: number, unknown: boolean): void {
    let h = this.held.get(customerId);
    if (!h) {
      this.held.set(customerId, (h = { lists: [null, null, null], unknown: 0 }));
      this.onHolder?.(customerId, 1);
    }
    const list = h.lists[at];
    if (list) list.push(expiresAt);
    else {
      h.lists[at] = [expiresAt];
      if (unknown) h.unknown |= 1 << at;
    }
    if (h.unknown & (1 << at)) this.unknownTotal++;
    this.total++;
  }

  /** A touch was published: its oldest reservation on that channel is used. False when it had none. */
  consume(customerId: string, channel: BudgetChannel, now: number): boolean {
    // No key built, no object for a customer without reservations: this runs for every touch event.
    const h = this.held.get(customerId);
    if (!h) return false;
    const at = AT[channel];
    this.expire(customerId, h, at, now);
    const list = h.lists[at];
    if (!list) return false;
    list.shift();
    this.release(h, at, 1);
    if (list.length === 0) this.clear(customerId, h, at);
    return true;
  }

  count(customerId: string, channel: BudgetChannel, now: number): number {
    // As consume(): this runs four times per check, and for every touch and negative event.
    const h = this.held.get(customerId);
    if (!h) return 0;
    const at = AT[channel];
    this.expire(customerId, h, at, now);
    return h.lists[at]?.length ?? 0;
  }

  /**
   * count() of every channel at once, into `into` in BUDGET_CHANNELS' order: one map read, none while nothing is
   * reserved (a budget's test of whether a customer may be over an allowance, run for every touch and batch id).
   */
  countsInto(customerId: string, now: number, into: Float64Array): Float64Array {
    into.fill(0);
    const h = this.total === 0 ? undefined : this.held.get(customerId);
    if (!h) return into;
    for (let at = 0; at < h.lists.length; at++) {
      this.expire(customerId, h, at, now);
      into[at] = h.lists[at]?.length ?? 0;
    }
    return into;
  }

  forget(customerId: string): void {
    const h = this.held.get(customerId);
    if (!h) return;
    for (let at = 0; at < h.lists.length; at++) {
      const list = h.lists[at];
      if (list) this.release(h, at, list.length);
    }
    this.held.delete(customerId);
    this.onHolder?.(customerId, -1);
  }

  /** Releases every expired reservation; returns how many. */
  sweep(now: number): number {
    const steps = this.sweepSteps(now);
    for (let r = steps.next(); ; r = steps.next()) if (r.done) return r.value;
  }

  /**
   * The sweep a customer at a time, for a caller that spreads it over turns of the event loop: customers reserved or
   * released between the steps are swept or skipped as the map's iterator goes (one released is never visited after).
   * Returns how many reservations it released.
   */
  *sweepSteps(now: number): Generator<void, number> {
    let released = 0;
    // A Map's iterator tolerates the deletion of the entry it is on (the last list released deletes it).
    for (const [customerId, h] of this.held) {
      for (let at = 0; at < h.lists.length; at++) released += this.expire(customerId, h, at, now);
      yield;
    }
    return released;
  }

  /**
   * Every reservation held, in columns (for another thread: a budget thread started again takes the main thread's
   * copy, `restore`): per reservation its customer, its channel's index, its expiry and whether it counts as unknown.
   */
  copy(): ReservationsCopy {
    const ids: string[] = [];
    const channel: number[] = [];
    const expires: number[] = [];
    const unknown: number[] = [];
    for (const [customerId, h] of this.held) {
      for (let at = 0; at < h.lists.length; at++) {
        for (const e of h.lists[at] ?? []) {
          ids.push(customerId);
          channel.push(at);
          expires.push(e);
          unknown.push((h.unknown >> at) & 1);
        }
      }
    }
    return { ids, channel: Uint8Array.from(channel), expires: Float64Array.from(expires), unknown: Uint8Array.from(unknown) };
  }

  /** Takes the reservations of a copy that are still unexpired at `now`, in their order (into an empty set). */
  restore(c: ReservationsCopy, now: number): void {
    for (let i = 0; i < c.ids.length; i++) if (c.expires[i] > now) this.add(c.ids[i], c.channel[i], c.expires[i], c.unknown[i] === 1);
  }

  /** Takes `n` reservations of a channel out of the counts (its unknown bit says which counts hold them). */
  private release(h: Held, at: number, n: number): void {
    this.total -= n;
    if (h.unknown & (1 << at)) this.unknownTotal -= n;
  }

  /** A channel's list emptied: it and its unknown bit go, and with the customer's last list, the entry. */
  private clear(customerId: string, h: Held, at: number): void {
    h.lists[at] = null;
    h.unknown &= ~(1 << at);
    if (!h.lists[0] && !h.lists[1] && !h.lists[2]) {
      this.held.delete(customerId);
      this.onHolder?.(customerId, -1);
    }
  }

  private expire(customerId: string, h: Held, at: number, now: number): number {
    const list = h.lists[at];
    if (!list) return 0;
    let n = 0;
    while (n < list.length && list[n] <= now) n++;
    if (n === 0) return 0;
    this.release(h, at, n);
    if (n === list.length) this.clear(customerId, h, at);
    else list.splice(0, n);
    return n;
  }
}

/** Checks answered, by outcome (`unreserved`: allowing checks whose slot did not fit; marketing ones among them refused). */
export interface BudgetCounts {
  allowed: number;
  suppressed: number;
  transactional: number;
  unreserved: number;
}

/** What the main thread learns of one settled check. */
export interface BudgetReport {
  customerId: string;
  channel: BudgetChannel;
  campaignId: string | null;
  at: number;
  /** Null when allowed; else the reasons' codes, for the campaign's tally. */
  codes: ReasonCode[] | null;
  /** A slot was reserved: the main thread's copy of the reservations takes it too (its suppressed set counts them). */
  reserved: boolean;
  /** The customer had live state (a reservation for one who had none counts against maxUnknownReservations). */
  known: boolean;
  /** The refusal says something new about the customer: its suppressed-set entries are brought up to date. */
  refresh: boolean;
}

/** A decision once settled: as answered, and whether it was refused for room alone. */
export interface Settled {
  decision: Decision;
  full: boolean;
  /** What reserve() did for an allowing decision; null for a refusal. */
  outcome: ReserveOutcome | null;
}

/**
 * The rest of a check once its decision is made, in the thread that owns the reservations: an allowing decision
 * reserves a slot on its channel; when the caps leave no room (ids never seen, from one sender, would pin one each for
 * the whole TTL) a transactional message passes unreserved, as it goes whatever the budget says, and a marketing one
 * is refused until reservations expire, never allowed unreserved past the last slot. Counted in `counts`.
 */
export function settleDecision(reservations: Reservations, b: Pick<BudgetConfig, 'maxReservations' | 'maxUnknownReservations' | 'reservationTtlMs'>, request: BudgetRequest, decision: Decision, known: boolean, now: number, counts: BudgetCounts): Settled {
  let d = decision;
  let full = false;
  const outcome = d.allow ? reservations.reserve(request.customerId, request.channel, now, known) : null;
  if (outcome === 'saturated') counts.unreserved++;
  else if (outcome === 'full') {
    counts.unreserved++;
    if (request.priority !== 'transactional') {
      full = true;
      const text =
        reservations.size >= b.maxReservations
          ? `no room to reserve: ${b.maxReservations} reservations held (budget.maxReservations)`
          : `no room to reserve for a customer with no history: ${b.maxUnknownReservations} such reservations held (budget.maxUnknownReservations)`;
      d = refuseUnreserved(d, text, now + b.reservationTtlMs);
    }
  }
  if (!d.allow) counts.suppressed++;
  else if (request.priority === 'transactional') counts.transactional++;
  else counts.allowed++;
  return { decision: d, full, outcome };
}

/**
 * Whether a settled refusal says something new about the customer, so that its suppressed-set entries are brought up
 * to date: not a refusal for room, nor quiet hours alone (the set leaves them out, and at night they are every
 * marketing refusal).
 */
export function refusalToRefresh(s: Settled): boolean {
  return !s.decision.allow && !s.full && !s.decision.reasons.every((r) => r.code === 'quiet_hours');
}
