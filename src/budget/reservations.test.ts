// The reservation caps: the memory of reservations is held to a stated bound whatever ids a sender asks for.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import { ManualClock } from '../shared/clock.js';
import { CustomerWindows } from '../windows/customerWindows.js';
import { ev } from '../windows/events.testing.js';
import { ContactBudget } from './contactBudget.js';
import { Reservations } from './reservations.js';

const NOW = Date.parse('2024-03-10T12:30:00Z');
const TTL = 5 * 60_000;

describe('Reservations caps', () => {
  it('holds at most maxUnknown for customers with no live state, and leaves room for known ones up to maxTotal', () => {
    const r = new Reservations(TTL, { maxTotal: 5, maxUnknown: 2, maxPerKey: 10 });
    expect(r.reserve('u1', 'email', NOW, false)).toBe('reserved');
    expect(r.reserve('u2', 'email', NOW, false)).toBe('reserved');
    expect(r.hasRoom('u3', 'email', false)).toBe(false);
    expect(r.reserve('u3', 'email', NOW, false)).toBe('full');
    // A second slot for a customer first reserved while unknown counts as unknown too, even once it is known.
    expect(r.reserve('u1', 'email', NOW, true)).toBe('full');
    expect(r.reserve('k1', 'email', NOW, true)).toBe('reserved');
    expect(r.reserve('k1', 'email', NOW, true)).toBe('reserved');
    expect(r.reserve('k2', 'push', NOW, true)).toBe('reserved');
    expect(r.reserve('k3', 'push', NOW, true)).toBe('full');
    expect([r.size, r.unknownSize]).toEqual([5, 2]);
    expect(r.count('u3', 'email', NOW)).toBe(0);
  });

  it('frees room as reservations are consumed, forgotten or expire', () => {
    const r = new Reservations(TTL, { maxTotal: 3, maxUnknown: 2, maxPerKey: 10 });
    r.reserve('u1', 'email', NOW, false);
    r.reserve('u2', 'sms', NOW, false);
    expect(r.consume('u1', 'email', NOW + 1)).toBe(true);
    expect(r.reserve('u3', 'email', NOW + 1, false)).toBe('reserved');
    r.forget('u2');
    expect([r.size, r.unknownSize]).toEqual([1, 1]);
    expect(r.sweep(NOW + 1 + TTL)).toBe(1);
    expect([r.size, r.unknownSize]).toEqual([0, 0]);
    expect(r.reserve('u4', 'email', NOW + TTL + 2, false)).toBe('reserved');
    expect(r.count('u4', 'email', NOW + TTL + 2)).toBe(1);
  });

  it('sweeps a key at a time: what is reserved or released between the steps is swept or left as the maps go', () => {
    const r = new Reservations(TTL, { maxTotal: 100, maxUnknown: 100, maxPerKey: 10 });
    for (let i = 0; i < 6; i++) r.reserve(`k${i}`, 'email', NOW, true);
    r.reserve('u0', 'sms', NOW, false);
    const steps = r.sweepSteps(NOW + TTL);
    steps.next();
    steps.next();
    // Between two steps: a fresh reservation (not expired at the sweep's time), and one forgotten before its turn.
    r.reserve('late', 'push', NOW + TTL, true);
    r.forget('k4');
    let done = steps.next();
    while (!done.done) done = steps.next();
    // Six expired email reservations and the unknown one, less k4's forgotten by hand.
    expect(done.value).toBe(6);
    expect([r.size, r.unknownSize]).toEqual([1, 0]);
    expect(r.count('late', 'push', NOW + TTL)).toBe(1);
  });

  it('holds at most maxPerKey for one customer and channel: more would change no decision', () => {
    const r = new Reservations(TTL, { maxTotal: 100, maxUnknown: 100, maxPerKey: 3 });
    for (let i = 0; i < 3; i++) expect(r.reserve('k', 'email', NOW)).toBe('reserved');
    expect(r.reserve('k', 'email', NOW)).toBe('saturated');
    expect(r.reserve('k', 'push', NOW)).toBe('reserved');
    expect(r.size).toBe(4);
  });

  it('a copy restored into an empty set holds what the original holds, less what expired meanwhile', () => {
    const r = new Reservations(TTL, { maxTotal: 100, maxUnknown: 3, maxPerKey: 10 });
    r.reserve('k1', 'email', NOW);
    r.reserve('k1', 'email', NOW + 60_000);
    r.reserve('k1', 'sms', NOW + 1_000);
    r.reserve('u1', 'push', NOW, false);
    r.reserve('u1', 'push', NOW + 2 * 60_000, true);
    r.reserve('u2', 'email', NOW + 3 * 60_000, false);
    const c = r.copy();
    const same = new Reservations(TTL, { maxTotal: 100, maxUnknown: 3, maxPerKey: 10 });
    same.restore(c, NOW);
    for (const id of ['k1', 'u1', 'u2', 'none']) for (const ch of ['email', 'push', 'sms'] as const) expect(same.count(id, ch, NOW), `${id} ${ch}`).toBe(r.count(id, ch, NOW));
    expect([same.size, same.unknownSize]).toEqual([r.size, r.unknownSize]);
    // Unknown ones still count against maxUnknown: one more for a fresh id is refused.
    expect(same.reserve('u3', 'sms', NOW, false)).toBe('full');
    // Restored past the first two's expiry (NOW + TTL): they are left out, and their oldest-first order is kept.
    const later = new Reservations(TTL);
    later.restore(c, NOW + TTL + 1_500);
    expect([later.count('k1', 'email', NOW + TTL + 1_500), later.count('k1', 'sms', NOW + TTL + 1_500), later.count('u1', 'push', NOW + TTL + 1_500)]).toEqual([1, 0, 1]);
    expect(later.size).toBe(3);
    later.consume('k1', 'email', NOW + TTL + 1_500);
    expect(later.count('k1', 'email', NOW + TTL + 1_500)).toBe(0);
  });

  it('an expired reservation read by count() releases its room before the sweep', () => {
    const r = new Reservations(TTL, { maxTotal: 10, maxUnknown: 1, maxPerKey: 10 });
    r.reserve('u1', 'email', NOW, false);
    expect(r.count('u1', 'email', NOW + TTL)).toBe(0);
    expect(r.reserve('u1', 'email', NOW + TTL, false)).toBe('reserved');
    expect(r.unknownSize).toBe(1);
  });
});

describe('ContactBudget under fresh ids', () => {
  function setup(budget: Record<string, unknown> = {}) {
    const config = parseConfig({ budget: { quietHours: { start: 0, end: 0 }, ...budget } });
    const clock = new ManualClock(NOW);
    const windows = new CustomerWindows({ maxCustomers: 100, idleEvictMin: 8 * 1440 });
    const contact = new ContactBudget({ windows, config, clock, consentWithdrawn: () => false });
    const touch = (id: string) => {
      const e = ev('email_sent', clock.now(), { customerId: id, channel: 'email' });
      const slot = windows.slotFor(id);
      windows.record(slot, e, 0);
      contact.onEvent(e, slot, false);
    };
    return { config, clock, contact, touch };
  }
  const check = (customerId: string, priority: 'marketing' | 'transactional' = 'marketing') => ({ customerId, channel: 'email' as const, campaignId: 'flood', priority });

  it('a million checks for ids never seen leave the reservations at budget.maxUnknownReservations (100,000 by default)', () => {
    const { config, contact } = setup();
    expect(config.budget.maxUnknownReservations).toBe(100_000);
    let allowed = 0;
    let full = 0;
    for (let i = 0; i < 1_000_000; i++) {
      const d = contact.check(check(`fresh-${i}`));
      if (d.allow) allowed++;
      else if (d.reasons[0].code === 'reservations_full') full++;
    }
    expect(allowed).toBe(100_000);
    expect(full).toBe(900_000);
    expect(contact.reservations.size).toBe(100_000);
    expect(contact.reservations.unknownSize).toBe(100_000);
    // Refusals for room touch no customer: nothing goes into the suppressed set (or the NATS bucket).
    expect(contact.suppressedCount).toBe(0);
  }, 120_000);

  it('beyond the cap: marketing is refused with a reason and a retry time, transactional passes unreserved, known customers still reserve', () => {
    const { clock, contact, touch } = setup({ maxUnknownReservations: 2, maxReservations: 4 });
    touch('known');
    contact.check(check('a'));
    contact.check(check('b'));
    const refused = contact.check(check('c'));
    expect(refused).toMatchObject({ allow: false, until: NOW + TTL });
    expect(refused.reasons).toEqual([
      { code: 'reservations_full', scope: 'email', until: NOW + TTL, text: 'no room to reserve for a customer with no history: 2 such reservations held (budget.maxUnknownReservations)' },
    ]);
    expect(contact.check(check('c', 'transactional')).allow).toBe(true);
    expect(contact.counts.unreserved).toBe(2);
    expect(contact.check(check('known')).allow).toBe(true);
    expect(contact.reservations.size).toBe(3);
    // The known customer's last slot is still exact: the second check for it is suppressed on its allowance.
    expect(contact.check(check('known')).reasons[0].code).toBe('allowance_24h');
    expect(contact.check(check('known2')).allow).toBe(false);
    expect(contact.campaignCounts().find((c) => c.campaignId === 'flood')!.reasons.map((r) => r.code)).toContain('reservations_full');
    clock.advance(TTL);
    contact.sweep();
    expect(contact.check(check('c')).allow).toBe(true);
  });

  it('10,000 transactional checks for one customer hold no more reservations than the largest allowance (22 by default)', () => {
    const { contact, touch } = setup();
    touch('k1');
    for (let i = 0; i < 10_000; i++) expect(contact.check(check('k1', 'transactional')).allow).toBe(true);
    expect(contact.reservations.size).toBe(22);
    expect(contact.counts.unreserved).toBe(10_000 - 22);
    expect(contact.check(check('k1')).reasons.map((r) => r.code)).toEqual(['allowance_24h', 'allowance_7d', 'allowance_24h', 'allowance_7d']);
  });

  it('the total cap holds for known customers too, with its own reason', () => {
    const { contact, touch } = setup({ maxUnknownReservations: 10, maxReservations: 1 });
    touch('k1');
    touch('k2');
    expect(contact.check(check('k1')).allow).toBe(true);
    expect(contact.check(check('k2')).reasons).toMatchObject([{ code: 'reservations_full', text: 'no room to reserve: 1 reservations held (budget.maxReservations)' }]);
  });
});

describe('Reservations against a plain list of every slot taken', () => {
  // Reservations are kept per customer, a list per channel with a bit for those counted as unknown: a seeded walk of
  // every operation holds each answer, the sizes and the room left to a plain list of (customer, channel, expiry)
  // kept the same way (an expired slot is released when its key is read, or by the sweep).
  it('answers every count, countsInto, consume, reserve, forget and sweep as the list does, and tells who holds any', () => {
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    const channels = ['email', 'push', 'sms'] as const;
    const limits = { maxTotal: 40, maxUnknown: 12, maxPerKey: 4 };
    // What onHolder told, per customer: the budget's thread keeps this in shared memory (BudgetThreadData.holders).
    const holders = new Map<string, number>();
    const tally = (into: Map<string, number>) => (id: string, delta: 1 | -1) => void into.set(id, (into.get(id) ?? 0) + delta);
    const r = new Reservations(TTL, limits, tally(holders));
    // Told as a customer's first slot is taken and its last one goes: 1 while it holds any, whatever released them.
    const holderOk = (res: Reservations, told: Map<string, number>, held: typeof model, id: string) => {
      const has = held.some((m) => m.id === id);
      expect([id, res.holds(id), told.get(id) ?? 0]).toEqual([id, has, has ? 1 : 0]);
    };
    let model: { id: string; ch: (typeof channels)[number]; until: number; unknown: boolean }[] = [];
    let now = NOW;
    const unknownHeld = () => model.filter((m) => m.unknown).length;
    const counts = new Float64Array(channels.length);
    for (let step = 0; step < 20_000; step++) {
      now += rand(20_000);
      const id = `c${rand(30)}`;
      const ch = channels[rand(3)];
      // What reading the key does first: its expired slots are released.
      const readKey = () => {
        model = model.filter((m) => !(m.id === id && m.ch === ch && m.until <= now));
        return model.filter((m) => m.id === id && m.ch === ch);
      };
      switch (rand(6)) {
        case 0: {
          const known = rand(2) === 0;
          const held = readKey();
          const unknown = held.length > 0 ? held[0].unknown : !known;
          const full = model.length >= limits.maxTotal || (unknown && unknownHeld() >= limits.maxUnknown);
          const want = held.length >= limits.maxPerKey ? 'saturated' : full ? 'full' : 'reserved';
          expect(r.reserve(id, ch, now, known)).toBe(want);
          if (want === 'reserved') model.push({ id, ch, until: now + TTL, unknown });
          break;
        }
        case 1: {
          const held = readKey();
          expect(r.consume(id, ch, now)).toBe(held.length > 0);
          if (held.length > 0) model.splice(model.indexOf(held[0]), 1);
          break;
        }
        case 2:
          if (rand(10) === 0) {
            r.forget(id);
            model = model.filter((m) => m.id !== id);
          } else expect(r.count(id, ch, now)).toBe(readKey().length);
          break;
        case 3:
          if (rand(20) === 0) {
            const before = model.length;
            model = model.filter((m) => m.until > now);
            expect(r.sweep(now)).toBe(before - model.length);
          } else expect(r.count(id, ch, now)).toBe(readKey().length);
          break;
        case 4:
          expect(r.count(id, ch, now)).toBe(readKey().length);
          break;
        default: {
          // Every channel of the customer at once: each key read as count() reads it.
          model = model.filter((m) => !(m.id === id && m.until <= now));
          const want = channels.map((c) => model.filter((m) => m.id === id && m.ch === c).length);
          expect([...r.countsInto(id, now, counts)]).toEqual(want);
        }
      }
      expect([r.size, r.unknownSize]).toEqual([model.length, unknownHeld()]);
      holderOk(r, holders, model, id);
    }
    for (let c = 0; c < 30; c++) holderOk(r, holders, model, `c${c}`);
    // A thread started again restores the copy: its holders are told of as they are restored, the expired left out.
    const restored = new Map<string, number>();
    const again = new Reservations(TTL, limits, tally(restored));
    again.restore(r.copy(), now);
    const live = model.filter((m) => m.until > now);
    expect(live.length).toBeGreaterThan(0);
    for (let c = 0; c < 30; c++) holderOk(again, restored, live, `c${c}`);
  });
});
