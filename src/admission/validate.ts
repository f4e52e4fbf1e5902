// What a valid event is, field by field: the checks both parsers (the byte scanner and the generic JSON path) run on
// the contract's top-level values, so that the two can only ever agree.
import type { VigilEvent } from '../contract/event.js';
import { idProblem } from '../contract/ids.js';

export type RejectReason =
  | 'PAYLOAD_TOO_LARGE'
  | 'INVALID_UTF8'
  | 'INVALID_JSON'
  | 'NOT_AN_OBJECT'
  | 'MISSING_FIELD'
  | 'WRONG_TYPE'
  | 'FIELD_TOO_LONG'
  /** An id or label (id, customerId, channel, segment, campaignId) with a lone surrogate or a control character. */
  | 'INVALID_ID'
  | 'INVALID_NUMBER'
  | 'INVALID_TIMESTAMP'
  | 'TIMESTAMP_OUT_OF_RANGE'
  | 'FORBIDDEN_KEY'
  | 'PROPS_TOO_DEEP'
  | 'SUBJECT_MISMATCH'
  | 'LATE_EVENT'
  /** Scale-out: the subject carries no partition (no customer token, or the NATS server lacks the mapping). */
  | 'UNPARTITIONED';

export type ParseResult = { ok: true; event: VigilEvent } | { ok: false; reason: RejectReason; detail: string };

export interface ParseLimits {
  maxPayloadBytes: number;
  maxIdLength: number;
  maxCustomerIdLength: number;
  maxFieldLength: number;
  maxPropsDepth: number;
  maxFutureMs: number;
  maxPastMs: number;
}

export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);
const TYPE_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;
// ISO-8601 with a date, a time and a zone, e.g. 2026-11-23T10:00:00Z or 2026-11-23T10:00:00.123+01:00.
const ISO_PATTERN = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:(Z)|([+-])(\d{2}):?(\d{2}))$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const MAX_OFFSET_MIN = 14 * 60;

export function reject(reason: RejectReason, detail: string): ParseResult {
  return { ok: false, reason, detail };
}

/** The contract's top-level values as they arrived (undefined when absent), before any check. */
export interface EventFields {
  id: unknown;
  customerId: unknown;
  type: unknown;
  ts: unknown;
  channel: unknown;
  segment: unknown;
  campaignId: unknown;
  value: unknown;
  props: unknown;
}

/**
 * Bits of `clean` in validateFields: the caller already knows that string holds no control character and no lone
 * surrogate (the scanner knows it of plain ASCII it has read), so the id check can be skipped.
 */
export const CLEAN_ID = 1;
export const CLEAN_CUSTOMER_ID = 2;
export const CLEAN_CHANNEL = 4;
export const CLEAN_SEGMENT = 8;
export const CLEAN_CAMPAIGN_ID = 16;
/** The type is one of KNOWN_TYPES, so it matches the type pattern. */
export const CLEAN_TYPE = 32;

export function validateEvent(raw: unknown, expectedType: string | null, now: number, limits: ParseLimits): ParseResult {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return reject('NOT_AN_OBJECT', 'event must be a JSON object');
  const o = raw as Record<string, unknown>;
  for (const key in o) {
    if (FORBIDDEN_KEYS.has(key)) return reject('FORBIDDEN_KEY', `key "${key}" is not allowed`);
  }
  return validateFields(o as unknown as EventFields, expectedType, now, limits, 0);
}

/** The checks after the object's shape and keys, in the order that decides which reason a bad event gets. */
export function validateFields(o: EventFields, expectedType: string | null, now: number, limits: ParseLimits, clean: number): ParseResult {
  const id = requiredString(o.id, 'id', limits.maxIdLength, (clean & CLEAN_ID) === 0);
  if (typeof id !== 'string') return id;
  const customerId = requiredString(o.customerId, 'customerId', limits.maxCustomerIdLength, (clean & CLEAN_CUSTOMER_ID) === 0);
  if (typeof customerId !== 'string') return customerId;
  const type = requiredString(o.type, 'type', 64, false);
  if (typeof type !== 'string') return type;
  if ((clean & CLEAN_TYPE) === 0 && !TYPE_PATTERN.test(type)) return reject('WRONG_TYPE', 'type must be lower snake case (a-z, 0-9, _)');
  if (expectedType !== null && expectedType !== type) {
    return reject('SUBJECT_MISMATCH', `type "${type}" published on the subject for "${expectedType}"`);
  }

  const ts = parseTimestamp(o.ts);
  if (typeof ts !== 'number') return ts;
  if (ts > now + limits.maxFutureMs) return reject('TIMESTAMP_OUT_OF_RANGE', `ts is ${Math.round((ts - now) / 1000)} s in the future`);
  if (ts < now - limits.maxPastMs) return reject('TIMESTAMP_OUT_OF_RANGE', `ts is ${Math.round((now - ts) / 86_400_000)} days in the past`);

  const channel = optionalString(o.channel, 'channel', limits.maxFieldLength, (clean & CLEAN_CHANNEL) === 0);
  if (typeof channel === 'object' && channel !== null) return channel;
  const segment = optionalString(o.segment, 'segment', limits.maxFieldLength, (clean & CLEAN_SEGMENT) === 0);
  if (typeof segment === 'object' && segment !== null) return segment;
  const campaignId = optionalString(o.campaignId, 'campaignId', limits.maxFieldLength, (clean & CLEAN_CAMPAIGN_ID) === 0);
  if (typeof campaignId === 'object' && campaignId !== null) return campaignId;

  let value: number | null = null;
  const v = o.value;
  if (v !== undefined && v !== null) {
    if (typeof v !== 'number') return reject('WRONG_TYPE', 'value must be a number');
    // 1e15 bounds revenue far above any order while keeping sums exact in a Float64.
    if (!Number.isFinite(v) || Math.abs(v) > 1e15) return reject('INVALID_NUMBER', 'value must be a finite number within ±1e15');
    value = v;
  }

  let props: Record<string, unknown> | null = null;
  const p = o.props;
  if (p !== undefined && p !== null) {
    if (typeof p !== 'object' || Array.isArray(p)) return reject('WRONG_TYPE', 'props must be an object');
    const bad = checkProps(p, 1, limits.maxPropsDepth);
    if (bad) return bad;
    props = p as Record<string, unknown>;
  }

  return {
    ok: true,
    event: { id, customerId, type, ts, channel: channel as string | null, value, segment: segment as string | null, campaignId: campaignId as string | null, props },
  };
}

function requiredString(v: unknown, key: string, maxLength: number, checkId: boolean): string | ParseResult {
  if (v === undefined || v === null) return reject('MISSING_FIELD', `${key} is required`);
  if (typeof v !== 'string') return reject('WRONG_TYPE', `${key} must be a string`);
  if (v.length === 0) return reject('MISSING_FIELD', `${key} is empty`);
  if (v.length > maxLength) return reject('FIELD_TOO_LONG', `${key} is ${v.length} characters, limit ${maxLength}`);
  // `type` is held to its own pattern instead.
  const problem = checkId ? idProblem(v) : null;
  if (problem) return reject('INVALID_ID', `${key} ${problem}`);
  return v;
}

function optionalString(v: unknown, key: string, maxLength: number, checkId: boolean): string | null | ParseResult {
  if (v === undefined || v === null || v === '') return null;
  if (typeof v !== 'string') return reject('WRONG_TYPE', `${key} must be a string`);
  if (v.length > maxLength) return reject('FIELD_TOO_LONG', `${key} is ${v.length} characters, limit ${maxLength}`);
  // Channel, segment and campaign become labels and ClickHouse keys: the same rule as ids.
  const problem = checkId ? idProblem(v) : null;
  if (problem) return reject('INVALID_ID', `${key} ${problem}`);
  return v;
}

function parseTimestamp(v: unknown): number | ParseResult {
  if (v === undefined || v === null) return reject('MISSING_FIELD', 'ts is required');
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 0) return reject('INVALID_TIMESTAMP', 'ts as a number must be whole epoch milliseconds');
    return v;
  }
  if (typeof v === 'string') {
    const t = isoMillis(v);
    if (t === null) return reject('INVALID_TIMESTAMP', 'ts must be ISO-8601 with a time zone, or epoch milliseconds');
    if (typeof t === 'string') return reject('INVALID_TIMESTAMP', `ts is not a real date and time: ${t}`);
    return t;
  }
  return reject('WRONG_TYPE', 'ts must be a string or a number');
}

/**
 * Epoch ms of an ISO-8601 date-time with a zone; null when it is not of that form, or what is impossible in it.
 * Every part is checked, not left to Date.parse, which rolls 2026-02-30 over to 2 March.
 */
export function isoMillis(v: string): number | null | string {
  const m = ISO_PATTERN.exec(v);
  if (!m) return null;
  const [year, month, day, hour, minute] = [m[1], m[2], m[3], m[4], m[5]].map(Number);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  if (month < 1 || month > 12) return `month ${month}`;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1];
  if (day < 1 || day > days) return `day ${day} of a month with ${days} days`;
  if (hour > 23) return `hour ${hour}`;
  if (minute > 59) return `minute ${minute}`;
  if (second > 59) return `second ${second}`;
  let offsetMin = 0;
  if (m[8] === undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (om > 59) return `zone offset minute ${om}`;
    offsetMin = (oh * 60 + om) * (m[9] === '-' ? -1 : 1);
    if (Math.abs(offsetMin) > MAX_OFFSET_MIN) return 'zone offset beyond ±14:00';
  }
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'));
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0–99 as 1900–1999.
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, ms);
  return d.getTime() - offsetMin * 60_000;
}

function checkProps(value: object, depth: number, maxDepth: number): ParseResult | null {
  if (depth > maxDepth) return reject('PROPS_TOO_DEEP', `props nest deeper than ${maxDepth} levels`);
  const entries = Array.isArray(value) ? value : Object.keys(value);
  if (!Array.isArray(value)) {
    for (const key of entries as string[]) {
      if (FORBIDDEN_KEYS.has(key)) return reject('FORBIDDEN_KEY', `props key "${key}" is not allowed`);
    }
  }
  const values: unknown[] = Array.isArray(value) ? value : Object.values(value);
  for (const v of values) {
    if (typeof v === 'object' && v !== null) {
      const bad = checkProps(v, depth + 1, maxDepth);
      if (bad) return bad;
    }
  }
  return null;
}
