import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isoMillis, parseEvent, parseEventGeneric, type ParseLimits } from './parse.js';
import { scanEvent } from './scan.js';

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

describe('ids and labels at the edge', () => {
  it.each([
    ['a lone high surrogate in customerId', '"c\\ud800"', 'customerId'],
    ['a lone low surrogate in customerId', '"\\udc00x"', 'customerId'],
    ['a NUL in customerId', '"a\\u0000b"', 'customerId'],
    ['a DEL in id', '"e\\u007f"', 'id'],
    ['a C1 control in id', '"e\\u0085"', 'id'],
    ['a newline in channel', '"web\\n"', 'channel'],
    ['a lone surrogate in segment', '"vip\\udfff"', 'segment'],
    ['an escape character in campaignId', '"spring\\u001b[31m"', 'campaignId'],
  ])('rejects %s as INVALID_ID', (_name, literal, key) => {
    const r = parse(`{"id":"e1","customerId":"c1","type":"page_view","ts":${NOW},"${key}":${literal}}`);
    expect(!r.ok && r.reason).toBe('INVALID_ID');
    expect(!r.ok && r.detail).toMatch(new RegExp(`^${key} `));
  });

  it('two different lone surrogates, which UTF-8 would both make U+FFFD, are both refused', () => {
    const a = '\ud800';
    const b = '\ud801';
    expect(Buffer.from(a, 'utf8').equals(Buffer.from(b, 'utf8'))).toBe(true);
    expect(reasonOf(`{"id":"e1","customerId":"${a.replace('\ud800', '\\ud800')}","type":"click","ts":${NOW}}`)).toBe('INVALID_ID');
    expect(reasonOf(event({ customerId: b }))).toBe('INVALID_ID');
  });

  it('a type with a control character is a WRONG_TYPE, as any type off its pattern', () => {
    expect(reasonOf(event({ type: 'click\u0000' }))).toBe('WRONG_TYPE');
  });

  it('accepts a surrogate pair, accents and non-Latin scripts', () => {
    for (const id of ['c-\u{1F600}', 'zoë', '顧客-42', 'a b', 'x\u00a0y']) expect(reasonOf(event({ customerId: id, id: id }))).toBe('ok');
  });
});

describe('calendar dates and times', () => {
  it.each([
    ['2024-02-29T10:00:00Z', Date.UTC(2024, 1, 29, 10)],
    ['2000-02-29T10:00:00Z', Date.UTC(2000, 1, 29, 10)],
    ['2026-12-31T23:59:59.999Z', Date.UTC(2026, 11, 31, 23, 59, 59, 999)],
    ['2026-04-30T00:00Z', Date.UTC(2026, 3, 30)],
    ['2026-11-23T12:59:00+01:00', Date.UTC(2026, 10, 23, 11, 59)],
    ['2026-11-23T12:00:00+1400', Date.UTC(2026, 10, 22, 22)],
    ['2026-11-23T12:00:00-14:00', Date.UTC(2026, 10, 24, 2)],
    ['2026-11-23T12:00:00.123456789Z', Date.UTC(2026, 10, 23, 12, 0, 0, 123)],
    ['0099-01-01T00:00:00Z', Date.parse('0099-01-01T00:00:00Z')],
  ])('%s is a real date and time', (text, ms) => {
    expect(isoMillis(text)).toBe(ms);
  });

  it.each([
    '2026-02-29T10:00:00Z',
    '2026-02-30T10:00:00Z',
    '1900-02-29T10:00:00Z',
    '2026-04-31T10:00:00Z',
    '2026-00-10T10:00:00Z',
    '2026-13-01T10:00:00Z',
    '2026-01-00T10:00:00Z',
    '2026-01-32T10:00:00Z',
    '2026-01-10T24:00:00Z',
    '2026-01-10T10:60:00Z',
    '2026-01-10T10:00:60Z',
    '2026-01-10T10:00:00+14:01',
    '2026-01-10T10:00:00-15:00',
    '2026-01-10T10:00:00+01:60',
  ])('%s is impossible', (text) => {
    expect(typeof isoMillis(text)).toBe('string');
  });

  it('dead-letters 2026-02-30 as INVALID_TIMESTAMP instead of reading it as 2 March', () => {
    const now = Date.parse('2026-03-02T11:00:00Z');
    const r = parseEvent(enc.encode(JSON.stringify(event({ ts: '2026-02-30T10:00:00Z' }))), null, now, limits);
    expect(!r.ok && r.reason).toBe('INVALID_TIMESTAMP');
    expect(!r.ok && r.detail).toBe('ts is not a real date and time: day 30 of a month with 28 days');
    const leap = parseEvent(enc.encode(JSON.stringify(event({ ts: '2024-02-29T10:00:00Z' }))), null, Date.parse('2024-02-29T11:00:00Z'), limits);
    expect(leap.ok && leap.event.ts).toBe(Date.UTC(2024, 1, 29, 10));
  });

  it('agrees with Date.parse on every real date-time', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2999-12-31T23:59:59Z'), noInvalidDate: true }), fc.integer({ min: -14 * 60, max: 14 * 60 }), (d, off) => {
        const local = new Date(d.getTime() + off * 60_000).toISOString().slice(0, 23);
        const sign = off < 0 ? '-' : '+';
        const abs = Math.abs(off);
        const text = `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
        expect(isoMillis(text)).toBe(d.getTime());
        expect(isoMillis(text)).toBe(Date.parse(text));
      }),
      { numRuns: 2_000, seed: 13 },
    );
  });
});

describe('the byte scanner (parseEvent fast path) answers each reason itself, as the generic path does', () => {
  const base = `"id":"e1","customerId":"c1","type":"page_view","ts":${NOW}`;
  it.each([
    // An encoded surrogate in a value nobody reads: still not UTF-8.
    ['INVALID_UTF8', Uint8Array.from([...enc.encode(`{${base},"extra":"x`), 0xed, 0xa0, 0x80, ...enc.encode('"}')])],
    ['MISSING_FIELD', '{}'],
    ['MISSING_FIELD', `{"id":"","customerId":"c1","type":"click","ts":${NOW}}`],
    ['MISSING_FIELD', `{"id":"e1","customerId":"c1","type":"click","ts":null}`],
    ['WRONG_TYPE', `{"id":"e1","customerId":7,"type":"click","ts":${NOW}}`],
    ['WRONG_TYPE', `{${base},"value":"12"}`],
    ['WRONG_TYPE', `{${base},"props":[1]}`],
    ['WRONG_TYPE', `{"id":"e1","customerId":"c1","type":"PageView","ts":${NOW}}`],
    ['WRONG_TYPE', `{"id":"e1","customerId":"c1","type":"click","ts":true}`],
    ['FIELD_TOO_LONG', `{"id":"e1","customerId":"${'x'.repeat(200)}","type":"click","ts":${NOW}}`],
    ['FIELD_TOO_LONG', `{${base},"channel":"${'é'.repeat(257)}"}`],
    ['INVALID_ID', `{"id":"e\u007f","customerId":"c1","type":"click","ts":${NOW}}`],
    ['INVALID_ID', `{${base},"segment":"vip\\udfff"}`],
    ['INVALID_ID', `{${base},"channel":"x\u0085"}`],
    ['INVALID_NUMBER', `{${base},"value":1E400}`],
    ['INVALID_NUMBER', `{${base},"value":1000000000000001}`],
    ['INVALID_TIMESTAMP', `{"id":"e1","customerId":"c1","type":"click","ts":1.5}`],
    ['INVALID_TIMESTAMP', `{"id":"e1","customerId":"c1","type":"click","ts":"2026-02-30T10:00:00Z"}`],
    ['TIMESTAMP_OUT_OF_RANGE', `{"id":"e1","customerId":"c1","type":"click","ts":-0}`],
    ['PROPS_TOO_DEEP', `{${base},"props":{"a":{"b":{"c":{"d":{"e":1}}}}}}`],
    ['FORBIDDEN_KEY', `{${base},"props":{"n":{"constructor":1}}}`],
    ['SUBJECT_MISMATCH', `{${base}}`],
  ])('%s', (reason, body) => {
    const bytes = typeof body === 'string' ? enc.encode(body) : body;
    const subject = reason === 'SUBJECT_MISMATCH' ? 'purchase' : null;
    const fast = scanEvent(bytes, subject, NOW, limits);
    expect(fast).not.toBeNull();
    expect(!fast!.ok && fast!.reason).toBe(reason);
    expect(fast).toStrictEqual(parseEventGeneric(bytes, subject, NOW, limits));
  });

  it('PAYLOAD_TOO_LARGE comes before any scanning', () => {
    const bytes = enc.encode(`{${base},"extra":"${'x'.repeat(5000)}"}`);
    expect(parseEvent(bytes, null, NOW, limits)).toStrictEqual(parseEventGeneric(bytes, null, NOW, limits));
    expect(!parseEvent(bytes, null, NOW, limits).ok && (parseEvent(bytes, null, NOW, limits) as { reason: string }).reason).toBe('PAYLOAD_TOO_LARGE');
  });

  it.each([
    ['bad JSON (INVALID_JSON, worded by JSON.parse)', `{${base},}`],
    ['a leading zero', `{${base},"value":01}`],
    ['not an object (NOT_AN_OBJECT)', '[1]'],
    ['a top-level __proto__ (FORBIDDEN_KEY, the first in key order)', `{${base},"prototype":1,"__proto__":2}`],
    ['an escaped key that spells a known one', `{"i\\u0064":"e1","customerId":"c1","type":"click","ts":${NOW}}`],
    ['a leading byte order mark', `\uFEFF{${base}}`],
  ])('hands %s to the generic path', (_name, body) => {
    const bytes = enc.encode(body);
    expect(scanEvent(bytes, null, NOW, limits)).toBeNull();
    expect(parseEvent(bytes, null, NOW, limits)).toStrictEqual(parseEventGeneric(bytes, null, NOW, limits));
  });

  it('reads what it keeps exactly: escapes, non-ASCII, a BOM inside a value, the last of duplicated keys, numbers', () => {
    const body = `{"id":"a\\"b\\u00e9","customerId":"顧客-\u{1F600}","type":"click","type":"purchase","ts":${NOW - 5},"channel":"\uFEFFweb","value":-0,"segment":"","props":{"a":[1,{"b":null}]},"extra":[{"x":"\\n"}]}`;
    const fast = scanEvent(enc.encode(body), 'purchase', NOW, limits);
    expect(fast).toStrictEqual({
      ok: true,
      event: { id: 'a"bé', customerId: '顧客-\u{1F600}', type: 'purchase', ts: NOW - 5, channel: '\uFEFFweb', value: -0, segment: null, campaignId: null, props: { a: [1, { b: null }] } },
    });
    expect(fast).toStrictEqual(parseEventGeneric(enc.encode(body), 'purchase', NOW, limits));
  });
});
