// The benchmark's synthetic traffic: a seeded customer base with Zipf-like activity, sessions that end in purchases,
// campaigns with outbound touches (some hammering the same people), churners who fade and complain, event times
// slightly out of order, a few late events and producer retries. Customers are partitioned by index over the
// publishing workers, so each worker generates its own customers' events in event-time order, minute by minute.
import { MINUTE_MS } from '../src/shared/clock.js';
import type { SimEvent } from '../src/simulate/simEvent.js';

export interface WorkloadOptions {
  /** Customers in the base; every one of them has at least one event (the first day, "acquisition"). */
  customers: number;
  /** Events after the first day, roughly (campaign touches and reactions included). */
  bodyEvents: number;
  /** Days of traffic after the first day. */
  days: number;
  /** Event time of the last minute, epoch ms. */
  endTs: number;
  seed: number;
  /** This generator's share: customers with index % workers === worker. */
  worker: number;
  workers: number;
}

/** The simulator's event without its props: the bench's events carry none. */
export type GenEvent = Omit<SimEvent, 'props'>;

const DAY_MIN = 1440;
const SEGMENTS = ['regular', 'new', 'bargain', 'vip'];
/** Zipf exponent of session activity over customers: the busiest 1% make ~25% of sessions at a million customers. */
const ZIPF_S = 0.8;
/** Events older than the watermark by more than the allowed lateness (5 min): dead-lettered as LATE_EVENT. */
const LATE_SHARE = 0.0002;
/** Producer retries: the same message published twice, counted once by the processor. */
const RETRY_SHARE = 0.001;
/** Out of order: every event may trail its minute by up to this much. */
const JITTER_MS = 60_000;
/** Sessions, their page views, carts and purchases make ~80% of the body; campaigns and reactions the rest. */
const EVENTS_PER_SESSION = 5.2;
const SESSION_SHARE = 0.8;

/** splitmix32-style integer hash: customer attributes and campaign audiences without storing them. */
export function hash32(a: number, b = 0): number {
  let h = (Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}
const unit = (a: number, b = 0) => hash32(a, b) / 4294967296;

/** mulberry32: the generator's random stream (seeded per worker). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function poisson(rnd: () => number, mean: number): number {
  if (mean > 50) return Math.max(0, Math.round(mean + Math.sqrt(mean) * normal(rnd)));
  const l = Math.exp(-mean);
  let k = 0;
  let p = 1;
  do {
    k++;
    p *= rnd();
  } while (p > l);
  return k - 1;
}

function normal(rnd: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
}

export function customerId(index: number): string {
  return `c${String(index).padStart(7, '0')}`;
}

type Kind = 'loyal' | 'regular' | 'churner' | 'dormant';

function kindOf(index: number): Kind {
  const u = unit(index, 1);
  return u < 0.06 ? 'churner' : u < 0.16 ? 'loyal' : u < 0.85 ? 'regular' : 'dormant';
}

interface Campaign {
  id: string;
  channel: 'email' | 'push' | 'sms';
  startMin: number;
  /** Sends to the same audience, one hour apart: 1 for a normal campaign, 3 or 4 for one that overloads people. */
  sends: number;
  /** Share of customers in the audience. */
  reach: number;
}

/** The campaign calendar, the same in every worker: a few a day, about one in four hammering its audience. */
export function campaigns(o: Pick<WorkloadOptions, 'days' | 'seed'>, firstMin: number): Campaign[] {
  const rnd = prng(o.seed ^ 0x5eed);
  const out: Campaign[] = [];
  for (let d = 1; d <= o.days; d++) {
    for (let c = 0; c < 4; c++) {
      const u = rnd();
      const hammer = rnd() < 0.25;
      out.push({
        id: `camp-${d}-${c}`,
        channel: u < 0.6 ? 'email' : u < 0.9 ? 'push' : 'sms',
        startMin: firstMin + d * DAY_MIN + 8 * 60 + c * 180 + Math.floor(rnd() * 60),
        sends: hammer ? 3 + Math.floor(rnd() * 2) : 1,
        reach: hammer ? 0.01 : 0.04,
      });
    }
  }
  return out;
}

/**
 * One worker's events, minute by minute of event time. `minute(m)` returns that minute's events in publish order
 * (mostly by time, some trailing: out of order within the allowed lateness, a few beyond it).
 */
export class WorkloadGenerator {
  readonly firstMin: number;
  readonly lastMin: number;
  /** This worker's customers: global index = local * workers + worker. */
  readonly local: number;
  private readonly rnd: () => number;
  private readonly sessionsPerMin: number;
  private readonly campaigns: Campaign[];
  /** Events generated ahead of their minute (session steps, reactions, late arrivals), by publish minute. */
  private readonly ahead = new Map<number, GenEvent[]>();
  private seq = 0;
  private readonly zipfA: number;
  private readonly perm: number;
  /** Touches per customer today from hammering campaigns: reactions get angrier past each one's tolerance. */
  private readonly touchesToday = new Map<number, number>();
  private touchDay = -1;

  constructor(private readonly o: WorkloadOptions) {
    this.local = Math.floor((o.customers - o.worker - 1) / o.workers) + 1;
    this.lastMin = Math.floor(o.endTs / MINUTE_MS);
    this.firstMin = this.lastMin - (o.days + 1) * DAY_MIN + 1;
    this.rnd = prng(o.seed * 7919 + o.worker + 1);
    this.sessionsPerMin = (o.bodyEvents * SESSION_SHARE) / EVENTS_PER_SESSION / (o.days * DAY_MIN) / o.workers;
    this.campaigns = campaigns(o, this.firstMin);
    this.zipfA = Math.pow(this.local + 1, 1 - ZIPF_S) - 1;
    // A multiplier coprime with the local count scatters Zipf ranks over customer indices.
    let p = 2_654_435_761 % Math.max(2, this.local);
    while (gcd(p, this.local) !== 1) p++;
    this.perm = p;
  }

  get minutes(): number {
    return this.lastMin - this.firstMin + 1;
  }

  /** Events whose publish minute is `m` (firstMin ≤ m ≤ lastMin). */
  minute(m: number): GenEvent[] {
    const out = this.ahead.get(m) ?? [];
    this.ahead.delete(m);
    const dayIndex = Math.floor((m - this.firstMin) / DAY_MIN);
    if (dayIndex === 0) this.acquisitions(m, out);
    else {
      this.sessions(m, out);
      this.campaignMinute(m, out);
      this.churnerNegatives(m, out);
    }
    // Publish order: by event time within the minute, except what trails (jitter already applied).
    out.sort((a, b) => a.ts - b.ts);
    const final: GenEvent[] = [];
    for (const ev of out) {
      const r = this.rnd();
      if (r < LATE_SHARE && m + 8 <= this.lastMin) {
        // Arrives 7–8 minutes after its event time: beyond the allowed lateness.
        this.later(m + 7 + Math.floor(this.rnd() * 2), ev);
        continue;
      }
      final.push(ev);
      if (r > 1 - RETRY_SHARE) final.push(ev);
    }
    return final;
  }

  private later(m: number, ev: GenEvent): void {
    let list = this.ahead.get(m);
    if (!list) this.ahead.set(m, (list = []));
    list.push(ev);
  }

  /** An event `offsetMs` after `baseTs`, placed in the minute its time falls in, with its jitter backwards. */
  private emit(baseTs: number, offsetMs: number, ev: Omit<GenEvent, 'id' | 'ts'>, now: GenEvent[], m: number): void {
    const exact = baseTs + offsetMs;
    const ts = Math.round(exact - (this.rnd() < 0.3 ? this.rnd() * JITTER_MS : 0));
    const full = { id: `b${this.o.worker}-${(++this.seq).toString(36)}`, ...ev, ts } as GenEvent;
    const at = Math.floor(exact / MINUTE_MS);
    if (at <= m) now.push(full);
    else if (at <= this.lastMin) this.later(at, full);
  }

  private globalIndex(local: number): number {
    return local * this.o.workers + this.o.worker;
  }

  /** Day 0: each customer's first visit, spread over the day. */
  private acquisitions(m: number, out: GenEvent[]): void {
    const offset = m - this.firstMin;
    const from = Math.floor((offset * this.local) / DAY_MIN);
    const to = Math.floor(((offset + 1) * this.local) / DAY_MIN);
    for (let j = from; j < to; j++) {
      const i = this.globalIndex(j);
      const base = m * MINUTE_MS;
      const channel = unit(i, 2) < 0.6 ? 'web' : 'app';
      const c = { customerId: customerId(i), segment: segmentOf(i), channel };
      this.emit(base, this.rnd() * MINUTE_MS, { ...c, type: channel === 'app' ? 'app_open' : 'session_start' }, out, m);
      this.emit(base, MINUTE_MS + this.rnd() * MINUTE_MS, { ...c, type: 'page_view' }, out, m);
      // A first order for a quarter of them: purchase histories for the BG/NBD model to read.
      if (unit(i, 3) < 0.25) this.emit(base, 3 * MINUTE_MS, { ...c, type: 'purchase', value: orderValue(i, this.rnd) }, out, m);
    }
  }

  private zipfLocal(): number {
    const rank = Math.floor(Math.pow(this.zipfA * this.rnd() + 1, 1 / (1 - ZIPF_S))) - 1;
    return (Math.min(rank, this.local - 1) * this.perm) % this.local;
  }

  private sessions(m: number, out: GenEvent[]): void {
    const n = poisson(this.rnd, this.sessionsPerMin);
    const day = Math.floor((m - this.firstMin) / DAY_MIN);
    for (let s = 0; s < n; s++) {
      const i = this.globalIndex(this.zipfLocal());
      const kind = kindOf(i);
      // Churners fade from their churn day on: most of their sessions stop happening.
      if (kind === 'churner' && day >= 1 + Math.floor(unit(i, 4) * 5) && this.rnd() < 0.8) continue;
      if (kind === 'dormant' && this.rnd() < 0.7) continue;
      const base = m * MINUTE_MS + this.rnd() * MINUTE_MS;
      const channel = unit(i, 2) < 0.6 ? 'web' : 'app';
      const c = { customerId: customerId(i), segment: segmentOf(i), channel };
      this.emit(base, 0, { ...c, type: channel === 'app' ? 'app_open' : 'session_start' }, out, m);
      const views = 1 + poisson(this.rnd, 2.5);
      for (let v = 0; v < views; v++) this.emit(base, (v + 1) * 25_000, { ...c, type: this.rnd() < 0.2 ? (this.rnd() < 0.5 ? 'click' : 'search') : 'page_view' }, out, m);
      const buyRate = kind === 'loyal' ? 0.3 : kind === 'dormant' ? 0.02 : 0.08 + unit(i, 5) * 0.1;
      if (this.rnd() < buyRate * 1.6) {
        this.emit(base, 200_000, { ...c, type: 'add_to_cart' }, out, m);
        if (this.rnd() < 0.6) {
          this.emit(base, 300_000, { ...c, type: 'purchase', value: orderValue(i, this.rnd) }, out, m);
          if (this.rnd() < 0.02) this.emit(base, 310_000, { ...c, type: 'payment_failed' }, out, m);
        }
      }
    }
  }

  /** Touches of the campaigns sending this minute (each send spread over 20 minutes), and the reactions to them. */
  private campaignMinute(m: number, out: GenEvent[]): void {
    const day = Math.floor((m - this.firstMin) / DAY_MIN);
    if (day !== this.touchDay) {
      this.touchesToday.clear();
      this.touchDay = day;
    }
    for (const c of this.campaigns) {
      for (let s = 0; s < c.sends; s++) {
        const offset = m - (c.startMin + s * 60);
        if (offset < 0 || offset >= 20) continue;
        const cHash = hash32(c.startMin);
        // Audience membership and send minute come from a hash: the same people at every send.
        for (let j = offset; j < this.local; j += 20) {
          const i = this.globalIndex(j);
          if (unit(i, cHash) >= c.reach) continue;
          this.touch(c, i, m, out);
        }
      }
    }
  }

  private touch(c: Campaign, i: number, m: number, out: GenEvent[]): void {
    const base = m * MINUTE_MS + this.rnd() * MINUTE_MS;
    const common = { customerId: customerId(i), segment: segmentOf(i), channel: c.channel, campaignId: c.id };
    this.emit(base, 0, { ...common, type: `${c.channel}_sent` }, out, m);
    const n = (this.touchesToday.get(i) ?? 0) + 1;
    this.touchesToday.set(i, n);
    const tolerance = 1 + Math.floor(unit(i, 6) * 3);
    const over = Math.max(0, n - tolerance);
    const kind = kindOf(i);
    const openP = (kind === 'loyal' ? 0.35 : 0.12) / (1 + over);
    if (c.channel !== 'sms' && this.rnd() < openP) {
      this.emit(base, 60_000 + this.rnd() * 1_200_000, { ...common, type: c.channel === 'email' ? 'email_open' : 'push_open' }, out, m);
      if (c.channel === 'email' && this.rnd() < 0.3) this.emit(base, 1_300_000, { ...common, type: 'email_click' }, out, m);
    }
    // Past the customer's tolerance each touch adds a chance of a complaint or an unsubscribe.
    if (over > 0 && this.rnd() < 0.05 * over) this.emit(base, 600_000 + this.rnd() * 1_800_000, { ...common, type: 'complaint' }, out, m);
    if (over > 0 && this.rnd() < 0.07 * over) this.emit(base, 600_000 + this.rnd() * 1_800_000, { ...common, type: 'unsubscribe' }, out, m);
  }

  /** Churners' support tickets, failed payments and cancellations, a trickle every minute. */
  private churnerNegatives(m: number, out: GenEvent[]): void {
    const n = poisson(this.rnd, this.sessionsPerMin * 0.02);
    for (let k = 0; k < n; k++) {
      const j = Math.floor(this.rnd() * this.local);
      const i = this.globalIndex(j);
      if (kindOf(i) !== 'churner') continue;
      const u = this.rnd();
      const type = u < 0.5 ? 'support_ticket' : u < 0.75 ? 'payment_failed' : u < 0.9 ? 'complaint' : 'cancel_subscription';
      this.emit(m * MINUTE_MS, this.rnd() * MINUTE_MS, { customerId: customerId(i), segment: segmentOf(i), channel: type === 'support_ticket' ? 'support' : 'web', type }, out, m);
    }
  }
}

function segmentOf(i: number): string {
  return kindOf(i) === 'loyal' && unit(i, 7) < 0.6 ? 'vip' : SEGMENTS[Math.floor(unit(i, 8) * 3)];
}

function orderValue(i: number, rnd: () => number): number {
  return Math.round((20 + unit(i, 9) * 120) * (0.5 + rnd()) * 100) / 100;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}
