// Keyed pseudonyms for customer ids: HMAC-SHA-256 under a secret key, applied at parse time so nothing
// downstream (windows, Redis, ClickHouse, NATS) ever holds the original id.
import { createHmac } from 'node:crypto';

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

const CUSTOMER_ID_FIELD = /"customerId"(\s*:\s*)("(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;
const decoder = new TextDecoder('utf-8', { fatal: false });
const encoder = new TextEncoder();

/**
 * A rejected payload with every `"customerId": <value>` replaced by its pseudonym, so dead letters hold no
 * original id either. Payloads without the field come back unchanged (the same bytes).
 */
export function pseudonymizePayload(payload: Uint8Array, pseudonym: (id: string) => string): Uint8Array {
  const text = decoder.decode(payload);
  if (!text.includes('"customerId"')) return payload;
  let changed = false;
  const out = text.replace(CUSTOMER_ID_FIELD, (_m, colon: string, value: string) => {
    let id = value;
    if (value.startsWith('"')) {
      try {
        id = JSON.parse(value) as string;
      } catch {
        id = value.slice(1, -1);
      }
    }
    changed = true;
    return `"customerId"${colon}${JSON.stringify(pseudonym(id))}`;
  });
  return changed ? encoder.encode(out) : payload;
}
