import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import { HOUR_MS as H, ManualClock } from '../shared/clock.js';
import { CustomerWindows } from '../windows/customerWindows.js';
import { ev } from '../windows/events.testing.js';
import { allowanceFor, underAllowanceAt } from './allowance.js';
import { ContactBudget } from './contactBudget.js';
import { decide, type BudgetSettings, type CustomerTouches } from './decision.js';
import { quietUntil } from './quietHours.js';

const NOW = Date.parse('2024-03-10T12:30:00Z');
const NOW_MIN = NOW / 60_000;
const bounds = { email: { minPerDay: 1, maxPerDay: 3, minPerWeek: 3, maxPerWeek: 10 } };
const settings: BudgetSettings = {
  caps: { email: { perDay: 4, perWeek: 14 } },
  bounds,
  quietHours: { start: 21, end: 8 },
  defaultTimeZone: 'UTC',
  negativeCooldownMs: 72 * H,
  reservationTtlMs: 5 * 60_000,
};
const none = { email: 0, push: 0, sms: 0 };
const empty = () => ({ h24: new Array<number>(12).fill(0), d7: new Array<number>(7).fill(0) });
function customer(over: Partial<CustomerTouches> = {}): CustomerTouches {
  return { buckets: { email: empty(), push: empty(), sms: empty(), other: empty() }, responses7d: 0, lastResponseMin: null, lastNegative: null, zone: null, ...over };
}
const email = (customerId = 'c1', priority: 'marketing' | 'transactional' = 'marketing') => ({ customerId, channel: 'email' as const, campaignId: 'spring', priority });

describe('allowance', () => {
  const caps = { email: { perDay: 2, perWeek: 7 } };
  it('halves the caps of a customer who ignored 10 touches: floor(2 × 0.5) = 1 a day, floor(7 × 0.5) = 3 a week', () => {
    expect(allowanceFor('email', 10, 0, caps, bounds)).toEqual({ perDay: 1, perWeek: 3, factor: 0.5 });
  });
  it('raises them for one who answered 4 of 10 (factor 1.5): 3 a day, floor(10.5) = 10 a week, at the hard max of 10', () => {
    expect(allowanceFor('email', 10, 4, caps, bounds)).toEqual({ perDay: 3, perWeek: 10, factor: 1.5 });
  });
  it('1 response in 10 touches is factor 0.75: floor(1.5) = 1 a day, floor(5.25) = 5 a week', () => {
    expect(allowanceFor('email', 10, 1, caps, bounds)).toEqual({ perDay: 1, perWeek: 5, factor: 0.75 });
  });
  it('keeps the configured caps below 3 touches in 7 days, and the hard minimum holds an ignorer at 1 a day', () => {
    expect(allowanceFor('email', 2, 0, caps, bounds)).toEqual({ perDay: 2, perWeek: 7, factor: 1 });
    expect(allowanceFor('email', 10, 0, { email: { perDay: 1, perWeek: 4 } }, bounds)).toEqual({ perDay: 1, perWeek: 3, factor: 0.5 });
  });
  it('a scope without a cap is unlimited', () => {
    expect(allowanceFor('sms', 10, 0, caps, bounds)).toBeNull();
  });
  it('a window falls under its allowance when its buckets leave it: 2 touches in the 18:00 bucket of yesterday leave at 18:00 today', () => {
    const b = new Array<number>(12).fill(0);
    b[2] = 2; // yesterday 18:00–20:00 (the oldest bucket, [0], is yesterday 14:00)
    b[11] = 1; // today 12:00–14:00
    expect(new Date(underAllowanceAt(b, 120, NOW_MIN, 0, 2)!).toISOString()).toBe('2024-03-10T18:00:00.000Z');
    expect(underAllowanceAt(b, 120, NOW_MIN, 0, 4)).toBe(NOW);
    expect(underAllowanceAt(b, 120, NOW_MIN, 2, 2)).toBeNull();
  });
});

describe('decision', () => {
  it('suppresses the sixth email: "5 emails in 24 h against an allowance of 2; no open in 30 days", until both sends leave the window', () => {
    const c = customer({ lastResponseMin: NOW_MIN - 30 * 1440 });
    c.buckets.email.h24[5] = 3; // today 00:00–02:00
    c.buckets.email.h24[10] = 2; // today 10:00–12:00
    c.buckets.email.d7[6] = 5;
    const d = decide({ now: NOW, request: email(), customer: c, consentWithdrawn: false, reserved: none }, settings);
    expect(d.allow).toBe(false);
    expect(d.reasons.map((r) => r.text)).toEqual(['5 emails in 24 h against an allowance of 2; no open in 30 days']);
    // factor 0.5: floor(4 × 0.5) = 2 a day; 5 < floor(14 × 0.5) = 7 a week. Under 2 once 10:00's bucket leaves: 10:00 tomorrow.
    expect(new Date(d.until!).toISOString()).toBe('2024-03-11T10:00:00.000Z');
    expect(d.used.channel).toEqual({ h24: 5, d7: 5 });
  });
  it('allows a customer under every allowance, outside quiet hours, and an unknown customer', () => {
    const c = customer();
    c.buckets.email.h24[11] = 1;
    expect(decide({ now: NOW, request: email(), customer: c, consentWithdrawn: false, reserved: none }, settings)).toMatchObject({ allow: true, reasons: [], until: null });
    expect(decide({ now: NOW, request: email(), customer: null, consentWithdrawn: false, reserved: none }, settings).allow).toBe(true);
  });
  it('holds marketing back for 72 h after a complaint: "complaint 3 h ago"', () => {
    const d = decide({ now: NOW, request: email(), customer: customer({ lastNegative: { kind: 'complaint', min: NOW_MIN - 180 } }), consentWithdrawn: false, reserved: none }, settings);
    expect(d.reasons.map((r) => r.text)).toEqual(['complaint 3 h ago']);
    expect(d.until).toBe(NOW - 3 * H + 72 * H);
  });
  it('a support ticket is not a reason to hold back', () => {
    const d = decide({ now: NOW, request: email(), customer: customer({ lastNegative: { kind: 'support_ticket', min: NOW_MIN - 10 } }), consentWithdrawn: false, reserved: none }, settings);
    expect(d.allow).toBe(true);
  });
  it('consent withdrawn suppresses with no end', () => {
    const d = decide({ now: NOW, request: email(), customer: null, consentWithdrawn: true, reserved: none }, settings);
    expect(d).toMatchObject({ allow: false, until: null });
    expect(d.reasons.map((r) => r.text)).toEqual(['consent withdrawn']);
  });
  it('quiet hours in the customer\'s zone: 23:30 in Paris (22:30 UTC) waits until 08:00 Europe/Paris', () => {
    const now = Date.parse('2024-03-10T22:30:00Z');
    const d = decide({ now, request: email(), customer: customer({ zone: 'Europe/Paris' }), consentWithdrawn: false, reserved: none }, settings);
    expect(d.reasons.map((r) => r.text)).toEqual(['quiet hours until 08:00 Europe/Paris']);
    expect(new Date(d.until!).toISOString()).toBe('2024-03-11T07:00:00.000Z');
    // A customer whose events never carried a zone gets the default one (UTC, 22:30: quiet too).
    expect(decide({ now, request: email(), customer: null, consentWithdrawn: false, reserved: none }, settings).reasons[0].text).toBe('quiet hours until 08:00 UTC');
  });
  it('quiet hours over a daylight-saving change end at 08:00 local summer time', () => {
    // 00:30 CET on 31 March 2024; clocks go to 03:00 at 02:00, so 08:00 CEST is 06:00 UTC.
    expect(new Date(quietUntil(Date.parse('2024-03-30T23:30:00Z'), 'Europe/Paris', settings.quietHours)!).toISOString()).toBe('2024-03-31T06:00:00.000Z');
    expect(quietUntil(NOW, 'Europe/Paris', settings.quietHours)).toBeNull();
  });
  it('transactional messages are always allowed, even past the allowance and with consent withdrawn', () => {
    const c = customer();
    c.buckets.email.h24[11] = 9;
    const d = decide({ now: NOW, request: email('c1', 'transactional'), customer: c, consentWithdrawn: true, reserved: none }, settings);
    expect(d.allow).toBe(true);
  });
  it('reservations count: 2 sent and 1 reserved fill an allowance of 3 (caps 4 a day, held at the hard max of 3)', () => {
    const c = customer();
    c.buckets.email.h24[11] = 2;
    const d = decide({ now: NOW, request: email(), customer: c, consentWithdrawn: false, reserved: { ...none, email: 1 } }, settings);
    expect(d.reasons.map((r) => r.text)).toEqual(['3 emails in 24 h (1 reserved) against an allowance of 3']);
    // The reservation may still become a touch: counted as one until the 12:00 bucket leaves the window.
    expect(new Date(d.until!).toISOString()).toBe('2024-03-11T12:00:00.000Z');
  });
});

describe('ContactBudget', () => {
  function setup() {
    const config = parseConfig({ signals: { caps: { email: { perDay: 2, perWeek: 7 } } }, budget: { quietHours: { start: 0, end: 0 } } });
    const clock = new ManualClock(NOW);
    const windows = new CustomerWindows({ maxCustomers: 100, idleEvictMin: 8 * 1440 });
    const withdrawn = new Set<string>();
    const budget = new ContactBudget({ windows, config, clock, consentWithdrawn: (id) => withdrawn.has(id) });
    const touch = (id: string, at = clock.now()) => {
      const e = ev('email_sent', at, { customerId: id, channel: 'email', campaignId: 'spring' });
      const slot = windows.slotFor(id);
      windows.record(slot, e, 0);
      budget.onEvent(e, slot, false);
    };
    return { budget, clock, windows, touch, withdrawn };
  }

  it('an allowing check reserves the slot: the second of two checks for the last slot is suppressed', () => {
    const { budget, touch } = setup();
    touch('c1');
    expect(budget.check(email()).allow).toBe(true);
    const second = budget.check(email());
    expect(second.allow).toBe(false);
    expect(second.reasons[0].text).toBe('2 emails in 24 h (1 reserved) against an allowance of 2');
  });
  it('the touch consumes the reservation (counted once), and an unused one is released after the TTL', () => {
    const { budget, clock, touch } = setup();
    touch('c1');
    budget.check(email());
    touch('c1');
    expect(budget.reservations.size).toBe(0);
    expect(budget.check(email()).reasons[0].text).toBe('2 emails in 24 h against an allowance of 2');
    touch('c2');
    expect(budget.check(email('c2')).allow).toBe(true);
    expect(budget.check(email('c2')).allow).toBe(false);
    clock.advance(5 * 60_000);
    expect(budget.sweep().reservations).toBe(1);
    expect(budget.check(email('c2')).allow).toBe(true);
  });
  it('keeps the suppressed-now set: a customer at the allowance is in it until the window frees a slot, then swept out', () => {
    const { budget, clock, touch } = setup();
    touch('c1');
    touch('c1');
    const s = [...budget.suppressions()];
    expect(s).toHaveLength(1);
    expect(s[0]).toMatchObject({ customerId: 'c1', scope: 'email' });
    // Both touches sit in the 12:00–14:00 bucket: it leaves the 24 h window at 12:00 tomorrow.
    expect(new Date(s[0].until!).toISOString()).toBe('2024-03-11T12:00:00.000Z');
    clock.set(s[0].until!);
    expect(budget.sweep().suppressions).toBe(1);
    expect(budget.suppressedCount).toBe(0);
  });
  it("holds a customer's entries together: counted by entry and by customer, read and dropped as one", () => {
    const { budget, touch, withdrawn } = setup();
    const changes: string[] = [];
    budget.onChange((c) => changes.push(c.op === 'put' ? `put ${c.suppression.scope} ${c.suppression.customerId}` : `delete ${c.scope} ${c.customerId}`));
    touch('c1');
    touch('c1');
    touch('c2');
    touch('c2');
    // c1's consent goes too: its touch brings its entries up to date, 'all' beside 'email'.
    withdrawn.add('c1');
    touch('c1');
    expect([budget.suppressedCount, budget.suppressedCustomerCount]).toEqual([3, 2]);
    expect(budget.suppressionsOf('c1').map((s) => s.scope)).toEqual(['email', 'all']);
    expect(budget.suppressionsOf('nobody')).toEqual([]);
    expect([budget.isSuppressed('c1', 'all'), budget.isSuppressed('c1', 'push'), budget.isSuppressed('c2', 'all')]).toEqual([true, false, false]);
    // A customer's entries come together, customers in the order they came.
    expect([...budget.suppressions()].map((s) => `${s.customerId} ${s.scope}`)).toEqual(['c1 email', 'c1 all', 'c2 email']);
    changes.length = 0;
    budget.forget('c1');
    expect(changes).toEqual(['delete email c1', 'delete all c1']);
    expect([budget.suppressedCount, budget.suppressedCustomerCount]).toEqual([1, 1]);
    expect(budget.isSuppressed('c1', 'email')).toBe(false);
    // An unchanged refresh announces nothing; a changed reason announces a put.
    touch('c9');
    expect(changes).toEqual(['delete email c1', 'delete all c1']);
    touch('c2');
    expect(changes.at(-1)).toBe('put email c2');
  });
  it('records the zone an event carries and tallies suppressions per campaign with the top reasons', () => {
    const { budget, windows, touch, clock } = setup();
    const e = ev('page_view', clock.now(), { customerId: 'c9', props: { tz: 'Asia/Tokyo' } });
    const slot = windows.slotFor('c9');
    windows.record(slot, e, 1);
    budget.onEvent(e, slot, false);
    expect(windows.zoneOf(slot)).toBe('Asia/Tokyo');
    for (const id of ['a', 'b', 'c']) {
      touch(id);
      touch(id);
      budget.check(email(id));
    }
    budget.check(email('d'));
    expect(budget.campaignSample('spring')).toEqual({
      value: 3,
      reasons: ['3 of 4 customers checked were suppressed in the last 60 min (email 3)', 'top reasons: 24 h allowance reached (3)'],
    });
  });
});

describe('ContactBudget.mayBeSuppressed', () => {
  // The per-touch fast path must never say "nothing holds" where a full decision would give a reason: generated
  // histories of touches on every channel, responses, negatives, consent and reservations, checked against peek().
  const channels = ['email', 'push', 'sms'] as const;
  const kinds = ['email_sent', 'push_sent', 'sms_sent', 'email_open', 'email_click', 'complaint', 'unsubscribe', 'support_ticket', 'page_view'];
  // Most steps within the last day, so the 24 h windows reach their allowances often; some across 9 days.
  const step = fc.record({ kind: fc.constantFrom(...kinds), agoMin: fc.oneof({ arbitrary: fc.integer({ min: 0, max: 1440 }), weight: 3 }, { arbitrary: fc.integer({ min: 0, max: 9 * 1440 }), weight: 1 }) });
  const history = fc.record({
    steps: fc.array(step, { maxLength: 40 }),
    withdrawn: fc.boolean(),
    reserve: fc.array(fc.constantFrom(...channels), { maxLength: 3 }),
    caps: fc.record({ perDay: fc.integer({ min: 1, max: 4 }), perWeek: fc.integer({ min: 2, max: 12 }) }),
    all: fc.record({ perDay: fc.integer({ min: 1, max: 6 }), perWeek: fc.integer({ min: 2, max: 14 }) }),
  });

  it('says "may be" whenever a full decision on any channel gives a reason other than quiet hours', () => {
    fc.assert(
      fc.property(history, ({ steps, withdrawn, reserve, caps, all }) => {
        const config = parseConfig({
          signals: { caps: { email: caps, push: caps, sms: { perDay: caps.perDay + 1, perWeek: caps.perWeek }, all } },
          budget: { quietHours: { start: 0, end: 0 } },
        });
        const clock = new ManualClock(NOW);
        const windows = new CustomerWindows({ maxCustomers: 10, idleEvictMin: 8 * 1440 });
        const budget = new ContactBudget({ windows, config, clock, consentWithdrawn: () => withdrawn });
        const slot = windows.slotFor('c1');
        for (const s of [...steps].sort((a, b) => b.agoMin - a.agoMin)) {
          const e = ev(s.kind, NOW - s.agoMin * 60_000, { customerId: 'c1', channel: s.kind.startsWith('email') ? 'email' : null });
          windows.record(slot, e, 0);
        }
        for (const ch of reserve) budget.reservations.reserve('c1', ch, NOW);
        const full = channels.some((channel) => budget.peek({ customerId: 'c1', channel, campaignId: null, priority: 'marketing' }).reasons.some((r) => r.code !== 'quiet_hours'));
        const fast = budget.mayBeSuppressed('c1', NOW);
        // Never a miss; and no false alarm either, so the fast path is the decision's own test, not a looser one.
        expect(fast).toBe(full);
      }),
      { numRuns: 1_000, seed: 42 },
    );
  });
});
