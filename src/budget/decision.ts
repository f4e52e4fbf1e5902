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
  const { now, request } = input;
  const reasons: Reason[] = [];
  customerReasons(input, s, reasons);
  const t = tallyOf(input);
  const channel = windowReasons(request.channel, input, t, s, reasons);
  const all = windowReasons('all', input, t, s, reasons);
  const allowance = { channel: channel.allowance, all: all.allowance };
  const used = { channel: channel.used, all: all.used };

  const zone = input.customer?.zone ?? s.defaultTimeZone;
  const quiet = quietUntil(now, zone, s.quietHours);
  if (quiet !== null) reasons.push(quietHoursReason(zone, quiet, s));

  // Receipts and password resets go out whatever the budget says; their touch events still count against it.
  if (request.priority === 'transactional' || reasons.length === 0) return { request, allow: true, reasons: [], until: null, allowance, used };
  const until = reasons.some((r) => r.until === null) ? null : Math.max(...reasons.map((r) => r.until!));
  return { request, allow: false, reasons, until, allowance, used };
}

/** What a customer's decision reads on a marketing request, whatever the channel (DecisionInput without the request). */
export type CustomerInput = Omit<DecisionInput, 'request'>;

/**
 * Every reason but quiet hours that a marketing request would meet on any channel: the reasons decide() gives for
 * email, push and sms together, each once (the customer's own and those of all channels together are the same for
 * the three), in decide()'s order by scope. What the suppressed set holds of a customer (ContactBudget.refresh), worked
 * out once where three decisions would work out the shared part three times. Quiet hours are left out: the set holds
 * every other reason, and a zone's local time is not free.
 */
export function suppressionReasons(input: CustomerInput, s: BudgetSettings): Reason[] {
  const reasons: Reason[] = [];
  customerReasons(input, s, reasons);
  const t = tallyOf(input);
  for (const channel of BUDGET_CHANNELS) windowReasons(channel, input, t, s, reasons);
  windowReasons('all', input, t, s, reasons);
  return reasons;
}

/** The reasons of the customer as a whole: consent withdrawn, a complaint or unsubscribe within the cooldown. */
function customerReasons(input: CustomerInput, s: BudgetSettings, reasons: Reason[]): void {
  const { now, customer } = input;
  if (input.consentWithdrawn) reasons.push({ code: 'consent_withdrawn', scope: 'all', text: 'consent withdrawn', until: null });
  const neg = customer?.lastNegative;
  if (neg && BLOCKING_NEGATIVES.has(neg.kind)) {
    const at = neg.min * 60_000;
    const until = at + s.negativeCooldownMs;
    if (now < until) reasons.push({ code: neg.kind as 'complaint' | 'unsubscribe', scope: 'all', text: `${neg.kind} ${agoText(now - at)} ago`, until });
  }
}

/** What every scope's windows are measured against: the touches of all channels together and the reservations. */
interface Tally {
  nowMin: number;
  /** Touches on every channel together (the `other` channel counts toward all) in 24 h and 7 days. */
  allH24: number;
  allD7: number;
  responses7d: number;
  reservedAll: number;
}

function tallyOf({ now, customer, reserved }: CustomerInput): Tally {
  let allH24 = 0;
  let allD7 = 0;
  if (customer) {
    for (const k of TOUCH_KEYS) {
      allH24 += sum(customer.buckets[k].h24);
      allD7 += sum(customer.buckets[k].d7);
    }
  }
  return { nowMin: Math.floor(now / 60_000), allH24, allD7, responses7d: customer?.responses7d ?? 0, reservedAll: reserved.email + reserved.push + reserved.sms };
}

/**
 * The 24 h and 7-day windows of one scope (a channel, or all channels together) against its allowance: a reason for
 * each at or over it, with when it falls back under; the allowance and what is used, reservations included. The
 * series of all channels together is only added up for a window over its allowance (for its `until`): this runs for
 * every touch.
 */
function windowReasons(scope: BudgetScope, input: CustomerInput, t: Tally, s: BudgetSettings, reasons: Reason[]): { allowance: Allowance | null; used: { h24: number; d7: number } } {
  const { now, customer } = input;
  const a = allowanceFor(scope, t.allD7, t.responses7d, s.caps, s.bounds);
  let used: { h24: number; d7: number };
  let reserved: number;
  let series: () => { h24: number[]; d7: number[] };
  if (scope === 'all') {
    reserved = t.reservedAll;
    used = { h24: t.allH24 + reserved, d7: t.allD7 + reserved };
    series = () => {
      const all = { h24: [] as number[], d7: [] as number[] };
      for (const k of TOUCH_KEYS) {
        addInto(all.h24, customer?.buckets[k].h24 ?? ZERO_BUCKETS.h24);
        addInto(all.d7, customer?.buckets[k].d7 ?? ZERO_BUCKETS.d7);
      }
      return all;
    };
  } else {
    const ch = customer?.buckets[scope] ?? ZERO_BUCKETS;
    reserved = input.reserved[scope];
    used = { h24: sum(ch.h24) + reserved, d7: sum(ch.d7) + reserved };
    series = () => ch;
  }
  if (!a || (used.h24 < a.perDay && used.d7 < a.perWeek)) return { allowance: a, used };
  const b = series();
  const note = engagementNote(a, t, customer);
  for (const [code, count, limit, buckets, width, window] of [
    ['allowance_24h', used.h24, a.perDay, b.h24, 120, '24 h'],
    ['allowance_7d', used.d7, a.perWeek, b.d7, 1440, '7 days'],
  ] as const) {
    if (count < limit) continue;
    const held = reserved > 0 ? ` (${reserved} reserved)` : '';
    const until = underAllowanceAt(buckets, width, t.nowMin, reserved, limit) ?? now + s.reservationTtlMs;
    reasons.push({ code, scope, text: `${count} ${LABEL[scope]} in ${window}${held} against an allowance of ${limit}${note}`, until });
  }
  return { allowance: a, used };
}

/** Why an allowance is below the channel's cap: the customer's responses, or the lack of them. */
function engagementNote(a: Allowance, t: Tally, customer: CustomerTouches | null): string {
  if (a.factor >= 1) return '';
  if (t.responses7d > 0) return `; ${t.responses7d} responses to ${t.allD7} touches in 7 days`;
  const last = customer?.lastResponseMin ?? null;
  return last === null ? '; no open on record' : `; no open in ${Math.floor((t.nowMin - last) / 1440)} days`;
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
