// The budget's answer to one request: allow, or suppress with every reason and until when. Pure: plain values in,
// a plain decision out, the time passed in.
import type { AllowanceBounds, TouchCap } from '../config/schema.js';
import { TOUCH_CHANNELS, type NegativeKind, type TouchChannel } from '../windows/customerWindows.js';
import { allowanceFor, BUDGET_CHANNELS, underAllowanceAt, type Allowance, type BudgetChannel, type BudgetScope } from './allowance.js';
import { localTimeText, quietUntil, type QuietHours } from './quietHours.js';

export type Priority = 'transactional' | 'marketing';

export interface BudgetRequest {
  customerId: string;
  channel: BudgetChannel;
  campaignId: string | null;
  priority: Priority;
}

/** What the budget reads of one customer: touch buckets per channel, responses, the last negative, the zone. */
export interface CustomerTouches {
  /** Per channel (including `other`), oldest first: 12 × 2 h buckets over 24 h and 7 × 1 day over 7 days. */
  buckets: Record<TouchChannel, { h24: number[]; d7: number[] }>;
  responses7d: number;
  lastResponseMin: number | null;
  lastNegative: { kind: NegativeKind; min: number } | null;
  zone: string | null;
}

export interface BudgetSettings {
  caps: Record<string, TouchCap>;
  bounds: Record<string, AllowanceBounds>;
  quietHours: QuietHours;
  defaultTimeZone: string;
  negativeCooldownMs: number;
  reservationTtlMs: number;
}

export type ReasonCode =
  | 'consent_withdrawn'
  | 'complaint'
  | 'unsubscribe'
  | 'allowance_24h'
  | 'allowance_7d'
  | 'quiet_hours'
  /** Not the customer's: the slot could not be reserved under budget.maxReservations or maxUnknownReservations. */
  | 'reservations_full';

export interface Reason {
  code: ReasonCode;
  /** The channel the reason holds for, or `all` when it holds for every channel. */
  scope: BudgetScope;
  text: string;
  /** When it stops holding (epoch ms); null: until something happens (consent granted). */
  until: number | null;
}

export interface Decision {
  request: BudgetRequest;
  allow: boolean;
  /** Empty when allowed. */
  reasons: Reason[];
  /** When every reason has ended (epoch ms); null when allowed, or when a reason has no end. */
  until: number | null;
  /** Allowances of the request's channel and of all channels together (null: no cap configured). */
  allowance: { channel: Allowance | null; all: Allowance | null };
  /** Touches in 24 h and 7 days, reservations included, on the channel and on all channels. */
  used: { channel: { h24: number; d7: number }; all: { h24: number; d7: number } };
}

export interface DecisionInput {
  now: number;
  request: BudgetRequest;
  /** Null when the customer has no live state (never seen, or evicted): no touches on record. */
  customer: CustomerTouches | null;
  consentWithdrawn: boolean;
  /** Reserved slots not yet consumed by a touch event, per channel. */
  reserved: Record<BudgetChannel, number>;
  /** Leaves quiet hours out: the suppressed set holds every other reason, and a zone's local time is not free. */
  withoutQuietHours?: boolean;
}

const TOUCH_KEYS: TouchChannel[] = ['email', 'push', 'sms', 'other'];
/** The buckets of a customer with no touches on record (read only). */
const ZERO_BUCKETS: { h24: number[]; d7: number[] } = { h24: new Array<number>(12).fill(0), d7: new Array<number>(7).fill(0) };
/** Negative events that hold marketing back for budget.negativeCooldownMs. */
export const BLOCKING_NEGATIVES: ReadonlySet<NegativeKind> = new Set(['complaint', 'unsubscribe']);
const LABEL: Record<BudgetScope, string> = { email: 'emails', push: 'push messages', sms: 'SMS', all: 'touches' };
const sum = (a: readonly number[]) => a.reduce((x, y) => x + y, 0);
const addInto = (into: number[], from: readonly number[]) => from.forEach((v, i) => (into[i] = (into[i] ?? 0) + v));

/** "25 min", "3 h", "2 days": how long ago, for reasons. */
export function agoText(ms: number): string {
  const min = Math.max(0, Math.floor(ms / 60_000));
  if (min < 60) return `${min} min`;
  if (min < 48 * 60) return `${Math.floor(min / 60)} h`;
  return `${Math.floor(min / 1440)} days`;
}

export function decide(input: DecisionInput, s: BudgetSettings): Decision {
  const { now, request, customer } = input;
  const nowMin = Math.floor(now / 60_000);
  const reasons: Reason[] = [];

  if (input.consentWithdrawn) reasons.push({ code: 'consent_withdrawn', scope: 'all', text: 'consent withdrawn', until: null });

  const neg = customer?.lastNegative;
  if (neg && BLOCKING_NEGATIVES.has(neg.kind)) {
    const at = neg.min * 60_000;
    const until = at + s.negativeCooldownMs;
    if (now < until) reasons.push({ code: neg.kind as 'complaint' | 'unsubscribe', scope: 'all', text: `${neg.kind} ${agoText(now - at)} ago`, until });
  }

  // Touches on the channel and on every channel together (the `other` channel counts toward all). The series of all
  // channels together is only added up for a window over its allowance (for its `until`): this runs for every touch.
  const ch = customer?.buckets[request.channel] ?? ZERO_BUCKETS;
  let allH24 = 0;
  let allD7 = 0;
  if (customer) {
    for (const k of TOUCH_KEYS) {
      allH24 += sum(customer.buckets[k].h24);
      allD7 += sum(customer.buckets[k].d7);
    }
  }
  const allBuckets = () => {
    const all = { h24: [] as number[], d7: [] as number[] };
    for (const k of TOUCH_KEYS) {
      addInto(all.h24, customer?.buckets[k].h24 ?? ZERO_BUCKETS.h24);
      addInto(all.d7, customer?.buckets[k].d7 ?? ZERO_BUCKETS.d7);
    }
    return all;
  };
  const touches7d = allD7;
  const responses7d = customer?.responses7d ?? 0;
  const reservedCh = input.reserved[request.channel];
  const reservedAll = input.reserved.email + input.reserved.push + input.reserved.sms;
  const allowance = { channel: allowanceFor(request.channel, touches7d, responses7d, s.caps, s.bounds), all: allowanceFor('all', touches7d, responses7d, s.caps, s.bounds) };
  const used = { channel: { h24: sum(ch.h24) + reservedCh, d7: sum(ch.d7) + reservedCh }, all: { h24: allH24 + reservedAll, d7: allD7 + reservedAll } };

  const engagementNote = (a: Allowance) => {
    if (a.factor >= 1) return '';
    if (responses7d > 0) return `; ${responses7d} responses to ${touches7d} touches in 7 days`;
    const last = customer?.lastResponseMin ?? null;
    return last === null ? '; no open on record' : `; no open in ${Math.floor((nowMin - last) / 1440)} days`;
  };
  const checkWindow = (scope: BudgetScope, a: Allowance | null, u: { h24: number; d7: number }, reserved: number, buckets: () => { h24: number[]; d7: number[] }) => {
    if (!a || (u.h24 < a.perDay && u.d7 < a.perWeek)) return;
    const b = buckets();
    for (const [code, count, limit, series, width, window] of [
      ['allowance_24h', u.h24, a.perDay, b.h24, 120, '24 h'],
      ['allowance_7d', u.d7, a.perWeek, b.d7, 1440, '7 days'],
    ] as const) {
      if (count < limit) continue;
      const held = reserved > 0 ? ` (${reserved} reserved)` : '';
      const until = underAllowanceAt(series, width, nowMin, reserved, limit) ?? now + s.reservationTtlMs;
      reasons.push({ code, scope, text: `${count} ${LABEL[scope]} in ${window}${held} against an allowance of ${limit}${engagementNote(a)}`, until });
    }
  };
  checkWindow(request.channel, allowance.channel, used.channel, reservedCh, () => ch);
  checkWindow('all', allowance.all, used.all, reservedAll, allBuckets);

  const zone = customer?.zone ?? s.defaultTimeZone;
  const quiet = input.withoutQuietHours ? null : quietUntil(now, zone, s.quietHours);
  if (quiet !== null) reasons.push(quietHoursReason(zone, quiet, s));

  // Receipts and password resets go out whatever the budget says; their touch events still count against it.
  if (request.priority === 'transactional' || reasons.length === 0) return { request, allow: true, reasons: [], until: null, allowance, used };
  const until = reasons.some((r) => r.until === null) ? null : Math.max(...reasons.map((r) => r.until!));
  return { request, allow: false, reasons, until, allowance, used };
}

/** The reason quiet hours give, in `zone`, until `until` (quietUntil's answer). */
export function quietHoursReason(zone: string, until: number, s: Pick<BudgetSettings, 'quietHours'>): Reason {
  return { code: 'quiet_hours', scope: 'all', text: `quiet hours until ${localTimeText(s.quietHours.end)} ${zone}`, until };
}

/**
 * A decision for a batch, where only allow, the reasons and until are read: an allowing one (the allowance and the
 * used figures left at zero), or quiet hours alone. checkForBatch() gives these only where decide() would give the same.
 */
export function batchDecision(request: BudgetRequest, quiet: Reason | null): Decision {
  return quiet === null
    ? { request, allow: true, reasons: [], until: null, allowance: NO_ALLOWANCE, used: NOTHING_USED }
    : { request, allow: false, reasons: [quiet], until: quiet.until, allowance: NO_ALLOWANCE, used: NOTHING_USED };
}
const NO_ALLOWANCE: Decision['allowance'] = Object.freeze({ channel: null, all: null });
const NOTHING_USED: Decision['used'] = Object.freeze({ channel: Object.freeze({ h24: 0, d7: 0 }), all: Object.freeze({ h24: 0, d7: 0 }) });

/**
 * An allowing marketing decision whose slot could not be reserved (the reservation caps): refused until `until`, so a
 * sender retries then, rather than allowed unreserved past another check for the same last slot.
 */
export function refuseUnreserved(d: Decision, text: string, until: number): Decision {
  return { ...d, allow: false, reasons: [{ code: 'reservations_full', scope: d.request.channel, text, until }], until };
}

/** The JSON a sender receives for one decision. */
export function decisionJson(d: Decision): Record<string, unknown> {
  return {
    customerId: d.request.customerId,
    channel: d.request.channel,
    campaignId: d.request.campaignId,
    priority: d.request.priority,
    decision: d.allow ? 'allow' : 'suppress',
    reasons: d.reasons.map((r) => r.text),
    codes: d.reasons.map((r) => r.code),
    until: d.allow ? null : d.until === null ? null : new Date(d.until).toISOString(),
    untilMs: d.allow ? null : d.until,
    allowance: d.allowance,
    used: d.used,
  };
}

/** Whether a complaint or unsubscribe (the customer's last negative, `kind` at minute `min`) holds marketing back at `now`. */
export function inNegativeCooldown(kind: NegativeKind | null, min: number | null, now: number, s: Pick<BudgetSettings, 'negativeCooldownMs'>): boolean {
  return kind !== null && min !== null && BLOCKING_NEGATIVES.has(kind) && now < min * 60_000 + s.negativeCooldownMs;
}

/**
 * Whether a window is at or over its allowance, on a budget channel or on all: decide()'s tests from the touch sums
 * per channel (`h24`, `d7`, indexed as TOUCH_CHANNELS) and the reservations per channel (`reserved`, indexed as
 * BUDGET_CHANNELS), without the reasons, texts and bucket series. False means decide() gives no allowance reason.
 */
export function overAnAllowance(h24: ArrayLike<number>, d7: ArrayLike<number>, responses7d: number, reserved: ArrayLike<number>, s: Pick<BudgetSettings, 'caps' | 'bounds'>): boolean {
  let allH24 = 0;
  let allD7 = 0;
  for (let i = 0; i < h24.length; i++) {
    allH24 += h24[i];
    allD7 += d7[i];
  }
  let reservedAll = 0;
  for (let i = 0; i < BUDGET_CHANNELS.length; i++) {
    const channel = BUDGET_CHANNELS[i];
    reservedAll += reserved[i];
    const a = allowanceFor(channel, allD7, responses7d, s.caps, s.bounds);
    const at = TOUCH_CHANNELS.indexOf(channel);
    if (a && (h24[at] + reserved[i] >= a.perDay || d7[at] + reserved[i] >= a.perWeek)) return true;
  }
  const all = allowanceFor('all', allD7, responses7d, s.caps, s.bounds);
  return all !== null && (allH24 + reservedAll >= all.perDay || allD7 + reservedAll >= all.perWeek);
}
