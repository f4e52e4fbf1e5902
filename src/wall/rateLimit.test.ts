import { describe, expect, it } from 'vitest';
import { ManualClock } from '../shared/clock.js';
import { TokenBucket } from './rateLimit.js';

describe('TokenBucket', () => {
  it('allows a burst, then the rate', () => {
    const clock = new ManualClock(1_000);
    const bucket = new TokenBucket(10, 5, clock.now());
    const burst = Array.from({ length: 8 }, () => bucket.take(clock.now()));
    expect(burst).toEqual([true, true, true, true, true, false, false, false]);
    clock.advance(100);
    expect(bucket.take(clock.now())).toBe(true);
    expect(bucket.take(clock.now())).toBe(false);
    // A long quiet spell refills only up to the burst.
    clock.advance(60_000);
    expect(Array.from({ length: 7 }, () => bucket.take(clock.now())).filter(Boolean)).toHaveLength(5);
  });

  it('ignores a clock that goes backwards', () => {
    const clock = new ManualClock(5_000);
    const bucket = new TokenBucket(1, 1, clock.now());
    expect(bucket.take(clock.now())).toBe(true);
    clock.set(0);
    expect(bucket.take(clock.now())).toBe(false);
  });
});
