// Property tests: whatever arrives, the parser answers with an event or a reason, never an exception, and what it
// accepts always satisfies the contract.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseEvent, type ParseLimits, type RejectReason } from './parse.js';

const NOW = Date.parse('2026-11-23T12:00:00Z');
const limits: ParseLimits = { maxPayloadBytes: 4096, maxIdLength: 128, maxCustomerIdLength: 128, maxFieldLength: 256, maxPropsDepth: 8, maxFutureMs: 300_000, maxPastMs: 400 * 86_400_000 };
const REASONS: RejectReason[] = ['PAYLOAD_TOO_LARGE', 'INVALID_UTF8', 'INVALID_JSON', 'NOT_AN_OBJECT', 'MISSING_FIELD', 'WRONG_TYPE', 'FIELD_TOO_LONG', 'INVALID_NUMBER', 'INVALID_TIMESTAMP', 'TIMESTAMP_OUT_OF_RANGE', 'FORBIDDEN_KEY', 'PROPS_TOO_DEEP', 'SUBJECT_MISMATCH', 'LATE_EVENT', 'INVALID_ID'];
const enc = new TextEncoder();

function checkContract(bytes: Uint8Array, subjectType: string | null): void {
  const r = parseEvent(bytes, subjectType, NOW, limits);
  if (!r.ok) {
    expect(REASONS).toContain(r.reason);
    expect(r.detail.length).toBeGreaterThan(0);
    return;
  }
  const e = r.event;
  expect(typeof e.id).toBe('string');
  expect(e.id.length).toBeGreaterThan(0);
  expect(e.id.length).toBeLessThanOrEqual(limits.maxIdLength);
  expect(e.customerId.length).toBeLessThanOrEqual(limits.maxCustomerIdLength);
  for (const v of [e.id, e.customerId, e.channel, e.segment, e.campaignId]) if (v !== null) expect(Buffer.from(v, 'utf8').toString('utf8')).toBe(v);
  expect(e.type).toMatch(/^[a-z][a-z0-9_]*$/);
  expect(Number.isInteger(e.ts)).toBe(true);
  expect(e.ts).toBeLessThanOrEqual(NOW + limits.maxFutureMs);
  if (e.value !== null) expect(Number.isFinite(e.value)).toBe(true);
  if (subjectType !== null) expect(e.type).toBe(subjectType);
}

/** Events close to valid, with one field at a time bent out of shape. */
const nearlyValid = fc.record(
  {
    id: fc.oneof(fc.string({ maxLength: 200 }), fc.integer(), fc.constant(null)),
    customerId: fc.oneof(fc.string({ maxLength: 200 }), fc.constant(''), fc.boolean()),
    type: fc.oneof(fc.constantFrom('page_view', 'purchase', 'email_sent'), fc.string({ maxLength: 10 })),
    ts: fc.oneof(fc.integer({ min: NOW - 500 * 86_400_000, max: NOW + 86_400_000 }), fc.date().map((d) => (Number.isNaN(d.getTime()) ? 'x' : d.toISOString())), fc.string(), fc.double()),
    value: fc.oneof(fc.double(), fc.constant(1e308), fc.string(), fc.constant(undefined)),
    channel: fc.oneof(fc.string({ maxLength: 300 }), fc.integer(), fc.constant(undefined)),
    props: fc.oneof(fc.jsonValue(), fc.dictionary(fc.constantFrom('__proto__', 'constructor', 'a', 'b'), fc.jsonValue()), fc.constant(undefined)),
  },
  { requiredKeys: [] },
);

describe('parseEvent under generated garbage', () => {
  it('never throws on arbitrary bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), fc.option(fc.constantFrom('page_view', 'purchase')), (bytes, t) => checkContract(bytes, t ?? null)), { numRuns: 3_000, seed: 42 });
  });

  it('never throws on arbitrary JSON values', () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => checkContract(enc.encode(JSON.stringify(v) ?? 'null'), null)), { numRuns: 3_000, seed: 42 });
  });

  it('accepts or rejects nearly valid events by the contract', () => {
    fc.assert(fc.property(nearlyValid, (o) => checkContract(enc.encode(JSON.stringify(o)), null)), { numRuns: 5_000, seed: 42 });
  });

  it('rejects __proto__ at any depth of props', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5 }), (depth) => {
        let props = '{"__proto__":{"polluted":true}}';
        for (let i = 0; i < depth; i++) props = `{"n":${props}}`;
        const r = parseEvent(enc.encode(`{"id":"a","customerId":"c","type":"click","ts":${NOW},"props":${props}}`), null, NOW, limits);
        expect(!r.ok && r.reason).toBe('FORBIDDEN_KEY');
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { seed: 42 },
    );
  });
});

/** Any UTF-16 code units, lone surrogates and controls included, biased towards the interesting ranges. */
const codeUnits = fc
  .array(fc.oneof(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0xd800, max: 0xdfff }), fc.integer({ min: 0, max: 0x9f }), fc.integer({ min: 0x61, max: 0x7a })), { minLength: 1, maxLength: 40 })
  .map((units) => String.fromCharCode(...units));
// Independent of the code under test: a string with a lone surrogate does not survive UTF-8 and back.
const roundTrips = (s: string) => Buffer.from(s, 'utf8').toString('utf8') === s;
const utf8 = (s: string) => Buffer.from(s, 'utf8').toString('hex');
const accepted = (key: string, v: string) => parseEvent(enc.encode(JSON.stringify({ id: 'e', customerId: 'c', type: 'click', ts: NOW, [key]: v })), null, NOW, limits);

describe('ids and labels under generated text', () => {
  it('an accepted id or label is well-formed and holds no control character; a refused one is INVALID_ID', () => {
    fc.assert(
      fc.property(fc.constantFrom('id', 'customerId', 'channel', 'segment', 'campaignId'), codeUnits, (key, v) => {
        const r = accepted(key, v);
        const clean = roundTrips(v) && !/[\u0000-\u001f\u007f-\u009f]/.test(v);
        if (clean) expect(r.ok).toBe(true);
        else expect(!r.ok && r.reason).toBe('INVALID_ID');
      }),
      { numRuns: 5_000, seed: 13 },
    );
  });

  it('two different accepted customer ids never share their UTF-8 bytes (so never a pseudonym or a subject token)', () => {
    fc.assert(
      fc.property(codeUnits, codeUnits, (a, b) => {
        fc.pre(a !== b);
        const ra = accepted('customerId', a);
        const rb = accepted('customerId', b);
        if (ra.ok && rb.ok) expect(utf8(ra.event.customerId)).not.toBe(utf8(rb.event.customerId));
      }),
      { numRuns: 5_000, seed: 13 },
    );
  });
});
