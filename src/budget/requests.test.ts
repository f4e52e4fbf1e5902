// Budget request parsing: whatever bytes arrive, a request or a reason, never a throw, never the input echoed.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseBatch, parseBody, parseCheck } from './requests.js';

const enc = new TextEncoder();
const body = (text: string) => parseBody(enc.encode(text));

describe('parseBody', () => {
  it('refuses invalid UTF-8 rather than reading it as U+FFFD', () => {
    expect(parseBody(new Uint8Array([0x7b, 0x22, 0x63, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]))).toEqual({ ok: false, reason: 'the request is not valid UTF-8' });
  });
  it('refuses nesting deeper than 8 before JSON.parse sees it, counting no bracket inside a string', () => {
    expect(body('['.repeat(1 << 19) + ']'.repeat(1 << 19))).toEqual({ ok: false, reason: 'the request nests deeper than 8 levels' });
    expect(body('{"a":'.repeat(9) + '1' + '}'.repeat(9)).ok).toBe(false);
    expect(body('{"a":'.repeat(8) + '1' + '}'.repeat(8)).ok).toBe(true);
    expect(body(JSON.stringify({ customerId: '[[[[[[[[[[[[\\"[[[[', channel: 'email' }))).toMatchObject({ ok: true });
  });
  it('refuses what is not JSON', () => {
    expect(body('{"customerId":')).toEqual({ ok: false, reason: 'the request must be JSON' });
  });
});

describe('budget request ids', () => {
  it.each([
    ['a lone surrogate', 'c\ud800'],
    ['a NUL', 'c\u0000'],
    ['a C1 control', 'c\u0085'],
    ['a DEL', 'c\u007f'],
  ])('refuses a customerId with %s, in a check and in a batch, without echoing it', (_name, id) => {
    const one = parseCheck({ customerId: id, channel: 'email' });
    expect(one).toEqual({ ok: false, reason: 'customerId must be a string of 1..128 characters, well-formed Unicode without control characters' });
    const many = parseBatch({ customerIds: ['fine', id], channel: 'email' }, 10);
    expect(many.ok).toBe(false);
    expect(parseCheck({ customerId: 'fine', channel: 'email', campaignId: id }).ok).toBe(false);
  });
  it('accepts a surrogate pair and non-Latin ids', () => {
    expect(parseBatch({ customerIds: ['c-\u{1F600}', '顧客'], channel: 'sms', campaignId: 'été' }, 10).ok).toBe(true);
  });
  it('never throws and never echoes generated input', () => {
    const anything = fc.oneof(fc.jsonValue(), fc.record({ customerId: fc.jsonValue(), customerIds: fc.array(fc.oneof(fc.string(), fc.jsonValue()), { maxLength: 5 }), channel: fc.oneof(fc.constantFrom('email', 'push', 'sms'), fc.string()), priority: fc.jsonValue(), campaignId: fc.jsonValue() }, { requiredKeys: [] }));
    fc.assert(
      fc.property(anything, (v) => {
        for (const r of [parseCheck(v), parseBatch(v, 3)]) {
          if (!r.ok) {
            expect(r.reason.length).toBeGreaterThan(0);
            expect(r.reason).not.toContain('\u0000');
          }
        }
      }),
      { numRuns: 3_000, seed: 13 },
    );
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => void parseBody(bytes)), { numRuns: 3_000, seed: 13 });
  });
});
