// Keyed pseudonyms for customer ids: HMAC-SHA-256 under a secret key, applied at parse time so nothing
// downstream (windows, Redis, ClickHouse, NATS) ever holds the original id.
import { createHmac } from 'node:crypto';
import { readCustomerId, scanCustomerIds } from './payloadId.js';
import { utf8 } from '../shared/wtf8.js';

/** Hex characters kept of the HMAC: 128 bits, far beyond any customer base colliding, and half the storage of 64. */
export const PSEUDONYM_HEX_CHARS = 32;

/** HMAC-SHA-256(key, value) as lower-case hex, cut to PSEUDONYM_HEX_CHARS. */
export function keyedHash(key: string, value: string): string {
  return createHmac('sha256', key).update(value, 'utf8').digest('hex').slice(0, PSEUDONYM_HEX_CHARS);
}

export interface PseudonymizerOptions {
  key: string;
  /** Keep pseudonym → original for the ids seen most recently, so responders can be shown who it is. */
  remember: boolean;
  /** At most this many pairs; the least recently seen id is dropped first. */
  revealCacheSize: number;
}

/**
 * Turns ids into pseudonyms and, when asked to, remembers the last `revealCacheSize` of them in memory only
 * (never written to Redis, ClickHouse, logs or NATS), so the wall can reveal them to responders.
 */
export class Pseudonymizer {
  // A Map iterates in insertion order: deleting and re-inserting on every sighting makes it a least-recently-seen list.
  private readonly originals = new Map<string, string>();

  constructor(private readonly opts: PseudonymizerOptions) {
    if (opts.key.length === 0) throw new Error('a pseudonym key is required');
  }

  pseudonym(id: string): string {
    const p = keyedHash(this.opts.key, id);
    if (this.opts.remember) {
      this.originals.delete(p);
      this.originals.set(p, id);
      if (this.originals.size > this.opts.revealCacheSize) this.originals.delete(this.originals.keys().next().value!);
    }
    return p;
  }

  /** The pseudonym without remembering the original (dead letters: nobody needs to see who sent a broken event). */
  hash(id: string): string {
    return keyedHash(this.opts.key, id);
  }

  /** The original id behind a pseudonym, if it was seen recently and remembering is on. */
  original(pseudonym: string): string | undefined {
    return this.originals.get(pseudonym);
  }

  /** Drops a pseudonym's original (erasure). */
  forget(pseudonym: string): boolean {
    return this.originals.delete(pseudonym);
  }

  get remembered(): number {
    return this.originals.size;
  }
}

const decoder = new TextDecoder('utf-8', { fatal: false });

/** A dead letter as stored: its payload (pseudonymized, or withheld) and the customer it names ('' when none). */
export interface DeadLetterPayload {
  payload: Uint8Array;
  customerId: string;
}

/** What stands in for a payload whose customer id could not be located: why, and how large it was. */
export function withheldMarker(bytes: number): Uint8Array {
  return utf8(`[payload withheld: privacy.pseudonymize is on and the customer id could not be located in it to replace; ${bytes} bytes]`);
}

/**
 * A rejected payload and the customer it names, for the dead letters (ClickHouse and NATS). Without a pseudonym
 * function the payload is kept and the id read as it is. With one, the id becomes its pseudonym: a JSON object has
 * its top-level customerId replaced and is serialized again; an unparseable payload has each top-level customerId
 * value the lenient scanner found replaced in place. When neither locates the id (not an object, no customerId
 * found in broken text, or the original still present after the replacement), the payload is withheld.
 */
export function deadLetterPayload(payload: Uint8Array, pseudonym: ((id: string) => string) | null): DeadLetterPayload {
  const text = decoder.decode(payload);
  if (pseudonym === null) return { payload, customerId: readCustomerId(text) };
  let parsed: unknown;
  let parses = true;
  try {
    parsed = JSON.parse(text);
  } catch {
    parses = false;
  }
  if (parses) {
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { payload: withheldMarker(payload.byteLength), customerId: '' };
    const o = parsed as Record<string, unknown>;
    if (!Object.prototype.hasOwnProperty.call(o, 'customerId')) return { payload, customerId: '' };
    const v = o.customerId;
    const original = typeof v === 'string' ? v : JSON.stringify(v);
    const p = pseudonym(original);
    o.customerId = p;
    return { payload: utf8(JSON.stringify(o)), customerId: typeof v === 'string' || typeof v === 'number' ? p : '' };
  }
  const found = scanCustomerIds(text);
  if (found.length === 0) return { payload: withheldMarker(payload.byteLength), customerId: '' };
  let out = text;
  for (let k = found.length - 1; k >= 0; k--) out = out.slice(0, found[k].start) + JSON.stringify(pseudonym(found[k].value)) + out.slice(found[k].end);
  const customerId = pseudonym(found[found.length - 1].value);
  // Broken text may name the customer again past where the scanner stopped, in any spelling it could not read.
  const stillThere = found.some((f) => f.value !== '' && (out.includes(f.value) || out.includes(JSON.stringify(f.value).slice(1, -1))));
  if (stillThere) return { payload: withheldMarker(payload.byteLength), customerId };
  return { payload: utf8(out), customerId };
}

/** The payload part of deadLetterPayload under pseudonymization (the cluster leader's sweep of unpartitioned subjects). */
export function pseudonymizePayload(payload: Uint8Array, pseudonym: (id: string) => string): Uint8Array {
  return deadLetterPayload(payload, pseudonym).payload;
}
