import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readCustomerId, scanCustomerIds } from './payloadId.js';
import { deadLetterPayload, keyedHash } from './pseudonym.js';

const KEY = 'k'.repeat(40);
const h = (id: string) => keyedHash(KEY, id);
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

describe('readCustomerId: the top-level customerId of a payload, read leniently', () => {
  it('decodes the key, allows any JSON spacing, and reads escaped values', () => {
    expect(readCustomerId('{"id":"1","customer\\u0049d":"alice"}')).toBe('alice');
    expect(readCustomerId('{ "id" : "1" ,\n\t"customerId"   :  "bob" }')).toBe('bob');
    expect(readCustomerId('{"customerId":"a\\"b\\u00e9\\n"}')).toBe('a"b\u00e9\n');
    expect(readCustomerId('{"customerId":42,"x":1}')).toBe('42');
  });

  it('ignores nested customerIds (props.customerId is a decoy) and takes the last top-level one, as JSON does', () => {
    expect(readCustomerId('{"props":{"customerId":"decoy","a":[{"customerId":"d2"}]},"customerId":"real"}')).toBe('real');
    expect(readCustomerId('{"props":{"customerId":"decoy"}}')).toBe('');
    expect(readCustomerId('{"customerId":"first","customerId":"second"}')).toBe('second');
    expect(readCustomerId('{"note":"\\"customerId\\":\\"inside a string\\""}')).toBe('');
  });

  it('reads a truncated payload whose customerId value is complete, and nothing from a cut value', () => {
    expect(readCustomerId('{"id":"1","customerId":"alice","ts":"2026-')).toBe('alice');
    expect(readCustomerId('{"id":"1","customerId":"ali')).toBe('');
    expect(readCustomerId('{"id":"1","customerId":12')).toBe(''); // the number may go on
    expect(readCustomerId('{"props":{"x":"y"},"customerId":"c1"')).toBe('c1');
    expect(readCustomerId('{"props":{"customerId":"decoy"')).toBe('');
  });

  it('reads nothing from what is not an object, and stops at the first syntax error', () => {
    for (const t of ['', 'not json', '[{"customerId":"a"}]', '"customerId"', '{customerId:"a"}', '{"x":tru,"customerId":"a"}']) expect(readCustomerId(t), t).toBe('');
    expect(readCustomerId('{"customerId":"a",,"customerId":"b"}')).toBe('a');
  });

  it('gives the value and its span in the text', () => {
    const t = '{"customerId" : "alice" }';
    const [o] = scanCustomerIds(t);
    expect(o).toEqual({ value: 'alice', start: 16, end: 23 });
    expect(t.slice(o.start, o.end)).toBe('"alice"');
  });

  it('agrees with JSON.parse on every valid JSON object, however spaced and escaped', () => {
    const id = fc.oneof(fc.string({ unit: 'binary' }), fc.string(), fc.integer().map(String));
    const obj = fc.record(
      { before: fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 4 }), customerId: fc.option(fc.oneof(id, fc.integer(), fc.jsonValue()), { nil: undefined }), after: fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 4 }) },
      { requiredKeys: ['before', 'after'] },
    );
    fc.assert(
      fc.property(obj, fc.integer({ min: 0, max: 2 }), fc.boolean(), (o, space, escapeKey) => {
        const value: Record<string, unknown> = { ...o.before, props: { customerId: 'decoy' } };
        if ('customerId' in o) value.customerId = o.customerId;
        Object.assign(value, o.after);
        let text = JSON.stringify(value, null, space);
        if (escapeKey) text = text.replaceAll('"customerId"', '"customer\\u0049d"');
        const parsed = JSON.parse(text) as Record<string, unknown>;
        const v = Object.prototype.hasOwnProperty.call(parsed, 'customerId') ? parsed.customerId : undefined;
        const expected = typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
        expect(readCustomerId(text)).toBe(expected);
      }),
      { numRuns: 300, seed: 42 },
    );
  }, 60_000);
});

describe('deadLetterPayload under pseudonymization', () => {
  it('replaces the top-level id of a JSON object, escaped key included, and keeps the decoy', () => {
    const r = deadLetterPayload(enc('{"id":"1","customer\\u0049d":"alice","props":{"customerId":"decoy"}}'), h);
    expect(dec(r.payload)).toBe(`{"id":"1","customerId":"${h('alice')}","props":{"customerId":"decoy"}}`);
    expect(r.customerId).toBe(h('alice'));
  });

  it('replaces the id in place in a broken payload, spaces and escaped key included', () => {
    const r = deadLetterPayload(enc('{"customer\\u0049d" : "alice", "ts": oops'), h);
    expect(dec(r.payload)).toBe(`{"customer\\u0049d" : "${h('alice')}", "ts": oops`);
    expect(r.customerId).toBe(h('alice'));
  });

  it('withholds a payload where the id cannot be located, saying why and how large it was', () => {
    for (const t of ['not json {"customerId":"alice"}', '{"customerId":"ali', '[{"customerId":"alice"}]', '{"customerId":"alice", broken "customerId":"alice"}']) {
      const r = deadLetterPayload(enc(t), h);
      expect(dec(r.payload), t).toBe(`[payload withheld: privacy.pseudonymize is on and the customer id could not be located in it to replace; ${enc(t).byteLength} bytes]`);
      expect(dec(r.payload)).not.toContain('alice');
    }
    // Located, but the original is still there past the broken part: the pseudonym is known, the text withheld.
    expect(deadLetterPayload(enc('{"customerId":"alice", broken "customerId":"alice"}'), h).customerId).toBe(h('alice'));
  });

  it('keeps the payload and reads the id as it is without pseudonymization', () => {
    const b = enc('{"customer\\u0049d" :"alice", "x":');
    expect(deadLetterPayload(b, null)).toEqual({ payload: b, customerId: 'alice' });
  });
});

describe('readCustomerId on large hostile payloads', () => {
  it('stays linear: a megabyte of escapes in one string, and a megabyte of nesting, read at once', () => {
    const escapes = `{"a":"${'\\n'.repeat(500_000)}","customerId":"x"}`;
    const nesting = `{"a":${'['.repeat(500_000)}${']'.repeat(500_000)},"customerId":"y"}`;
    const started = performance.now();
    expect(readCustomerId(escapes)).toBe('x');
    expect(readCustomerId(nesting)).toBe('y');
    // Linear time is tens of milliseconds here; a quadratic scan would take minutes.
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});
