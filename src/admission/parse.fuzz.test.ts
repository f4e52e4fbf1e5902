// Property tests: whatever arrives, the parser answers with an event or a reason, never an exception, and what it
// accepts always satisfies the contract.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseEvent, parseEventGeneric, type ParseLimits, type RejectReason } from './parse.js';

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

// The scanner (parseEvent's fast path) against the generic path it replaces (parseEventGeneric): for every input,
// the same event, the same reason and the same detail.
const KEYS = ['id', 'customerId', 'type', 'ts', 'channel', 'segment', 'campaignId', 'value', 'props'];
const ODD_KEYS = ['extra', '__proto__', 'constructor', 'prototype', 'i\\u0064', 'ïd', '', 'ID', 'type ', 'prop', 'valuex'];
const EDGE_NUMBERS = [
  '1e15', '-1e15', '1E15', '1000000000000000', '1000000000000001', '999999999999999', '9999999999999999', '9007199254740993',
  '-0', '0', '-0.0', '0.0', '0e0', '-0e-0', '1E400', '-1E400', '1e-400', '1e+2', '1.5', '12.0', '123456789012345678901234567890',
  '01', '00', '-01', '1.', '.5', '1e', '1e+', '+1', '0x10', '-', '--1', 'NaN', 'Infinity', '1_000', String(NOW), String(NOW - 1), `${NOW}.0`, `${NOW}e0`,
];
const ESCAPED = ['"\\u0065\\u0031"', '"a\\"b"', '"a\\\\b"', '"a\\/b"', '"\\b\\f\\n\\r\\t"', '"\\ud83d\\ude00"', '"\\ud800"', '"\\udc00x"', '"\\u00e9"', '"\\x41"', '"\\u12"', '"\\u12G4"', '"\\uFEFFx"', '"\\u0000"', '"\\u007f"'];
// JSON's four whitespace bytes, and now and then two that are not JSON whitespace (so the input is not JSON).
const ws = fc.oneof({ weight: 40, arbitrary: fc.constantFrom('', ' ', '\n', '\t', '\r\n  ') }, { weight: 1, arbitrary: fc.constantFrom('\u00a0', '\f') });

const stringLiteral = fc.oneof(
  fc.string({ maxLength: 20 }).map((s) => JSON.stringify(s)),
  codeUnits.map((s) => JSON.stringify(s)),
  fc.string({ unit: 'binary', maxLength: 12 }).map((s) => JSON.stringify(s)),
  fc.constantFrom('"page_view"', '"purchase"', '"click"', '"Click"', '"email_sent"', '"a\u007fb"', '"x\u0085y"', '"\uFEFFid"', '"2026-11-23T11:59:00Z"', '"2026-02-30T10:00:00Z"', '"2026-11-23T11:59:00"', '""', `"${'x'.repeat(130)}"`, `"${'é'.repeat(130)}"`, `"${'y'.repeat(300)}"`),
  fc.constantFrom(...ESCAPED),
);
/** Escapes as they come: a backslash before any character, \u with any four characters. */
const anyEscape = fc.oneof(
  fc.integer({ min: 0x20, max: 0x7e }).map((c) => `"a\\${String.fromCharCode(c)}b"`),
  fc.array(fc.constantFrom(...'0123456789abcdefABCDEFgG"\\ x'), { maxLength: 5 }).map((cs) => `"\\u${cs.join('')}"`),
);
/** Integers past 15 digits (where digit arithmetic stops being exact), with fractions and exponents. */
const longNumber = fc
  .tuple(fc.bigInt({ min: -(10n ** 22n), max: 10n ** 22n }), fc.option(fc.nat()), fc.option(fc.integer({ min: -400, max: 400 })))
  .map(([int, frac, exp]) => `${int}${frac === null ? '' : `.${frac}`}${exp === null ? '' : `e${exp}`}`);
const valueLiteral = fc.oneof(
  { weight: 4, arbitrary: stringLiteral },
  { weight: 1, arbitrary: anyEscape },
  { weight: 1, arbitrary: longNumber },
  { weight: 2, arbitrary: fc.constantFrom(...EDGE_NUMBERS) },
  { weight: 1, arbitrary: fc.double().map((x) => JSON.stringify(x) ?? 'null') },
  { weight: 1, arbitrary: fc.integer({ min: NOW - 500 * 86_400_000, max: NOW + 86_400_000 }).map(String) },
  { weight: 1, arbitrary: fc.constantFrom('true', 'false', 'null', 'nul', 'tru', '{}', '[]', '[1,]', '{"a":1,}', '{"a" 1}', '{"a":1,2}', '{"a":1,"b"}', '{1:2}', '[1:2]', '[1 2]', '{"a":[}', '[{]}', '[1}', '{"a":1]', '[{"a":1]]', '{"a":{"b":1,}}', '[[[[[[1]]]]]]') },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null') },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 80 }).map((d) => '{"n":'.repeat(d) + '1' + '}'.repeat(d)) },
  { weight: 1, arbitrary: fc.dictionary(fc.constantFrom('__proto__', 'constructor', 'a', 'b'), fc.jsonValue({ maxDepth: 2 })).map((o) => JSON.stringify(o)) },
);
const member = fc.tuple(fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...KEYS) }, { weight: 1, arbitrary: fc.constantFrom(...ODD_KEYS) }), valueLiteral, ws, ws);
/** A valid event's members, then extra members (duplicates, odd keys, bent values) in any order. */
const objectText = fc
  .tuple(
    fc.record({ id: fc.string({ minLength: 1, maxLength: 16 }), customerId: fc.string({ minLength: 1, maxLength: 16 }), type: fc.constantFrom('page_view', 'purchase', 'click', 'loyalty_points'), ts: fc.integer({ min: NOW - 86_400_000, max: NOW }) }),
    fc.array(member, { maxLength: 6 }),
    fc.boolean(),
    ws,
  )
  .map(([base, extra, extraFirst, space]) => {
    const baseMembers = Object.entries(base).map(([k, v]) => `"${k}":${JSON.stringify(v)}`);
    const extraMembers = extra.map(([k, v, w1, w2]) => `${w1}"${k}"${w2}:${w1}${v}${w2}`);
    const members = extraFirst ? [...extraMembers, ...baseMembers] : [...baseMembers, ...extraMembers];
    return `${space}{${space}${members.join(`,${space}`)}${space}}${space}`;
  });

/** UTF-8 at its edges, well-formed or not: overlongs, encoded surrogates, past U+10FFFF, cut short, a BOM. */
const UTF8_EDGES = [
  [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], [0xed, 0x9f, 0xbf], [0xee, 0x80, 0x80], [0xe0, 0x80, 0x80], [0xe0, 0x9f, 0xbf], [0xe0, 0xa0, 0x80],
  [0xc0, 0x80], [0xc1, 0xbf], [0xc2, 0x80], [0xc2, 0x9f], [0xdf, 0xbf], [0xf0, 0x8f, 0xbf, 0xbf], [0xf0, 0x90, 0x80, 0x80], [0xf4, 0x8f, 0xbf, 0xbf],
  [0xf4, 0x90, 0x80, 0x80], [0xf5, 0x80, 0x80, 0x80], [0xff], [0xfe], [0x80], [0xbf], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xef, 0xbb, 0xbf], [0x7f], [0x00], [0x1f],
].map((b) => Uint8Array.from(b));

/** The bytes of a text bent at one place: a byte set, deleted or inserted, UTF-8 edge bytes put in, or the whole cut short. */
const mutated = fc.tuple(objectText, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'delete', 'insert', 'inject', 'inject', 'truncate', 'none'), fc.constantFrom(...UTF8_EDGES)).map(([text, at, byte, how, edge]) => {
  const bytes = enc.encode(text);
  const i = bytes.length === 0 ? 0 : at % bytes.length;
  if (how === 'inject') return Uint8Array.from([...bytes.subarray(0, i), ...edge, ...bytes.subarray(i)]);
  if (how === 'set') bytes[i] = byte;
  if (how === 'delete') return Uint8Array.from([...bytes.subarray(0, i), ...bytes.subarray(i + 1)]);
  if (how === 'insert') return Uint8Array.from([...bytes.subarray(0, i), byte, ...bytes.subarray(i)]);
  if (how === 'truncate') return bytes.slice(0, i);
  return bytes;
});

function sameAsGeneric(bytes: Uint8Array, subjectType: string | null, lim: ParseLimits = limits): void {
  expect(parseEvent(bytes, subjectType, NOW, lim)).toStrictEqual(parseEventGeneric(bytes, subjectType, NOW, lim));
}

describe('the byte scanner answers exactly as the generic path', () => {
  const subject = fc.option(fc.constantFrom('page_view', 'purchase', 'click'), { freq: 2 });

  it('on generated events with duplicated keys, odd keys, escapes, unicode and numbers at the edges', () => {
    fc.assert(fc.property(objectText, subject, (text, t) => sameAsGeneric(enc.encode(text), t ?? null)), { numRuns: 20_000, seed: 15 });
  });

  it('on generated events with a byte flipped, deleted or inserted, or cut short', () => {
    fc.assert(fc.property(mutated, subject, (bytes, t) => sameAsGeneric(bytes, t ?? null)), { numRuns: 20_000, seed: 15 });
  });

  it('on escapes, numbers and text in the places it skips without building them (unknown keys, nested values)', () => {
    const skipped = fc.oneof(anyEscape, longNumber, fc.constantFrom(...EDGE_NUMBERS), stringLiteral);
    const place = fc.constantFrom((x: string) => `"extra":${x}`, (x: string) => `"extra":[1,{"k":${x}}]`, (x: string) => `"channel":{"k":${x}}`, (x: string) => `"props":[${x}]`, (x: string) => `"value":[${x}]`);
    fc.assert(
      fc.property(skipped, place, (x, at) => sameAsGeneric(enc.encode(`{"id":"e1","customerId":"c1","type":"click","ts":${NOW},${at(x)}}`), null)),
      { numRuns: 10_000, seed: 15 },
    );
  });

  it('on random bytes, and random bytes after a valid prefix', () => {
    const prefix = enc.encode(`{"id":"e1","customerId":"c1","type":"click","ts":${NOW},"channel":"`);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, prefixed) => sameAsGeneric(prefixed ? Uint8Array.from([...prefix, ...bytes]) : bytes, null)),
      { numRuns: 10_000, seed: 15 },
    );
  });

  it('on arbitrary JSON values and nearly valid events', () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => sameAsGeneric(enc.encode(JSON.stringify(v) ?? 'null'), null)), { numRuns: 3_000, seed: 15 });
    fc.assert(fc.property(nearlyValid, (o) => sameAsGeneric(enc.encode(JSON.stringify(o)), null)), { numRuns: 5_000, seed: 15 });
  });

  it('with the past unbounded, as admission retries a privacy request', () => {
    const unbounded = { ...limits, maxPastMs: Number.POSITIVE_INFINITY };
    fc.assert(fc.property(objectText, (text) => sameAsGeneric(enc.encode(text), null, unbounded)), { numRuns: 5_000, seed: 15 });
  });
});
