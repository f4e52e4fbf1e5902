// Brand experience, by hand: what each event weighs, the formulas, exact decay in event time for a customer's 16
// bytes and for the product table, the table's bound, and checkpoints of both.
import { describe, expect, it } from 'vitest';
import type { VigilEvent } from '../contract/event.js';
import { SnapshotReader, SnapshotWriter } from '../shared/snapshotCodec.js';
import { CustomerExperience, emptyExperienceRead } from '../windows/customerExperience.js';
import { emptyEvidence, readEvidence } from '../windows/experienceEvidence.js';
import { ExperienceTable } from '../windows/experienceTable.js';
import { aggregateReasons, component, confidence, customerExperience, customerIndex, experienceIndex, othersComponent, ownComponent, ownConfidence, productComponent, PROBLEM_WEIGHT, type ExperienceParams } from './experience.js';

const DAY = 86_400_000;
const T0 = Date.parse('2026-11-02T00:00:00Z');
const params: ExperienceParams = { prior: 3, halfLifeMs: { product: 14 * DAY, interactive: 7 * DAY, others: 30 * DAY, baseline: 60 * DAY } };
const ev = (type: string, props: Record<string, unknown> | null = null, ts = T0): VigilEvent => ({ id: 'e', customerId: 'c', type, ts, channel: null, value: null, segment: null, campaignId: null, props });
const evidenceOf = (type: string, props: Record<string, unknown> | null = null) => {
  const e = emptyEvidence();
  return readEvidence(ev(type, props), e) ? { ...e } : null;
};
/** What a weight w at time t is worth at time `at`, with half-life h: the sum decay must equal. */
const decayed = (w: number, t: number, at: number, h: number) => w * Math.pow(2, -(at - t) / h);

describe('experience evidence', () => {
  it('weighs product, service and voice events as documented', () => {
    expect(evidenceOf('refund')).toMatchObject({ pBad: 1, problem: 'refund' });
    expect(evidenceOf('defect_reported', { productId: 'sku-9' })).toMatchObject({ pBad: 1, problem: 'defect', productId: 'sku-9' });
    expect(evidenceOf('purchase', { sku: 'sku-1' })).toMatchObject({ pGood: 0.1, purchase: 1, productId: 'sku-1' });
    expect(evidenceOf('product_rating', { rating: 1 })).toMatchObject({ pBad: 1, rating: 1 });
    expect(evidenceOf('review_posted', { rating: 5 })).toMatchObject({ pGood: 1, rating: 5 });
    expect(evidenceOf('ticket_resolved', { durationMs: 4 * DAY })).toMatchObject({ cBad: 3, cGood: 0 });
    expect(evidenceOf('ticket_resolved', { durationMs: 2 * 3_600_000 })).toMatchObject({ cGood: 1 });
    expect(evidenceOf('delivery_delayed', { delayHours: 48 })).toMatchObject({ cBad: 2 });
    expect(evidenceOf('survey_response', { kind: 'nps', score: 2 })).toMatchObject({ cBad: 1, oBad: 1 });
    expect(evidenceOf('survey_response', { kind: 'nps', score: 10 })).toMatchObject({ cGood: 1, oGood: 1 });
    expect(evidenceOf('survey_response', { kind: 'csat', score: 1 })).toMatchObject({ cBad: 1, oBad: 0 });
    expect(evidenceOf('page_view', { error: 'E500' })).toMatchObject({ cBad: 0.5 });
    expect(evidenceOf('page_view')).toBeNull();
    expect(evidenceOf('email_sent', { productId: 'x' })).toBeNull();
  });

  it('ignores a malformed prop: the rating out of range, the score not a number, a product id too long or not well formed', () => {
    expect(evidenceOf('product_rating', { rating: 7 })).toBeNull();
    expect(evidenceOf('csat_response', { score: '5' })).toBeNull();
    expect(evidenceOf('survey_response', { kind: 'nps', score: 11 })).toBeNull();
    expect(evidenceOf('ticket_resolved', { durationMs: -1 })).toBeNull();
    // A delay without hours is still a delay.
    expect(evidenceOf('delivery_delayed', { delayHours: 'soon' })).toMatchObject({ cBad: 1 });
    expect(evidenceOf('refund', { productId: 'p'.repeat(129) })?.productId).toBeNull();
    expect(evidenceOf('refund', { productId: 'é'.repeat(65) })?.productId).toBeNull();
    expect(evidenceOf('refund', { productId: 'é'.repeat(64) })?.productId).toBe('é'.repeat(64));
    expect(evidenceOf('refund', { productId: 'a\u0000b' })?.productId).toBeNull();
    expect(evidenceOf('refund', { productId: 42, sku: 'sku-2' })?.productId).toBe('sku-2');
  });
});

describe('experience formulas', () => {
  it('holds components in [−1, 1], 0 without evidence, and the index at 50 × (1 + their confidence-weighted mean)', () => {
    expect(component(0, 0, 3)).toBe(0);
    expect(component(0, 1, 3)).toBe(-0.25);
    expect(component(0, 3, 3)).toBe(-0.5);
    // A product problem weighs three routine good experiences: one refund against three good ratings is still bad.
    expect(PROBLEM_WEIGHT).toBe(3);
    expect(productComponent(0, 1, 3)).toBe(-0.5);
    expect(productComponent(3, 1, 3)).toBe(0);
    expect(productComponent(4, 1, 3)).toBeGreaterThan(0);
    expect(othersComponent(212 * 1.8, 212, 0, 0, 3)).toBeCloseTo((212 * -0.6) / 215, 12);
    expect(confidence(3, 3)).toBe(0.5);
    expect(experienceIndex(0, 0, 0, 0, 0, 0)).toBe(50);
    // One component alone is the index, however thin its evidence.
    expect(experienceIndex(-0.5, 0.5, 0, 0, 0, 0)).toBe(25);
    expect(experienceIndex(-1, 1, -1, 1, -1, 1)).toBe(0);
    expect(experienceIndex(1, 0.9, -1, 0.1, 0, 0)).toBeCloseTo(90, 12);
  });

  it('pools a customer\'s own P and C, problems weighed, and lets others\' voice fill only what its own evidence leaves', () => {
    // A defective unit: the defect report, its return and refund, a ticket open 3 days, among 10 routine orders.
    const defective = { pBad: 3, pGood: 1, cBad: 4, cGood: 0 };
    // Pulled toward neutral by 1.5 × the prior (4.5).
    expect(ownComponent(defective, 3)).toBeCloseTo((1 - 9 - 4) / (1 + 9 + 4 + 4.5), 12);
    expect(ownConfidence(defective, 3)).toBeCloseTo(14 / 18.5, 12);
    // The ticket adds to the product problems instead of being averaged with them: worse than P alone.
    expect(ownComponent(defective, 3)).toBeLessThan(ownComponent({ pBad: 3, pGood: 1, cBad: 0, cGood: 0 }, 3));
    // 50 × (1 + w·own + (1 − w) × 0.35 × wO × O): a product loved by hundreds does not lift it over the flag (35).
    const index = customerIndex(ownComponent(defective, 3), ownConfidence(defective, 3), 0.8, 0.99);
    expect(index).toBeCloseTo(50 * (1 + (14 / 18.5) * (-12 / 18.5) + (4.5 / 18.5) * 0.35 * 0.99 * 0.8), 12);
    expect(index).toBeLessThan(35);
    // One ordinary incident alone (a refund: −3 / 7.5 at confidence 3 / 7.5) or a product rated low by a handful
    // moves it only part of the way.
    expect(customerIndex(ownComponent({ pBad: 1, pGood: 0, cBad: 0, cGood: 0 }, 3), ownConfidence({ pBad: 1, pGood: 0, cBad: 0, cGood: 0 }, 3), 0, 0)).toBeCloseTo(42, 12);
    expect(customerIndex(0, 0, -0.4, confidence(2, 3))).toBeGreaterThan(45);
    expect(customerIndex(0, 0, 0, 0)).toBe(50);
  });

  it('gives a customer reasons with counts, the heaviest first, and a product others hate by name', () => {
    const e = { pBad: 3, pGood: 0, cBad: 1, cGood: 0, any: true };
    const others = othersComponent(212 * 1.8, 212, 0, 0, 3);
    const voices = [{ productSlot: 7, others, weight: confidence(212, 3), ratingMean: 1.8, ratings: 212 }];
    const s = customerExperience(e, voices, null, params, () => 50, (slot) => (slot === 7 ? 'X' : '?'));
    expect(s.product).toBe(-0.75);
    expect(s.interactive).toBe(-0.25);
    expect(s.others).toBe(others);
    // Own evidence 3 × 3 + 1 = 10 against 1.5 × the prior; others' voice in at most 0.35 of what is left.
    const w = 10 / 14.5;
    expect(s.index).toBeCloseTo(50 * (1 + w * (-10 / 14.5) + (1 - w) * 0.35 * confidence(212, 3) * others), 12);
    expect(s.trend).toBeCloseTo(s.index - 50, 12);
    expect(s.reasons).toEqual([
      '3 product problems recently (refunds, returns, defects, failed payments, low ratings; 14-day half-life)',
      'product X rated 1.8 by 212 others',
      '1 service problem recently (tickets, slow resolutions, failed checkouts, errors, delays, poor CSAT; 7-day half-life)',
    ]);
    // With no product known, the segment's voice stands in, at 0.35 of its weight.
    const segment = customerExperience({ pBad: 0, pGood: 0, cBad: 0, cGood: 0, any: true }, [], { others: -0.4, weight: 0.8 }, params, (i) => i, () => '');
    expect(segment.others).toBe(-0.4);
    expect(segment.index).toBeCloseTo(50 * (1 - 0.35 * 0.8 * 0.4), 12);
    expect(segment.reasons).toEqual(['customers of the segment report a poor experience']);
  });

  it('names a product\'s problems by kind against its purchases, and a low rating', () => {
    const a = { pBad: 23, pGood: 100, cBad: 0, cGood: 0, oBad: 0, oGood: 0, ratingSum: 1.8 * 212, ratings: 212, buyers: 200, refunds: 14, returns: 0, defects: 9, baseline: 70 };
    expect(aggregateReasons(a)).toEqual(['14 refunds, 9 defects recently against 200 purchases', 'rated 1.8 by 212']);
  });
});

describe('CustomerExperience', () => {
  const halfLives = { product: params.halfLifeMs.product, interactive: params.halfLifeMs.interactive, baseline: params.halfLifeMs.baseline };
  const add = (x: CustomerExperience, type: string, ts: number, props: Record<string, unknown> | null = null, productSlot = -1) => {
    const e = emptyEvidence();
    readEvidence(ev(type, props, ts), e);
    x.add(0, ts, e, productSlot, (r) => customerIndex(ownComponent(r, 3), ownConfidence(r, 3), 0, 0), emptyExperienceRead(), (p) => voice.get(p) ?? 0);
  };
  /** Others' voice per product slot for the memory of the worst product bought (0 when not set). */
  const voice = new Map<number, number>();

  it('decays exactly in event time: the read is the sum of every event\'s weight × 2^(−age / half-life), in order or not, across days', () => {
    const x = new CustomerExperience(4, halfLives);
    const times = [T0 + 3_600_000, T0 + 5 * DAY + 123_456, T0 + 2 * DAY, T0 + 9 * DAY + 7, T0 + 9 * DAY - 5_000];
    for (const t of times) add(x, 'refund', t);
    add(x, 'support_ticket', T0 + 6 * DAY);
    const at = T0 + 12 * DAY;
    const r = x.read(0, at, emptyExperienceRead());
    const expected = times.reduce((n, t) => n + decayed(1, t, at, 14 * DAY), 0);
    // Uint16 in 1/64 of an event: one rounding per event and per day moved, each at most 1/128 (scaled by the
    // within-day weight, at most 2^(1/14) here).
    expect(Math.abs(r.pBad - expected)).toBeLessThan((times.length + 4) / 128);
    expect(Math.abs(r.cBad - decayed(1, T0 + 6 * DAY, at, 7 * DAY))).toBeLessThan(2 / 128);
    expect(r.pGood).toBe(0);
    expect(r.any).toBe(true);
  });

  it('starts neutral, keeps the latest product bought and the worst before it, and clears a slot to neutral', () => {
    const x = new CustomerExperience(4, halfLives);
    expect(x.read(0, T0, emptyExperienceRead())).toMatchObject({ any: false, baseline: 50, product1: -1, product2: -1 });
    voice.clear();
    add(x, 'purchase', T0, { productId: 'a' }, 3);
    add(x, 'purchase', T0 + 1, { productId: 'b' }, 5);
    add(x, 'purchase', T0 + 2, { productId: 'a' }, 3);
    add(x, 'purchase', T0 + 3, { productId: 'c' }, 9);
    expect(x.read(0, T0 + 4, emptyExperienceRead())).toMatchObject({ product1: 9, product2: 5 });
    // A product others say is bad stays remembered while the customer buys better ones after it.
    voice.set(9, -0.6).set(4, 0.5).set(6, 0.7);
    add(x, 'purchase', T0 + 5, { productId: 'd' }, 4);
    add(x, 'purchase', T0 + 6, { productId: 'e' }, 6);
    expect(x.read(0, T0 + 7, emptyExperienceRead())).toMatchObject({ product1: 6, product2: 9 });
    // Once it is no longer the worst, the next displaced one takes its place.
    voice.set(9, 0.9);
    add(x, 'purchase', T0 + 8, { productId: 'f' }, 7);
    expect(x.read(0, T0 + 9, emptyExperienceRead())).toMatchObject({ product1: 7, product2: 6 });
    x.clear(0);
    expect(x.read(0, T0 + 4, emptyExperienceRead())).toMatchObject({ any: false, baseline: 50, product1: -1, product2: -1, pGood: 0 });
  });

  it('moves the slow baseline toward the index when its day moves, so a bad week shows as a fall', () => {
    const x = new CustomerExperience(4, halfLives);
    for (let d = 0; d < 60; d++) add(x, 'product_rating', T0 + d * DAY, { rating: 5 });
    const good = x.read(0, T0 + 60 * DAY, emptyExperienceRead());
    expect(good.baseline).toBeGreaterThan(60);
    for (let i = 0; i < 15; i++) add(x, 'refund', T0 + 60 * DAY + i * 3_600_000);
    const after = x.read(0, T0 + 61 * DAY, emptyExperienceRead());
    const index = customerIndex(ownComponent(after, 3), ownConfidence(after, 3), 0, 0);
    expect(index).toBeLessThan(good.baseline - 10);
  });

  it('round-trips through a checkpoint', () => {
    const x = new CustomerExperience(4, halfLives);
    add(x, 'refund', T0);
    add(x, 'purchase', T0 + DAY, { productId: 'a' }, 2);
    x.markSnapshot(0, 31.5);
    const w = new SnapshotWriter();
    x.save(w, 1);
    const y = new CustomerExperience(4, halfLives);
    y.load(new SnapshotReader(w.finish()));
    expect(y.read(0, T0 + 3 * DAY, emptyExperienceRead())).toEqual(x.read(0, T0 + 3 * DAY, emptyExperienceRead()));
    expect(y.lastSnapshotIndex(0)).toBe(31.5);
  });
});

describe('ExperienceTable', () => {
  const record = (t: ExperienceTable, key: string, type: string, ts: number, props: Record<string, unknown> | null = null) => {
    const e = emptyEvidence();
    readEvidence(ev(type, props, ts), e);
    return t.record(key, ts, e);
  };

  it('decays each field exactly with its component\'s half-life, late events included', () => {
    const t = new ExperienceTable('product', params, 100);
    const refunds = [T0, T0 + 3 * DAY, T0 + DAY];
    for (const ts of refunds) record(t, 'p', 'refund', ts);
    record(t, 'p', 'review_posted', T0 + 2 * DAY, { rating: 2 });
    record(t, 'p', 'checkout_failed', T0 + 2 * DAY);
    const at = T0 + 10 * DAY;
    const a = t.signalAt(t.find('p'), at)!;
    const expectRefunds = refunds.reduce((n, ts) => n + decayed(1, ts, at, 14 * DAY), 0);
    const ratings = decayed(1, T0 + 2 * DAY, at, 30 * DAY);
    const problems = PROBLEM_WEIGHT * (expectRefunds + decayed(1, T0 + 2 * DAY, at, 14 * DAY));
    expect(a.product).toBeCloseTo(-problems / (problems + 3), 10);
    expect(a.others).toBeCloseTo(-0.5 * ratings / (ratings + 3), 10);
    expect(a.interactive).toBeCloseTo(-decayed(1, T0 + 2 * DAY, at, 7 * DAY) / (decayed(1, T0 + 2 * DAY, at, 7 * DAY) + 3), 10);
    expect(a.volume).toBeCloseTo(ratings, 10);
  });

  it('holds at most maxEntries keys, dropping the least recently seen, and tells which slot went', () => {
    const dropped: number[] = [];
    const t = new ExperienceTable('product', params, 8, (slot) => dropped.push(slot));
    for (let i = 0; i < 8; i++) record(t, `p${i}`, 'purchase', T0 + i * 1000);
    for (let i = 0; i < 200; i++) record(t, 'p7', 'purchase', T0 + 10_000 + i);
    record(t, 'fresh', 'purchase', T0 + 20_000);
    expect(t.size).toBe(8);
    expect(t.evicted).toBe(1);
    expect(dropped).toHaveLength(1);
    expect(t.find('fresh')).not.toBe(-1);
    // The busiest, most recent product is never the one sampled out.
    expect(t.find('p7')).not.toBe(-1);
    for (let i = 0; i < 1000; i++) record(t, `flood${i}`, 'refund', T0 + 30_000 + i);
    expect(t.size).toBe(8);
  });

  it('measures a fall against its own slow baseline, lists the worst, and hands each touched key to a row once', () => {
    const t = new ExperienceTable('product', params, 100);
    for (let d = 0; d < 30; d++) for (const key of ['good', 'bad']) {
      record(t, key, 'purchase', T0 + d * DAY);
      record(t, key, 'review_posted', T0 + d * DAY + 1, { rating: 5 });
    }
    const before = t.signalAt(t.find('bad'), T0 + 30 * DAY)!;
    for (let i = 0; i < 20; i++) {
      record(t, 'bad', 'defect_reported', T0 + 30 * DAY + i * 60_000);
      record(t, 'bad', 'review_posted', T0 + 30 * DAY + i * 60_000 + 1, { rating: 1 });
    }
    const at = T0 + 31 * DAY;
    const bad = t.signalAt(t.find('bad'), at)!;
    expect(bad.trend).toBeLessThan(-15);
    expect(bad.index).toBeLessThan(before.index - 15);
    expect(t.signalAt(t.find('good'), at)!.trend).toBeGreaterThan(-3);
    expect(t.worst(1, at, 5).map((c) => c.key)).toEqual(['bad']);
    // 20 defects a minute apart, read a day later: 20 × 2^(−1/14) ≈ 19.
    expect(bad.reasons[0]).toMatch(/^19 defects recently against \d+ purchases$/);
    const rows: string[] = [];
    t.rowsDue((slot) => rows.push(t.keyOf(slot)!));
    t.rowsDue((slot) => rows.push(t.keyOf(slot)!));
    expect(rows.sort()).toEqual(['bad', 'good']);
  });

  it('round-trips through a checkpoint', () => {
    const t = new ExperienceTable('segment', params, 100);
    record(t, 'vip', 'refund', T0);
    record(t, 'mass', 'review_posted', T0 + 5, { rating: 4 });
    const w = new SnapshotWriter();
    t.save(w, 'x');
    const u = new ExperienceTable('segment', params, 100);
    u.load(new SnapshotReader(w.finish()), 'x');
    for (const key of ['vip', 'mass']) expect(u.signal(key, T0 + DAY)).toEqual(t.signal(key, T0 + DAY));
    record(u, 'new', 'refund', T0 + 9);
    expect(u.size).toBe(3);
  });
});
