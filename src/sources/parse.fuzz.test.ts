// Property tests: whatever arrives, the parser answers with an event or a reason, never an exception, and what it
// accepts always satisfies the contract.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseEvent, type ParseLimits, type RejectReason } from './parse.js';

const NOW = Date.parse('2026-11-23T12:00:00Z');
const limits: ParseLimits = { maxPayloadBytes: 4096, maxIdLength: 128, maxCustomerIdLength: 128, maxFieldLength: 256, maxPropsDepth: 8, maxFutureMs: 300_000, maxPastMs: 400 * 86_400_000 };
const REASONS: RejectReason[] = ['PAYLOAD_TOO_LARGE', 'INVALID_UTF8', 'INVALID_JSON', 'NOT_AN_OBJECT', 'MISSING_FIELD', 'WRONG_TYPE', 'FIELD_TOO_LONG', 'INVALID_NUMBER', 'INVALID_TIMESTAMP', 'TIMESTAMP_OUT_OF_RANGE', 'FORBIDDEN_KEY', 'PROPS_TOO_DEEP', 'SUBJECT_MISMATCH', 'LATE_EVENT'];
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
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), fc.option(fc.constantFrom('page_view', 'purchase')), (bytes, t) => checkContract(bytes, t ?? null)), { numRuns: 3_000 });
  });

  it('never throws on arbitrary JSON values', () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => checkContract(enc.encode(JSON.stringify(v) ?? 'null'), null)), { numRuns: 3_000 });
  });

  it('accepts or rejects nearly valid events by the contract', () => {
    fc.assert(fc.property(nearlyValid, (o) => checkContract(enc.encode(JSON.stringify(o)), null)), { numRuns: 5_000 });
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
    );
  });
});
