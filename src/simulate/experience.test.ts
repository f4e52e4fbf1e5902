// The simulator's experience model, seeded: what a defect wave does to its buyers (and only to them), when their fade
// comes, and that without the model (or without a wave) none of it happens.
import { describe, expect, it } from 'vitest';
import { EXPERIENCE_TYPES } from '../contract/event.js';
import { DAY_MS } from '../shared/clock.js';
import { Population, type PopulationOptions, type SimEvent } from './population.js';

const T0 = Date.parse('2026-01-05T00:00:00Z');
/** The contract's experience types (refund and support_ticket are negative types the model sends too). */
const EXPERIENCE = new Set<string>(EXPERIENCE_TYPES);

function run(opts: Partial<PopulationOptions>, days: number): { pop: Population; events: SimEvent[] } {
  const pop = new Population({ customers: 1500, seed: 11, faderShare: 0.2, ...opts });
  const events: SimEvent[] = [];
  for (let d = 0; d < days; d++) events.push(...pop.day(T0 + d * DAY_MS));
  return { pop, events };
}

const WAVE = { productId: null, startDay: 14, days: 7 };
const DAYS = 56;
const withWave = run({ experience: { wave: WAVE } }, DAYS);
const truth = withWave.pop.wave!;
const buyers = new Set(truth.buyers.keys());
const others = withWave.pop.customers.filter((c) => !buyers.has(c.id)).map((c) => c.id);

/** Events of a type per customer, for the wave's buyers and for everyone else, between two days. */
function perCustomer(events: SimEvent[], match: (e: SimEvent) => boolean, fromDay: number, toDay: number): { buyers: number; others: number } {
  let inWave = 0;
  let outside = 0;
  for (const e of events) {
    const day = (e.ts - T0) / DAY_MS;
    if (day < fromDay || day >= toDay || !match(e)) continue;
    if (buyers.has(e.customerId)) inWave++;
    else outside++;
  }
  return { buyers: inWave / buyers.size, others: outside / others.length };
}

const lowRating = (e: SimEvent) => (e.type === 'product_rating' || e.type === 'review_posted') && (e.props?.rating as number) <= 2;

describe('the experience model', () => {
  it('names a product on every purchase, from a catalogue where a few products sell most', () => {
    const purchases = withWave.events.filter((e) => e.type === 'purchase');
    expect(purchases.length).toBeGreaterThan(1000);
    const byProduct = new Map<string, number>();
    for (const p of purchases) byProduct.set(p.props!.productId as string, (byProduct.get(p.props!.productId as string) ?? 0) + 1);
    expect(new Set(byProduct.keys()).size).toBeGreaterThan(30);
    expect([...byProduct.keys()].every((id) => withWave.pop.productIds.includes(id))).toBe(true);
    const top = [...byProduct.values()].sort((a, b) => b - a);
    // 1/rank popularity: the best seller sells several times the median product.
    expect(top[0]).toBeGreaterThan(5 * top[Math.floor(top.length / 2)]);
  });

  it('keeps experience events a few per cent of the traffic', () => {
    const share = withWave.events.filter((e) => EXPERIENCE.has(e.type)).length / withWave.events.length;
    expect(share).toBeGreaterThan(0.002);
    expect(share).toBeLessThan(0.05);
  });

  it('records as wave buyers exactly those who bought the product during the wave', () => {
    const start = truth.startTs!;
    expect(start).toBe(T0 + WAVE.startDay * DAY_MS);
    const bought = new Set(
      withWave.events
        .filter((e) => e.type === 'purchase' && e.props?.productId === truth.productId && e.ts >= start && e.ts < start + WAVE.days * DAY_MS)
        .map((e) => e.customerId),
    );
    expect(bought.size).toBeGreaterThan(50);
    expect(buyers).toEqual(bought);
    expect([...truth.buyers.values()].every((b) => b.firstPurchaseTs >= start && b.firstPurchaseTs < start + WAVE.days * DAY_MS)).toBe(true);
  });

  it("gives the wave's buyers far more defects, returns, refunds, low ratings, tickets and unsubscribes than anyone else", () => {
    const from = WAVE.startDay;
    const to = WAVE.startDay + WAVE.days + 14;
    const rate = (match: (e: SimEvent) => boolean) => perCustomer(withWave.events, match, from, to);
    const defects = rate((e) => e.type === 'defect_reported');
    expect(defects.buyers).toBeGreaterThan(20 * defects.others);
    const returns = rate((e) => e.type === 'return_requested');
    expect(returns.buyers).toBeGreaterThan(5 * returns.others);
    const refunds = rate((e) => e.type === 'refund');
    expect(refunds.buyers).toBeGreaterThan(5 * refunds.others);
    const low = rate(lowRating);
    expect(low.buyers).toBeGreaterThan(5 * low.others);
    const tickets = rate((e) => e.type === 'support_ticket');
    // (faders open tickets of their own as they go, so the others' rate is not small)
    expect(tickets.buyers).toBeGreaterThan(2 * tickets.others);
    // Of those still subscribed when the wave starts (campaign fatigue has unsubscribed many by then), who leaves.
    const gone = new Set(withWave.events.filter((e) => e.type === 'unsubscribe' && e.ts < truth.startTs!).map((e) => e.customerId));
    const left = new Set(withWave.events.filter((e) => e.type === 'unsubscribe' && (e.ts - T0) / DAY_MS >= from && (e.ts - T0) / DAY_MS < to).map((e) => e.customerId));
    const share = (ids: string[]) => {
      const subscribed = ids.filter((id) => !gone.has(id));
      return subscribed.filter((id) => left.has(id)).length / subscribed.length;
    };
    expect(share([...buyers])).toBeGreaterThan(share(others));
    // The defect's own unsubscribes (campaign fatigue unsubscribes half of the rest within these weeks too): only the
    // wave's buyers have them, and a good share of those still subscribed do.
    const forDefect = withWave.events.filter((e) => e.type === 'unsubscribe' && e.props?.reason === 'defect');
    expect(forDefect.every((e) => buyers.has(e.customerId))).toBe(true);
    expect(forDefect.length).toBeGreaterThan(0.1 * [...buyers].filter((id) => !gone.has(id)).length);
  });

  it("resolves the wave's defect tickets in days, ordinary ones within about a day", () => {
    const opened = new Map<string, SimEvent>();
    for (const e of withWave.events) if (e.type === 'support_ticket' && e.props?.ticketId) opened.set(e.props.ticketId as string, e);
    const defect: number[] = [];
    const ordinary: number[] = [];
    for (const e of withWave.events) {
      if (e.type !== 'ticket_resolved') continue;
      const open = opened.get(e.props!.ticketId as string)!;
      // The resolution comes after the ticket, by the duration it says.
      expect(e.ts - open.ts).toBeGreaterThan((e.props!.durationMs as number) - DAY_MS);
      (open.props!.topic === 'defect' ? defect : ordinary).push(e.props!.durationMs as number);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    expect(defect.length).toBeGreaterThan(20);
    expect(median(defect)).toBeGreaterThan(2 * DAY_MS);
    expect(median(ordinary)).toBeLessThan(1.5 * DAY_MS);
  });

  it('makes a share of the defective buyers fade 2-4 weeks after they bought, not before', () => {
    const fading = [...truth.buyers].filter(([, b]) => b.fadeFromDay !== null);
    expect(fading.length).toBeGreaterThan(20);
    for (const [, b] of fading) {
      const boughtDay = Math.floor((b.firstPurchaseTs - T0) / DAY_MS);
      expect(b.defective).toBe(true);
      expect(b.fadeFromDay! - boughtDay).toBeGreaterThanOrEqual(14);
      expect(b.fadeFromDay! - boughtDay).toBeLessThanOrEqual(28);
    }
    // Sessions a day of the fading buyers: before the wave, in the two weeks after they bought, and a week into the fade.
    const ids = new Set(fading.map(([id]) => id));
    const sessionsPerDay = (from: (id: string) => number, days: number) => {
      let n = 0;
      for (const e of withWave.events) {
        if ((e.type !== 'session_start' && e.type !== 'app_open') || !ids.has(e.customerId)) continue;
        const day = (e.ts - T0) / DAY_MS - from(e.customerId);
        if (day >= 0 && day < days) n++;
      }
      return n / ids.size / days;
    };
    const boughtDayOf = (id: string) => Math.floor((truth.buyers.get(id)!.firstPurchaseTs - T0) / DAY_MS);
    const fadeDayOf = (id: string) => truth.buyers.get(id)!.fadeFromDay!;
    const before = sessionsPerDay(() => 0, WAVE.startDay);
    const afterBuying = sessionsPerDay(boughtDayOf, 14);
    const faded = sessionsPerDay((id) => fadeDayOf(id) + 7, 7);
    expect(afterBuying).toBeGreaterThan(0.7 * before);
    expect(faded).toBeLessThan(0.5 * before);
  });

  it('repeats exactly from its seed', () => {
    const again = run({ experience: { wave: WAVE } }, 20).events;
    // The first 20 days of the longer run, day by day in the same order.
    expect(again).toEqual(withWave.events.slice(0, again.length));
  });

  it('without a wave: no wave buyers, no fade, and the wave-sized defect counts do not appear', () => {
    const calm = run({ experience: {} }, DAYS);
    expect(calm.pop.wave).toBeNull();
    // The product's defect reports in the weeks of the wave: a handful without it.
    const reports = (events: SimEvent[]) =>
      events.filter((e) => e.type === 'defect_reported' && e.props?.productId === truth.productId && (e.ts - T0) / DAY_MS >= WAVE.startDay && (e.ts - T0) / DAY_MS < WAVE.startDay + WAVE.days + 14).length;
    expect(reports(withWave.events)).toBeGreaterThan(30);
    expect(reports(calm.events)).toBeLessThan(reports(withWave.events) / 10);
    // Nobody fades for a wave: the events other than the experience model's are those of the population without it.
    const core = (events: SimEvent[]) => events.filter((e) => !EXPERIENCE.has(e.type) && !e.id.includes('-x')).map(({ props: _props, ...e }) => e);
    const off = run({}, DAYS).events;
    expect(core(calm.events)).toEqual(core(off));
  });

  it('without the model: the population of before, with no product, no experience event and no wave', () => {
    const off = run({}, 10);
    expect(off.pop.wave).toBeNull();
    expect(off.pop.productIds).toEqual([]);
    expect(off.events.some((e) => EXPERIENCE.has(e.type) || e.props !== undefined || e.id.includes('-x'))).toBe(false);
  });

  it('refuses a wave product that is not in the catalogue', () => {
    expect(() => new Population({ customers: 10, seed: 1, faderShare: 0.2, experience: { wave: { productId: 'nope', startDay: 0, days: 1 } } })).toThrow(/not in the catalogue/);
  });
});
