// Brand experience, BE = (P + C + O) × T: each component from decayed good and bad evidence, the index from their
// confidence-weighted sum, the trend against a slow baseline, and reasons in plain words; customers, products, segments.
import { DAY_MS } from '../shared/clock.js';

/** A customer's brand experience, BE = (P + C + O) × T: on CustomerSignals (contract/pipeline.ts re-exports it). */
export interface ExperienceSignal {
  /** Brand experience index in [0, 100]: 100 = nothing but good, 50 = neutral/no evidence. */
  index: number;
  /** Components in [-1, 1] (negative = bad): product, interactive, others' voice. */
  product: number;
  interactive: number;
  others: number;
  /** Change of the index against the customer's own slow baseline (index points; negative = declining). */
  trend: number;
  /** What pulls the index down, in plain words with counts, the heaviest first ("3 product problems recently …"). */
  reasons: string[];
}

/** What the formulas need from config (signals.experience). */
export interface ExperienceParams {
  /** Pseudo-evidence that pulls each component toward 0 (neutral): one event alone moves it only so far. */
  prior: number;
  halfLifeMs: { product: number; interactive: number; others: number; baseline: number };
}

/**
 * A product problem (defect, return, refund, a 1–2 star rating, a failed payment) weighs this many times a routine
 * good experience: the classic asymmetry of experience (one defective unit outweighs several uneventful orders in
 * what a customer remembers and tells). Without it a frequent buyer's purchases average a defect away (README "Does
 * it lead churn?"). Service problems (C) are weighed by their own severity already (days a ticket stayed open, hours
 * a delivery was late), and the ordinary ones are common: they count 1.
 */
export const PROBLEM_WEIGHT = 3;

/** A component's evidence with its problems weighed: good + k × bad (what its confidence counts). */
export function weighedEvidence(good: number, bad: number, k = 1): number {
  return good + k * bad;
}

/** A component in [−1, 1] from decayed good and bad evidence, problems weighing k: (good − k·bad) / (good + k·bad + prior). */
export function component(good: number, bad: number, prior: number, k = 1): number {
  return (good - k * bad) / (weighedEvidence(good, bad, k) + prior);
}

/** P: product problems weigh PROBLEM_WEIGHT. */
export function productComponent(good: number, bad: number, prior: number): number {
  return component(good, bad, prior, PROBLEM_WEIGHT);
}

/**
 * Others' voice in [−1, 1]: each rating counts (rating − 3) / 2 (1 → −1, 5 → +1), each promoter +1 and each
 * detractor or public complaint −1, over their number plus the prior.
 */
export function othersComponent(ratingSum: number, ratings: number, good: number, bad: number, prior: number): number {
  return ((ratingSum - 3 * ratings) / 2 + good - bad) / (ratings + good + bad + prior);
}

/** How much a component counts in the index: its evidence over evidence plus the prior, in [0, 1). */
export function confidence(evidence: number, prior: number): number {
  return evidence / (evidence + prior);
}

/**
 * The index in [0, 100]: 50 × (1 + (wP·P + wC·C + wO·O) / (wP + wC + wO)), the components summed, each weighted by
 * its confidence and the sum normalised by those weights. One component alone is the index (3 refunds: P −0.5,
 * index 25); a well-evidenced good one buffers a thin bad one; none saturates the others (a product rated 5 by
 * thousands still shows a defect wave in P). No evidence at all: 50.
 */
export function experienceIndex(p: number, wp: number, c: number, wc: number, o: number, wo: number): number {
  const w = wp + wc + wo;
  return w === 0 ? 50 : 50 * (1 + (wp * p + wc * c + wo * o) / w);
}

/**
 * A customer's own experience, P and C pooled: (good − k·pBad − cBad) / (good + k·pBad + cBad + prior) over its
 * product and service evidence together. Pooled, because what a customer lived is the sum of it (BE = P + C + O): a
 * defect, its return, its refund and the slow ticket about it add up, where a mean of P and C would average the
 * ticket against the purchases.
 */
export function ownComponent(e: OwnEvidence, prior: number): number {
  return (e.pGood + e.cGood - PROBLEM_WEIGHT * e.pBad - e.cBad) / (ownEvidence(e) + OWN_PRIOR * prior);
}

/** The confidence of a customer's own experience: its weighed evidence against the weighed prior. */
export function ownConfidence(e: OwnEvidence, prior: number): number {
  return confidence(ownEvidence(e), OWN_PRIOR * prior);
}

/**
 * A customer's own experience is pulled toward neutral by 1.5 × the prior (4.5 with the default 3): with problems
 * weighing 3, one ordinary mishap among routine orders (a return and its refund) stays above the flag (35), while a
 * defective unit's report, return, refund, low rating and slow ticket take it under (measured: README "Does it lead
 * churn?"; with 1 × the prior, 48 % of the wave's buyers were flagged but 76 % precise and 68 calm-week false flags
 * of 2,000 customers; with 1.5 ×, 35 %, 93 % and 13).
 */
const OWN_PRIOR = 1.5;

function ownEvidence(e: OwnEvidence): number {
  return e.pGood + e.cGood + PROBLEM_WEIGHT * e.pBad + e.cBad;
}

/**
 * A customer's index in [0, 100]: 50 × (1 + w·own + (1 − w) × 0.35·wO·O), w the confidence of its own experience. Its own
 * evidence takes the share its confidence earns, others' voice of what it bought fills at most half of the rest (it
 * stands in for what the customer has not lived), and what neither covers stays neutral: one incident alone, or a
 * product rated low by a handful, moves it only part of the way (one refund alone: 42), a defective unit with its
 * return, refund and slow ticket most of it.
 */
export function customerIndex(own: number, ownWeight: number, others: number, othersWeight: number): number {
  return 50 * (1 + ownWeight * own + (1 - ownWeight) * CUSTOMER_VOICE_WEIGHT * othersWeight * others);
}

/**
 * Others' voice fills at most 0.35 of what a customer's own evidence leaves: it is about what it bought, not what it
 * lived, so a product others hate alone takes the index to 32.5 at the very worst and, rated 1.5 by dozens, to about
 * 39, a named risk short of the flag (at 0.5 it flagged the later buyers of the wave's product's good units).
 */
const CUSTOMER_VOICE_WEIGHT = 0.35;

/**
 * A slow baseline stored at `storedAt`, moved toward the index now over the time since with its half-life: what a
 * trend compares against (a quiet customer's or product's trend fades to 0 as the baseline catches up).
 */
export function baselineNow(stored: number, storedAt: number, index: number, atMs: number, halfLifeMs: number): number {
  return index + (stored - index) * Math.exp((-Math.LN2 / halfLifeMs) * Math.max(0, atMs - storedAt));
}

/** What other customers say of one product a customer bought. */
export interface ProductVoice {
  /** The product's slot in the product table (its id is read only for reasons). */
  productSlot: number;
  others: number;
  /** The confidence of `others`: its evidence (ratings, promoters, detractors, complaints) against the prior. */
  weight: number;
  /** Mean rating (decayed) and how many ratings stand behind it. */
  ratingMean: number;
  ratings: number;
}

/** A customer's decayed evidence as of a moment (windows/customerExperience.ts reads it). */
export interface CustomerEvidence extends OwnEvidence {
  any: boolean;
}

/** Good and bad evidence of the product (P) and the interactive experience (C), decayed or as one event weighs. */
export interface OwnEvidence {
  pBad: number;
  pGood: number;
  cBad: number;
  cGood: number;
}

/** Others' voice (O) beside P and C: promoters count good, detractors and public complaints bad. */
export interface VoicedEvidence extends OwnEvidence {
  oBad: number;
  oGood: number;
}

/**
 * A customer's experience signal. O is the mean voice of the products it bought (up to two), or its segment's voice
 * when it bought none the table knows; `baseline(index)` is its slow baseline as of now, given the index now.
 */
/** Others' voice in a segment: its O and its confidence. */
export interface SegmentVoice {
  others: number;
  weight: number;
}

export function customerExperience(e: CustomerEvidence, voices: readonly ProductVoice[], segmentOthers: SegmentVoice | null, params: ExperienceParams, baseline: (index: number) => number, productName: (productSlot: number) => string): ExperienceSignal {
  return new CustomerExperienceSignal(e, voices, segmentOthers, params, baseline, productName);
}

class CustomerExperienceSignal implements ExperienceSignal {
  readonly index: number;
  readonly product: number;
  readonly interactive: number;
  readonly others: number;
  readonly trend: number;
  private text: string[] | null = null;
  /** Copied out of the read: the pipeline refills it for the next customer, and reasons are read later. */
  private readonly e: CustomerEvidence;

  constructor(
    e: CustomerEvidence,
    private readonly voices: readonly ProductVoice[],
    private readonly segmentOthers: SegmentVoice | null,
    private readonly params: ExperienceParams,
    baseline: (index: number) => number,
    private readonly productName: (productSlot: number) => string,
  ) {
    this.e = { pBad: e.pBad, pGood: e.pGood, cBad: e.cBad, cGood: e.cGood, any: e.any };
    const prior = params.prior;
    this.product = productComponent(e.pGood, e.pBad, prior);
    this.interactive = component(e.cGood, e.cBad, prior);
    let o = 0;
    let wo = 0;
    if (voices.length > 0) {
      for (const v of voices) {
        o += v.others;
        wo += v.weight;
      }
      o /= voices.length;
      wo /= voices.length;
    } else if (segmentOthers !== null) {
      o = segmentOthers.others;
      wo = segmentOthers.weight;
    }
    this.others = o;
    this.index = customerIndex(ownComponent(e, prior), ownConfidence(e, prior), o, wo);
    this.trend = e.any || voices.length > 0 ? this.index - baseline(this.index) : 0;
  }

  /** Reasons for what pulls the index down, the heaviest first: counts of problems, and products others rate low. */
  get reasons(): string[] {
    if (this.text !== null) return this.text;
    const parts: { weight: number; reason: string }[] = [];
    const hl = this.params.halfLifeMs;
    if (this.product < 0 && this.e.pBad >= 0.5) parts.push({ weight: this.product, reason: `${count(this.e.pBad)} product problem${plural(this.e.pBad)} recently (refunds, returns, defects, failed payments, low ratings; ${days(hl.product)} half-life)` });
    if (this.interactive < 0 && this.e.cBad >= 0.5) parts.push({ weight: this.interactive, reason: `${count(this.e.cBad)} service problem${plural(this.e.cBad)} recently (tickets, slow resolutions, failed checkouts, errors, delays, poor CSAT; ${days(hl.interactive)} half-life)` });
    for (const v of this.voices) {
      if (v.others >= -0.1) continue;
      const what = v.ratings >= 1 ? `rated ${v.ratingMean.toFixed(1)} by ${Math.round(v.ratings)} others` : 'complained about by others';
      parts.push({ weight: v.others / this.voices.length, reason: `product ${this.productName(v.productSlot)} ${what}` });
    }
    if (this.voices.length === 0 && this.segmentOthers !== null && this.segmentOthers.others < -0.1) parts.push({ weight: this.segmentOthers.others, reason: 'customers of the segment report a poor experience' });
    return (this.text = parts.sort((a, b) => a.weight - b.weight).map((p) => p.reason));
  }
}

/** A product's or a segment's decayed aggregates as of a moment. */
export interface AggregateEvidence extends VoicedEvidence {
  ratingSum: number;
  ratings: number;
  buyers: number;
  refunds: number;
  returns: number;
  defects: number;
  /** The slow baseline index as of now. */
  baseline: number;
}

/** A product's or a segment's experience: the components, the index, its drop against the baseline, volume, reasons. */
export interface AggregateExperience {
  kind: 'product' | 'segment';
  key: string;
  index: number;
  product: number;
  interactive: number;
  others: number;
  /** Index points against the slow baseline (negative: declining). */
  trend: number;
  /** Purchases and ratings (decayed) behind the index. */
  volume: number;
  reasons: string[];
}

export function aggregateExperience(kind: 'product' | 'segment', key: string, a: AggregateEvidence, prior: number): AggregateExperience {
  const product = productComponent(a.pGood, a.pBad, prior);
  const interactive = component(a.cGood, a.cBad, prior);
  const others = othersComponent(a.ratingSum, a.ratings, a.oGood, a.oBad, prior);
  const index = experienceIndex(product, confidence(weighedEvidence(a.pGood, a.pBad, PROBLEM_WEIGHT), prior), interactive, confidence(a.cGood + a.cBad, prior), others, voiceWeight(a, prior));
  return { kind, key, index, product, interactive, others, trend: index - a.baseline, volume: aggregateVolume(a), reasons: aggregateReasons(a) };
}

/** The index alone, for scans over every product (no reasons built). */
export function aggregateIndex(a: AggregateEvidence, prior: number): number {
  return experienceIndex(
    productComponent(a.pGood, a.pBad, prior), confidence(weighedEvidence(a.pGood, a.pBad, PROBLEM_WEIGHT), prior),
    component(a.cGood, a.cBad, prior), confidence(a.cGood + a.cBad, prior),
    othersComponent(a.ratingSum, a.ratings, a.oGood, a.oBad, prior), voiceWeight(a, prior),
  );
}

/** The confidence of a product's or segment's O: ratings, promoters, detractors and complaints against the prior. */
export function voiceWeight(a: Pick<AggregateEvidence, 'ratings' | 'oGood' | 'oBad'>, prior: number): number {
  return confidence(a.ratings + a.oGood + a.oBad, prior);
}

/** Purchases and ratings (decayed): the volume a product rule's minVolume and the wall's cells ask for. */
export function aggregateVolume(a: AggregateEvidence): number {
  return a.buyers + a.ratings;
}

/** "14 refunds, 6 returns, 9 defects reported recently", "rated 1.8 by 212", "31 service problems", the worst first. */
export function aggregateReasons(a: AggregateEvidence): string[] {
  const out: string[] = [];
  const problems = [
    [a.refunds, 'refund'],
    [a.returns, 'return'],
    [a.defects, 'defect'],
  ] as const;
  const named = problems.filter(([n]) => n >= 0.5).map(([n, what]) => `${count(n)} ${what}${plural(n)}`);
  if (named.length > 0) out.push(`${named.join(', ')} recently${a.buyers >= 0.5 ? ` against ${count(a.buyers)} purchases` : ''}`);
  if (a.ratings >= 1 && a.ratingSum / a.ratings < 3) out.push(`rated ${(a.ratingSum / a.ratings).toFixed(1)} by ${Math.round(a.ratings)}`);
  if (a.cBad >= 0.5 && a.cBad > a.cGood) out.push(`${count(a.cBad)} service problem${plural(a.cBad)} (tickets, failed checkouts, delays)`);
  if (a.oBad >= 0.5 && a.oBad > a.oGood) out.push(`${count(a.oBad)} detractor${plural(a.oBad)} and public complaint${plural(a.oBad)}`);
  return out;
}

function count(n: number): number {
  return Math.max(1, Math.round(n));
}

function plural(n: number): string {
  return count(n) === 1 ? '' : 's';
}

function days(ms: number): string {
  const d = ms / DAY_MS;
  return Number.isInteger(d) ? `${d}-day` : `${d.toFixed(1)}-day`;
}
