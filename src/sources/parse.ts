// Parses and validates one message into a VigilEvent, or a rejection with a stable reason: never throws on bad input.
import type { VigilEvent } from '../contract/event.js';

export type RejectReason =
  | 'PAYLOAD_TOO_LARGE'
  | 'INVALID_UTF8'
  | 'INVALID_JSON'
  | 'NOT_AN_OBJECT'
  | 'MISSING_FIELD'
  | 'WRONG_TYPE'
  | 'FIELD_TOO_LONG'
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

// fatal: invalid UTF-8 must be rejected, not silently replaced and counted as someone else's id.
const utf8 = new TextDecoder('utf-8', { fatal: true });

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const TYPE_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;
// ISO-8601 with a date, a time and a zone, e.g. 2026-11-23T10:00:00Z or 2026-11-23T10:00:00.123+01:00.
const ISO_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

function reject(reason: RejectReason, detail: string): ParseResult {
  return { ok: false, reason, detail };
}

/**
 * Validates a message. `expectedType` is the `<type>` token of the subject it arrived on (null when the
 * subject carries none); `now` is the processor's clock, for the time bounds.
 */
export function parseEvent(data: Uint8Array, expectedType: string | null, now: number, limits: ParseLimits): ParseResult {
  if (data.byteLength > limits.maxPayloadBytes) {
    return reject('PAYLOAD_TOO_LARGE', `payload is ${data.byteLength} bytes, limit ${limits.maxPayloadBytes}`);
  }
  let text: string;
  try {
    text = utf8.decode(data);
  } catch {
    return reject('INVALID_UTF8', 'payload is not valid UTF-8');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return reject('INVALID_JSON', `payload is not JSON: ${(err as Error).message.slice(0, 120)}`);
  }
  return validateEvent(raw, expectedType, now, limits);
}

export function validateEvent(raw: unknown, expectedType: string | null, now: number, limits: ParseLimits): ParseResult {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return reject('NOT_AN_OBJECT', 'event must be a JSON object');
  const o = raw as Record<string, unknown>;
  for (const key in o) {
    if (FORBIDDEN_KEYS.has(key)) return reject('FORBIDDEN_KEY', `key "${key}" is not allowed`);
  }

  const id = requiredString(o, 'id', limits.maxIdLength);
  if (typeof id !== 'string') return id;
  const customerId = requiredString(o, 'customerId', limits.maxCustomerIdLength);
  if (typeof customerId !== 'string') return customerId;
  const type = requiredString(o, 'type', 64);
  if (typeof type !== 'string') return type;
  if (!TYPE_PATTERN.test(type)) return reject('WRONG_TYPE', 'type must be lower snake case (a-z, 0-9, _)');
  if (expectedType !== null && expectedType !== type) {
    return reject('SUBJECT_MISMATCH', `type "${type}" published on the subject for "${expectedType}"`);
  }

  const ts = parseTimestamp(o.ts);
  if (typeof ts !== 'number') return ts;
  if (ts > now + limits.maxFutureMs) return reject('TIMESTAMP_OUT_OF_RANGE', `ts is ${Math.round((ts - now) / 1000)} s in the future`);
  if (ts < now - limits.maxPastMs) return reject('TIMESTAMP_OUT_OF_RANGE', `ts is ${Math.round((now - ts) / 86_400_000)} days in the past`);

  const channel = optionalString(o, 'channel', limits.maxFieldLength);
  if (typeof channel === 'object' && channel !== null) return channel;
  const segment = optionalString(o, 'segment', limits.maxFieldLength);
  if (typeof segment === 'object' && segment !== null) return segment;
  const campaignId = optionalString(o, 'campaignId', limits.maxFieldLength);
  if (typeof campaignId === 'object' && campaignId !== null) return campaignId;

  let value: number | null = null;
  if (o.value !== undefined && o.value !== null) {
    if (typeof o.value !== 'number') return reject('WRONG_TYPE', 'value must be a number');
    // 1e15 bounds revenue far above any order while keeping sums exact in a Float64.
    if (!Number.isFinite(o.value) || Math.abs(o.value) > 1e15) return reject('INVALID_NUMBER', 'value must be a finite number within ±1e15');
    value = o.value;
  }

  let props: Record<string, unknown> | null = null;
  if (o.props !== undefined && o.props !== null) {
    if (typeof o.props !== 'object' || Array.isArray(o.props)) return reject('WRONG_TYPE', 'props must be an object');
    const bad = checkProps(o.props, 1, limits.maxPropsDepth);
    if (bad) return bad;
    props = o.props as Record<string, unknown>;
  }

  return {
    ok: true,
    event: { id, customerId, type, ts, channel: channel as string | null, value, segment: segment as string | null, campaignId: campaignId as string | null, props },
  };
}

function requiredString(o: Record<string, unknown>, key: string, maxLength: number): string | ParseResult {
  const v = o[key];
  if (v === undefined || v === null) return reject('MISSING_FIELD', `${key} is required`);
  if (typeof v !== 'string') return reject('WRONG_TYPE', `${key} must be a string`);
  if (v.length === 0) return reject('MISSING_FIELD', `${key} is empty`);
  if (v.length > maxLength) return reject('FIELD_TOO_LONG', `${key} is ${v.length} characters, limit ${maxLength}`);
  return v;
}

function optionalString(o: Record<string, unknown>, key: string, maxLength: number): string | null | ParseResult {
  const v = o[key];
  if (v === undefined || v === null || v === '') return null;
  if (typeof v !== 'string') return reject('WRONG_TYPE', `${key} must be a string`);
  if (v.length > maxLength) return reject('FIELD_TOO_LONG', `${key} is ${v.length} characters, limit ${maxLength}`);
  return v;
}

function parseTimestamp(v: unknown): number | ParseResult {
  if (v === undefined || v === null) return reject('MISSING_FIELD', 'ts is required');
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 0) return reject('INVALID_TIMESTAMP', 'ts as a number must be whole epoch milliseconds');
    return v;
  }
  if (typeof v === 'string') {
    if (!ISO_PATTERN.test(v)) return reject('INVALID_TIMESTAMP', 'ts must be ISO-8601 with a time zone, or epoch milliseconds');
    const t = Date.parse(v);
    if (Number.isNaN(t)) return reject('INVALID_TIMESTAMP', `ts "${v.slice(0, 40)}" is not a real date`);
    return t;
  }
  return reject('WRONG_TYPE', 'ts must be a string or a number');
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
