import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { AlertView, SnapshotFrame } from '../contract/frames.js';
import { MemoryConsentStore } from './consent.js';
import { keyedHash, PSEUDONYM_HEX_CHARS, Pseudonymizer, pseudonymizePayload } from './pseudonym.js';
import { revealFrame } from './reveal.js';

const KEY = 'a-key-of-at-least-thirty-two-characters';

describe('pseudonyms', () => {
  it('are HMAC-SHA-256 under the key, hex, cut to 32 characters', () => {
    const full = createHmac('sha256', KEY).update('cust-42').digest('hex');
    expect(keyedHash(KEY, 'cust-42')).toBe(full.slice(0, 32));
    expect(PSEUDONYM_HEX_CHARS).toBe(32);
    expect(keyedHash(KEY, 'cust-42')).not.toBe(keyedHash(`${KEY}!`, 'cust-42'));
    // RFC 4231 test case 2: the construction is standard HMAC.
    expect(createHmac('sha256', 'Jefe').update('what do ya want for nothing?').digest('hex').slice(0, 32)).toBe(keyedHash('Jefe', 'what do ya want for nothing?'));
    expect(keyedHash('Jefe', 'what do ya want for nothing?')).toBe('5bdcc146bf60754e6a042426089575c7');
  });

  it('remember the most recently seen originals, at most revealCacheSize of them, and forget on request', () => {
    const p = new Pseudonymizer({ key: KEY, remember: true, revealCacheSize: 2 });
    const [a, b] = [p.pseudonym('a'), p.pseudonym('b')];
    p.pseudonym('a'); // a is now the most recent
    const c = p.pseudonym('c'); // b, the least recently seen, goes
    expect([p.original(a), p.original(b), p.original(c)]).toEqual(['a', undefined, 'c']);
    expect(p.remembered).toBe(2);
    expect(p.forget(a)).toBe(true);
    expect(p.original(a)).toBeUndefined();
  });

  it('remember nothing unless asked to', () => {
    const p = new Pseudonymizer({ key: KEY, remember: false, revealCacheSize: 10 });
    expect(p.original(p.pseudonym('a'))).toBeUndefined();
  });

  it('replace customerId in a rejected payload, whether a string, a number or in broken JSON', () => {
    const h = (id: string) => keyedHash(KEY, id);
    const enc = (s: string) => new TextEncoder().encode(s);
    const dec = (b: Uint8Array) => new TextDecoder().decode(b);
    expect(dec(pseudonymizePayload(enc('{"id":"1","customerId":"alice","ts":1}'), (id) => h(id)))).toBe(`{"id":"1","customerId":"${h('alice')}","ts":1}`);
    expect(dec(pseudonymizePayload(enc('{"customerId" : 42, "x": 1'), (id) => h(id)))).toBe(`{"customerId" : "${h('42')}", "x": 1`);
    expect(dec(pseudonymizePayload(enc('{"customerId":"a\\"b"'), (id) => h(id)))).toBe(`{"customerId":"${h('a"b')}"`);
    const untouched = enc('{"id":"no customer here"}');
    expect(pseudonymizePayload(untouched, h)).toBe(untouched);
  });
});

describe('consent', () => {
  it('is withdrawn until granted again, and forgotten on erasure', () => {
    const c = new MemoryConsentStore();
    c.withdraw('a', 1_000);
    expect(c.isWithdrawn('a')).toBe(true);
    expect(c.grant('a', 2_000)).toBe(true);
    expect(c.isWithdrawn('a')).toBe(false);
    c.withdraw('b', 1_000);
    c.forget('b');
    expect([c.isWithdrawn('b'), c.size]).toEqual([false, 0]);
  });

  it('ignores a grant stamped before the withdrawal in force, and honours a withdrawal whatever its time', () => {
    const c = new MemoryConsentStore();
    c.withdraw('a', 5_000);
    expect(c.grant('a', 4_999)).toBe(false);
    expect(c.isWithdrawn('a')).toBe(true);
    // An older withdrawal arriving late keeps the later time: the grant at 4_999 still loses.
    c.withdraw('a', 1_000);
    expect(c.grant('a', 4_999)).toBe(false);
    expect(c.grant('a', 5_000)).toBe(true);
    expect(c.isWithdrawn('a')).toBe(false);
    c.withdraw('a', 1);
    expect(c.isWithdrawn('a')).toBe(true);
  });
});

describe('revealFrame', () => {
  const p = new Pseudonymizer({ key: KEY, remember: true, revealCacheSize: 10 });
  const alice = p.pseudonym('alice');
  const unknown = keyedHash(KEY, 'someone-not-seen');
  const alert = (key: string, kind: 'customer' | 'campaign' = 'customer'): AlertView => ({
    id: `a-${key}`, fingerprint: 'f', rule: 'customer_churn_risk', severity: 'warning', state: 'firing', subject: { kind, key }, value: 0.9, threshold: 0.8,
    reasons: [], labels: { subject_key: key }, summary: `customer ${key}: churn_risk 0.90 >= 0.80`, startsAt: 0, updatedAt: 0, endsAt: null, acknowledged: null, trigger: null,
  });

  const SURE = {
    pAlive: { estimate: 0.1, lower: 0.07, upper: 0.14, level: 0.9 },
    expectedPurchases90d: { estimate: 0.2, lower: 0.15, upper: 0.27, level: 0.9 },
    valueAtRisk: { estimate: 5, lower: 4, upper: 6.2, level: 0.9 },
  };

  it('shows responders the original ids it still remembers, in at-risk entries, alerts, their labels and summaries, and silences', () => {
    const snapshot = {
      type: 'snapshot', serverTime: 0, stats: {} as SnapshotFrame['stats'], statsHistory: [], overload: [], experience: [],
      atRisk: [{ customerId: alice, risk: 0.9, pAlive: 0.1, valueAtRisk: 5, reasons: [], updatedAt: 0, intervals: SURE }, { customerId: unknown, risk: 0.8, pAlive: 0.2, valueAtRisk: 1, reasons: [], updatedAt: 0 }],
      alerts: [alert(alice), alert('spring', 'campaign')],
      silences: [{ id: 's', matchers: [{ name: 'subject_key', op: '=', value: alice }], startsAt: 0, endsAt: 1, createdBy: 'ops', comment: '', createdAt: 0 }],
    } as SnapshotFrame;
    const shown = revealFrame(snapshot, (x) => p.original(x)) as SnapshotFrame;
    expect(shown.atRisk.map((e) => e.customerId)).toEqual(['alice', unknown]);
    expect(shown.atRisk[0].intervals).toEqual(SURE);
    expect(shown.alerts[0]).toMatchObject({ subject: { kind: 'customer', key: 'alice' }, labels: { subject_key: 'alice' }, summary: 'customer alice: churn_risk 0.90 >= 0.80' });
    expect(shown.alerts[1]).toBe(snapshot.alerts[1]);
    expect(shown.silences[0].matchers[0].value).toBe('alice');
    // The frame given is not changed: other clients get it as it was.
    expect(snapshot.atRisk[0].customerId).toBe(alice);
  });

  it('leaves frames without customer ids alone', () => {
    const stats = { type: 'stats', stats: {} } as const;
    expect(revealFrame(stats as never, () => 'x')).toBe(stats);
  });
});
