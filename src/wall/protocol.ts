// The wall's WebSocket protocol beyond the contract's frames: the server's own messages and the commands a client may send.
import type { Matcher, Silence, SilenceInput, WallFrame } from '../contract/frames.js';
import type { Role } from './auth.js';

export interface HelloMessage {
  type: 'hello';
  role: Role;
  serverTime: number;
  /** Incremental frames arrive at most this often. */
  frameIntervalMs: number;
}

export interface PongMessage {
  type: 'pong';
  serverTime: number;
}

export type WallErrorCode = 'BAD_REQUEST' | 'FORBIDDEN' | 'NOT_FOUND' | 'INTERNAL' | 'RATE_LIMITED';

export interface ErrorMessage {
  type: 'error';
  code: WallErrorCode;
  message: string;
  /** The command that failed, so the page knows which button or form to give back. */
  command?: ClientMessage['type'];
  /** The alert an `ack` was about, so the page can re-enable its button. */
  alertId?: string;
  /** The silence an `expire_silence` was about. */
  silenceId?: string;
}

export interface AckedMessage {
  type: 'acked';
  alertId: string;
  by: string;
}

/** One flush: the coalesced frames since the previous flush, as one JSON array. Everything else is a single JSON object. */
export type FlushMessage = WallFrame[];

/** The source accepted a `silence`; the silence list itself follows as a `silences` frame. */
export interface SilencedMessage {
  type: 'silenced';
  silence: Silence;
}

/** The source ended a silence (`expire_silence`); the list follows as a `silences` frame. */
export interface SilenceExpiredMessage {
  type: 'silence_expired';
  id: string;
}

export type ServerMessage =
  | HelloMessage
  | PongMessage
  | ErrorMessage
  | AckedMessage
  | SilencedMessage
  | SilenceExpiredMessage
  | Extract<WallFrame, { type: 'snapshot' }>
  | FlushMessage;

export type ClientMessage =
  | { type: 'ping' }
  | { type: 'ack'; alertId: string; by?: string }
  | { type: 'silence'; silence: SilenceInput }
  | { type: 'expire_silence'; id: string };

export type ParsedClientMessage = { ok: true; message: ClientMessage } | { ok: false; reason: string };

/** Who acknowledged, when the client does not say: the role, which is all the wall knows of a token's holder. */
export const DEFAULT_ACK_BY = 'responder';
const MAX_ID = 256;
const MAX_BY = 64;
const MAX_MATCHERS = 16;
const MAX_LABEL_NAME = 128;
const MAX_MATCHER_VALUE = 1_024;
const MAX_COMMENT = 1_000;
const MATCHER_OPS: readonly Matcher['op'][] = ['=', '!=', '=~', '!~'];
const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The body of `POST /api/v1/silences` and of a `silence` message, checked for shape and size: a `SilenceInput` where
 * `startsAt` may be left out (now) and `createdBy` may be left out (`by`, else the default). Whether the matchers make
 * sense (a valid regex, not matching everything) is the source's call.
 */
export function parseSilenceInput(value: unknown, now: number): { ok: true; input: SilenceInput } | { ok: false; reason: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, reason: 'a silence is a JSON object {matchers, endsAt, comment, startsAt?, createdBy?}' };
  const r = value as Record<string, unknown>;
  if (!Array.isArray(r.matchers) || r.matchers.length === 0 || r.matchers.length > MAX_MATCHERS) return { ok: false, reason: `matchers must be a list of 1..${MAX_MATCHERS} {name, op, value}` };
  const matchers: Matcher[] = [];
  // Reasons name a matcher by its position, never by what the client sent: no input is echoed back.
  for (const [i, m] of (r.matchers as unknown[]).entries()) {
    if (typeof m !== 'object' || m === null) return { ok: false, reason: 'each matcher is an object {name, op, value}' };
    const { name, op, value: v } = m as Record<string, unknown>;
    if (typeof name !== 'string' || name.length > MAX_LABEL_NAME || !LABEL_NAME.test(name)) return { ok: false, reason: `matcher ${i + 1}: name must be a label name of 1..${MAX_LABEL_NAME} characters` };
    const matcherOp = op ?? '=';
    if (typeof matcherOp !== 'string' || !MATCHER_OPS.includes(matcherOp as Matcher['op'])) return { ok: false, reason: `matcher ${i + 1}: op must be one of ${MATCHER_OPS.join(' ')}` };
    if (typeof v !== 'string' || v.length > MAX_MATCHER_VALUE) return { ok: false, reason: `matcher ${i + 1}: value must be a string of at most ${MAX_MATCHER_VALUE} characters` };
    matchers.push({ name, op: matcherOp as Matcher['op'], value: v });
  }
  const startsAt = r.startsAt === undefined || r.startsAt === null ? now : r.startsAt;
  if (typeof startsAt !== 'number' || !Number.isFinite(startsAt)) return { ok: false, reason: 'startsAt must be epoch milliseconds (or left out for now)' };
  if (typeof r.endsAt !== 'number' || !Number.isFinite(r.endsAt)) return { ok: false, reason: 'endsAt must be epoch milliseconds' };
  if (typeof r.comment !== 'string' || r.comment.trim().length === 0 || r.comment.length > MAX_COMMENT) return { ok: false, reason: `comment is required: 1..${MAX_COMMENT} characters saying why` };
  const createdBy = parseBy(r.createdBy ?? r.by);
  if (createdBy === undefined) return { ok: false, reason: `createdBy must be a string of 1..${MAX_BY} characters` };
  return { ok: true, input: { matchers, startsAt, endsAt: r.endsAt, comment: r.comment.trim(), createdBy: createdBy ?? DEFAULT_ACK_BY } };
}

export function parseClientMessage(text: string, now = Date.now()): ParsedClientMessage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  if (typeof value !== 'object' || value === null) return { ok: false, reason: 'not a JSON object' };
  const record = value as Record<string, unknown>;
  if (record.type === 'ping') return { ok: true, message: { type: 'ping' } };
  if (record.type === 'ack') {
    const alertId = record.alertId;
    if (typeof alertId !== 'string' || alertId.length === 0 || alertId.length > MAX_ID) return { ok: false, reason: `ack needs alertId, a string of 1..${MAX_ID} characters` };
    const by = parseBy(record.by);
    if (by === undefined) return { ok: false, reason: `by must be a string of 1..${MAX_BY} characters` };
    return { ok: true, message: by === null ? { type: 'ack', alertId } : { type: 'ack', alertId, by } };
  }
  if (record.type === 'silence') {
    const parsed = parseSilenceInput(record, now);
    return parsed.ok ? { ok: true, message: { type: 'silence', silence: parsed.input } } : parsed;
  }
  if (record.type === 'expire_silence') {
    const id = record.id;
    if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID) return { ok: false, reason: `expire_silence needs id, a string of 1..${MAX_ID} characters` };
    return { ok: true, message: { type: 'expire_silence', id } };
  }
  return { ok: false, reason: 'unknown message type: expected ping, ack, silence or expire_silence' };
}

/** null when absent, undefined when invalid. */
export function parseBy(by: unknown): string | null | undefined {
  if (by === undefined || by === null) return null;
  if (typeof by !== 'string') return undefined;
  const trimmed = by.trim();
  return trimmed.length > 0 && trimmed.length <= MAX_BY ? trimmed : undefined;
}
