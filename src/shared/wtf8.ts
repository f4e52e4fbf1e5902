// WTF-8: UTF-8 that also encodes a lone surrogate as its 3-byte sequence. One byte per ASCII character, every JS
// string round-trips exactly (even "\ud800", which JSON.parse can produce), and a well-formed string's bytes are its
// UTF-8; encoding and hashing allocate nothing, so ids can be looked up per event without a string per customer.
import { avalanche, FNV_OFFSET, FNV_PRIME } from './hash.js';

/** Bytes of the last id encoded (reused: encoding allocates nothing once it has grown to the longest id seen). */
export let encoded = new Uint8Array(256);
/** UTF-16 units of the last id decoded. */
let units = new Uint16Array(256);
/** `units.subarray(0, n)` by n, made once each: a view is an object, and decode() runs for ids per event. */
let unitViews: Uint16Array[] = [];
const CHUNK = 4096;

/** Encodes `s` as WTF-8 into `encoded` (valid until the next call); returns the byte length. */
export function encode(s: string): number {
  if (encoded.length < s.length * 3) encoded = new Uint8Array(s.length * 3);
  const b = encoded;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) b[n++] = c;
    else if (c < 0x800) {
      b[n++] = 0xc0 | (c >> 6);
      b[n++] = 0x80 | (c & 63);
    } else {
      if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d < 0xe000) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
          b[n++] = 0xf0 | (c >> 18);
          b[n++] = 0x80 | ((c >> 12) & 63);
          b[n++] = 0x80 | ((c >> 6) & 63);
          b[n++] = 0x80 | (c & 63);
          continue;
        }
      }
      b[n++] = 0xe0 | (c >> 12);
      b[n++] = 0x80 | ((c >> 6) & 63);
      b[n++] = 0x80 | (c & 63);
    }
  }
  return n;
}

/** FNV-1a over the bytes, then murmur3's finaliser so that every bit of the hash depends on every byte. */
export function hashBytes(b: Uint8Array, start: number, end: number): number {
  let h = FNV_OFFSET;
  for (let i = start; i < end; i++) h = Math.imul(h ^ b[i], FNV_PRIME);
  return avalanche(h);
}

/** UTF-16 units of the WTF-8 sequence starting with byte `lead`: 2 for a 4-byte (astral) sequence, else 1. */
export function unitsOfLead(lead: number): number {
  return lead >= 0xf0 ? 2 : 1;
}

/** Bytes of the WTF-8 sequence starting with byte `lead`. */
export function bytesOfLead(lead: number): number {
  return lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
}

/** The string whose WTF-8 bytes are `b[start, end)` (a new string). */
export function decode(b: Uint8Array, start: number, end: number): string {
  if (units.length < end - start) {
    units = new Uint16Array(end - start);
    unitViews = [];
  }
  let n = 0;
  for (let i = start; i < end; ) {
    const lead = b[i];
    if (lead < 0x80) {
      units[n++] = lead;
      i++;
    } else if (lead < 0xe0) {
      units[n++] = ((lead & 0x1f) << 6) | (b[i + 1] & 63);
      i += 2;
    } else if (lead < 0xf0) {
      units[n++] = ((lead & 0x0f) << 12) | ((b[i + 1] & 63) << 6) | (b[i + 2] & 63);
      i += 3;
    } else {
      const c = (((lead & 0x07) << 18) | ((b[i + 1] & 63) << 12) | ((b[i + 2] & 63) << 6) | (b[i + 3] & 63)) - 0x10000;
      units[n++] = 0xd800 + (c >> 10);
      units[n++] = 0xdc00 + (c & 0x3ff);
      i += 4;
    }
  }
  if (n <= CHUNK) return String.fromCharCode.apply(null, (unitViews[n] ??= units.subarray(0, n)) as unknown as number[]);
  // In chunks: apply's argument count is bounded, and an id is at most a few thousand units.
  let s = '';
  for (let k = 0; k < n; k += CHUNK) s += String.fromCharCode.apply(null, units.subarray(k, Math.min(n, k + CHUNK)) as unknown as number[]);
  return s;
}

/** Whether bytes[start, end) are all below 0x80. */
export function isAscii(b: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (b[i] >= 0x80) return false;
  return true;
}

/** The UTF-16 length of the WTF-8 bytes[start, end); −length − 1 when they hold a lone surrogate (ED A0..BF ..). */
export function utf16Length(b: Uint8Array, start: number, end: number): number {
  let n = 0;
  let lone = false;
  for (let i = start; i < end; ) {
    const lead = b[i];
    if (lead < 0x80) {
      n++;
      i++;
      continue;
    }
    if (lead === 0xed && b[i + 1] >= 0xa0) lone = true;
    n += unitsOfLead(lead);
    i += bytesOfLead(lead);
  }
  return lone ? -n - 1 : n;
}

/**
 * A message's UTF-8 bytes (a lone surrogate as U+FFFD, as TextEncoder writes it), for what is published per alert,
 * check or key: Buffer.from takes a small string's bytes from Node's shared pool, where TextEncoder.encode allocates
 * an ArrayBuffer of its own each time, 3-6x slower and counted as external memory that hastens the collector.
 */
export function utf8(s: string): Uint8Array {
  return Buffer.from(s, 'utf8');
}
