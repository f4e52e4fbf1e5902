// What one event says about the brand experience (BE = (P + C + O) × T): its product (P), interactive (C) and
// other customers' voice (O) evidence, good and bad, read from its type and props into one reused object.
import { idProblem } from '../contract/ids.js';
import { EXPERIENCE_TYPES, type VigilEvent } from '../contract/event.js';
import type { VoicedEvidence } from '../signals/experience.js';
import { DAY_MS } from '../shared/clock.js';

/** A product id is at most this many UTF-8 bytes (contract 1.1); a longer one names no product. */
export const MAX_PRODUCT_ID_BYTES = 128;

/** A product problem the product table counts by kind, for its reasons ("14 refunds"). */
export const PRODUCT_PROBLEMS = ['none', 'refund', 'return', 'defect'] as const;
export type ProductProblem = (typeof PRODUCT_PROBLEMS)[number];

/**
 * One event's evidence. `pBad` … `cGood` count for the customer itself and for the product and segment it names;
 * `oBad`, `oGood` and `rating` are its voice as others hear it (the product's and the segment's O).
 */
export interface ExperienceEvidence extends VoicedEvidence {
  /** A 1–5 rating of the product named (product_rating, review_posted), or 0 for none. */
  rating: number;
  /** 1 for a purchase (a buyer of the product named), else 0. */
  purchase: number;
  problem: ProductProblem;
  /** `props.productId`, else `props.sku`, when it is a well-formed id of 1–128 bytes; else null. */
  productId: string | null;
}

/**
 * A purchase is weak good evidence (bought, nothing wrong yet): a frequent buyer's routine orders must not bury the
 * defect, return and refund of one bad unit (a problem weighs signals/experience.ts PROBLEM_WEIGHT).
 */
export const PURCHASE_GOOD = 0.1;

/** The types that can carry evidence (any other type only through `props.error`). */
const EVIDENCE_TYPES: ReadonlySet<string> = new Set(['purchase', 'refund', 'payment_failed', 'support_ticket', ...EXPERIENCE_TYPES]);

export function emptyEvidence(): ExperienceEvidence {
  return { pBad: 0, pGood: 0, cBad: 0, cGood: 0, oBad: 0, oGood: 0, rating: 0, purchase: 0, problem: 'none', productId: null };
}

/**
 * Fills `into` with the event's evidence; false when it has none (most events: sessions, views, touches), which
 * the caller checks before anything else. Reads the props the parser already built, allocating nothing. A prop out
 * of its range or of the wrong type is ignored: the event stays valid, that piece of evidence is simply absent.
 *
 * Weights (bad → a problem, good → a good experience; each 1 unless said):
 * P: refund, return_requested, defect_reported bad; payment_failed bad 0.5; a purchase good 0.1 (bought, nothing
 *    wrong yet); product_rating and review_posted with `rating` ≤ 2 bad, ≥ 4 good.
 * C: support_ticket, checkout_failed, public_complaint bad; error_page, or any event with a string `props.error`,
 *    bad 0.5; delivery_delayed bad 1 + delayHours / 48 (at most 3); ticket_resolved within a day good, later bad
 *    by its days open (at most 3); csat_response (and survey_response kind csat) score ≤ 2 bad, ≥ 4 good;
 *    survey_response kind nps score ≤ 6 bad, ≥ 9 good.
 * O: the same NPS answers, public_complaint (bad) and every rating, as others hear them.
 */
export function readEvidence(ev: VigilEvent, into: ExperienceEvidence): boolean {
  const props = ev.props;
  // Sessions, views, touches: one set lookup (and one props read) and nothing written.
  if (!EVIDENCE_TYPES.has(ev.type) && (props == null || typeof props.error !== 'string')) return false;
  into.pBad = into.pGood = into.cBad = into.cGood = into.oBad = into.oGood = into.rating = into.purchase = 0;
  into.problem = 'none';
  into.productId = null;
  switch (ev.type) {
    case 'purchase':
      into.pGood = PURCHASE_GOOD;
      into.purchase = 1;
      break;
    case 'refund':
      into.pBad = 1;
      into.problem = 'refund';
      break;
    case 'return_requested':
      into.pBad = 1;
      into.problem = 'return';
      break;
    case 'defect_reported':
      into.pBad = 1;
      into.problem = 'defect';
      break;
    case 'payment_failed':
      into.pBad = 0.5;
      break;
    case 'product_rating':
    case 'review_posted': {
      const r = numberIn(props?.rating, 1, 5);
      if (r !== null) {
        into.rating = r;
        if (r <= 2) into.pBad = 1;
        else if (r >= 4) into.pGood = 1;
      }
      break;
    }
    case 'support_ticket':
    case 'checkout_failed':
      into.cBad = 1;
      break;
    case 'public_complaint':
      into.cBad = 1;
      into.oBad = 1;
      break;
    case 'error_page':
      into.cBad = 0.5;
      break;
    case 'delivery_delayed': {
      const h = numberIn(props?.delayHours, 0, Number.MAX_VALUE);
      into.cBad = 1 + (h === null ? 0 : Math.min(2, h / 48));
      break;
    }
    case 'ticket_resolved': {
      const ms = numberIn(props?.durationMs, 0, Number.MAX_VALUE);
      if (ms !== null) {
        if (ms <= DAY_MS) into.cGood = 1;
        else into.cBad = Math.min(3, ms / DAY_MS);
      }
      break;
    }
    case 'csat_response':
      csat(numberIn(props?.score, 1, 5), into);
      break;
    case 'survey_response':
      if (props?.kind === 'csat') csat(numberIn(props.score, 1, 5), into);
      else if (props?.kind === 'nps') {
        const s = numberIn(props.score, 0, 10);
        if (s !== null && s <= 6) into.cBad = into.oBad = 1;
        else if (s !== null && s >= 9) into.cGood = into.oGood = 1;
      }
      break;
    default:
      break;
  }
  // Any other event with an error code is a service problem too (a failed API call, a crashed screen).
  if (props != null && into.cBad === 0 && typeof props.error === 'string' && ev.type !== 'error_page') into.cBad = 0.5;
  if (into.pBad + into.pGood + into.cBad + into.cGood + into.oBad + into.oGood + into.rating + into.purchase === 0) return false;
  if (props != null) into.productId = productIdOf(props);
  return true;
}

function csat(score: number | null, into: ExperienceEvidence): void {
  if (score !== null && score <= 2) into.cBad = 1;
  else if (score !== null && score >= 4) into.cGood = 1;
}

function numberIn(v: unknown, min: number, max: number): number | null {
  return typeof v === 'number' && v >= min && v <= max ? v : null;
}

/** `props.productId`, else `props.sku`: a well-formed id of 1–128 UTF-8 bytes, else null (ignored, not rejected). */
export function productIdOf(props: Record<string, unknown>): string | null {
  const id = typeof props.productId === 'string' ? props.productId : typeof props.sku === 'string' ? props.sku : null;
  if (id === null || id.length === 0 || id.length > MAX_PRODUCT_ID_BYTES) return null;
  // Past 42 UTF-16 units a string may be more than 128 UTF-8 bytes: count them.
  if (id.length > MAX_PRODUCT_ID_BYTES / 3 && utf8Length(id) > MAX_PRODUCT_ID_BYTES) return null;
  return idProblem(id) === null ? id : null;
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}
