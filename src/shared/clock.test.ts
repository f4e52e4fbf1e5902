import { describe, expect, it } from 'vitest';
import { backgroundClock, every, isSchedulingClock, ManualClock, sleep, systemClock } from './clock.js';

describe('ManualClock', () => {
  it('runs scheduled callbacks only when advanced past their time, each at its own time, in order', () => {
    const clock = new ManualClock(100);
    const ran: [string, number][] = [];
    clock.schedule(() => ran.push(['b', clock.now()]), 20);
    clock.schedule(() => ran.push(['a', clock.now()]), 10);
    clock.schedule(() => ran.push(['now', clock.now()]), 0);
    const cancel = clock.schedule(() => ran.push(['cancelled', clock.now()]), 15);
    expect(ran).toEqual([]);
    cancel();
    clock.advance(0);
    expect(ran).toEqual([['now', 100]]);
    clock.advance(15);
    expect(ran).toEqual([
      ['now', 100],
      ['a', 110],
    ]);
    expect(clock.now()).toBe(115);
    clock.advance(100);
    expect(ran.at(-1)).toEqual(['b', 120]);
    expect(clock.pending()).toBe(0);
  });

  it('runs a callback that a callback schedules within the same advance, if it falls due', () => {
    const clock = new ManualClock(0);
    const ran: number[] = [];
    clock.schedule(() => {
      ran.push(clock.now());
      clock.schedule(() => ran.push(clock.now()), 10);
    }, 10);
    clock.advance(25);
    expect(ran).toEqual([10, 20]);
  });

  it('runs nothing on set, which is a jump', () => {
    const clock = new ManualClock(0);
    let ran = false;
    clock.schedule(() => (ran = true), 10);
    clock.set(50);
    expect(ran).toBe(false);
    clock.advance(0);
    expect(ran).toBe(true);
  });
});

describe('systemClock', () => {
  it('schedules a 0 delay on the next turn of the loop, as setImmediate does: before an immediate queued after it', async () => {
    const order: string[] = [];
    await new Promise<void>((resolve) => {
      systemClock.schedule(() => order.push('scheduled'), 0);
      setImmediate(() => {
        order.push('immediate');
        resolve();
      });
      order.push('sync');
    });
    expect(order).toEqual(['sync', 'scheduled', 'immediate']);
  });

  it('cancels a callback before it runs', async () => {
    let cancelledRan = false;
    systemClock.schedule(() => (cancelledRan = true), 0)();
    systemClock.schedule(() => (cancelledRan = true), 1)();
    await new Promise<void>((resolve) => systemClock.schedule(resolve, 5));
    expect(cancelledRan).toBe(false);
  });

  it('is a scheduling clock; a bare { now } is not', () => {
    expect(isSchedulingClock(systemClock)).toBe(true);
    expect(isSchedulingClock(new ManualClock())).toBe(true);
    expect(isSchedulingClock({ now: () => 0 })).toBe(false);
  });
});

describe('every', () => {
  it('runs each interval until cancelled, and goes on after a run that throws', () => {
    const clock = new ManualClock(0);
    const ran: number[] = [];
    const cancel = every(clock, 100, () => {
      ran.push(clock.now());
      if (ran.length === 2) throw new Error('a bad tick');
    });
    clock.advance(99);
    expect(ran).toEqual([]);
    expect(() => clock.advance(101)).toThrow('a bad tick');
    clock.advance(100);
    expect(ran).toEqual([100, 200, 300]);
    cancel();
    clock.advance(1_000);
    expect(ran).toEqual([100, 200, 300]);
    expect(clock.pending()).toBe(0);
  });
});

describe('sleep', () => {
  it('resolves when the manual clock passes its time, not before', async () => {
    const clock = new ManualClock(0);
    let done = false;
    const slept = sleep(clock, 50).then(() => (done = true));
    clock.advance(49);
    await Promise.resolve();
    expect(done).toBe(false);
    clock.advance(1);
    await slept;
    expect(done).toBe(true);
  });
});

describe('backgroundClock', () => {
  it('runs its callbacks as the system clock does, and can cancel them', async () => {
    const ran: string[] = [];
    const cancel = backgroundClock.schedule(() => ran.push('cancelled'), 1);
    cancel();
    await new Promise<void>((r) => backgroundClock.schedule(() => (ran.push('ran'), r()), 1));
    expect(ran).toEqual(['ran']);
  });
});
