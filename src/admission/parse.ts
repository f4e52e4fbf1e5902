// Parses and validates one message into a VigilEvent, or a rejection with a stable reason: never throws on bad input.
// The byte scanner (scan.ts) answers the common shapes; everything else takes the generic path (TextDecoder,
// JSON.parse, validateEvent), which is also the reference the scanner is tested against.
import { scanEvent } from './scan.js';
import { reject, validateEvent, type ParseLimits, type ParseResult } from './validate.js';

export { isoMillis, validateEvent, type ParseLimits, type ParseResult, type RejectReason } from './validate.js';

// fatal: invalid UTF-8 must be rejected, not silently replaced and counted as someone else's id.
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Validates a message. `expectedType` is the `<type>` token of the subject it arrived on (null when the
 * subject carries none); `now` is the processor's clock, for the time bounds.
 */
export function parseEvent(data: Uint8Array, expectedType: string | null, now: number, limits: ParseLimits): ParseResult {
  if (data.byteLength > limits.maxPayloadBytes) {
    return reject('PAYLOAD_TOO_LARGE', `payload is ${data.byteLength} bytes, limit ${limits.maxPayloadBytes}`);
  }
  return scanEvent(data, expectedType, now, limits) ?? parseEventGeneric(data, expectedType, now, limits);
}

/** The generic path: the whole payload decoded and parsed into a tree, then validated. */
export function parseEventGeneric(data: Uint8Array, expectedType: string | null, now: number, limits: ParseLimits): ParseResult {
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
