import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hasLoneSurrogate, idProblem, isWellFormedText } from './ids.js';

const units = fc.array(fc.oneof(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0xd800, max: 0xdfff }), fc.integer({ min: 0x20, max: 0x7e })), { maxLength: 12 }).map((u) => String.fromCharCode(...u));
// Independent of both: a string with a lone surrogate does not survive UTF-8 and back.
const roundTrips = (s: string) => Buffer.from(s, 'utf8').toString('utf8') === s;

describe('ids', () => {
  it('the fallback for old runtimes agrees with a UTF-8 round trip, and so does the native check', () => {
    fc.assert(
      fc.property(units, (s) => {
        expect(!hasLoneSurrogate(s)).toBe(roundTrips(s));
        expect(isWellFormedText(s)).toBe(roundTrips(s));
      }),
      { numRuns: 5_000, seed: 13 },
    );
  });
  it('names the problem without quoting the id', () => {
    expect(idProblem('a\u0000b')).toBe('holds a control character');
    expect(idProblem('\udc00\ud800')).toBe('is not well-formed Unicode (a lone surrogate)');
    expect(idProblem('ok-\u{1F600}')).toBeNull();
  });
});
