// The contact budget's decisions away from the processor's event loop (step 3 of README "Where the budget's answers
// belong"): customers read through a WindowsReader over the windows' shared arrays, the reservations owned here, the
// customers whose consent is withdrawn mirrored from the main thread. What the main thread keeps (the per-campaign
// tally, the suppressed-now set and its bucket, the counts in /metrics) it learns from a report per decision. No I/O.
import type { BudgetConfig, VigilConfig } from '../config/schema.js';
import type { Clock } from '../shared/clock.js';
import { emptySums, type CustomerRead, type CustomerSums, type WindowsReader } from '../windows/windowsReader.js';
import { BUDGET_CHANNELS, type BudgetChannel } from './allowance.js';
import { budgetReservations, budgetSettings } from './contactBudget.js';
import { batchDecision, decide, inNegativeCooldown, overAnAllowance, quietHoursReason, type BudgetRequest, type BudgetSettings, type Decision } from './decision.js';
import { quietUntil } from './quietHours.js';
import type { BudgetDecider } from './requests.js';
import { refusalToRefresh, settleDecision, type BudgetCounts, type BudgetReport, type Reservations } from './reservations.js';

export interface WorkerBudgetDeps {
  reader: WindowsReader;
  config: Pick<VigilConfig, 'signals'> & { budget: BudgetConfig };
  clock: Clock;
  report: (r: BudgetReport) => void;
  /**
   * Asked after a decision's windows read, before it reserves: whether every touch the main thread has said (before
   * the windows took it) has been told here, the ones waiting applied first. False: the read may hold a touch that,
   * told afterwards, would use the slot this check takes (one past the allowance); the check reads and decides again.
   * Absent: always (tests of the decisions alone).
   */
  caughtUp?: () => boolean;
  /** Told as a customer's first reservation is taken (+1) and its last one goes (-1): BudgetThreadData.holders. */
  onHolder?: (customerId: string, delta: 1 | -1) => void;
}

/**
 * How long a check reads and decides again while a touch is said and not told. The main thread tells a touch in the
 * same synchronous step as it says it, microseconds later, unless it is descheduled there; past this the check
 * settles as read (and `waitsOut` counts it).
 */
const CATCH_UP_MS = 50;

export class WorkerBudget implements BudgetDecider {
  readonly reservations: Reservations;
  readonly settings: BudgetSettings;
  readonly counts: BudgetCounts = { allowed: 0, suppressed: 0, transactional: 0, unreserved: 0 };
  /** Decisions taken again because a touch was said and not yet told; of them, those that settled after CATCH_UP_MS. */
  readonly catchUps = { again: 0, waitsOut: 0 };
  /** Customers whose consent is withdrawn: the main thread's consent store, mirrored (ConsentStore.isWithdrawn). */
  private readonly withdrawn = new Set<string>();
  /** Scratch for a batch's reads, reused from id to id. */
  private readonly sums = emptySums();
  private readonly reserved = new Float64Array(BUDGET_CHANNELS.length);

  constructor(private readonly deps: WorkerBudgetDeps) {
    this.settings = budgetSettings(deps.config);
    this.reservations = budgetReservations(deps.config.budget, this.settings, deps.onHolder);
  }

  /** ContactBudget.check(): decided, reserved when it allows, counted and reported. */
  check(request: BudgetRequest, now = this.deps.clock.now()): Decision {
    for (let since = -1; ; ) {
      const read = this.deps.reader.read(request.customerId, now);
      const decision = this.evaluate(request, now, read);
      if (this.settles(decision, since)) return this.settle(request, decision, read !== null, now);
      if (since < 0) since = performance.now();
    }
  }

  /**
   * ContactBudget.checkForBatch(): the same decision, reservation and counts, but a customer under every allowance is
   * decided from the window sums and the zone's quiet hours alone.
   */
  checkForBatch(request: BudgetRequest, now = this.deps.clock.now()): Decision {
    for (let since = -1; ; ) {
      const sums = this.deps.reader.readSums(request.customerId, now, this.sums);
      if (sums === null || this.mayBeSuppressed(request.customerId, sums, now)) return this.check(request, now);
      const zone = sums.zone ?? this.settings.defaultTimeZone;
      const quiet = request.priority === 'transactional' ? null : quietUntil(now, zone, this.settings.quietHours);
      const decision = batchDecision(request, quiet === null ? null : quietHoursReason(zone, quiet, this.settings));
      if (this.settles(decision, since)) return this.settle(request, decision, true, now);
      if (since < 0) since = performance.now();
    }
  }

  /**
   * Whether a decision just read may settle: a refusal reserves nothing, so it always may; an allowing one once every
   * touch said has been told (caughtUp), or CATCH_UP_MS after it first was not (`since`, -1 before).
   */
  private settles(decision: Decision, since: number): boolean {
    if (!decision.allow || !this.deps.caughtUp || this.deps.caughtUp()) return true;
    if (since < 0) this.catchUps.again++;
    else if (performance.now() - since > CATCH_UP_MS) {
      this.catchUps.waitsOut++;
      return true;
    }
    return false;
  }

  /** The decision without reserving, counting or reporting: `GET /customers/{id}/pressure`. */
  peek(request: BudgetRequest, now = this.deps.clock.now()): Decision {
    return this.evaluate(request, now, this.deps.reader.read(request.customerId, now));
  }

  /** A touch the main thread folded into the windows: its oldest reservation on the channel is used. */
  consume(customerId: string, channel: BudgetChannel, now = this.deps.clock.now()): void {
    this.reservations.consume(customerId, channel, now);
  }

  /** The main thread's consent store changed for the customer. */
  setWithdrawn(customerId: string, withdrawn: boolean): void {
    if (withdrawn) this.withdrawn.add(customerId);
    else this.withdrawn.delete(customerId);
  }

  /** An erasure: the customer's reservations and consent record go. */
  forget(customerId: string): void {
    this.reservations.forget(customerId);
    this.withdrawn.delete(customerId);
  }

  /** Removes expired reservations; returns how many. */
  sweep(now = this.deps.clock.now()): number {
    return this.reservations.sweep(now);
  }

  private evaluate(request: BudgetRequest, now: number, read: CustomerRead | null): Decision {
    const id = request.customerId;
    const reserved = { email: this.reservations.count(id, 'email', now), push: this.reservations.count(id, 'push', now), sms: this.reservations.count(id, 'sms', now) };
    return decide({ now, request, customer: read?.touches ?? null, consentWithdrawn: this.withdrawn.has(id), reserved }, this.settings);
  }

  /** ContactBudget.mayBeSuppressed() over a read of the sums: whether any reason but quiet hours could hold. */
  private mayBeSuppressed(customerId: string, sums: CustomerSums, now: number): boolean {
    if (this.withdrawn.has(customerId)) return true;
    if (inNegativeCooldown(sums.lastNegativeKind, sums.lastNegativeMin, now, this.settings)) return true;
    return overAnAllowance(sums.h24, sums.d7, sums.responses7d, this.reservations.countsInto(customerId, now, this.reserved), this.settings);
  }

  private settle(request: BudgetRequest, decision: Decision, known: boolean, now: number): Decision {
    const settled = settleDecision(this.reservations, this.deps.config.budget, request, decision, known, now, this.counts);
    const d = settled.decision;
    this.deps.report({
      customerId: request.customerId,
      channel: request.channel,
      campaignId: request.campaignId,
      at: now,
      codes: d.allow ? null : d.reasons.map((r) => r.code),
      reserved: settled.outcome === 'reserved',
      known,
      refresh: refusalToRefresh(settled),
    });
    return d;
  }
}
