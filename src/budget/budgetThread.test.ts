// The fence that keeps a check the budget's thread settled before it heard of an erasure from bringing the erased
// customer back on the main thread (budgetThread.ts): the order of messages on the two ports, played out by hand.
import { describe, expect, it } from 'vitest';
import { ErasureFence } from './budgetThread.js';

describe('ErasureFence', () => {
  it('leaves out a report settled before the thread applied the erasure, and keeps one settled after it', () => {
    const f = new ErasureFence();
    f.send(); // a touch: message 1
    f.send('ann'); // the erasure: message 2
    // Settled when the thread had applied only the touch: it had not heard of the erasure.
    expect(f.stale('ann', 1)).toBe(true);
    // Settled after it applied the erasure: a new check of a customer who came back.
    expect(f.stale('ann', 2)).toBe(false);
    // Other customers are untouched.
    expect(f.stale('bob', 0)).toBe(false);
  });

  it('forgets an erasure once the thread has applied it, and a second erasure of the same customer moves the fence', () => {
    const f = new ErasureFence();
    f.send('ann'); // 1
    f.send(); // 2
    f.applied(1);
    expect(f.pending).toBe(0);
    expect(f.stale('ann', 0)).toBe(false);
    f.send('ann'); // 3
    f.send('ann'); // 4
    expect(f.stale('ann', 3)).toBe(true);
    f.applied(3);
    expect(f.pending).toBe(1);
    f.applied(4);
    expect(f.pending).toBe(0);
  });

  it('starts again from nothing for a new thread', () => {
    const f = new ErasureFence();
    f.send('ann');
    f.reset();
    expect(f.pending).toBe(0);
    f.send('bob');
    expect(f.stale('bob', 0)).toBe(true);
    expect(f.stale('ann', 0)).toBe(false);
  });
});
