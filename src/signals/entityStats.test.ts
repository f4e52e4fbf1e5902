// addCounts is record() in bulk: the cluster folds other partitions' minute buckets with it, and a combined view must
// read exactly as if one processor had recorded every event itself.
import { describe, expect, it } from 'vitest';
import { EntityStats, type EntityCounts, type EntityKind } from './entityStats.js';

const opts = { minVolume: 5, baselineHalfLifeMs: 30 * 60_000, bucketMs: 60_000 };
const t0 = 28_000_000; // a minute index (2023)

/** A deterministic stream of per-minute counts: quiet minutes, busy ones, and a burst of negatives late on. */
function minutes(): { kind: EntityKind; key: string; tMin: number; counts: EntityCounts }[] {
  let seed = 7;
  // xorshift32: deterministic, and exact in 32-bit integer arithmetic.
  const rand = (n: number) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const out: { kind: EntityKind; key: string; tMin: number; counts: EntityCounts }[] = [];
  for (let m = 0; m < 90; m++) {
    for (const [kind, key] of [['campaign', 'spring'], ['channel', 'email'], ['segment', 'vip']] as const) {
      if (rand(4) === 0) continue;
      const touches = rand(6);
      const negatives = m > 80 ? 10 + rand(10) : rand(3);
      const overloaded = Math.min(touches, rand(2));
      out.push({ kind, key, tMin: t0 + m, counts: { events: touches + negatives + rand(5), touches, negatives, overloaded } });
    }
  }
  // A late minute, behind every head: both forms must treat it alike.
  out.push({ kind: 'campaign', key: 'spring', tMin: t0 + 85, counts: { events: 4, touches: 2, negatives: 2, overloaded: 1 } });
  return out;
}

/** The same counts as single events, the way the pipeline records them. */
function recordOneByOne(s: EntityStats, kind: EntityKind, key: string, tMin: number, c: EntityCounts): void {
  let { touches, negatives, overloaded } = c;
  for (let i = 0; i < c.events; i++) {
    const touch = touches > 0;
    const negative = !touch && negatives > 0;
    const over = touch && overloaded > 0;
    if (touch) touches--;
    if (negative) negatives--;
    if (over) overloaded--;
    s.record(kind, key, tMin, { touch, negative, overloaded: over });
  }
}

describe('entity stats in bulk', () => {
  it('reads the same, field for field, whether N events are recorded one by one or added as one count of N', () => {
    const single = new EntityStats(opts);
    const batched = new EntityStats(opts);
    for (const { kind, key, tMin, counts } of minutes()) {
      recordOneByOne(single, kind, key, tMin, counts);
      batched.addCounts(kind, key, tMin, counts);
    }
    for (const now of [t0 + 30, t0 + 89, t0 + 95, t0 + 600, t0 + 1500]) {
      const expected = single.all(now);
      expect(batched.all(now)).toEqual(expected);
      expect(batched.overloadCells(now)).toEqual(single.overloadCells(now));
    }
    // The burst is a real surge, so the comparison above covered a warm baseline and a non-zero z.
    expect(single.signal('campaign', 'spring', t0 + 89)!.surgeZ).toBeGreaterThan(2);
  });
});
