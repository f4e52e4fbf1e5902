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
});
