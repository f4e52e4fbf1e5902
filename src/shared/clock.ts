// An injectable clock: windows, for-durations and intervals read time through it, and timers are set through it, so
// tests never sleep.

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/** Cancels a scheduled callback; calling it after the callback ran, or twice, does nothing. */
export type Cancel = () => void;

export interface Scheduler {
  /** Calls `fn` once, `delayMs` from now; 0 (or less) means the next turn of the event loop. */
  schedule(fn: () => void, delayMs: number): Cancel;
}

/**
 * Calls `fn` every `intervalMs` until cancelled. The next call is set before each run, so a run that throws does not
 * end the series, and runs never pile up behind a slow one.
 */
export function every(scheduler: Scheduler, intervalMs: number, fn: () => void): Cancel {
  let stopped = false;
  let cancel: Cancel;
  const run = () => {
    if (stopped) return;
    cancel = scheduler.schedule(run, intervalMs);
    fn();
  };
  cancel = scheduler.schedule(run, intervalMs);
  return () => {
    stopped = true;
    cancel();
  };
}

/** One clock for code that both reads the time and waits: `now` and `schedule` always agree. */
export interface SchedulingClock extends Clock, Scheduler {}

/** Whether a clock also sets timers (a bare `{ now }` does not). */
export function isSchedulingClock(clock: Clock): clock is SchedulingClock {
  return typeof (clock as Partial<SchedulingClock>).schedule === 'function';
}

/** The process's clock; `unref`: its timers do not keep the process alive (background refreshes). */
function nodeClock(unref: boolean): SchedulingClock {
  return {
    now: () => Date.now(),
    schedule(fn, delayMs) {
      // 0 is setImmediate, not setTimeout(0): the next turn of the loop (its check phase, right after pending I/O),
      // without setTimeout's 1 ms floor.
      if (delayMs <= 0) {
        const immediate = setImmediate(fn);
        if (unref) immediate.unref();
        return () => clearImmediate(immediate);
      }
      const timer = setTimeout(fn, delayMs);
      if (unref) timer.unref();
      return () => clearTimeout(timer);
    },
  };
}

export const systemClock: SchedulingClock = nodeClock(false);

/** The system clock for work that must not hold the process open on its own (a refresh, a heartbeat). */
export const backgroundClock: SchedulingClock = nodeClock(true);

/**
 * The system clock moved by an offset that lives in shared memory, so that a worker thread handed `cell` (the
 * contact budget's thread: budgetThread.ts) reads exactly the time the thread that moves it reads. Tests run a
 * processor hours ahead with it; `set` moves both threads at once.
 */
export class OffsetClock implements Clock {
  /** The offset in ms, one 64-bit word on a SharedArrayBuffer (Atomics: never read half-written). */
  readonly cell: BigInt64Array;

  constructor(offsetMs = 0, cell: BigInt64Array = new BigInt64Array(new SharedArrayBuffer(8))) {
    this.cell = cell;
    if (offsetMs !== 0) this.set(offsetMs);
  }
  now(): number {
    return Date.now() + Number(Atomics.load(this.cell, 0));
  }
  get offsetMs(): number {
    return Number(Atomics.load(this.cell, 0));
  }
  set(offsetMs: number): void {
    Atomics.store(this.cell, 0, BigInt(Math.trunc(offsetMs)));
  }
}

/**
 * The offset cell another thread can read this clock's time from: a fresh zero one for the system clock, an
 * OffsetClock's own; null for any other clock (a manual one does not move by itself, and no thread could follow it).
 */
export function sharedOffsetOf(clock: Clock): BigInt64Array | null {
  if (clock instanceof OffsetClock) return clock.cell;
  if (clock === systemClock || clock === backgroundClock) return new OffsetClock().cell;
  return null;
}

/** Resolves `ms` from now on the scheduler's time (on the manual clock, when `advance` passes it). */
export function sleep(scheduler: Scheduler, ms: number): Promise<void> {
  return new Promise((resolve) => scheduler.schedule(resolve, ms));
}

/** A clock that only moves when told to; for unit tests. Callbacks scheduled on it run when `advance` passes their time. */
export class ManualClock implements SchedulingClock {
  private timers: { at: number; seq: number; fn: () => void }[] = [];
  private seq = 0;

  constructor(private t = 0) {}
  now(): number {
    return this.t;
  }
  /** Sets the time without running any callback (a jump, as a wall clock may make). */
  set(t: number): void {
    this.t = t;
  }
  /** Moves time forward by `ms`, running each due callback at its own time, in order (0-delay ones included). */
  advance(ms: number): void {
    const until = this.t + Math.max(0, ms);
    for (;;) {
      const due = this.timers.filter((timer) => timer.at <= until).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.timers = this.timers.filter((timer) => timer !== due);
      if (due.at > this.t) this.t = due.at;
      due.fn();
    }
    this.t = until;
  }
  schedule(fn: () => void, delayMs: number): Cancel {
    const timer = { at: this.t + Math.max(0, delayMs), seq: this.seq++, fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }
  /** Callbacks scheduled and not yet run. */
  pending(): number {
    return this.timers.length;
  }
}

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;
