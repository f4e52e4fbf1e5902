// A synthetic customer base for demos and tests: loyal buyers, faders who churn, and campaigns that overload people;
// with the experience model on, what they buy and how it goes (simulate/experience.ts). Seeded, so a run can be
// repeated exactly.
import { DAY_MS } from '../shared/clock.js';
import { createRng } from '../signals/models/random.js';
import { ExperienceModel, type ExperienceEvent, type ExperienceOptions, type WaveTruth } from './experience.js';
import type { SimEvent } from './simEvent.js';

export type { SimEvent };

type Kind = 'loyal' | 'regular' | 'fader' | 'dormant';

interface SimCustomer {
  id: string;
  kind: Kind;
  segment: string;
  /** Sessions per day at the start. */
  activity: number;
  /** Chance that a session ends in a purchase. */
  buyRate: number;
  avgOrder: number;
  /** Touches per day beyond which the customer gets annoyed (the fatigue model). */
  tolerance: number;
  /** Day on which a fader starts fading. */
  fadeFrom: number;
  unsubscribed: boolean;
}

/**
 * Asked before each campaign send when given (the contact-budget experiment): false holds the message back.
 * `emitted` is the day's events so far, so a gate can feed them to whatever it asks first.
 */
export type SendGate = (customerId: string, channel: string, campaignId: string, at: number, emitted: readonly SimEvent[]) => boolean;

export interface PopulationOptions {
  customers: number;
  seed: number;
  /** Share of customers who fade toward churn. */
  faderShare: number;
  /**
   * The experience model (products on purchases, tickets, ratings, reviews, NPS, a defect wave); absent: none, and the
   * events are exactly those of a population without it (the contact-budget experiment's figures rest on them).
   */
  experience?: ExperienceOptions;
}

const SEGMENTS = ['vip', 'regular', 'new', 'bargain'];

/**
 * The generator: `day(t0)` yields one simulated day of events from `t0`, in time order (with a little jitter so
 * some arrive out of order). Campaigns send emails and pushes; one campaign in a while mails the same people
 * several times a day, and touches beyond a customer's tolerance raise the chance of complaints and unsubscribes.
 */
export class Population {
  readonly customers: SimCustomer[] = [];
  private readonly rnd: () => number;
  private seq = 0;
  /** Experience events are numbered apart, so the others keep their ids with the model on. */
  private experienceSeq = 0;
  private dayIndex = 0;
  private readonly experience: ExperienceModel | null;
  /** Where the experience model puts a customer's events of the moment (reused: no array per session). */
  private readonly pending: ExperienceEvent[] = [];

  constructor(private readonly opts: PopulationOptions) {
    const rng = createRng(opts.seed);
    this.rnd = () => rng.uniform();
    this.experience = opts.experience ? new ExperienceModel(opts.seed, opts.experience) : null;
    for (let i = 0; i < opts.customers; i++) {
      const r = this.rnd();
      const kind: Kind = r < opts.faderShare ? 'fader' : r < opts.faderShare + 0.15 ? 'loyal' : r < 0.85 ? 'regular' : 'dormant';
      const segment = kind === 'loyal' && this.rnd() < 0.6 ? 'vip' : SEGMENTS[1 + Math.floor(this.rnd() * 3)];
      this.customers.push({
        id: `cust-${String(i).padStart(6, '0')}`,
        kind,
        segment,
        activity: kind === 'loyal' ? 2 + this.rnd() * 3 : kind === 'dormant' ? 0.05 : 0.4 + this.rnd() * 1.5,
        buyRate: kind === 'loyal' ? 0.25 : kind === 'dormant' ? 0.02 : 0.08 + this.rnd() * 0.1,
        avgOrder: 20 + this.rnd() * 120,
        tolerance: 1 + Math.floor(this.rnd() * 3),
        fadeFrom: Math.floor(this.rnd() * 20),
        unsubscribed: false,
      });
    }
  }

  /** The defect wave's product, days and buyers (null without a wave): the ground truth to score an experience flag. */
  get wave(): WaveTruth | null {
    return this.experience?.wave ?? null;
  }

  /** The catalogue's product ids (empty without the experience model). */
  get productIds(): readonly string[] {
    return this.experience?.productIds ?? [];
  }

  /** Events of one day starting at `t0`, sorted by time. `campaigns` sends per day; `overload` one of them hammers. */
  day(t0: number, campaigns = 2, overload = this.rnd() < 0.3, gate?: SendGate): SimEvent[] {
    if (gate) return this.gatedDay(t0, campaigns, overload, gate);
    const out: SimEvent[] = [];
    const d = this.dayIndex++;
    this.experience?.startDay(d, t0);
    const touches = new Map<string, number>();
    for (let c = 0; c < campaigns; c++) {
      const campaignId = `camp-${d}-${c}`;
      const hammer = overload && c === 0;
      const sends = hammer ? 4 : 1;
      const channel = this.rnd() < 0.7 ? 'email' : 'push';
      const audience = this.customers.filter((x) => !x.unsubscribed && this.rnd() < (hammer ? 0.5 : 0.3));
      for (let s = 0; s < sends; s++) {
        // Campaign c goes out at 9:00 + 4 h × c; a hammering one sends again every 2 hours.
        const at = t0 + (9 + 4 * c + 2 * s) * 3_600_000;
        for (const cust of audience) {
          out.push(this.ev(cust, channel === 'email' ? 'email_sent' : 'push_sent', at + this.rnd() * 60_000, { channel, campaignId }));
          const n = (touches.get(cust.id) ?? 0) + 1;
          touches.set(cust.id, n);
          this.reactToTouch(cust, n, channel, campaignId, at, out);
        }
      }
    }
    this.endDay(d, t0, out);
    return out.sort((a, b) => a.ts - b.ts);
  }

  /**
   * The same schedule as day(), with a gate before each send. Every random draw is made whether or not a send is
   * held back or a customer has unsubscribed (common random numbers), so two runs that differ only in their gate
   * differ only by what the gate did, not by a reshuffled random stream.
   */
  private gatedDay(t0: number, campaigns: number, overload: boolean, gate: SendGate): SimEvent[] {
    const out: SimEvent[] = [];
    const d = this.dayIndex++;
    this.experience?.startDay(d, t0);
    const touches = new Map<string, number>();
    for (let c = 0; c < campaigns; c++) {
      const campaignId = `camp-${d}-${c}`;
      const hammer = overload && c === 0;
      const sends = hammer ? 4 : 1;
      const channel = this.rnd() < 0.7 ? 'email' : 'push';
      const audience = this.customers.filter((x) => this.rnd() < (hammer ? 0.5 : 0.3) && !x.unsubscribed);
      for (let s = 0; s < sends; s++) {
        const at = t0 + (9 + 4 * c + 2 * s) * 3_600_000;
        for (const cust of audience) {
          const u = Array.from({ length: 6 }, () => this.rnd());
          if (cust.unsubscribed || !gate(cust.id, channel, campaignId, at, out)) continue;
          out.push(this.ev(cust, channel === 'email' ? 'email_sent' : 'push_sent', at + u[0] * 60_000, { channel, campaignId }));
          const n = (touches.get(cust.id) ?? 0) + 1;
          touches.set(cust.id, n);
          // The fatigue model of reactToTouch: each touch beyond tolerance adds 4% complaint and 6% unsubscribe chance.
          const over = Math.max(0, n - cust.tolerance);
          if (u[1] < (cust.kind === 'loyal' ? 0.4 : 0.15) / (1 + over)) out.push(this.ev(cust, channel === 'email' ? 'email_open' : 'push_open', at + 600_000 * u[2], { channel, campaignId }));
          if (over > 0 && u[3] < 0.04 * over) out.push(this.ev(cust, 'complaint', at + 1_800_000 * u[2], { channel, campaignId }));
          if (over > 0 && u[4] < 0.06 * over) {
            out.push(this.ev(cust, 'unsubscribe', at + 1_800_000 * u[5], { channel, campaignId }));
            cust.unsubscribed = true;
          }
        }
      }
    }
    this.endDay(d, t0, out);
    return out.sort((a, b) => a.ts - b.ts);
  }

  /** Every customer's own day, then the experience follow-ups owed to it (unsubscribes among them end tomorrow's touches). */
  private endDay(d: number, t0: number, out: SimEvent[]): void {
    for (const cust of this.customers) this.customerDay(cust, d, t0, out);
    if (this.experience === null) return;
    this.experience.flush(d, t0, this.pending);
    this.takeExperience(out);
  }

  private reactToTouch(cust: SimCustomer, n: number, channel: string, campaignId: string, at: number, out: SimEvent[]): void {
    const over = Math.max(0, n - cust.tolerance);
    const open = this.rnd() < (cust.kind === 'loyal' ? 0.4 : 0.15) / (1 + over);
    if (open) out.push(this.ev(cust, channel === 'email' ? 'email_open' : 'push_open', at + 600_000 * this.rnd(), { channel, campaignId }));
    // Fatigue model: each touch beyond tolerance adds 4% complaint and 6% unsubscribe chance.
    if (over > 0 && this.rnd() < 0.04 * over) out.push(this.ev(cust, 'complaint', at + 1_800_000 * this.rnd(), { channel, campaignId }));
    if (over > 0 && this.rnd() < 0.06 * over) {
      out.push(this.ev(cust, 'unsubscribe', at + 1_800_000 * this.rnd(), { channel, campaignId }));
      cust.unsubscribed = true;
    }
  }

  private customerDay(cust: SimCustomer, d: number, t0: number, out: SimEvent[]): void {
    const x = this.experience;
    const fade = cust.kind === 'fader' && d >= cust.fadeFrom ? Math.pow(0.75, d - cust.fadeFrom) : 1;
    // A defect wave buyer who fades (weeks after the wave) comes and buys less, on top of any fader's fade.
    const waveFade = x === null ? 1 : x.activity(cust.id, d);
    const sessions = poisson(this.rnd, cust.activity * fade * waveFade);
    for (let s = 0; s < sessions; s++) {
      const at = t0 + this.rnd() * DAY_MS;
      const channel = this.rnd() < 0.6 ? 'web' : 'app';
      out.push(this.ev(cust, channel === 'app' ? 'app_open' : 'session_start', at, { channel }));
      const views = 1 + poisson(this.rnd, 3);
      for (let v = 0; v < views; v++) out.push(this.ev(cust, 'page_view', at + (v + 1) * 30_000, { channel }));
      x?.session(cust, at, channel, this.pending);
      if (this.rnd() < cust.buyRate * fade * waveFade) {
        out.push(this.ev(cust, 'add_to_cart', at + 200_000, { channel }));
        const value = Math.round(cust.avgOrder * (0.5 + this.rnd()) * 100) / 100;
        const props = x?.purchase(cust, d, at + 300_000, channel, value, this.pending);
        out.push(this.ev(cust, 'purchase', at + 300_000, props ? { channel, value, props } : { channel, value }));
        if (this.rnd() < 0.02) out.push(this.ev(cust, 'payment_failed', at + 310_000, { channel }));
      }
    }
    if (cust.kind === 'fader' && fade < 0.3 && this.rnd() < 0.03) out.push(this.ev(cust, 'support_ticket', t0 + this.rnd() * DAY_MS, { channel: 'support' }));
    if (x === null) return;
    x.customerDay(cust, d);
    this.takeExperience(out);
  }

  /** Numbers the experience model's events and moves them to the day's list. */
  private takeExperience(out: SimEvent[]): void {
    for (const e of this.pending) out.push({ id: `sim-${this.opts.seed}-x${++this.experienceSeq}`, ...e });
    this.pending.length = 0;
  }

  private ev(cust: SimCustomer, type: string, ts: number, extra: Partial<SimEvent>): SimEvent {
    return { id: `sim-${this.opts.seed}-${++this.seq}`, customerId: cust.id, type, ts: Math.round(ts), segment: cust.segment, ...extra };
  }
}

function poisson(rnd: () => number, mean: number): number {
  if (mean <= 0) return 0;
  const l = Math.exp(-mean);
  let k = 0;
  let p = 1;
  do {
    k++;
    p *= rnd();
  } while (p > l && k < 1000);
  return k - 1;
}
