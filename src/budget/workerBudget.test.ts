// The worker's budget decides as the main thread's does: the same state (windows read through shared memory, the
// same reservations, the same withdrawn consent) gives the same decision, reservation and counts for any sequence of
// checks, batch checks, peeks, touches, withdrawals and erasures; and what it reports is what the main thread's
// tally and suppressed set need.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import { HOUR_MS as H, ManualClock, MINUTE_MS as MIN } from '../shared/clock.js';
import { CustomerWindows, type SharedWindows } from '../windows/customerWindows.js';
import { ev } from '../windows/events.testing.js';
import { WindowsReader } from '../windows/windowsReader.js';
import { BUDGET_CHANNELS } from './allowance.js';
import { ContactBudget } from './contactBudget.js';
import type { BudgetRequest } from './decision.js';
import type { BudgetReport } from './reservations.js';
import { WorkerBudget } from './workerBudget.js';

const NOW = Date.parse('2024-03-10T12:30:00Z');
const IDS = ['c0', 'c1', 'c2', 'c3', 'c4', 'never-seen'];
const ZONES = ['Europe/Paris', 'Asia/Tokyo', 'America/Denver'];

function pair(maxReservations = 1_000) {
  const config = parseConfig({
    signals: { caps: { email: { perDay: 2, perWeek: 5 }, push: { perDay: 1, perWeek: 4 }, sms: { perDay: 1, perWeek: 2 }, all: { perDay: 3, perWeek: 8 } } },
    budget: { quietHours: { start: 22, end: 7 }, maxReservations, maxUnknownReservations: Math.max(1, Math.floor(maxReservations / 2)) },
  });
  const clock = new ManualClock(NOW);
  const windows = new CustomerWindows({ maxCustomers: 100, idleEvictMin: 8 * 1440, initialCapacity: 4 });
  const withdrawn = new Set<string>();
  const main = new ContactBudget({ windows, config, clock, consentWithdrawn: (id) => withdrawn.has(id) });
  const queue: SharedWindows[] = [];
  const reader = new WindowsReader(
    windows.share((s) => queue.push(s)),
    () => queue.shift(),
  );
  const reports: BudgetReport[] = [];
  // Customers holding a slot on the worker, as the thread counts them for the main thread (BudgetThreadData.holders).
  const holders = new Map<string, number>();
  const onHolder = (id: string, delta: 1 | -1) => void holders.set(id, (holders.get(id) ?? 0) + delta);
  const worker = new WorkerBudget({ reader, config, clock, report: (r) => reports.push(r), onHolder });
  return { config, clock, windows, withdrawn, main, worker, reports, holders };
}

type Step =
  | { kind: 'check' | 'batch' | 'peek'; id: number; channel: number; transactional: boolean }
  | { kind: 'event'; id: number; type: string; agoMin: number; zone: number }
  | { kind: 'withdraw' | 'grant' | 'erase'; id: number }
  | { kind: 'wait'; min: number };

const EVENT_TYPES = ['email_sent', 'push_sent', 'sms_sent', 'email_open', 'click', 'complaint', 'unsubscribe', 'page_view'];
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constantFrom('check' as const, 'batch' as const, 'peek' as const), id: fc.nat(IDS.length - 1), channel: fc.nat(2), transactional: fc.boolean() }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('event' as const), id: fc.nat(IDS.length - 2), type: fc.constantFrom(...EVENT_TYPES), agoMin: fc.nat(8 * 1440), zone: fc.nat(ZONES.length) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('withdraw' as const, 'grant' as const, 'erase' as const), id: fc.nat(IDS.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('wait' as const), min: fc.nat(12 * 60) }) },
);

describe('WorkerBudget: the main thread’s decisions, from another thread’s reads', () => {
  it('gives the same decisions, reservations and counts as ContactBudget for any sequence of steps', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 80 }), fc.integer({ min: 1, max: 6 }), (steps, maxReservations) => {
        const { clock, windows, withdrawn, main, worker, reports, holders } = pair(maxReservations);
        for (const s of steps) {
          const now = clock.now();
          if (s.kind === 'check' || s.kind === 'batch' || s.kind === 'peek') {
            const request: BudgetRequest = { customerId: IDS[s.id], channel: BUDGET_CHANNELS[s.channel], campaignId: 'spring', priority: s.transactional ? 'transactional' : 'marketing' };
            const ask = s.kind === 'check' ? 'check' : s.kind === 'batch' ? 'checkForBatch' : 'peek';
            // An expired reservation leaves the totals the caps compare against when it is next looked at or swept
            // (budget.sweepIntervalMs); the main thread looks at a customer's for each of its touches, the worker
            // for its checks. Swept, both hold the same totals.
            main.reservations.sweep(now);
            worker.sweep(now);
            expect(worker[ask]({ ...request }, now)).toEqual(main[ask]({ ...request }, now));
          } else if (s.kind === 'event') {
            // As the pipeline does: the windows first, then the budget, and the worker told of the touch where, before
            // the record, it held a slot of the customer's or the main thread's copy did (budgetThread.ts).
            const id = IDS[s.id];
            const e = ev(s.type, now - s.agoMin * MIN, { customerId: id, channel: s.type.startsWith('email') ? 'email' : null, props: s.zone < ZONES.length ? { tz: ZONES[s.zone] } : null });
            const tell = s.type.endsWith('_sent') && ((holders.get(id) ?? 0) > 0 || main.reservations.holds(id));
            const slot = windows.slotFor(id);
            windows.record(slot, e, 1);
            main.onEvent(e, slot, false);
            if (tell) worker.consume(id, s.type.split('_')[0] as 'email', now);
          } else if (s.kind === 'withdraw' || s.kind === 'grant') {
            if (s.kind === 'withdraw') withdrawn.add(IDS[s.id]);
            else withdrawn.delete(IDS[s.id]);
            worker.setWithdrawn(IDS[s.id], s.kind === 'withdraw');
          } else if (s.kind === 'erase') {
            withdrawn.delete(IDS[s.id]);
            windows.remove(IDS[s.id]);
            main.forget(IDS[s.id]);
            worker.forget(IDS[s.id]);
          } else if (s.kind === 'wait') clock.advance(s.min * MIN);
        }
        expect(worker.counts).toEqual(main.counts);
        // Reservations expire when they are next looked at: swept, both hold the same.
        main.reservations.sweep(clock.now());
        worker.sweep(clock.now());
        expect(worker.reservations.size).toBe(main.reservations.size);
        expect(worker.reservations.unknownSize).toBe(main.reservations.unknownSize);
        // One report per settled check (peeks settle nothing), each counted as the main thread counted it.
        const settled = main.counts.allowed + main.counts.suppressed + main.counts.transactional;
        expect(reports.length).toBe(settled);
        expect(reports.filter((r) => r.codes === null).length).toBe(main.counts.allowed + main.counts.transactional);
      }),
      { numRuns: 300 },
    );
  });

  it('reports each check for the tally and the suppressed set: codes, a reserved slot, and whether to refresh', () => {
    const { clock, windows, main, worker, reports } = pair();
    const touch = (id: string) => {
      const e = ev('email_sent', clock.now(), { customerId: id, channel: 'email' });
      const slot = windows.slotFor(id);
      windows.record(slot, e, 1);
      main.onEvent(e, slot, false);
    };
    touch('c1');
    const email = { customerId: 'c1', channel: 'email' as const, campaignId: 'spring', priority: 'marketing' as const };
    // One touch of the 2 a day: the check allows and reserves the second; the next is over the allowance.
    expect(worker.check(email).allow).toBe(true);
    expect(worker.check(email).allow).toBe(false);
    expect(reports).toEqual([
      { customerId: 'c1', channel: 'email', campaignId: 'spring', at: NOW, codes: null, reserved: true, known: true, refresh: false },
      { customerId: 'c1', channel: 'email', campaignId: 'spring', at: NOW, codes: ['allowance_24h'], reserved: false, known: true, refresh: true },
    ]);
    // The touch that used the slot is consumed: the count is the touch's now, not touch + reservation.
    touch('c1');
    worker.consume('c1', 'email');
    expect(worker.reservations.size).toBe(0);
    clock.advance(24 * H);
    expect(worker.check(email).allow).toBe(true);
  });

  it('a check that reads a touch the thread has not been told of decides again once it is, so the touch cannot use its slot', () => {
    for (const batch of [false, true]) {
      const { clock, windows, config } = pair();
      const queue: SharedWindows[] = [];
      const reader = new WindowsReader(windows.share((s) => queue.push(s)), () => queue.shift());
      // The touch the windows hold and the thread has not been told of yet: told when the check asks (caughtUp, as
      // the thread's drain would), else only after the check (as it would arrive then).
      let untold = true;
      const tell = () => {
        untold = false;
        worker.consume('c1', 'email');
      };
      const worker = new WorkerBudget({ reader, config, clock, report: () => undefined, caughtUp: () => (untold ? (tell(), false) : true) });
      windows.record(windows.slotFor('c1'), ev('email_sent', clock.now(), { customerId: 'c1', channel: 'email' }), 1);
      const email = { customerId: 'c1', channel: 'email' as const, campaignId: 'spring', priority: 'marketing' as const };
      const ask = () => (batch ? worker.checkForBatch(email) : worker.check(email)).allow;
      // One email of two a day: the first check takes the last slot, and the touch, told before it settled, used none.
      expect(ask()).toBe(true);
      if (untold) tell();
      expect(worker.reservations.count('c1', 'email', clock.now())).toBe(1);
      expect(ask()).toBe(false);
      expect(worker.catchUps).toEqual({ again: 1, waitsOut: 0 });
    }
  });
});
