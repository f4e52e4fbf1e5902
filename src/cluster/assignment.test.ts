import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assign } from './assignment.js';

function counts(owners: Map<number, string>): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of owners.values()) out.set(m, (out.get(m) ?? 0) + 1);
  return out;
}

const ids = (m: number) => Array.from({ length: m }, (_, i) => `proc-${String.fromCharCode(97 + (i % 26))}${i}`);

describe('assign', () => {
  it('gives 3 members 4 of 12 partitions each', () => {
    const owners = assign(['b', 'c', 'a'], 12);
    expect([...owners.keys()]).toEqual([...Array(12).keys()]);
    expect(Object.fromEntries(counts(owners))).toEqual({ a: 4, b: 4, c: 4 });
  });

  it('moves few partitions besides a leaving member\'s own, far fewer than round robin would', () => {
    const roundRobin = (members: string[], n: number) => new Map([...Array(n).keys()].map((k) => [k, [...members].sort()[k % members.length]]));
    const survivorsMoved = (f: (members: string[], n: number) => Map<number, string>, members: string[], gone: string, n: number) => {
      const before = f(members, n);
      const after = f(members.filter((x) => x !== gone), n);
      return [...before].filter(([k, o]) => o !== gone && after.get(k) !== o).length;
    };
    let moved = 0;
    let movedRoundRobin = 0;
    for (let m = 3; m <= 8; m++) {
      for (const n of [12, 24, 60]) {
        const members = ids(m);
        for (const gone of members) {
          moved += survivorsMoved(assign, members, gone, n);
          movedRoundRobin += survivorsMoved(roundRobin, members, gone, n);
        }
      }
    }
    expect(moved).toBeLessThan(movedRoundRobin / 3);
  });

  it('spreads N partitions over any m ≤ N members within one of each other', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 200 }), (n, mRaw) => {
        const m = Math.min(mRaw, n);
        const c = [...counts(assign(ids(m), n)).values()];
        expect(c).toHaveLength(m);
        expect(c.reduce((a, b) => a + b, 0)).toBe(n);
        expect(Math.max(...c) - Math.min(...c)).toBeLessThanOrEqual(1);
      }),
      { seed: 42 },
    );
  });

  it('does not depend on the order the members are listed in', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/), { minLength: 1, maxLength: 20 }), fc.integer({ min: 1, max: 64 }), (members, n) => {
        const shuffled = [...members].reverse();
        shuffled.push(shuffled.shift()!);
        expect([...assign(shuffled, n)]).toEqual([...assign(members, n)]);
      }),
      { seed: 42 },
    );
  });

  it('ignores a member listed twice', () => {
    expect(assign(['a', 'b', 'a'], 6)).toEqual(assign(['a', 'b'], 6));
  });

  it('gives a removed member nothing and spreads its partitions over the rest', () => {
    const before = assign(['a', 'b', 'c'], 12);
    const after = assign(['a', 'c'], 12);
    expect([...after.values()]).not.toContain('b');
    expect(after.size).toBe(12);
    expect(Object.fromEntries(counts(after))).toEqual({ a: 6, c: 6 });
    // Every partition b held now has a live owner.
    for (const [k, m] of before) if (m === 'b') expect(['a', 'c']).toContain(after.get(k));
  });

  it('wants no owner when no member is live', () => {
    expect(assign([], 12).size).toBe(0);
  });

  it('gives every partition to the only member', () => {
    expect(new Set(assign(['solo'], 7).values())).toEqual(new Set(['solo']));
  });

  it('leaves members beyond N without a partition', () => {
    const owners = assign(ids(5), 3);
    expect(owners.size).toBe(3);
    expect(counts(owners).size).toBe(3);
  });
});
