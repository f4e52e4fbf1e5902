import { describe, expect, it } from 'vitest';
import { busyFrom, pacer, sleepSync, stepPacer, watchEventLoop } from './pacing.js';

describe('pacer', () => {
  const share = (duty: number, busy: 0 | 1) => {
    const flag = new SharedArrayBuffer(4);
    new Int32Array(flag)[0] = busy;
    return { flag, duty };
  };

  it('while the flag is up, sleeps so that the thread works `duty` of the time', () => {
    const slept: number[] = [];
    const pace = pacer(share(0.25, 1), (ms) => slept.push(ms));
    pace(10);
    pace(2);
    // 10 ms of work at a quarter: 30 ms of sleep
    expect(slept).toEqual([30, 6]);
  });

  it('does not sleep while the flag is down, with duty 1, or without a share; it reads the flag at each step', () => {
    const slept: number[] = [];
    const s = share(0.5, 0);
    const pace = pacer(s, (ms) => slept.push(ms));
    pace(10);
    new Int32Array(s.flag)[0] = 1;
    pace(10);
    pacer(share(1, 1), (ms) => slept.push(ms))(10);
    pacer(undefined, (ms) => slept.push(ms))(10);
    expect(slept).toEqual([10]);
  });

});

describe('stepPacer', () => {
  it('hands the pace the time of every `every` steps, and nothing in between', () => {
    const worked: number[] = [];
    const step = stepPacer((ms) => worked.push(ms), 3);
    for (let i = 0; i < 7; i++) step();
    expect(worked).toHaveLength(2);
    for (const ms of worked) expect(ms).toBeGreaterThanOrEqual(0);
    for (let i = 0; i < 2; i++) step();
    expect(worked).toHaveLength(3);
  });

  it('times each slice from the end of the pace before it, so a sleep is not counted as work', () => {
    let t = 0;
    const worked: number[] = [];
    const step = stepPacer(
      (ms) => {
        worked.push(ms);
        t += 100; // the pace sleeps 100 ms
      },
      2,
      () => t,
    );
    t += 5;
    step();
    t += 7;
    step(); // 12 ms of work
    t += 3;
    step();
    t += 4;
    step(); // 7 ms of work after the 100 ms asleep
    expect(worked).toEqual([12, 7]);
  });

  it('without a pace, steps do nothing', () => {
    const step = stepPacer(undefined, 1);
    expect(() => step()).not.toThrow();
  });
});

describe('watchEventLoop', () => {
  it('counts more than half of the time busy as busy', () => {
    expect(busyFrom(0.51)).toBe(1);
    expect(busyFrom(0.5)).toBe(0);
    expect(busyFrom(0)).toBe(0);
  });

  it('raises the flag while the event loop is held, and lowers it once it is idle again', async () => {
    const watch = watchEventLoop();
    const flag = new Int32Array(watch.flag);
    try {
      // Hold the event loop for stretches, yielding only for the timer, until the watch sees it busy.
      for (let k = 0; k < 100 && Atomics.load(flag, 0) !== 1; k++) {
        sleepSync(150);
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(Atomics.load(flag, 0)).toBe(1);
      // Idle: waiting on timers only.
      for (let k = 0; k < 100 && Atomics.load(flag, 0) !== 0; k++) await new Promise((resolve) => setTimeout(resolve, 100));
      expect(Atomics.load(flag, 0)).toBe(0);
    } finally {
      watch.stop();
    }
  });
});
