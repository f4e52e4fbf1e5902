import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock.js';
import { inSlices, nextTurn, paced, Precedence, SlicedWork, slicesFromNow } from './slices.js';
import { turnsDuring } from './slices.testing.js';

describe('slices', () => {
  it('runs a step per turn of the loop until it reports done, other work running between the slices', async () => {
    let left = 4;
    let slices = 0;
    const turns = await turnsDuring(() =>
      inSlices(() => {
        slices++;
        return --left === 0;
      }),
    );
    expect(slices).toBe(4);
    // Four slices, a turn after each of the first three: the re-arming immediate ran between them.
    expect(turns).toBeGreaterThanOrEqual(3);
  });

  it('runs the first slice in the caller\'s stretch: null when it did all, else the rest after turns of the loop', async () => {
    let slices = 0;
    expect(slicesFromNow(() => ++slices > 0)).toBeNull();
    expect(slices).toBe(1);
    let left = 3;
    const rest = slicesFromNow(() => --left === 0);
    // The first slice has run before the caller goes on; the other two wait for turns of the loop.
    expect(left).toBe(2);
    expect(rest).not.toBeNull();
    const turns = await turnsDuring(() => rest!);
    expect(left).toBe(0);
    expect(turns).toBeGreaterThanOrEqual(1);
  });

  it('hands each slice a budget that runs out after its time, and stops between slices when told', async () => {
    let slices = 0;
    let stop = false;
    await inSlices(
      (more) => {
        slices++;
        // A budget of 0 ms is spent at once.
        expect(more()).toBe(false);
        if (slices === 3) stop = true;
        return false;
      },
      0,
      () => stop,
    );
    expect(slices).toBe(3);
    let generous = false;
    await inSlices((more) => (generous = more()), 60_000);
    expect(generous).toBe(true);
  });

  it('paces an iterable: every item in order, with turns of the loop between items once a slice is spent', async () => {
    const items = Array.from({ length: 50 }, (_, i) => i);
    const seen: number[] = [];
    const turns = await turnsDuring(async () => {
      for await (const i of paced(items, 0)) seen.push(i);
    });
    expect(seen).toEqual(items);
    expect(turns).toBeGreaterThanOrEqual(49);
    // With time left in the slice the items come without a turn between them.
    const quick: number[] = [];
    const fewTurns = await turnsDuring(async () => {
      for await (const i of paced(items, 60_000)) quick.push(i);
    });
    expect(quick).toEqual(items);
    expect(fewTurns).toBeLessThan(5);
    // Not even the first item is produced in the caller's stretch.
    let pulled = false;
    function* lazy() {
      pulled = true;
      yield 1;
    }
    const first = paced(lazy(), 60_000).next();
    expect(pulled).toBe(false);
    expect(await first).toEqual({ value: 1, done: false });
    expect(pulled).toBe(true);
  });

  it('nextTurn resolves after an immediate queued before it', async () => {
    const order: string[] = [];
    setImmediate(() => order.push('immediate'));
    await nextTurn();
    order.push('after');
    expect(order).toEqual(['immediate', 'after']);
  });

  it('SlicedWork: the first slice in the call, the rest after turns, one run at a time, errors reported', async () => {
    const errors: unknown[] = [];
    const work = new SlicedWork((err) => errors.push(err), 0);
    // Done in its first slice: nothing is left running, so the next run starts at once.
    let quick = 0;
    work.run(() => () => ++quick > 0);
    work.run(() => () => ++quick > 0);
    expect(quick).toBe(2);
    // Three slices: the first here, the others after turns; a run meanwhile is not started.
    let slices = 0;
    let started = 0;
    const turns = await turnsDuring(async () => {
      work.run(() => (started++, () => ++slices === 3));
      expect(slices).toBe(1);
      work.run(() => (started++, () => true));
      await work.stop(true);
    });
    expect([slices, started]).toEqual([3, 1]);
    expect(turns).toBeGreaterThanOrEqual(2);
    // Stopped: nothing more runs.
    work.run(() => () => expect.unreachable());
    const failing = new SlicedWork((err) => errors.push(err), 0);
    failing.run(() => () => {
      throw new Error('first');
    });
    let n = 0;
    failing.run(() => () => {
      if (++n === 2) throw new Error('later');
      return false;
    });
    await turnsDuring(() => failing.stop(true));
    expect(errors.map((e) => (e as Error).message)).toEqual(['first', 'later']);
  });

  it('SlicedWork.stop() without finish ends the run between two slices', async () => {
    const work = new SlicedWork(() => undefined, 0);
    let slices = 0;
    work.run(() => () => (++slices, false));
    await work.stop();
    expect(slices).toBe(1);
  });
});

describe('background turns', () => {
  it('runs one slice of background work per turn of the loop, the waiting pieces of work in turn', async () => {
    let turn = 0;
    const log: { name: string; turn: number }[] = [];
    const task = (name: string) => {
      let n = 0;
      return inSlices(() => {
        log.push({ name, turn });
        return ++n === 3;
      }, 0);
    };
    await turnsDuring(() => Promise.all([task('a'), task('b')]), (t) => (turn = t));
    // The first slices run at once; each later one in a turn of its own, a and b taking turns.
    const later = log.slice(2);
    expect(later.map((s) => s.name)).toEqual(['a', 'b', 'a', 'b']);
    expect(new Set(later.map((s) => s.turn)).size).toBe(later.length);
  });
});

describe('Precedence', () => {
  /** Whether `p` has resolved once the promise chains have run. */
  const resolved = async (p: Promise<void> | null) => {
    let done = p === null;
    void p?.then(() => (done = true));
    await nextTurn();
    return done;
  };

  it('costs nothing while nobody holds it, and waits for every holder to release', async () => {
    const clock = new ManualClock(0);
    const p = new Precedence(50, clock);
    expect(p.wait()).toBeNull();
    const a = p.hold();
    const b = p.hold();
    expect(p.busy).toBe(true);
    const waiting = p.wait();
    a();
    a();
    expect(await resolved(waiting)).toBe(false);
    b();
    expect(await resolved(waiting)).toBe(true);
    expect(p.busy).toBe(false);
    expect(clock.pending()).toBe(0);
  });

  it('gives each holder its 50 ms from when it began, and a waiter goes on when the last of them is up', async () => {
    const clock = new ManualClock(0);
    const p = new Precedence(50, clock);
    const first = p.hold();
    clock.advance(30);
    const second = p.hold();
    const waiting = p.wait();
    clock.advance(20);
    // The first one's precedence is up; the second has 30 ms left.
    expect(await resolved(waiting)).toBe(false);
    clock.advance(29);
    expect(await resolved(waiting)).toBe(false);
    clock.advance(1);
    expect(await resolved(waiting)).toBe(true);
    // Released after their precedence ran out: nothing is woken or set again.
    first();
    second();
    expect(p.wait()).toBeNull();
    expect(clock.pending()).toBe(0);
  });

  it('work in slices waits between its slices while work that callers wait on holds precedence', async () => {
    const clock = new ManualClock(0);
    const p = new Precedence(50, clock);
    const release = p.hold();
    let steps = 0;
    // One unit a slice, three in all.
    const done = inSlices(() => ++steps === 3, 0, undefined, p);
    await nextTurn();
    await nextTurn();
    expect(steps).toBe(1);
    release();
    await done;
    expect(steps).toBe(3);
  });
});
