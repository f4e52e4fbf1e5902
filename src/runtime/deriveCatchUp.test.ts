import { describe, expect, it } from 'vitest';
import { catchUpThen, deriveCatchUp, type Deriving } from './deriveCatchUp.js';

/** A pipeline with `backlog` customers marked; each derive call takes at least one, then goes on while `more()`. */
class FakePipeline implements Deriving {
  calls = 0;
  /** Marked anew by every derive call: a stream that outruns the derive. */
  constructor(
    public deriveBacklog: number,
    private readonly inflow = 0,
  ) {}

  derive(_now?: number, more?: () => boolean): number {
    this.calls++;
    let n = 0;
    do {
      if (this.deriveBacklog === 0) break;
      this.deriveBacklog--;
      n++;
    } while (more === undefined || more());
    this.deriveBacklog += this.inflow;
    return n;
  }
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('deriveCatchUp', () => {
  it('is null, with nothing derived, when the step may take the remainder in its own stretch', () => {
    const p = new FakePipeline(3);
    expect(deriveCatchUp({ pipelines: () => [p], now: () => 0, syncMax: 3 })).toBeNull();
    expect(p.calls).toBe(0);
    expect(p.deriveBacklog).toBe(3);
  });

  it('derives a large remainder in slices, one in the caller, the rest after turns of the loop, down to syncMax', async () => {
    const a = new FakePipeline(4);
    const b = new FakePipeline(2);
    // A zero-length slice: one customer per pipeline and slice.
    const catching = deriveCatchUp({ pipelines: () => [a, b], now: () => 0, syncMax: 1, sliceMs: 0 });
    expect(catching).not.toBeNull();
    expect([a.deriveBacklog, b.deriveBacklog]).toEqual([3, 1]);
    await turn();
    // Events and checks run between slices: one slice at most per turn of the loop.
    expect(a.deriveBacklog).toBeGreaterThanOrEqual(2);
    await catching;
    // Stops once no more than syncMax is marked, in all pipelines together.
    expect(a.deriveBacklog + b.deriveBacklog).toBe(1);
  });

  it('is null when its first slice takes the remainder down to syncMax', () => {
    const p = new FakePipeline(10);
    expect(deriveCatchUp({ pipelines: () => [p], now: () => 0, syncMax: 2, sliceMs: 1_000 })).toBeNull();
    expect(p.deriveBacklog).toBe(0);
  });
});

describe('catchUpThen', () => {
  it('runs the step at once when little is marked, and after slices of derive when much is', () => {
    const ran: number[] = [];
    const small = new FakePipeline(2);
    expect(catchUpThen({ pipelines: () => [small], now: () => 0, syncMax: 2 }, () => ran.push(small.deriveBacklog))(() => false)).toBe(true);
    expect(ran).toEqual([2]);
    expect(small.calls).toBe(0);

    const large = new FakePipeline(3);
    const step = catchUpThen({ pipelines: () => [large], now: () => 0, syncMax: 1 }, () => ran.push(large.deriveBacklog));
    expect(step(() => false)).toBe(false);
    expect(ran).toEqual([2]);
    expect(step(() => false)).toBe(true);
    expect(ran).toEqual([2, 1]);
  });

  it('gives up waiting once its time is out, and the step derives the rest itself', () => {
    const ran: number[] = [];
    // Every derive marks two more than it takes: the catch-up would never end.
    const p = new FakePipeline(10, 2);
    const step = catchUpThen({ pipelines: () => [p], now: () => 0, syncMax: 1, limitMs: 0 }, () => ran.push(p.deriveBacklog));
    expect(step(() => false)).toBe(true);
    expect(ran).toEqual([10]);
    expect(p.calls).toBe(0);
  });
});
