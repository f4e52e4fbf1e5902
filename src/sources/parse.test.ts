import { describe, expect, it } from 'vitest';
import { parseEvent, type ParseLimits } from './parse.js';

const NOW = Date.parse('2026-11-23T12:00:00Z');
const limits: ParseLimits = {
  maxPayloadBytes: 4096,
  maxIdLength: 128,
  maxCustomerIdLength: 128,
  maxFieldLength: 256,
  maxPropsDepth: 4,
  maxFutureMs: 300_000,
  maxPastMs: 30 * 86_400_000,
};

const enc = new TextEncoder();
function event(over: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: 'e1', customerId: 'c1', type: 'page_view', ts: NOW - 1000, ...over };
}
function parse(body: unknown, subjectType: string | null = null) {
  return parseEvent(enc.encode(typeof body === 'string' ? body : JSON.stringify(body)), subjectType, NOW, limits);
}
function reasonOf(body: unknown, subjectType: string | null = null): string {
  const r = parse(body, subjectType);
  return r.ok ? 'ok' : r.reason;
}

describe('parseEvent accepts the contract', () => {
  it('parses a minimal event with epoch milliseconds', () => {
    const r = parse(event());
    expect(r).toEqual({
      ok: true,
      event: { id: 'e1', customerId: 'c1', type: 'page_view', ts: NOW - 1000, channel: null, value: null, segment: null, campaignId: null, props: null },
    });
  });

  it('parses ISO-8601 with a zone offset into epoch milliseconds', () => {
    const r = parse(event({ ts: '2026-11-23T12:59:00+01:00' }));
    expect(r.ok && r.event.ts).toBe(Date.parse('2026-11-23T11:59:00Z'));
  });

  it('keeps optional fields and props', () => {
    const r = parse(event({ type: 'purchase', value: 42.5, channel: 'web', segment: 'vip', campaignId: 'spring', props: { sku: 'a', tags: [1, 2] } }), 'purchase');
    expect(r.ok && r.event).toMatchObject({ value: 42.5, channel: 'web', segment: 'vip', campaignId: 'spring', props: { sku: 'a', tags: [1, 2] } });
  });

  it('accepts an unknown type', () => {
    expect(reasonOf(event({ type: 'loyalty_points_redeemed' }))).toBe('ok');
  });
});

describe('parseEvent rejects bad input with a reason', () => {
  it.each([
    ['not JSON', '{"id":', 'INVALID_JSON'],
    ['a JSON array', [1, 2], 'NOT_AN_OBJECT'],
    ['a JSON string', '"hello"', 'NOT_AN_OBJECT'],
    ['no id', event({ id: undefined }), 'MISSING_FIELD'],
    ['an empty id', event({ id: '' }), 'MISSING_FIELD'],
    ['a numeric customerId', event({ customerId: 7 }), 'WRONG_TYPE'],
    ['a 10 KB id', event({ id: 'x'.repeat(10_000) }), 'PAYLOAD_TOO_LARGE'],
    ['a 200 character customer id', event({ customerId: 'x'.repeat(200) }), 'FIELD_TOO_LONG'],
    ['an upper case type', event({ type: 'PageView' }), 'WRONG_TYPE'],
    ['a string value', event({ value: '12' }), 'WRONG_TYPE'],
    ['a value of 1e308', event({ value: 1e308 }), 'INVALID_NUMBER'],
    ['an overflowing value literal', '{"id":"a","customerId":"c","type":"purchase","ts":' + NOW + ',"value":1e999}', 'INVALID_NUMBER'],
    ['a fractional ts', event({ ts: 1.5 }), 'INVALID_TIMESTAMP'],
    ['a date without a zone', event({ ts: '2026-11-23T12:00:00' }), 'INVALID_TIMESTAMP'],
    ['an impossible date', event({ ts: '2026-13-45T12:00:00Z' }), 'INVALID_TIMESTAMP'],
    ['a ts an hour ahead', event({ ts: NOW + 3_600_000 }), 'TIMESTAMP_OUT_OF_RANGE'],
    ['a ts in 1970', event({ ts: 0 }), 'TIMESTAMP_OUT_OF_RANGE'],
    ['props as an array', event({ props: [1] }), 'WRONG_TYPE'],
    ['props nested too deep', event({ props: { a: { b: { c: { d: { e: 1 } } } } } }), 'PROPS_TOO_DEEP'],
    ['a __proto__ key', '{"__proto__":{"x":1},"id":"a","customerId":"c","type":"click","ts":' + NOW + '}', 'FORBIDDEN_KEY'],
    ['a constructor key in props', event({ props: { nested: { constructor: 1 } } }), 'FORBIDDEN_KEY'],
  ])('%s', (_name, body, reason) => {
    expect(reasonOf(body)).toBe(reason);
  });

  it('rejects invalid UTF-8', () => {
    const bytes = new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]);
    const r = parseEvent(bytes, null, NOW, limits);
    expect(!r.ok && r.reason).toBe('INVALID_UTF8');
  });

  it('rejects a type that differs from its subject', () => {
    expect(reasonOf(event({ type: 'click' }), 'purchase')).toBe('SUBJECT_MISMATCH');
  });

  it('says what was wrong in the detail', () => {
    const r = parse(event({ customerId: 'x'.repeat(200) }));
    expect(!r.ok && r.detail).toBe('customerId is 200 characters, limit 128');
  });
});
