// Brand experience through the whole pipeline on a manual clock: a customer's signal, reasons and churn term, the
// two rules firing and resolving, the snapshot rows and wall frames, and a checkpoint that continues exactly.
import { describe, expect, it } from 'vitest';
import { parseConfig } from './config/load.js';
import type { AlertView, ExperienceCell, WallFrame } from './contract/frames.js';
import type { ExperienceSnapshot, PipelineOutputs } from './contract/outputs.js';
import { MemoryAlertStore } from './alerts/alertStore.js';
import { ManualClock } from './shared/clock.js';
import { Pipeline } from './pipeline.js';
import { purchaseModelSet } from './signals/purchaseModel.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-11-23T12:00:00Z');
/** Histories start here, 60 days back: event time is what decays, the clock only has to be past it. */
const START = NOW - 60 * DAY;
const enc = new TextEncoder();

class Outputs implements PipelineOutputs {
  alerts: AlertView[] = [];
  experienceRows: ExperienceSnapshot[] = [];
  event() {}
  customerActivity() {}
  entityActivity() {}
  signals() {}
  rejected() {}
  alert(a: AlertView) {
    this.alerts.push(a);
  }
  experience(r: ExperienceSnapshot) {
    this.experienceRows.push(r);
  }
}

const model = purchaseModelSet({ name: 'test', pAlive: () => 1, expectedPurchases: () => 0, customerValue: () => 100 });

function setup(config: Record<string, unknown> = {}) {
  const clock = new ManualClock(NOW);
  const outputs = new Outputs();
  const p = new Pipeline({ config: parseConfig(config), clock, outputs, model, trend: () => null, alertStore: new MemoryAlertStore() });
  const frames: WallFrame[] = [];
  p.subscribe((f) => frames.push(f));
  let seq = 0;
  let n = 0;
  const send = (customerId: string, type: string, ts: number, props?: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
    const body = { id: `e${++n}`, customerId, type, ts, ...(props ? { props } : {}), ...extra };
    const outcome = p.handle({ subject: `events.${type}`, data: enc.encode(JSON.stringify(body)), streamSeq: ++seq, receivedAt: clock.now() });
    p.derive();
    return outcome;
  };
  const signalsOf = (customerId: string, at: number) => p.customerSignals(p.windows.find(customerId), Math.floor(at / 60_000));
  const alertsOf = (rule: string) => p.alerts.views().filter((a) => a.rule === rule);
  return { p, clock, outputs, frames, send, signalsOf, alertsOf, continueAt: (next: number) => (seq = next - 1) };
}

describe('brand experience in the pipeline', () => {
  it('gives a customer with refunds and a slow ticket a low index with reasons, and churn names it', () => {
    const { send, signalsOf } = setup();
    send('c1', 'session_start', START);
    for (let i = 0; i < 3; i++) send('c1', 'refund', START + i * 3_600_000);
    send('c1', 'ticket_resolved', START + 4 * 3_600_000, { durationMs: 4 * DAY });
    const s = signalsOf('c1', START + 5 * 3_600_000);
    expect(s.experience.index).toBeLessThan(30);
    expect(s.experience.product).toBeCloseTo(-0.75, 1);
    expect(s.experience.trend).toBeLessThan(-20);
    expect(s.experience.reasons).toHaveLength(2);
    expect(s.experience.reasons).toContain('3 service problems recently (tickets, slow resolutions, failed checkouts, errors, delays, poor CSAT; 7-day half-life)');
    expect(s.experience.reasons).toContain('3 product problems recently (refunds, returns, defects, failed payments, low ratings; 14-day half-life)');
    expect(s.churn.reasons).toContain(`brand experience ${Math.round(s.experience.index)}/100: ${s.experience.reasons[0]}`);
    // The bounded term: without it (churnWeight 0) the same history is less at risk, by at most the weight (0.3).
    const without = setup({ signals: { experience: { churnWeight: 0 } } });
    without.send('c1', 'session_start', START);
    for (let i = 0; i < 3; i++) without.send('c1', 'refund', START + i * 3_600_000);
    without.send('c1', 'ticket_resolved', START + 4 * 3_600_000, { durationMs: 4 * DAY });
    const base = without.signalsOf('c1', START + 5 * 3_600_000);
    expect(base.churn.reasons.some((r) => r.startsWith('brand experience'))).toBe(false);
    const term = 0.3 * (35 - s.experience.index) / 35;
    expect(s.churn.risk).toBeCloseTo(1 - (1 - base.churn.risk) * (1 - term), 12);
    // Engagement does not move with experience events: only the session counts.
    const sessionOnly = setup();
    sessionOnly.send('c1', 'session_start', START);
    expect(s.engagement.score).toBe(sessionOnly.signalsOf('c1', START + 5 * 3_600_000).engagement.score);
  });

  it('lets a customer who bought a product others hate carry that risk, by the product\'s name, short of the flag on others\' word alone', () => {
    const { send, signalsOf, alertsOf } = setup();
    for (let i = 0; i < 40; i++) send(`o${i}`, 'review_posted', START + i * 60_000, { productId: 'toaster', rating: 1 + (i % 2) });
    send('c1', 'purchase', START + DAY, { productId: 'toaster' }, { value: 30 });
    const s = signalsOf('c1', START + DAY);
    expect(s.experience.others).toBeLessThan(-0.6);
    // 40 ratings a day old, with a 30-day half-life: 39.
    expect(s.experience.reasons).toEqual(['product toaster rated 1.5 by 39 others']);
    // Others' voice fills at most 0.35 of what the customer's own evidence leaves: a risk, not a lived bad experience.
    expect(s.experience.index).toBeLessThan(42);
    expect(s.experience.index).toBeGreaterThan(35);
    expect(alertsOf('customer_experience_decline').map((a) => a.subject.key)).not.toContain('c1');
    // Its own defect report on top of it takes it under the flag.
    send('c1', 'defect_reported', START + 2 * DAY, { productId: 'toaster' });
    send('c1', 'return_requested', START + 2 * DAY + 1, { productId: 'toaster' });
    expect(signalsOf('c1', START + 2 * DAY + 2).experience.index).toBeLessThan(35);
    expect(alertsOf('customer_experience_decline').map((a) => a.subject.key)).toContain('c1');
  });

  it('fires customer_experience_decline with the signal\'s reasons, and resolves once the evidence has faded', () => {
    const { p, clock, send, alertsOf } = setup();
    for (let i = 0; i < 3; i++) send('c1', 'refund', START + i * 60_000);
    const [fired] = alertsOf('customer_experience_decline');
    expect(fired.state).toBe('firing');
    expect(fired.reasons[0]).toMatch(/^brand experience 28\/100, down 22 points$/);
    expect(fired.reasons[1]).toMatch(/^3 product problems recently/);
    // 50 days on (another customer moves event time), 3 refunds weigh 3 × 2^(−50/14) ≈ 0.25: back to neutral.
    send('c2', 'page_view', START + 50 * DAY);
    clock.advance(1_000);
    p.tick();
    expect(alertsOf('customer_experience_decline')[0].state).toBe('resolved');
  });

  it('fires product_experience_drop against the product\'s own baseline with counts, and resolves as it recovers', () => {
    const { p, clock, send, alertsOf, outputs, frames } = setup({ signals: { experience: { halfLifeMs: { baseline: 2 * DAY } } } });
    // A month of a well liked product, two buyers a day.
    for (let d = 0; d < 30; d++) {
      for (const c of ['a', 'b']) {
        send(`${c}${d}`, 'purchase', START + d * DAY, { productId: 'kettle' }, { value: 20, segment: 'home' });
        send(`${c}${d}`, 'product_rating', START + d * DAY + 1, { productId: 'kettle', rating: 5 }, { segment: 'home' });
      }
    }
    expect(alertsOf('product_experience_drop')).toEqual([]);
    // A bad batch: in one day 15 buyers report defects, 10 ask a refund and rate it 1.
    const wave = START + 30 * DAY;
    for (let i = 0; i < 15; i++) {
      send(`w${i}`, 'purchase', wave + i * 60_000, { productId: 'kettle' }, { segment: 'home' });
      send(`w${i}`, 'defect_reported', wave + i * 60_000 + 1, { productId: 'kettle' });
      if (i < 10) send(`w${i}`, 'refund', wave + i * 60_000 + 2, { productId: 'kettle' });
      if (i < 10) send(`w${i}`, 'product_rating', wave + i * 60_000 + 3, { productId: 'kettle', rating: 1 });
    }
    const [drop] = alertsOf('product_experience_drop');
    expect(drop.state).toBe('firing');
    expect(drop.subject).toEqual({ kind: 'product', key: 'kettle' });
    expect(drop.labels.product).toBe('kettle');
    expect(drop.reasons[0]).toMatch(/^brand experience \d+\/100 against its usual \d+ \(\d+ purchases and ratings\)$/);
    expect(drop.reasons[1]).toMatch(/^10 refunds, 15 defects recently against \d+ purchases$/);
    // A wave buyer's own defect report weighs on its index.
    const buyer = p.customerSignals(p.windows.find('w14'), Math.floor((wave + DAY) / 60_000));
    expect(buyer.experience.reasons).toEqual(['1 product problem recently (refunds, returns, defects, failed payments, low ratings; 14-day half-life)']);

    // The frame tick shows the product and its segment, worst first, with the trend and the leading reason.
    clock.advance(60_000);
    p.tick();
    const cells = (frames.filter((f) => f.type === 'experience').at(-1) as { experience: ExperienceCell[] }).experience;
    const kettle = cells.find((c) => c.kind === 'product' && c.key === 'kettle')!;
    expect(kettle.trend).toBeLessThan(-15);
    expect(kettle.reason).toMatch(/^10 refunds, 15 defects/);
    expect(cells.some((c) => c.kind === 'segment' && c.key === 'home')).toBe(true);
    expect(p.snapshot().experience).toEqual(cells);
    // Once a minute, a row per touched product and segment; customer rows when their index moved past the step.
    const rows = outputs.experienceRows;
    expect(rows.filter((r) => r.scope === 'product' && r.key === 'kettle')).toHaveLength(1);
    expect(rows.filter((r) => r.scope === 'segment' && r.key === 'home')).toHaveLength(1);
    expect(rows.some((r) => r.scope === 'customer' && r.key === 'w0' && r.segment === 'home' && r.reasons.length > 0)).toBe(true);
    p.tick();
    expect(rows.filter((r) => r.scope === 'product')).toHaveLength(1);

    // Three weeks of good batches again: the baseline (2-day half-life here) and the index meet.
    for (let d = 31; d < 52; d++) {
      send(`r${d}`, 'purchase', START + d * DAY, { productId: 'kettle' });
      send(`r${d}`, 'product_rating', START + d * DAY + 1, { productId: 'kettle', rating: 5 });
    }
    clock.advance(60_000);
    p.tick();
    expect(alertsOf('product_experience_drop')[0].state).toBe('resolved');
  });

  it('restores from a checkpoint into a state that continues exactly as the uninterrupted one', () => {
    const a = setup();
    const b = setup();
    const types = ['purchase', 'refund', 'product_rating', 'support_ticket', 'ticket_resolved', 'review_posted', 'survey_response', 'page_view'];
    const mk = (i: number): [string, string, number, Record<string, unknown>] => [
      `c${i % 11}`,
      types[i % types.length],
      START + i * 3 * 3_600_000,
      { productId: `p${i % 4}`, rating: 1 + (i % 5), durationMs: (i % 3) * DAY, kind: 'nps', score: i % 11 },
    ];
    for (let i = 0; i < 300; i++) a.send(...mk(i));
    const blob = a.p.checkpoint(300);
    expect(b.p.restore(blob)).toBe(300);
    b.continueAt(301);
    a.outputs.experienceRows.length = 0;
    for (let i = 300; i < 450; i++) {
      a.send(...mk(i));
      b.send(...mk(i));
    }
    a.clock.advance(60_000);
    b.clock.advance(60_000);
    a.p.tick();
    b.p.tick();
    const at = START + 451 * 3 * 3_600_000;
    const plain = (x: ReturnType<typeof a.signalsOf>['experience']) => ({ index: x.index, product: x.product, interactive: x.interactive, others: x.others, trend: x.trend, reasons: x.reasons });
    for (let c = 0; c < 11; c++) expect(plain(b.signalsOf(`c${c}`, at).experience)).toEqual(plain(a.signalsOf(`c${c}`, at).experience));
    expect(b.outputs.experienceRows).toEqual(a.outputs.experienceRows);
    expect(b.p.snapshot().experience).toEqual(a.p.snapshot().experience);
  });

  it('bounds the product table: a product dropped for a newer one no longer speaks in its buyers\' O', () => {
    const { send, signalsOf, p } = setup({ signals: { experience: { maxProducts: 1 } } });
    for (let i = 0; i < 20; i++) send(`o${i}`, 'review_posted', START + i, { productId: 'old', rating: 1 });
    send('c1', 'purchase', START + 100, { productId: 'old' });
    expect(signalsOf('c1', START + 100).experience.reasons).toEqual(['product old rated 1.0 by 20 others']);
    // Two days on, another product takes the only slot: c1's memory of the slot names a product born after its evidence.
    for (let i = 0; i < 20; i++) send(`n${i}`, 'review_posted', START + 2 * DAY + i, { productId: 'new', rating: 5 });
    expect(p.snapshot().experience.map((c) => c.key)).toEqual(['new']);
    const s = signalsOf('c1', START + 2 * DAY + 100);
    expect(s.experience.others).toBe(0);
    expect(s.experience.reasons).toEqual([]);
  });

  it('forgets an evicted customer\'s experience: the next customer in its slot starts neutral', () => {
    const { p, send, signalsOf } = setup({ windows: { maxCustomers: 1 } });
    for (let i = 0; i < 3; i++) send('c1', 'refund', START + i);
    send('c2', 'page_view', START + 10);
    expect(p.windows.find('c1')).toBe(-1);
    expect(signalsOf('c2', START + 20).experience).toMatchObject({ index: 50, trend: 0, reasons: [] });
  });
});
