// The simulator's experience model (brand experience, issue 16): what customers go through after they buy and when
// they ask for help, and a defect wave on one product whose buyers have a bad time and, weeks later, fade.
// Its own seeded random stream, so the population's other events are the same draws with it on or off.
import { DAY_MS, HOUR_MS } from '../shared/clock.js';
import { createRng } from '../signals/models/random.js';
import type { SimEvent } from './simEvent.js';

/** One product has defects from day `startDay` (the population's day index) for `days` days. */
export interface DefectWave {
  /** A catalogue id (`prod-01` … ); null: one of the popular products, chosen by the seed. */
  productId: string | null;
  startDay: number;
  days: number;
}

export interface ExperienceOptions {
  /** Products in the catalogue (popularity falls off as 1/rank). */
  products?: number;
  /** The defect wave; null or absent: none. */
  wave?: DefectWave | null;
}

/** The customer fields the model reads and the one it sets (an unsubscribe ends the campaigns' touches). */
export interface ExperienceCustomer {
  id: string;
  segment: string;
  unsubscribed: boolean;
}

/** What the model adds to a day: an event of the population's shape without its id (the population numbers it). */
export type ExperienceEvent = Omit<SimEvent, 'id'>;

/** A wave buyer: bought the wave's product during the wave (the ground truth the measurement scores flags against). */
export interface WaveBuyer {
  /** Event time of the first purchase of the product during the wave. */
  firstPurchaseTs: number;
  /** Got a defective unit (most wave buyers do; the others have an ordinary experience). */
  defective: boolean;
  /** Day index from which the customer fades (fewer sessions and purchases); null: does not fade. */
  fadeFromDay: number | null;
}

export interface WaveTruth {
  productId: string;
  startDay: number;
  days: number;
  /** Event time of the wave's first day (known once the population has generated that day). */
  startTs: number | null;
  buyers: ReadonlyMap<string, WaveBuyer>;
}

/** A follow-up owed to a later day: the time of day (share of the day), the event, and whom it unsubscribes. */
interface FollowUp {
  at: number;
  event: Omit<ExperienceEvent, 'ts'>;
  unsubscribes?: ExperienceCustomer;
}

// Baseline rates, chosen so that experience events are a few per cent of the traffic (a customer has ~5-10 events
// a day) and an ordinary customer's experience is mostly good.
const RATE = {
  /** Per purchase: the order arrives late; the buyer rates the product; writes a review; asks to return it. */
  deliveryDelayed: 0.04,
  rating: 0.15,
  review: 0.05,
  returnRequested: 0.02,
  /** A return becomes a refund. */
  refundAfterReturn: 0.7,
  defectReported: 0.004,
  /** Per session: an error page; per purchase: a failed checkout before the one that went through. */
  errorPage: 0.005,
  checkoutFailed: 0.015,
  /** Per customer and day: a support ticket; an NPS survey answered; a public complaint. */
  ticket: 0.002,
  nps: 0.002,
  publicComplaint: 0.0001,
  /** Per resolved ticket: a CSAT answer. */
  csat: 0.4,
};

// The defect wave: what happens to a buyer of a defective unit, each on its own draw.
const WAVE = {
  /** Share of the wave's units that are defective. */
  defectiveShare: 0.75,
  defectReported: 0.6,
  returnRequested: 0.45,
  rating: 0.5,
  review: 0.2,
  ticket: 0.5,
  csat: 0.6,
  nps: 0.15,
  unsubscribe: 0.25,
  publicComplaint: 0.05,
  /** Share of defective buyers who fade 2-4 weeks after they bought: the churn the experience index should lead. */
  fade: 0.45,
  /** Their sessions and purchases shrink by this factor a day from then on. */
  fadePerDay: 0.85,
};

const ERRORS = ['E500', 'E502', 'E404', 'TIMEOUT'];
const CHECKOUT_ERRORS = ['card_declined', 'address_invalid', 'E500'];

export class ExperienceModel {
  readonly productIds: readonly string[];
  readonly wave: WaveTruth | null;
  private readonly rnd: () => number;
  /** Cumulative popularity (1/rank), for drawing a purchase's product. */
  private readonly cumulative: Float64Array;
  /** Chance a buyer is satisfied with the product (its ordinary quality). */
  private readonly quality: Float64Array;
  private readonly waveIndex: number;
  private readonly buyers = new Map<string, WaveBuyer>();
  /**
   * Follow-ups by day index, each day's list dropped when emitted: bounded by the customers' rates times the longest
   * lag (two weeks for reviews and returns, a slow ticket's resolution).
   */
  private readonly owed = new Map<number, FollowUp[]>();
  private tickets = 0;

  constructor(seed: number, opts: ExperienceOptions) {
    // A stream of its own, derived from the population's seed.
    const rng = createRng((Math.imul(seed, 0x9e3779b1) ^ 0x5eed) >>> 0);
    this.rnd = () => rng.uniform();
    const n = Math.max(1, Math.floor(opts.products ?? 40));
    this.productIds = Array.from({ length: n }, (_, i) => `prod-${String(i + 1).padStart(2, '0')}`);
    this.cumulative = new Float64Array(n);
    this.quality = new Float64Array(n);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      sum += 1 / (i + 1);
      this.cumulative[i] = sum;
      this.quality[i] = 0.8 + 0.17 * this.rnd();
    }
    for (let i = 0; i < n; i++) this.cumulative[i] /= sum;
    const w = opts.wave ?? null;
    if (w === null) {
      this.wave = null;
      this.waveIndex = -1;
      return;
    }
    // By default a popular product, not the most popular: ranks 3-7 (5-8% of purchases with 40 products).
    const idx = w.productId === null ? Math.min(n - 1, 2 + Math.floor(this.rnd() * 5)) : this.productIds.indexOf(w.productId);
    if (idx < 0) throw new Error(`defect wave product "${w.productId}" is not in the catalogue (${this.productIds[0]} … ${this.productIds[n - 1]})`);
    this.waveIndex = idx;
    this.wave = { productId: this.productIds[idx], startDay: w.startDay, days: w.days, startTs: null, buyers: this.buyers };
  }

  /** Called once a day, first: the wave's start time is known when its first day is generated. */
  startDay(d: number, t0: number): void {
    if (this.wave !== null && d === this.wave.startDay) this.wave.startTs = t0;
  }

  /** How much of a customer's usual sessions and purchases are left on day `d` (1 unless a wave buyer fades). */
  activity(customerId: string, d: number): number {
    if (this.buyers.size === 0) return 1;
    const from = this.buyers.get(customerId)?.fadeFromDay ?? null;
    return from === null || d < from ? 1 : Math.pow(WAVE.fadePerDay, d - from + 1);
  }

  /** A session: now and then an error page. */
  session(cust: ExperienceCustomer, at: number, channel: string, out: ExperienceEvent[]): void {
    if (this.rnd() < RATE.errorPage) out.push({ ...this.event(cust, 'error_page', channel, { error: pick(this.rnd, ERRORS) }), ts: Math.round(at + 60_000 * this.rnd()) });
  }

  /**
   * A purchase (the population's event, about to be emitted): names its product, sometimes follows a failed checkout,
   * and owes the follow-ups of the order (delivery, ratings, reviews, returns), the defect wave's if it is one.
   */
  purchase(cust: ExperienceCustomer, d: number, at: number, channel: string, value: number, out: ExperienceEvent[]): Record<string, unknown> {
    const p = this.drawProduct();
    const productId = this.productIds[p];
    const props = { productId };
    if (this.rnd() < RATE.checkoutFailed) out.push({ ...this.event(cust, 'checkout_failed', channel, { productId, error: pick(this.rnd, CHECKOUT_ERRORS) }), ts: Math.round(at - 60_000) });
    const w = this.wave;
    const inWave = w !== null && p === this.waveIndex && d >= w.startDay && d < w.startDay + w.days;
    let defective = false;
    if (inWave) {
      defective = this.rnd() < WAVE.defectiveShare;
      const known = this.buyers.get(cust.id);
      if (!known) this.buyers.set(cust.id, { firstPurchaseTs: Math.round(at), defective, fadeFromDay: null });
      else known.defective ||= defective;
    }
    if (defective) this.defectiveOrder(cust, d, productId, value);
    else this.ordinaryOrder(cust, d, p, value);
    return props;
  }

  /** A customer's own day: now and then a support ticket, an NPS answer, a public complaint. */
  customerDay(cust: ExperienceCustomer, d: number): void {
    if (this.rnd() < RATE.ticket) this.ticket(cust, d, this.rnd(), 0.8, null, 'question');
    if (this.rnd() < RATE.nps) this.owe(d, this.rnd(), this.event(cust, 'survey_response', 'email', { kind: 'nps', score: this.npsScore(false) }));
    if (this.rnd() < RATE.publicComplaint) this.owe(d, this.rnd(), this.event(cust, 'public_complaint', 'social', {}));
  }

  /**
   * Emits the follow-ups owed to day `d` (stamped within the day starting at `t0`) and forgets them; called after the
   * day's campaigns and customers, so an unsubscribe here ends campaign touches from the next day on.
   */
  flush(d: number, t0: number, out: ExperienceEvent[]): void {
    const due = this.owed.get(d);
    if (!due) return;
    this.owed.delete(d);
    for (const f of due) {
      if (f.unsubscribes) {
        // Already gone (the campaigns' fatigue got there first): nothing more to unsubscribe from.
        if (f.unsubscribes.unsubscribed) continue;
        f.unsubscribes.unsubscribed = true;
      }
      out.push({ ...f.event, ts: Math.round(t0 + f.at * DAY_MS) });
    }
  }

  private ordinaryOrder(cust: ExperienceCustomer, d: number, p: number, value: number): void {
    const productId = this.productIds[p];
    const happy = this.rnd() < this.quality[p];
    if (this.rnd() < RATE.deliveryDelayed) this.owe(d + 1 + Math.floor(this.rnd() * 3), this.rnd(), this.event(cust, 'delivery_delayed', 'web', { productId, delayHours: 12 + Math.floor(this.rnd() * 84) }));
    if (this.rnd() < RATE.rating) this.owe(d + 3 + Math.floor(this.rnd() * 8), this.rnd(), this.event(cust, 'product_rating', 'web', { productId, rating: this.rating(happy) }));
    if (this.rnd() < RATE.review) this.owe(d + 5 + Math.floor(this.rnd() * 10), this.rnd(), this.event(cust, 'review_posted', 'web', { productId, rating: this.rating(happy) }));
    if (this.rnd() < RATE.defectReported) this.owe(d + 2 + Math.floor(this.rnd() * 10), this.rnd(), this.event(cust, 'defect_reported', 'web', { productId }));
    // Unhappy buyers return more often.
    if (this.rnd() < RATE.returnRequested * (happy ? 0.5 : 3)) this.returnAndRefund(cust, d + 3 + Math.floor(this.rnd() * 11), productId, value);
  }

  /**
   * A defective unit: the buyer reports it, returns it for a refund, rates and reviews it low, opens a ticket that takes
   * days to resolve, unsubscribes more often; and a share fade 2-4 weeks later.
   */
  private defectiveOrder(cust: ExperienceCustomer, d: number, productId: string, value: number): void {
    const reportDay = d + 1 + Math.floor(this.rnd() * 4);
    if (this.rnd() < WAVE.defectReported) this.owe(reportDay, this.rnd(), this.event(cust, 'defect_reported', 'web', { productId }));
    if (this.rnd() < WAVE.returnRequested) this.returnAndRefund(cust, d + 2 + Math.floor(this.rnd() * 6), productId, value);
    if (this.rnd() < WAVE.rating) this.owe(d + 2 + Math.floor(this.rnd() * 7), this.rnd(), this.event(cust, 'product_rating', 'web', { productId, rating: 1 + Math.floor(this.rnd() * 2) }));
    if (this.rnd() < WAVE.review) this.owe(d + 3 + Math.floor(this.rnd() * 8), this.rnd(), this.event(cust, 'review_posted', 'web', { productId, rating: 1 + Math.floor(this.rnd() * 2) }));
    // A defect ticket stays open for days (median ~4).
    if (this.rnd() < WAVE.ticket) this.ticket(cust, d + 1 + Math.floor(this.rnd() * 5), this.rnd(), 4, productId, 'defect', WAVE.csat);
    if (this.rnd() < WAVE.nps) this.owe(d + 5 + Math.floor(this.rnd() * 10), this.rnd(), this.event(cust, 'survey_response', 'email', { kind: 'nps', score: this.npsScore(true) }));
    if (this.rnd() < WAVE.publicComplaint) this.owe(d + 2 + Math.floor(this.rnd() * 7), this.rnd(), this.event(cust, 'public_complaint', 'social', { productId }));
    if (this.rnd() < WAVE.unsubscribe) this.owe(d + 1 + Math.floor(this.rnd() * 10), this.rnd(), this.event(cust, 'unsubscribe', 'email', { reason: 'defect' }), cust);
    const buyer = this.buyers.get(cust.id)!;
    if (buyer.fadeFromDay === null && this.rnd() < WAVE.fade) buyer.fadeFromDay = d + 14 + Math.floor(this.rnd() * 15);
  }

  private returnAndRefund(cust: ExperienceCustomer, day: number, productId: string, value: number): void {
    const at = this.rnd();
    this.owe(day, at, this.event(cust, 'return_requested', 'web', { productId }));
    if (this.rnd() < RATE.refundAfterReturn) {
      const refund = this.event(cust, 'refund', 'web', { productId });
      refund.value = value;
      this.owe(day + 2 + Math.floor(this.rnd() * 4), this.rnd(), refund);
    }
  }

  /**
   * A support ticket opened on `day` and resolved after a log-normal time with median `medianDays`; the resolution
   * carries how long it was open, and a CSAT answer follows now and then, lower the longer it took.
   */
  private ticket(cust: ExperienceCustomer, day: number, at: number, medianDays: number, productId: string | null, topic: string, csat = RATE.csat): void {
    const ticketId = `t-${++this.tickets}`;
    const about = productId === null ? { topic } : { topic, productId };
    this.owe(day, at, this.event(cust, 'support_ticket', 'support', { ticketId, ...about }));
    const durationMs = Math.max(10 * 60_000, Math.round(medianDays * DAY_MS * Math.exp(0.8 * normal(this.rnd))));
    const closed = day * DAY_MS + at * DAY_MS + durationMs;
    const closeDay = Math.floor(closed / DAY_MS);
    const closeAt = closed / DAY_MS - closeDay;
    this.owe(closeDay, closeAt, this.event(cust, 'ticket_resolved', 'support', { ticketId, durationMs }));
    if (this.rnd() < csat) {
      // Within a day of the resolution; a day or more open scores low.
      const score = durationMs > 2 * DAY_MS ? 1 + Math.floor(this.rnd() * 2) : durationMs > DAY_MS ? 3 : 4 + Math.floor(this.rnd() * 2);
      const t = closed + HOUR_MS + this.rnd() * DAY_MS;
      this.owe(Math.floor(t / DAY_MS), t / DAY_MS - Math.floor(t / DAY_MS), this.event(cust, 'csat_response', 'email', { ticketId, score }));
    }
  }

  private owe(day: number, at: number, event: Omit<ExperienceEvent, 'ts'>, unsubscribes?: ExperienceCustomer): void {
    const list = this.owed.get(day);
    if (list) list.push({ at, event, unsubscribes });
    else this.owed.set(day, [{ at, event, unsubscribes }]);
  }

  private rating(happy: boolean): number {
    return happy ? (this.rnd() < 0.6 ? 5 : 4) : 1 + Math.floor(this.rnd() * 3);
  }

  /** NPS 0-10: mostly promoters and passives; after a defect, mostly detractors. */
  private npsScore(defect: boolean): number {
    const u = this.rnd();
    if (defect) return Math.floor(u * 5);
    return u < 0.55 ? 9 + Math.floor(this.rnd() * 2) : u < 0.85 ? 7 + Math.floor(this.rnd() * 2) : Math.floor(this.rnd() * 7);
  }

  private drawProduct(): number {
    const u = this.rnd();
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cumulative[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private event(cust: ExperienceCustomer, type: string, channel: string, props: Record<string, unknown>): Omit<ExperienceEvent, 'ts'> {
    return { customerId: cust.id, type, channel, segment: cust.segment, props };
  }
}

function pick<T>(rnd: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rnd() * xs.length)];
}

/** Standard normal by Box-Muller (one of the pair). */
function normal(rnd: () => number): number {
  return Math.sqrt(-2 * Math.log(rnd())) * Math.cos(2 * Math.PI * rnd());
}
