// The fast path of parsing: one pass over the message's UTF-8 bytes that reads the contract's top-level fields
// (simdjson On Demand style) and builds only the strings and numbers it keeps, no object tree. Anything it does not
// handle exactly (not an object, an escaped or forbidden key, nesting past its stack, bad JSON) it hands back (null)
// to the generic path, so every answer equals that path's, reason and detail included.
// Over 400 lines on purpose: the grammar, the UTF-8 rules and the field slots are one pass sharing one set of
// positions and flags; split up, each part would hand state to the next per event.
import { KNOWN_TYPES } from '../contract/event.js';
import {
  CLEAN_CAMPAIGN_ID,
  CLEAN_CHANNEL,
  CLEAN_CUSTOMER_ID,
  CLEAN_ID,
  CLEAN_SEGMENT,
  CLEAN_TYPE,
  reject,
  validateFields,
  type EventFields,
  type ParseLimits,
  type ParseResult,
} from './validate.js';

// Field slots, in the order of CLEAN_* bits where they have one.
const F_ID = 0;
const F_CUSTOMER_ID = 1;
const F_CHANNEL = 2;
const F_SEGMENT = 3;
const F_CAMPAIGN_ID = 4;
const F_TYPE = 5;
const F_TS = 6;
const F_VALUE = 7;
const F_PROPS = 8;
const FIELD_COUNT = 9;
const CLEAN_BIT = [CLEAN_ID, CLEAN_CUSTOMER_ID, CLEAN_CHANNEL, CLEAN_SEGMENT, CLEAN_CAMPAIGN_ID];

// What a slot holds.
const ABSENT = 0;
const K_NULL = 1;
const K_TRUE = 2;
const K_FALSE = 3;
const K_NUMBER = 4;
const K_STRING = 5;
const K_OBJECT = 6;
const K_ARRAY = 7;

// Results of the byte-level steps below that are not a position.
const FALLBACK = -1;
const BAD_UTF8 = -2;

// String flags.
const S_ESCAPE = 1;
const S_NON_ASCII = 2;
const S_DEL = 4;

/** Containers deeper than this inside a field go to the generic path: a fixed stack, not recursion. */
const MAX_NESTING = 64;

// One message at a time on one thread: the slots are reused, so scanning allocates nothing per event.
const kinds = new Uint8Array(FIELD_COUNT);
const starts = new Int32Array(FIELD_COUNT);
const ends = new Int32Array(FIELD_COUNT);
const flagsOf = new Uint8Array(FIELD_COUNT);
/** A number's value when it is a plain integer of at most 15 digits (exact by digit arithmetic), else NaN. */
const numbers = new Float64Array(FIELD_COUNT);
const nesting = new Uint8Array(MAX_NESTING);
const fields: EventFields = { id: undefined, customerId: undefined, type: undefined, ts: undefined, channel: undefined, segment: undefined, campaignId: undefined, value: undefined, props: undefined };
// Set by scanString and scanNumber beside the position they return.
let stringFlags = 0;
let numberValue = 0;

// ignoreBOM: a value that starts with U+FEFF keeps it (only the payload's own leading BOM is the generic path's to drop).
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice?: (this: Uint8Array, start: number, end: number) => string }).latin1Slice;
// Any non-string value stands for itself in the checks: only its kind is read.
const AN_OBJECT: object = Object.freeze({});
const AN_ARRAY: readonly unknown[] = Object.freeze([]);

const enc = new TextEncoder();
const K_TYPE = enc.encode('type');
const K_VALUE = enc.encode('value');
const K_PROPS = enc.encode('props');
const K_CHANNEL = enc.encode('channel');
const K_SEGMENT = enc.encode('segment');
const K_CUSTOMER_ID = enc.encode('customerId');
const K_CAMPAIGN_ID = enc.encode('campaignId');
// Keys validateEvent refuses: the generic path says which came first.
const K_PROTO = enc.encode('__proto__');
const K_PROTOTYPE = enc.encode('prototype');
const K_CONSTRUCTOR = enc.encode('constructor');
const UNKNOWN_KEY = -1;
const FORBIDDEN_KEY = -2;
/** The known types' bytes, so the common type is the same interned string every time and needs no pattern test. */
const TYPES: [Uint8Array, string][] = KNOWN_TYPES.map((t) => [enc.encode(t), t]);

/**
 * The parse of `data` when this scanner can give it exactly, or null to say "ask the generic path". The caller has
 * checked the payload size.
 */
export function scanEvent(data: Uint8Array, expectedType: string | null, now: number, limits: ParseLimits): ParseResult | null {
  try {
    const end = scanObject(data);
    if (end === BAD_UTF8) return reject('INVALID_UTF8', 'payload is not valid UTF-8');
    if (end === FALLBACK) return null;
    let clean = 0;
    for (let f = 0; f < FIELD_COUNT; f++) {
      const v = valueOf(data, f);
      if (f < CLEAN_BIT.length && kinds[f] === K_STRING && (flagsOf[f] & (S_ESCAPE | S_NON_ASCII | S_DEL)) === 0) clean |= CLEAN_BIT[f];
      if (f === F_TYPE && typeof v === 'string' && isKnownType) clean |= CLEAN_TYPE;
      setField(f, v);
    }
    return validateFields(fields, expectedType, now, limits, clean);
  } catch {
    // Never expected (every step checks its bounds); the generic path is the answer that is always right.
    return null;
  }
}

function setField(f: number, v: unknown): void {
  if (f === F_ID) fields.id = v;
  else if (f === F_CUSTOMER_ID) fields.customerId = v;
  else if (f === F_CHANNEL) fields.channel = v;
  else if (f === F_SEGMENT) fields.segment = v;
  else if (f === F_CAMPAIGN_ID) fields.campaignId = v;
  else if (f === F_TYPE) fields.type = v;
  else if (f === F_TS) fields.ts = v;
  else if (f === F_VALUE) fields.value = v;
  else fields.props = v;
}

/** Set by valueOf when it read the type: one of KNOWN_TYPES, interned. */
let isKnownType = false;

/** The JS value of a slot, as JSON.parse would have given it (non-string containers only by their kind). */
function valueOf(d: Uint8Array, f: number): unknown {
  const s = starts[f];
  const e = ends[f];
  switch (kinds[f]) {
    case ABSENT:
      return undefined;
    case K_NULL:
      return null;
    case K_TRUE:
      return true;
    case K_FALSE:
      return false;
    case K_NUMBER: {
      const n = numbers[f];
      return Number.isNaN(n) ? Number(ascii(d, s, e)) : n;
    }
    case K_STRING: {
      const flags = flagsOf[f];
      if (f === F_TYPE) {
        isKnownType = false;
        if (flags === 0) {
          const known = knownType(d, s, e);
          if (known !== null) {
            isKnownType = true;
            return known;
          }
        }
      }
      if ((flags & S_ESCAPE) !== 0) return JSON.parse(utf8.decode(d.subarray(s - 1, e + 1))) as string;
      if ((flags & S_NON_ASCII) !== 0) return utf8.decode(d.subarray(s, e));
      return ascii(d, s, e);
    }
    case K_ARRAY:
      return AN_ARRAY;
    default:
      // props is the one object the contract keeps: parsed by JSON.parse, as the generic path would.
      return f === F_PROPS ? JSON.parse(utf8.decode(d.subarray(s, e))) : AN_OBJECT;
  }
}

function knownType(d: Uint8Array, s: number, e: number): string | null {
  const len = e - s;
  for (let t = 0; t < TYPES.length; t++) {
    const bytes = TYPES[t][0];
    if (bytes.length === len && bytesAt(d, s, bytes)) return TYPES[t][1];
  }
  return null;
}

function bytesAt(d: Uint8Array, s: number, bytes: Uint8Array): boolean {
  for (let k = 0; k < bytes.length; k++) if (d[s + k] !== bytes[k]) return false;
  return true;
}

/**
 * A string from ASCII bytes. Measured on Node 20 (bench/parse.ts's shapes): String.fromCharCode with the bytes as
 * arguments ~20 ns for an 8-byte id, latin1Slice ~55 ns, TextDecoder ~100 ns; past 16 bytes latin1Slice wins.
 */
function ascii(d: Uint8Array, s: number, e: number): string {
  switch (e - s) {
    case 0: return '';
    case 1: return String.fromCharCode(d[s]);
    case 2: return String.fromCharCode(d[s], d[s + 1]);
    case 3: return String.fromCharCode(d[s], d[s + 1], d[s + 2]);
    case 4: return String.fromCharCode(d[s], d[s + 1], d[s + 2], d[s + 3]);
    case 5: return String.fromCharCode(d[s], d[s + 1], d[s + 2], d[s + 3], d[s + 4]);
    case 6: return String.fromCharCode(d[s], d[s + 1], d[s + 2], d[s + 3], d[s + 4], d[s + 5]);
    case 7: return String.fromCharCode(d[s], d[s + 1], d[s + 2], d[s + 3], d[s + 4], d[s + 5], d[s + 6]);
    case 8: return String.fromCharCode(d[s], d[s + 1], d[s + 2], d[s + 3], d[s + 4], d[s + 5], d[s + 6], d[s + 7]);
    case 9: return String.fromCharCode(d[s], d[s + 1], d[s + 2], d[s + 3], d[s + 4], d[s + 5], d[s + 6], d[s + 7], d[s + 8]);
    case 10: return String.fromCharCode(d[s], d[s + 1], d[s + 2], d[s + 3], d[s + 4], d[s + 5], d[s + 6], d[s + 7], d[s + 8], d[s + 9]);
    case 11: return String.fromCharCode(d[s], d[s + 1], d[s + 2], d[s + 3], d[s + 4], d[s + 5], d[s + 6], d[s + 7], d[s + 8], d[s + 9], d[s + 10]);
    case 12: return String.fromCharCode(d[s], d[s + 1], d[s + 2], d[s + 3], d[s + 4], d[s + 5], d[s + 6], d[s + 7], d[s + 8], d[s + 9], d[s + 10], d[s + 11]);
    default:
      return latin1Slice ? latin1Slice.call(d, s, e) : utf8.decode(d.subarray(s, e));
  }
}

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function skipWs(d: Uint8Array, i: number, n: number): number {
  while (i < n && isWs(d[i])) i++;
  return i;
}

/** Walks the top-level object into the slots; the position after it, or FALLBACK / BAD_UTF8. */
function scanObject(d: Uint8Array): number {
  const n = d.length;
  kinds.fill(ABSENT);
  let i = skipWs(d, 0, n);
  if (i >= n || d[i] !== 0x7b) return FALLBACK;
  i = skipWs(d, i + 1, n);
  if (i < n && d[i] === 0x7d) return finish(d, i + 1, n);
  for (;;) {
    if (i >= n || d[i] !== 0x22) return FALLBACK;
    const keyStart = i + 1;
    const keyEnd = scanString(d, keyStart, n);
    if (keyEnd < 0) return keyEnd;
    // An escaped key may spell a known or a forbidden one: the generic path reads it.
    if ((stringFlags & S_ESCAPE) !== 0) return FALLBACK;
    const field = keyField(d, keyStart, keyEnd);
    if (field === FORBIDDEN_KEY) return FALLBACK;
    i = skipWs(d, keyEnd + 1, n);
    if (i >= n || d[i] !== 0x3a) return FALLBACK;
    i = skipWs(d, i + 1, n);
    if (i >= n) return FALLBACK;
    const start = i;
    const c = d[i];
    let kind: number;
    if (c === 0x22) {
      const e = scanString(d, i + 1, n);
      if (e < 0) return e;
      kind = K_STRING;
      i = e + 1;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      i = scanNumber(d, i, n);
      if (i < 0) return i;
      kind = K_NUMBER;
    } else if (c === 0x7b || c === 0x5b) {
      i = skipContainer(d, i, n);
      if (i < 0) return i;
      kind = c === 0x7b ? K_OBJECT : K_ARRAY;
    } else {
      kind = literalAt(d, i, n);
      if (kind === ABSENT) return FALLBACK;
      i += kind === K_FALSE ? 5 : 4;
    }
    // Duplicate keys: the last one wins, as in JSON.parse.
    if (field >= 0) {
      kinds[field] = kind;
      if (kind === K_STRING) {
        starts[field] = start + 1;
        ends[field] = i - 1;
        flagsOf[field] = stringFlags;
      } else {
        starts[field] = start;
        ends[field] = i;
        numbers[field] = kind === K_NUMBER ? numberValue : NaN;
      }
    }
    i = skipWs(d, i, n);
    if (i >= n) return FALLBACK;
    if (d[i] === 0x2c) {
      i = skipWs(d, i + 1, n);
      continue;
    }
    if (d[i] === 0x7d) return finish(d, i + 1, n);
    return FALLBACK;
  }
}

function finish(d: Uint8Array, i: number, n: number): number {
  return skipWs(d, i, n) === n ? n : FALLBACK;
}

/** The slot of a key, by its length and first byte before its bytes: most keys are told apart in two compares. */
function keyField(d: Uint8Array, s: number, e: number): number {
  const c = d[s];
  switch (e - s) {
    case 2:
      return c === 0x69 && d[s + 1] === 0x64 ? F_ID : c === 0x74 && d[s + 1] === 0x73 ? F_TS : UNKNOWN_KEY;
    case 4:
      return c === 0x74 && bytesAt(d, s, K_TYPE) ? F_TYPE : UNKNOWN_KEY;
    case 5:
      return c === 0x76 && bytesAt(d, s, K_VALUE) ? F_VALUE : c === 0x70 && bytesAt(d, s, K_PROPS) ? F_PROPS : UNKNOWN_KEY;
    case 7:
      return c === 0x63 && bytesAt(d, s, K_CHANNEL) ? F_CHANNEL : c === 0x73 && bytesAt(d, s, K_SEGMENT) ? F_SEGMENT : UNKNOWN_KEY;
    case 10:
      return c !== 0x63 ? UNKNOWN_KEY : bytesAt(d, s, K_CUSTOMER_ID) ? F_CUSTOMER_ID : bytesAt(d, s, K_CAMPAIGN_ID) ? F_CAMPAIGN_ID : UNKNOWN_KEY;
    case 9:
      return bytesAt(d, s, K_PROTO) || bytesAt(d, s, K_PROTOTYPE) ? FORBIDDEN_KEY : UNKNOWN_KEY;
    case 11:
      return bytesAt(d, s, K_CONSTRUCTOR) ? FORBIDDEN_KEY : UNKNOWN_KEY;
    default:
      return UNKNOWN_KEY;
  }
}

function literalAt(d: Uint8Array, i: number, n: number): number {
  const c = d[i];
  if (c === 0x6e) return i + 3 < n && d[i + 1] === 0x75 && d[i + 2] === 0x6c && d[i + 3] === 0x6c ? K_NULL : ABSENT;
  if (c === 0x74) return i + 3 < n && d[i + 1] === 0x72 && d[i + 2] === 0x75 && d[i + 3] === 0x65 ? K_TRUE : ABSENT;
  if (c === 0x66) return i + 4 < n && d[i + 1] === 0x61 && d[i + 2] === 0x6c && d[i + 3] === 0x73 && d[i + 4] === 0x65 ? K_FALSE : ABSENT;
  return ABSENT;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

/**
 * A string's body from `i` (after its opening quote): the position of its closing quote, with stringFlags set; or
 * FALLBACK (bad JSON: the generic path words the error) or BAD_UTF8 (invalid UTF-8, which outranks every other reason).
 */
function scanString(d: Uint8Array, i: number, n: number): number {
  let flags = 0;
  while (i < n) {
    const c = d[i];
    if (c === 0x22) {
      stringFlags = flags;
      return i;
    }
    if (c === 0x5c) {
      flags |= S_ESCAPE;
      if (i + 1 >= n) return FALLBACK;
      const x = d[i + 1];
      if (x === 0x75) {
        if (i + 5 >= n || !isHex(d[i + 2]) || !isHex(d[i + 3]) || !isHex(d[i + 4]) || !isHex(d[i + 5])) return FALLBACK;
        i += 6;
      } else if (x === 0x22 || x === 0x5c || x === 0x2f || x === 0x62 || x === 0x66 || x === 0x6e || x === 0x72 || x === 0x74) {
        i += 2;
      } else {
        return FALLBACK;
      }
      continue;
    }
    if (c < 0x20) return FALLBACK;
    if (c < 0x80) {
      if (c === 0x7f) flags |= S_DEL;
      i++;
      continue;
    }
    flags |= S_NON_ASCII;
    const len = utf8Sequence(d, i, n);
    if (len === 0) return BAD_UTF8;
    i += len;
  }
  return FALLBACK;
}

/** The length of the well-formed UTF-8 sequence at i (the WHATWG decoder's rules, as TextDecoder's), or 0. */
function utf8Sequence(d: Uint8Array, i: number, n: number): number {
  const c = d[i];
  if (c >= 0xc2 && c <= 0xdf) return i + 1 < n && cont(d[i + 1]) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (i + 2 >= n) return 0;
    const c1 = d[i + 1];
    const lo = c === 0xe0 ? 0xa0 : 0x80;
    const hi = c === 0xed ? 0x9f : 0xbf;
    return c1 >= lo && c1 <= hi && cont(d[i + 2]) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (i + 3 >= n) return 0;
    const c1 = d[i + 1];
    const lo = c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xf4 ? 0x8f : 0xbf;
    return c1 >= lo && c1 <= hi && cont(d[i + 2]) && cont(d[i + 3]) ? 4 : 0;
  }
  return 0;
}

function cont(c: number): boolean {
  return c >= 0x80 && c <= 0xbf;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** A number by the JSON grammar from i: the position after it, with numberValue set (NaN unless a short integer). */
function scanNumber(d: Uint8Array, i: number, n: number): number {
  let negative = false;
  if (d[i] === 0x2d) {
    negative = true;
    i++;
  }
  if (i >= n) return FALLBACK;
  let digits = 0;
  let acc = 0;
  const first = d[i];
  if (first === 0x30) {
    i++;
    digits = 1;
  } else if (first >= 0x31 && first <= 0x39) {
    while (i < n && isDigit(d[i])) {
      acc = acc * 10 + (d[i] - 0x30);
      digits++;
      i++;
    }
  } else {
    return FALLBACK;
  }
  let simple = digits <= 15;
  if (i < n && d[i] === 0x2e) {
    simple = false;
    i++;
    if (i >= n || !isDigit(d[i])) return FALLBACK;
    while (i < n && isDigit(d[i])) i++;
  }
  if (i < n && (d[i] === 0x65 || d[i] === 0x45)) {
    simple = false;
    i++;
    if (i < n && (d[i] === 0x2b || d[i] === 0x2d)) i++;
    if (i >= n || !isDigit(d[i])) return FALLBACK;
    while (i < n && isDigit(d[i])) i++;
  }
  // Up to 15 digits the sum is exact; -0 stays -0 as in JSON.parse.
  numberValue = simple ? (negative ? -acc : acc) : NaN;
  return i;
}

const IN_OBJECT = 1;
const IN_ARRAY = 2;

/**
 * Skips a whole object or array from i with the JSON grammar checked (strings' UTF-8 included): the position after
 * it, or FALLBACK / BAD_UTF8. Nothing is built: a kept container (props) is parsed afterwards from its bytes.
 */
function skipContainer(d: Uint8Array, i: number, n: number): number {
  let depth = 0;
  // Each turn starts at a value.
  for (;;) {
    const c = d[i];
    if (c === 0x7b || c === 0x5b) {
      if (depth === MAX_NESTING) return FALLBACK;
      nesting[depth++] = c === 0x7b ? IN_OBJECT : IN_ARRAY;
      i = skipWs(d, i + 1, n);
      if (i >= n) return FALLBACK;
      if (d[i] === (c === 0x7b ? 0x7d : 0x5d)) {
        depth--;
        i++;
      } else {
        if (c === 0x7b) {
          i = objectKey(d, i, n);
          if (i < 0) return i;
        }
        continue;
      }
    } else if (c === 0x22) {
      i = scanString(d, i + 1, n);
      if (i < 0) return i;
      i++;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      i = scanNumber(d, i, n);
      if (i < 0) return i;
    } else {
      const kind = literalAt(d, i, n);
      if (kind === ABSENT) return FALLBACK;
      i += kind === K_FALSE ? 5 : 4;
    }
    // After a value: close containers or move to the next member.
    for (;;) {
      if (depth === 0) return i;
      i = skipWs(d, i, n);
      if (i >= n) return FALLBACK;
      const x = d[i];
      const top = nesting[depth - 1];
      if (x === 0x2c) {
        i = skipWs(d, i + 1, n);
        if (i >= n) return FALLBACK;
        if (top === IN_OBJECT) {
          i = objectKey(d, i, n);
          if (i < 0) return i;
        }
        break;
      }
      if ((top === IN_OBJECT && x === 0x7d) || (top === IN_ARRAY && x === 0x5d)) {
        depth--;
        i++;
        continue;
      }
      return FALLBACK;
    }
  }
}

/** `"key" :` from i, and the whitespace after: the position of the member's value. */
function objectKey(d: Uint8Array, i: number, n: number): number {
  if (d[i] !== 0x22) return FALLBACK;
  i = scanString(d, i + 1, n);
  if (i < 0) return i;
  i = skipWs(d, i + 1, n);
  if (i >= n || d[i] !== 0x3a) return FALLBACK;
  i = skipWs(d, i + 1, n);
  return i < n ? i : FALLBACK;
}
