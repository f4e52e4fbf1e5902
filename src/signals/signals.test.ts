import { describe, expect, it } from 'vitest';
import { CustomerWindows, type CustomerView } from '../windows/customerWindows.js';
import { ev, T0 } from '../windows/events.testing.js';
import { churnSignal, type PurchaseModel } from './churn.js';
import { engagementSignal } from './engagement.js';
import { SnapshotReader, SnapshotWriter } from '../shared/snapshotCodec.js';
import { EntityStats } from './entityStats.js';
import { fatigueSignal } from './fatigue.js';
import { fitBgNbd } from './models/bgnbd.js';
import { simulateCustomers } from './models/simulate.js';
import { customerIntervals, parameterUncertainty } from './models/uncertainty.js';
import { createPurchaseModel, purchaseModelSet } from './purchaseModel.js';
import { DAY_MS as DAY, HOUR_MS as HOUR, MINUTE_MS as MIN } from '../shared/clock.js';

const caps = { email: { perDay: 2, perWeek: 7 }, push: { perDay: 3, perWeek: 12 }, sms: { perDay: 1, perWeek: 3 }, all: { perDay: 4, perWeek: 15 } };

function viewAfter(events: [string, number, Record<string, unknown>?][], nowMs: number): CustomerView {
  const w = new CustomerWindows({ maxCustomers: 10, idleEvictMin: 20 * 1440 });
  const s = w.slotFor('c1');
  for (const [type, at, over] of events) w.record(s, ev(type, at, over), type === 'purchase' ? 3 : 1);
  return w.view(s, Math.floor(nowMs / MIN));
}

/** A model with fixed outputs, so the blend is checked by hand, apart from the model's own tests. */
const fixedModel = (pAlive: number): PurchaseModel => ({
  name: 'fixed',
  pAlive: () => pAlive,
  expectedPurchases: (t) => t / 30,
  customerValue: () => 200,
});

describe('engagement', () => {
  it('scores 100 × (1 − e^(−E7/scale))', () => {
    const v = viewAfter([['page_view', T0], ['page_view', T0 + HOUR]], T0 + 2 * HOUR);
    const e = engagementSignal(v, 20, null);
    expect(e.weighted7d).toBe(2);
    expect(e.score).toBeCloseTo(100 * (1 - Math.exp(-0.1)), 10); // 9.516
  });
});

describe('fatigue', () => {
  it('is the touches/cap ratio of the worst channel and window, with the reason', () => {
    const v = viewAfter([['email_sent', T0], ['email_sent', T0 + HOUR], ['email_sent', T0 + 2 * HOUR]], T0 + 3 * HOUR);
    // 3 touches, 0 responses in 7 days: caps halved (0.5 + 2.5 × 0 = 0.5) → email cap 1 per day → 3 / 1
    const f = fatigueSignal(v, caps);
    expect(f.capFactor).toBe(0.5);
    expect(f.score).toBe(3);
    expect(f.reasons[0]).toBe('3 emails in 24 h against an allowance of 1');
    expect(f.reasons.at(-1)).toBe('no response to 3 touches in 7 days');
  });

  it('gives the reasons of the view it was computed from, read after the view was refilled for another customer', () => {
    const v = viewAfter([['email_sent', T0], ['email_sent', T0 + HOUR], ['email_sent', T0 + 2 * HOUR]], T0 + 3 * HOUR);
    const f = fatigueSignal(v, caps);
    // The pipeline refills one view for each customer it derives; reasons are built when first read.
    v.touches24h.email = 0;
    v.touches7d.email = 0;
    v.responses7d = 9;
    v.lastResponseMin = v.nowMin;
    expect(f.reasons).toEqual(['3 emails in 24 h against an allowance of 1', '3 touches in 24 h against an allowance of 2', 'no response to 3 touches in 7 days']);
    expect(f.reasons).toBe(f.reasons);
  });

  it('gives responsive customers a larger allowance', () => {
    const v = viewAfter(
      [['email_sent', T0], ['email_open', T0 + MIN], ['email_sent', T0 + HOUR], ['email_click', T0 + HOUR + MIN], ['email_sent', T0 + 2 * HOUR]],
      T0 + 3 * HOUR,
    );
    // 2 responses / 3 touches → factor clamps at 1.5 → email cap 3 per day → 3 / 3 = 1, at the cap, not over
    const f = fatigueSignal(v, caps);
    expect(f.capFactor).toBe(1.5);
    expect(f.score).toBe(1);
    expect(f.reasons).toEqual([]);
  });

  it('is zero without touches', () => {
    expect(fatigueSignal(viewAfter([['page_view', T0]], T0), caps).score).toBe(0);
  });
});

describe('churn risk', () => {
  it('is 1 − P(alive) for a buyer with nothing else against them, with the purchase gap as the reason', () => {
    // purchases on day 0, 10 and 20; now day 61: x = 2, t_x = 20, T = 61, usual gap 10 days
    const v = viewAfter([['purchase', T0, { value: 50 }], ['purchase', T0 + 10 * DAY, { value: 50 }], ['purchase', T0 + 20 * DAY, { value: 50 }]], T0 + 61 * DAY);
    const c = churnSignal(v, engagementSignal(v, 20, null), fixedModel(0.25), 14);
    expect(c.risk).toBeCloseTo(0.75, 10);
    expect(c.valueAtRisk).toBeCloseTo(150, 10);
    expect(c.reasons).toEqual(['no purchase for 41 days against a usual 10 (P(alive) 25%)']);
  });

  it("says how sure a fitted version is: the P(alive) reason carries its 90 % interval, the delta method's of uncertainty.ts", () => {
    // A fit in days on simulated customers, stored with its covariance as the refit stores it
    const data = simulateCustomers({ customers: 800, bgNbd: { r: 0.8, alpha: 12, a: 0.6, b: 2.5 }, observationEnd: 60, acquisition: [0, 40], seed: 3 });
    const fit = fitBgNbd(data);
    const u = parameterUncertainty('bgnbd', { ...fit.params }, data);
    const cfg = { valueHorizonDays: 365, annualDiscountRate: 0.1 };
    const gg = { p: 6.25, q: 3.74, gamma: 15.44 };
    const model = purchaseModelSet(createPurchaseModel(cfg, fit.params, gg, 'bgnbd-gg:2026-01-01T00:00:00Z', u.logCovariance));
    const v = viewAfter([['purchase', T0, { value: 50 }], ['purchase', T0 + 10 * DAY, { value: 50 }], ['purchase', T0 + 20 * DAY, { value: 50 }]], T0 + 61 * DAY);
    const c = churnSignal(v, engagementSignal(v, 20, null), model, 14);
    const expected = customerIntervals('bgnbd', { ...fit.params }, u, { x: 2, tx: 20, T: 61 }, 30).pAlive;
    expect(model.pAliveInterval!(2, 20, 61)).toEqual(expected);
    expect(expected.lower).toBeLessThan(c.pAlive);
    expect(expected.upper).toBeGreaterThan(c.pAlive);
    const f = (n: number) => n.toFixed(2);
    expect(c.reasons).toEqual([`no purchase for 41 days against a usual 10 (P(alive) ${f(c.pAlive)}, 90 % ${f(expected.lower)}–${f(expected.upper)})`]);
    // the config's parameters (or a fit stored before covariances were) have no interval, and say so as before
    expect(createPurchaseModel(cfg, fit.params, gg, 'x', null).pAliveInterval).toBeUndefined();
    expect(createPurchaseModel(cfg, fit.params, gg, 'x', [[1, 2], [3, 4]]).pAliveInterval).toBeUndefined();
  });

  it('gives the at-risk intervals of a fitted version: P(alive), 90-day purchases, and the value interval times the risk', () => {
    const cfg = { valueHorizonDays: 365, annualDiscountRate: 0.1 };
    const bg = { r: 0.8, alpha: 12, a: 0.6, b: 2.5 };
    const gg = { p: 6.25, q: 3.74, gamma: 15.44 };
    const cov = [[0.01, 0.004, 0, 0], [0.004, 0.02, 0, 0], [0, 0, 0.03, 0.01], [0, 0, 0.01, 0.05]];
    const spendCov = [[0.04, -0.02, -0.03], [-0.02, 0.006, 0.02], [-0.03, 0.02, 0.07]];
    const model = createPurchaseModel(cfg, bg, gg, 'v', cov, spendCov);
    const v = viewAfter([['purchase', T0, { value: 50 }], ['purchase', T0 + 10 * DAY, { value: 50 }], ['purchase', T0 + 20 * DAY, { value: 50 }]], T0 + 61 * DAY);
    const c = churnSignal(v, engagementSignal(v, 20, null), model, 14);
    const own = model.intervals!(2, 20, 61, 50, true);
    const got = c.intervals!()!;
    expect(got.pAlive).toEqual(own.pAlive);
    expect(got.expectedPurchases90d).toEqual(own.expectedPurchases90d);
    expect(got.valueAtRisk!.estimate).toBeCloseTo(c.valueAtRisk, 9);
    expect(got.valueAtRisk!.lower).toBeCloseTo(own.value!.lower * c.risk, 9);
    expect(got.valueAtRisk!.upper).toBeCloseTo(own.value!.upper * c.risk, 9);
    expect(c.intervals!()).toBe(got);
    // the config's parameters: none
    expect(churnSignal(v, engagementSignal(v, 20, null), createPurchaseModel(cfg, bg, gg, 'x'), 14).intervals!()).toBeUndefined();
  });

  it('blends the parts as a noisy-OR: 1 − (1 − 0.5)(1 − 0.3)(1 − 0.4)', () => {
    const v = viewAfter([['purchase', T0], ['complaint', T0 + 2 * HOUR]], T0 + 4 * HOUR);
    const e = { ...engagementSignal(v, 20, null), trendRelative: -0.6 };
    const c = churnSignal(v, e, fixedModel(0.5), 14);
    expect(c.risk).toBeCloseTo(1 - 0.5 * 0.7 * 0.6, 10); // 0.79
    expect(c.reasons).toEqual(['no purchase for 0 days (P(alive) 50%)', 'complaint 2 h ago', 'engagement down 60% over 14 days']);
  });

  it('has no model part for a customer who never bought', () => {
    const v = viewAfter([['page_view', T0]], T0 + HOUR);
    const c = churnSignal(v, engagementSignal(v, 20, null), fixedModel(0.1), 14);
    expect(c.risk).toBe(0);
    expect(c.pAlive).toBe(1);
    expect(c.reasons).toEqual([]);
  });

  it('forgets a negative event after 7 days', () => {
    const v = viewAfter([['unsubscribe', T0]], T0 + 8 * DAY);
    expect(churnSignal(v, engagementSignal(v, 20, null), fixedModel(1), 14).risk).toBe(0);
  });
});

describe('entity stats', () => {
  const opts = { minVolume: 5, baselineHalfLifeMs: 60 * MIN, bucketMs: MIN };
  const t0 = Math.floor(T0 / MIN);

  it('reports no surge before the baseline has warmed up', () => {
    const s = new EntityStats(opts);
    for (let i = 0; i < 20; i++) s.record('campaign', 'spring', t0, { negative: true });
    expect(s.signal('campaign', 'spring', t0)!.surgeZ).toBe(0);
    expect(s.signal('campaign', 'spring', t0)!.negatives1h).toBe(20);
  });

  it('raises z for a burst far above a warm quiet baseline, and not for the usual rate', () => {
    const s = new EntityStats(opts);
    // one negative a minute for an hour: baseline ~1 per bucket
    for (let m = 0; m < 60; m++) s.record('channel', 'email', t0 + m, { negative: true });
    const usual = s.signal('channel', 'email', t0 + 59)!;
    expect(usual.surgeZ).toBeLessThan(2);
    for (let i = 0; i < 40; i++) s.record('channel', 'email', t0 + 60, { negative: true });
    const burst = s.signal('channel', 'email', t0 + 60)!;
    expect(burst.surgeVolume).toBe(44);
    expect(burst.surgeZ).toBeGreaterThan(10);
  });

  it('counts touches and overloaded customers over 24 hours', () => {
    const s = new EntityStats(opts);
    s.record('campaign', 'x', t0, { touch: true });
    s.record('campaign', 'x', t0 + 60, { touch: true, overloaded: true });
    expect(s.signal('campaign', 'x', t0 + 60)).toMatchObject({ touches24h: 2, overloadedCustomers: 1 });
    expect(s.signal('campaign', 'x', t0 + 25 * 60)).toMatchObject({ touches24h: 0, overloadedCustomers: 0 });
  });

  it('holds at most maxEntities, dropping the least recently active', () => {
    const s = new EntityStats(opts, 50);
    for (let i = 0; i < 500; i++) s.record('campaign', `made-up-${i}`, t0 + i, { touch: true });
    expect(s.size).toBe(50);
    expect(s.evicted).toBe(450);
    expect(s.signal('campaign', 'made-up-499', t0 + 499)!.touches24h).toBe(1);
  });

  it('keeps a channel, a segment and a campaign of the same name apart, through eviction and a checkpoint', () => {
    const s = new EntityStats(opts, 4);
    s.record('channel', 'email', t0, { touch: true });
    s.record('campaign', 'email', t0 + 1, { negative: true });
    s.record('segment', 'email', t0 + 2, { touch: true });
    s.record('segment', 'email', t0 + 2, { touch: true });
    expect(s.size).toBe(3);
    expect([s.signal('channel', 'email', t0 + 2)!.touches24h, s.signal('campaign', 'email', t0 + 2)!.touches24h, s.signal('segment', 'email', t0 + 2)!.touches24h]).toEqual([1, 0, 2]);
    // The bound counts every kind: a fifth entity pushes one of the four out (a sampled choice: which is not asserted).
    s.record('campaign', 'b', t0 + 3, { touch: true });
    s.record('campaign', 'c', t0 + 4, { touch: true });
    expect(s.size).toBe(4);
    expect(s.evicted).toBe(1);
    const held = (x: EntityStats) =>
      ([['channel', 'email'], ['campaign', 'email'], ['segment', 'email'], ['campaign', 'b'], ['campaign', 'c']] as const).filter(([kind, key]) => x.signal(kind, key, t0 + 4) !== null);
    expect(held(s)).toHaveLength(4);
    const w = new SnapshotWriter();
    s.save(w);
    const back = new EntityStats(opts, 4);
    back.load(new SnapshotReader(w.finish()));
    expect(back.size).toBe(4);
    expect(held(back)).toEqual(held(s));
    expect(back.all(t0 + 4)).toEqual(s.all(t0 + 4));
  });
});
