import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isWellFormedText } from '../contract/ids.js';
import { decode, encode, encoded } from './wtf8.js';

// Any UTF-16 units: lone and paired surrogates, BMP and ASCII.
const text = fc.array(fc.oneof(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0xd800, max: 0xdfff }), fc.integer({ min: 0x20, max: 0x7e })), { maxLength: 40 }).map((u) => String.fromCharCode(...u));

describe('WTF-8', () => {
  it('round-trips every string, and a well-formed one encodes to its UTF-8', () => {
    fc.assert(
      fc.property(text, (s) => {
        const n = encode(s);
        expect(decode(encoded, 0, n)).toBe(s);
        if (isWellFormedText(s)) expect(Buffer.from(encoded.subarray(0, n)).equals(Buffer.from(s, 'utf8'))).toBe(true);
      }),
      { numRuns: 5_000, seed: 15 },
    );
  });

  it('decodes short and long ids in any order, across the buffer growing and the 4,096-unit chunks', () => {
    // Lengths around the first buffer (256), the chunk (4,096) and past it: a view kept from before the buffer grew,
    // or a chunk boundary off by one, gives another string.
    const length = fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 250, max: 300 }), fc.integer({ min: 4090, max: 4100 }), fc.integer({ min: 8190, max: 9000 }));
    const id = length.chain((n) => fc.array(fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x80, max: 0xffff })), { minLength: n, maxLength: n })).map((u) => String.fromCharCode(...u));
    fc.assert(
      fc.property(fc.array(id, { minLength: 1, maxLength: 8 }), (ids) => {
        for (const s of ids) {
          const n = encode(s);
          expect(decode(encoded, 0, n)).toBe(s);
        }
      }),
      { numRuns: 300, seed: 16 },
    );
  });
});
