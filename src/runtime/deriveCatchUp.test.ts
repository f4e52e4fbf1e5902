import { describe, expect, it } from 'vitest';
import { DirtySet, takenSince } from '../shared/dirtySet.js';
import { catchUpAround, catchUpThen, deriveCatchUp, payOwedAhead, type Deriving } from './deriveCatchUp.js';

/**
 * A pipeline over a real DirtySet: `mark` touches customers; each derive call takes one at least, then goes on while
 * `more()`, and the stream marks `inflow` new customers meanwhile (a stream that outruns the derive when above one).
 */
class FakePipeline implements Deriving {
  readonly marks = new DirtySet<number>();
  readonly derived: number[] = [];
  calls = 0;
  private next = 0;

  constructor(
    marked: number,
    private readonly inflow = 0,
  ) {
    this.mark(marked);
  }

  mark(n: number): void {
    for (let k = 0; k < n; k++) this.marks.add(this.next++, 0, 0);
  }

  get deriveBacklog(): number {
    return this.marks.size;
  }

  markedUntilNow(): () => boolean {
    return takenSince([this.marks]);
  }

  derive(_now?: number, more?: () => boolean): number {
    this.calls++;
    const n = this.marks.drain((slot) => this.derived.push(slot), more);
    this.mark(this.inflow);
    return n;
  }
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
/** A zero-length slice: one customer per pipeline and slice. */
const none = () => false;

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
  it('runs the step at once, to derive the rest itself, when little is marked', () => {
    const ran: [boolean, number][] = [];
    const p = new FakePipeline(2);
    expect(catchUpThen({ pipelines: () => [p], now: () => 0, syncMax: 2 }, (rest) => ran.push([rest, p.deriveBacklog]))(none)).toBe(true);
    expect(ran).toEqual([[true, 2]]);
    expect(p.calls).toBe(0);
  });

  it('derives what was marked when it was made, in slices, while more is marked meanwhile; then the step, which leaves the newer marks', () => {
    const ran: [boolean, number][] = [];
    const p = new FakePipeline(3, 2);
    const step = catchUpThen({ pipelines: () => [p], now: () => 0, syncMax: 1 }, (rest) => ran.push([rest, p.deriveBacklog]));
    // Each slice takes one and the stream marks two: the backlog grows, but the first three are derived in three.
    expect(step(none)).toBe(false);
    expect(step(none)).toBe(false);
    expect(ran).toEqual([]);
    expect(step(none)).toBe(true);
    expect(p.derived).toEqual([0, 1, 2]);
    // Six marked meanwhile: too many for the step's own stretch, so it is told to leave them.
    expect(ran).toEqual([[false, 6]]);
  });

  it('gives up waiting once its time is out; the step runs, told whether the rest is few enough to derive', () => {
    const ran: boolean[] = [];
    const p = new FakePipeline(10);
    expect(catchUpThen({ pipelines: () => [p], now: () => 0, syncMax: 1, limitMs: 0 }, (rest) => ran.push(rest))(none)).toBe(true);
    expect(ran).toEqual([false]);
    expect(p.calls).toBe(0);
  });
});

describe('catchUpAround', () => {
  it('is null when the derive has little to take and the rows fit the first slice', () => {
    const p = new FakePipeline(2);
    const rows: number[] = [];
    expect(catchUpAround({ pipelines: () => [p], now: () => 0, syncMax: 2 }, () => rows.push(p.deriveBacklog) > 0)).toBeNull();
    expect(rows).toEqual([2]);
    expect(p.calls).toBe(0);
  });

  it('derives before the rows, then what events marked while the rows were written in slices, down to syncMax', async () => {
    const p = new FakePipeline(5);
    const seen: number[] = [];
    // Three slices of rows; the stream marks four customers between each two (and the derive tick takes none).
    const rows = () => {
      seen.push(p.deriveBacklog);
      p.mark(4);
      return seen.length === 3;
    };
    const catching = catchUpAround({ pipelines: () => [p], now: () => 0, syncMax: 1, sliceMs: 0 }, rows);
    expect(catching).not.toBeNull();
    await catching;
    // The rows ran once the first remainder was down to syncMax; what they let in is derived before the step's stretch.
    expect(seen[0]).toBeLessThanOrEqual(1);
    expect(p.derived.length).toBeGreaterThanOrEqual(4 + 11);
    expect(p.deriveBacklog).toBeLessThanOrEqual(1);
  });

  it('derives what the rows let in even when the first derive had nothing to take', async () => {
    const p = new FakePipeline(0);
    let slices = 0;
    const catching = catchUpAround({ pipelines: () => [p], now: () => 0, syncMax: 1, sliceMs: 0 }, () => {
      p.mark(3);
      return ++slices === 2;
    });
    expect(catching).not.toBeNull();
    await catching;
    expect(p.derived).toHaveLength(5);
    expect(p.deriveBacklog).toBe(1);
  });
});

/**
 * Owed rows over `slots` slots: each payFrom (a slice) pays up to `perSlice` from `from` on, then the stream marks
 * `inflow` customers owed behind the scan (the derive tick, at the lowest slots not owed).
 */
class FakeOwed {
  readonly owed: boolean[];
  paid = 0;
  slices = 0;

  constructor(slots: number, initially: number, private readonly perSlice: number, private readonly inflow: number) {
    this.owed = Array.from({ length: slots }, (_, i) => i % Math.floor(slots / initially) === 0 && i / Math.floor(slots / initially) < initially);
  }

  get left(): number {
    return this.owed.filter(Boolean).length;
  }

  payFrom(from: number, _more: () => boolean): number {
    this.slices++;
    let paid = 0;
    let slot = from;
    for (; slot < this.owed.length && paid < this.perSlice; slot++) {
      if (!this.owed[slot]) continue;
      this.owed[slot] = false;
      this.paid++;
      paid++;
    }
    for (let k = 0, i = 0; k < this.inflow && i < this.owed.length; i++) {
      if (this.owed[i]) continue;
      this.owed[i] = true;
      k++;
    }
    return slot >= this.owed.length ? -1 : slot;
  }
}

/** payOwedAhead over `owed` (at most 3 passes, 8 rows for the checkpoint's stretch, zero-length slices); the passes taken. */
async function passesOver(owed: FakeOwed): Promise<number> {
  let catchUps = 0;
  await payOwedAhead(() => (catchUps++, null), owed, 3, 8, 0);
  return catchUps;
}

describe('payOwedAhead', () => {
  it('pays again while a pass paid more than the checkpoint may, so little is left for its own stretch', async () => {
    const owed = new FakeOwed(1_000, 100, 10, 1);
    const catchUps = await passesOver(owed);
    // 100 paid in the first pass (the stream marked ~10 behind it), ~10 in the second, a few in the third.
    expect(catchUps).toBe(3);
    expect(owed.left).toBeLessThanOrEqual(2);
  });

  it('stops after one pass that paid no more than the checkpoint may', async () => {
    const owed = new FakeOwed(1_000, 5, 10, 0);
    const catchUps = await passesOver(owed);
    expect(catchUps).toBe(1);
    expect(owed.left).toBe(0);
  });

  it('gives up after its passes when the stream marks customers owed as fast as they are paid', async () => {
    const owed = new FakeOwed(1_000, 100, 10, 10);
    const catchUps = await passesOver(owed);
    expect(catchUps).toBe(3);
    expect(owed.left).toBeGreaterThan(8);
  });
});
