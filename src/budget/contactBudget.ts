// The live contact budget: reads a customer's windows, decides, reserves, tallies suppressions per campaign, and
// keeps the set of customers suppressed now (what the NATS bucket mirrors). No I/O: changes go to a callback.
import type { BudgetConfig, VigilConfig } from '../config/schema.js';
import { categoryOf, touchChannel, type VigilEvent } from '../contract/event.js';
import type { Clock } from '../shared/clock.js';
import { TOUCH_CHANNELS, type CustomerWindows } from '../windows/customerWindows.js';
import { BUDGET_CHANNELS, type BudgetChannel, type BudgetScope } from './allowance.js';
import { batchDecision, decide, inNegativeCooldown, overAnAllowance, quietHoursReason, suppressionReasons, type BudgetRequest, type BudgetSettings, type CustomerTouches, type Decision } from './decision.js';
import { isValidTimeZone, quietUntil } from './quietHours.js';
import { refusalToRefresh, Reservations, settleDecision, type BudgetCounts, type BudgetReport } from './reservations.js';
import { SuppressionTally, topReasonsText, type SuppressionCount } from './suppressionTally.js';

/** One customer suppressed now on one channel (or `all`), as the bucket holds it. */
export interface Suppression {
  customerId: string;
  scope: BudgetScope;
  /** Epoch ms; null: until consent is granted again. */
  until: number | null;
  reasons: string[];
}

/**
 * The channel whose oldest reservation a touch event uses, or null: a touch on a budget channel, outside a replay (a
 * replay re-reads touches sent before this start; reservations are from checks after it).
 */
function usesReservation(ev: VigilEvent, replaying: boolean): BudgetChannel | null {
  if (replaying || categoryOf(ev.type) !== 'touch') return null;
  const ch = touchChannel(ev.type, ev.channel);
  return (BUDGET_CHANNELS as readonly string[]).includes(ch) ? (ch as BudgetChannel) : null;
}

/** What the budget's thread must be told of the events (ContactBudget.mirror). */
export interface BudgetMirror {
  /**
   * A touch the windows are about to take: said before they take it (true) where the thread may hold a slot of the
   * customer's (`mayHold`: this copy holds one), and told by consume() right after; a check on the thread that reads
   * the windows in between decides again once it is told. False: no slot there, the touch changes nothing there.
   */
  announce(customerId: string, mayHold: boolean): boolean;
  /** A touch said by announce() used a reservation at `now`; `found`: this budget's copy had one to use (ReportFence). */
  consume(customerId: string, channel: BudgetChannel, now: number, found: boolean): void;
  forget(customerId: string): void;
}

export type SuppressionChange = { op: 'put'; suppression: Suppression } | { op: 'delete'; customerId: string; scope: BudgetScope };

export interface ContactBudgetDeps {
  windows: CustomerWindows;
  config: Pick<VigilConfig, 'signals'> & { budget: BudgetConfig };
  clock: Clock;
  consentWithdrawn: (customerId: string) => boolean;
}

const SCOPES: readonly BudgetScope[] = ['email', 'push', 'sms', 'all'];
/** A scope's index in a customer's entries (SCOPES' order). */
const SCOPE_AT: Readonly<Record<BudgetScope, number>> = { email: 0, push: 1, sms: 2, all: 3 };

/** A customer's entries in the suppressed set, by scope (SCOPES' order); null: not suppressed on that scope. */
type Entries = (Suppression | null)[];
/** What refresh() gathers of a scope from the three channels' decisions. */
type Gathered = { until: number | null; reasons: string[] } | null;

const sameTexts = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((t, i) => t === b[i]);

/**
 * The most any allowance can be under these settings: a bound's max, or a cap without bounds at twice its value
 * (the engagement factor is at most 1.5). At least 1.
 */
export function largestAllowance(s: Pick<BudgetSettings, 'caps' | 'bounds'>): number {
  let most = 1;
  for (const [scope, cap] of Object.entries(s.caps)) {
    const b = s.bounds[scope];
    most = Math.max(most, b ? Math.max(b.maxPerWeek, b.maxPerDay) : Math.ceil(2 * Math.max(cap.perWeek, cap.perDay)));
  }
  return most;
}

/** What decide() reads of the config. */
export function budgetSettings(config: ContactBudgetDeps['config']): BudgetSettings {
  const b = config.budget;
  return {
    caps: config.signals.caps,
    bounds: b.bounds,
    quietHours: b.quietHours,
    defaultTimeZone: b.defaultTimeZone,
    negativeCooldownMs: b.negativeCooldownMs,
    reservationTtlMs: b.reservationTtlMs,
  };
}

/** Reservations under the configured caps (the thread that decides owns them). */
export function budgetReservations(b: BudgetConfig, s: BudgetSettings, onHolder?: (customerId: string, delta: 1 | -1) => void): Reservations {
  return new Reservations(b.reservationTtlMs, { maxTotal: b.maxReservations, maxUnknown: b.maxUnknownReservations, maxPerKey: largestAllowance(s) }, onHolder);
}

export class ContactBudget {
  readonly reservations: Reservations;
  readonly tally: SuppressionTally;
  readonly settings: BudgetSettings;
  /**
   * Checks answered since start, by outcome; for metrics and the benchmark. `unreserved`: allowing checks whose slot
   * did not fit under the reservation caps (marketing ones among them were refused, also counted as suppressed).
   */
  readonly counts: BudgetCounts = { allowed: 0, suppressed: 0, transactional: 0, unreserved: 0 };
  /**
   * The suppressed set: a customer's entries by scope, one map read for all four (a refresh runs for every touch and
   * negative event of a customer who is or may be suppressed). A customer is here while suppressed on any scope.
   */
  private readonly suppressed = new Map<string, Entries>();
  private entryCount = 0;
  /** refresh()'s scratch: what the three channels' decisions say of each scope. */
  private readonly gathered: Gathered[] = [null, null, null, null];
  private readonly listeners = new Set<(c: SuppressionChange) => void>();
  /** Scratch for mayBeSuppressed(): touch sums per channel, reused for every event. */
  private readonly sums24h = new Float64Array(TOUCH_CHANNELS.length);
  private readonly sums7d = new Float64Array(TOUCH_CHANNELS.length);
  private readonly reservedScratch = new Float64Array(BUDGET_CHANNELS.length);
  /**
   * The budget's thread while it answers senders (budgetThread.ts): told each touch that uses a reservation and each
   * erasure, in order with the events, so that its reservations stay what these would be.
   */
  mirror: BudgetMirror | null = null;
  /** beforeRecord() said the event's touch to the mirror: onEvent() tells it. */
  private said = false;

  constructor(private readonly deps: ContactBudgetDeps) {
    this.settings = budgetSettings(deps.config);
    this.reservations = budgetReservations(deps.config.budget, this.settings);
    this.tally = new SuppressionTally(deps.config.budget.campaignWindowMs);
  }

  /**
   * A check settled by the budget's thread (budgetThread.ts), which owns the reservations that answer senders: the
   * campaign's tally counts it, this copy of the reservations takes its slot (the suppressed set counts them), and a
   * refusal that says something new brings the customer's suppressed entries up to date, as a check here would.
   */
  applyReport(r: BudgetReport): void {
    this.tally.record(r.campaignId, r.channel, r.codes, r.at);
    if (r.reserved) this.reservations.reserve(r.customerId, r.channel, r.at, r.known);
    if (r.refresh) this.refresh(r.customerId, this.deps.clock.now());
  }

  /** Suppression changes as they happen (the bucket writer). Returns an unsubscribe. */
  onChange(listener: (c: SuppressionChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Decides one request; an allowing decision reserves a slot on the channel at once, in the same synchronous
   * step, so a second check for the same customer sees it (JS runs one check at a time: exact in one process).
   */
  check(request: BudgetRequest, now = this.deps.clock.now()): Decision {
    const slot = this.deps.windows.find(request.customerId);
    return this.settle(request, this.evaluate(request, now, slot === -1 ? null : this.touches(slot, now)), slot !== -1, now);
  }

  /**
   * check() for one id of a batch, which reads only allow, the reasons and until: the same decision, reservation and
   * counts, but a customer under every allowance (mayBeSuppressed false: nearly every id of a campaign) is decided
   * from the window sums and the zone's quiet hours alone, without the bucket series, the allowance and the used
   * figures that check() builds for a single answer.
   */
  checkForBatch(request: BudgetRequest, now = this.deps.clock.now()): Decision {
    const slot = this.deps.windows.find(request.customerId);
    if (this.mayBeSuppressed(request.customerId, now, slot)) return this.check(request, now);
    // mayBeSuppressed() is false only for a customer with live state: the slot is there.
    const zone = this.deps.windows.zoneOf(slot) ?? this.settings.defaultTimeZone;
    const quiet = request.priority === 'transactional' ? null : quietUntil(now, zone, this.settings.quietHours);
    return this.settle(request, batchDecision(request, quiet === null ? null : quietHoursReason(zone, quiet, this.settings)), true, now);
  }

  /** Reserves for an allowing decision, counts and tallies it: the rest of check() once the decision is made. */
  private settle(request: BudgetRequest, decision: Decision, known: boolean, now: number): Decision {
    const settled = settleDecision(this.reservations, this.deps.config.budget, request, decision, known, now, this.counts);
    const d = settled.decision;
    this.tally.record(request.campaignId, request.channel, d.allow ? null : d.reasons.map((r) => r.code), now);
    if (refusalToRefresh(settled)) this.refresh(request.customerId, now);
    return d;
  }

  /** The decision without reserving or counting: what `GET /customers/{id}/pressure` shows. */
  peek(request: BudgetRequest, now = this.deps.clock.now()): Decision {
    return this.evaluate(request, now);
  }

  /**
   * After the pipeline folded an event into the windows (slot -1 when the customer left live state, as on a consent
   * withdrawal): the zone from `props.tz`, a touch consumes a reservation, and the suppressed set is brought up to date.
   */
  onEvent(ev: VigilEvent, slot: number, replaying: boolean): void {
    const tz = ev.props?.tz;
    if (slot >= 0 && typeof tz === 'string' && isValidTimeZone(tz)) this.deps.windows.setZone(slot, tz);
    const ch = usesReservation(ev, replaying);
    if (ch !== null) {
      const now = this.deps.clock.now();
      const found = this.reservations.consume(ev.customerId, ch, now);
      if (this.said) this.mirror?.consume(ev.customerId, ch, now, found);
    }
    this.said = false;
    const category = categoryOf(ev.type);
    if (category === 'touch' || category === 'negative' || category === 'privacy') this.refresh(ev.customerId, this.deps.clock.now());
  }

  /** Before the windows take an event: a touch onEvent() will tell the budget's thread of is said first (announce). */
  beforeRecord(ev: VigilEvent, replaying: boolean): void {
    this.said = this.mirror !== null && usesReservation(ev, replaying) !== null && this.mirror.announce(ev.customerId, this.reservations.holds(ev.customerId));
  }

  /** An erasure: reservations and suppressions of the customer go, and the bucket drops them. */
  forget(customerId: string): void {
    this.reservations.forget(customerId);
    this.mirror?.forget(customerId);
    const entries = this.suppressed.get(customerId);
    for (let at = 0; entries && at < SCOPES.length; at++) this.put(customerId, entries, at, null);
  }

  /** Removes expired reservations and suppressions at once (see sweepSteps). */
  sweep(now = this.deps.clock.now()): { reservations: number; suppressions: number } {
    const steps = this.sweepSteps(now);
    for (let r = steps.next(); ; r = steps.next()) if (r.done) return r.value;
  }

  /**
   * Removes expired reservations and suppressions one entry a step: the suppression bucket runs it every
   * budget.sweepIntervalMs in slices of the event loop (at 1,000,000 customers the whole walk held it ~90 ms). An
   * entry that expires or is replaced between two steps is swept then or at the next sweep.
   */
  *sweepSteps(now = this.deps.clock.now()): Generator<void, { reservations: number; suppressions: number }> {
    const reservations = yield* this.reservations.sweepSteps(now);
    let suppressions = 0;
    // A Map's iterator tolerates the deletion of the entry it is on (put() deletes a customer's last entry).
    for (const [customerId, entries] of this.suppressed) {
      for (let at = 0; at < SCOPES.length; at++) {
        const s = entries[at];
        if (s !== null && s.until !== null && s.until <= now) {
          this.put(customerId, entries, at, null);
          suppressions++;
        }
      }
      yield;
    }
    this.tally.sweep(now);
    return { reservations, suppressions };
  }

  /** Decides a customer again and updates the suppressed set (a key found in the bucket at start). */
  recheck(customerId: string): void {
    this.refresh(customerId, this.deps.clock.now());
  }

  isSuppressed(customerId: string, scope: BudgetScope): boolean {
    return (this.suppressed.get(customerId)?.[SCOPE_AT[scope]] ?? null) !== null;
  }

  /**
   * Customers suppressed now on a scope, a customer's entries together (in SCOPES' order) and customers in the order
   * they entered the set; for tests and the bucket's rebuild at start.
   */
  *suppressions(): IterableIterator<Suppression> {
    for (const entries of this.suppressed.values()) for (const s of entries) if (s !== null) yield s;
  }

  /** One customer's entries in the suppressed set (the privacy export's). */
  suppressionsOf(customerId: string): Suppression[] {
    return (this.suppressed.get(customerId) ?? []).filter((s): s is Suppression => s !== null);
  }

  /** Entries in the suppressed set (a customer suppressed on two scopes counts two). */
  get suppressedCount(): number {
    return this.entryCount;
  }

  /** Customers in the suppressed set. */
  get suppressedCustomerCount(): number {
    return this.suppressed.size;
  }

  /** Checks and suppressions per campaign and channel over budget.campaignWindowMs. */
  campaignCounts(now = this.deps.clock.now()): SuppressionCount[] {
    return this.tally.counts(now);
  }

  /** The value and reasons of the `suppressed_customers` alert signal for one campaign; null when it had no checks. */
  campaignSample(campaignId: string, now = this.deps.clock.now()): { value: number; reasons: string[] } | null {
    const rows = this.tally.counts(now).filter((c) => c.campaignId === campaignId);
    if (rows.length === 0) return null;
    const suppressed = rows.reduce((n, r) => n + r.suppressed, 0);
    const checked = rows.reduce((n, r) => n + r.checked, 0);
    const merged = new Map<string, number>();
    for (const r of rows) for (const x of r.reasons) merged.set(x.code, (merged.get(x.code) ?? 0) + x.count);
    const reasons = [...merged].map(([code, count]) => ({ code: code as never, count })).sort((a, b) => b.count - a.count);
    const minutes = Math.round(this.deps.config.budget.campaignWindowMs / 60_000);
    const channels = rows.filter((r) => r.suppressed > 0).map((r) => `${r.channel} ${r.suppressed}`).join(', ');
    return {
      value: suppressed,
      reasons: [`${suppressed} of ${checked} customers checked were suppressed in the last ${minutes} min (${channels || 'none'})`, ...(reasons.length ? [`top reasons: ${topReasonsText(reasons)}`] : [])],
    };
  }

  private evaluate(request: BudgetRequest, now: number, read?: CustomerTouches | null): Decision {
    const slot = read === undefined ? this.deps.windows.find(request.customerId) : -1;
    const customer = read !== undefined ? read : slot === -1 ? null : this.touches(slot, now);
    return decide({ now, request, customer, consentWithdrawn: this.deps.consentWithdrawn(request.customerId), reserved: this.reservedOf(request.customerId, now) }, this.settings);
  }

  /** The customer's reservations per channel, as decide() reads them. */
  private reservedOf(customerId: string, now: number): Record<BudgetChannel, number> {
    const r = this.reservations.countsInto(customerId, now, this.reservedScratch);
    return { email: r[0], push: r[1], sms: r[2] };
  }

  private touches(slot: number, now: number): CustomerTouches {
    const w = this.deps.windows;
    const nowMin = Math.floor(now / 60_000);
    const buckets = {} as CustomerTouches['buckets'];
    for (const ch of TOUCH_CHANNELS) buckets[ch] = w.touchBuckets(slot, ch, nowMin);
    // Only what the decision reads, not a whole view: this runs for every touch and negative event.
    return { buckets, responses7d: w.responses7d(slot, nowMin), lastResponseMin: w.lastResponseMin(slot), lastNegative: w.lastNegativeOf(slot), zone: w.zoneOf(slot) };
  }

  /**
   * Whether any reason but quiet hours could hold for the customer now, read from window sums alone: the same tests
   * as decide()'s (consent, a complaint or unsubscribe within the cooldown, a 24 h or 7-day window at or over its
   * allowance on a channel or on all), without building the reasons, texts and bucket series. False means that
   * decide() would give no reason on any channel; refresh() runs for every touch, and nearly every touch is such.
   */
  mayBeSuppressed(customerId: string, now: number, slot = this.deps.windows.find(customerId)): boolean {
    if (this.deps.consentWithdrawn(customerId)) return true;
    const w = this.deps.windows;
    // No live state: rare enough (an erasure, a withdrawal) to take the full path.
    if (slot === -1) return true;
    if (inNegativeCooldown(w.lastNegativeKindOf(slot), w.lastNegativeMinOf(slot), now, this.settings)) return true;
    const nowMin = Math.floor(now / 60_000);
    w.touchSums(slot, nowMin, this.sums24h, this.sums7d);
    const reserved = this.reservations.countsInto(customerId, now, this.reservedScratch);
    return overAnAllowance(this.sums24h, this.sums7d, w.responses7d(slot, nowMin), reserved, this.settings);
  }

  /** Brings a customer's entries in the suppressed set up to date: every reason but quiet hours, by scope. */
  private refresh(customerId: string, now: number): void {
    const entries = this.suppressed.get(customerId);
    // Nearly every touch leaves a customer under every allowance: nothing to decide, nothing held to clear.
    if (!entries && !this.mayBeSuppressed(customerId, now)) return;
    const gathered = this.gathered.fill(null);
    let any = false;
    const slot = this.deps.windows.find(customerId);
    const customer = slot === -1 ? null : this.touches(slot, now);
    // Every channel's reasons at once: a marketing request's on email, push or sms, quiet hours left out.
    const reasons = suppressionReasons({ now, customer, consentWithdrawn: this.deps.consentWithdrawn(customerId), reserved: this.reservedOf(customerId, now) }, this.settings);
    for (const r of reasons) {
      const at = SCOPE_AT[r.scope];
      const cur = gathered[at];
      any = true;
      if (!cur) gathered[at] = { until: r.until, reasons: [r.text] };
      else {
        cur.reasons.push(r.text);
        cur.until = cur.until === null || r.until === null ? null : Math.max(cur.until, r.until);
      }
    }
    // Nearly every touch leaves a customer who is suppressed on no scope unsuppressed: nothing to write.
    if (!any && !entries) return;
    let held = entries;
    for (let at = 0; at < SCOPES.length; at++) {
      const g = gathered[at];
      held = this.put(customerId, held, at, g ? { customerId, scope: SCOPES[at], until: g.until, reasons: g.reasons } : null);
    }
  }

  /**
   * Sets a customer's entry on one scope (null: none) in `entries` (the customer's, or undefined when it has none),
   * announces a change, and returns the customer's entries after it (undefined once it has none left).
   */
  private put(customerId: string, entries: Entries | undefined, at: number, s: Suppression | null): Entries | undefined {
    const cur = entries?.[at] ?? null;
    if (s === null) {
      if (cur === null) return entries;
      entries![at] = null;
      this.entryCount--;
      const left = entries!.some((e) => e !== null) ? entries : undefined;
      if (!left) this.suppressed.delete(customerId);
      this.emit({ op: 'delete', customerId, scope: SCOPES[at] });
      return left;
    }
    if (cur !== null && cur.until === s.until && sameTexts(cur.reasons, s.reasons)) return entries;
    let held = entries;
    if (!held) this.suppressed.set(customerId, (held = [null, null, null, null]));
    if (cur === null) this.entryCount++;
    held[at] = s;
    this.emit({ op: 'put', suppression: s });
    return held;
  }

  private emit(c: SuppressionChange): void {
    for (const l of this.listeners) l(c);
  }
}
