import { describe, expect, it } from 'vitest';
import { customerToken, natsMapping, parseEventSubject, partitionOf } from './partitioning.js';

describe('customerToken', () => {
  it('is the id itself when the id is one subject-safe token of at most 128 characters', () => {
    for (const id of ['c0000042', 'A-b_9', '-', '_x', '7'.repeat(128)]) expect(customerToken(id)).toBe(id);
  });

  // Expected values computed outside Node: Python's hashlib.sha256 and base64.urlsafe_b64encode, first 22 characters.
  it('is h + the first 22 characters of the base64url SHA-256 of the id otherwise', () => {
    expect(customerToken('customer@example.com')).toBe('h4jPUopAT6dhxUMYjfGd3vt');
    expect(customerToken('a b')).toBe('hyGh6CKpdbtIEQyj6aml6uO');
    expect(customerToken('a.b')).toBe('hLnM23I66h-9HLfVow1SCq_');
    expect(customerToken('ünï')).toBe('h6XWlKZTYj8fHvxbFR3ecbQ');
    expect(customerToken('x'.repeat(129))).toBe('hDsnrM-dFELzdHy6lUgboLy');
  });

  it('always gives one subject-safe token', () => {
    for (const id of ['', ' ', 'a.b.c', 'a*', '>', 'tab\there', '😀', 'x'.repeat(1000)]) {
      expect(customerToken(id)).toMatch(/^[A-Za-z0-9_-]{1,128}$/);
    }
  });
});

describe('partitionOf', () => {
  // FNV-1a 32-bit reference vectors (the algorithm's published test values), read whole with a modulus of 2^32.
  it('is FNV-1a 32-bit of the UTF-8 bytes', () => {
    expect(partitionOf('', 2 ** 32)).toBe(0x811c9dc5);
    expect(partitionOf('a', 2 ** 32)).toBe(0xe40c292c);
    expect(partitionOf('foobar', 2 ** 32)).toBe(0xbf9cf968);
    expect(partitionOf('ünï', 2 ** 32)).toBe(0x1b521a56);
  });

  it('takes the hash modulo the partition count', () => {
    expect(partitionOf('a', 12)).toBe(0xe40c292c % 12);
    expect(partitionOf('c0000042', 12)).toBe(8);
    expect(partitionOf('anything', 1)).toBe(0);
  });

  it('spreads customer tokens over every partition', () => {
    const counts = new Array<number>(12).fill(0);
    for (let i = 0; i < 12_000; i++) counts[partitionOf(customerToken(`c${String(i).padStart(7, '0')}`), 12)]++;
    for (const n of counts) expect(n).toBeGreaterThan(800);
  });

  it('refuses a partition count that is not a positive integer', () => {
    for (const n of [0, -1, 1.5, Number.NaN]) expect(() => partitionOf('a', n)).toThrow(RangeError);
  });
});

describe('natsMapping', () => {
  it('maps <prefix>.<type>.<token> to <prefix>.part.<partition of the token>.<type>.<token>', () => {
    expect(natsMapping('events', 12)).toEqual(['events.*.*', 'events.part.{{partition(12,2)}}.{{wildcard(1)}}.{{wildcard(2)}}']);
  });

  it('counts wildcards, not tokens, so a prefix of several tokens keeps the same mapping', () => {
    expect(natsMapping('acme.events', 3)).toEqual(['acme.events.*.*', 'acme.events.part.{{partition(3,2)}}.{{wildcard(1)}}.{{wildcard(2)}}']);
  });

  it('refuses a partition count that is not a positive integer', () => {
    expect(() => natsMapping('events', 0)).toThrow(RangeError);
  });
});

describe('parseEventSubject', () => {
  it('reads a mapped subject as its partition, type and token', () => {
    expect(parseEventSubject('events.part.7.purchase.c0000042', 'events')).toEqual({ kind: 'partitioned', partition: 7, type: 'purchase', token: 'c0000042' });
    expect(parseEventSubject('acme.events.part.0.click.hLnM23I66h-9HLfVow1SCq_', 'acme.events')).toEqual({
      kind: 'partitioned',
      partition: 0,
      type: 'click',
      token: 'hLnM23I66h-9HLfVow1SCq_',
    });
  });

  it('reads <prefix>.<type> as the single-processor contract without a token', () => {
    expect(parseEventSubject('events.purchase', 'events')).toEqual({ kind: 'legacy', type: 'purchase' });
  });

  it('reads <prefix>.<type>.<token> as published but never mapped by the server', () => {
    expect(parseEventSubject('events.purchase.c1', 'events')).toEqual({ kind: 'unmapped', type: 'purchase', token: 'c1' });
  });

  it('refuses anything else', () => {
    for (const subject of [
      'events',
      'other.purchase',
      'eventsx.purchase',
      'events.',
      'events..c1',
      'events.part.x.purchase.c1',
      'events.part.07.purchase.c1',
      'events.part.-1.purchase.c1',
      'events.part.1.purchase',
      'events.a.b.c',
      'events.part.1.purchase.c1.extra',
    ]) {
      expect(parseEventSubject(subject, 'events'), subject).toEqual({ kind: 'invalid' });
    }
  });

  it('reads back every subject the mapping produces', () => {
    for (const id of ['c0000001', 'customer@example.com', 'ünï']) {
      const token = customerToken(id);
      const k = partitionOf(token, 12);
      expect(parseEventSubject(`events.part.${k}.email_open.${token}`, 'events')).toEqual({ kind: 'partitioned', partition: k, type: 'email_open', token });
    }
  });
});
