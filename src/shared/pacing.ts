// Background work that backs off while the process's event loop is busy. On a 2-core machine a refit's fitting
// threads cost the processor about a fifth of its throughput while they run, whatever their nice value (work on the
// second core at all slows the first: `npm run bench:refit`), so they work only a share of the time while the event
// loop is busy. The event loop's thread publishes "busy" into shared memory (watchEventLoop); a worker's long
// computation calls its pacer after each step, which then sleeps so that the worker works `duty` of the time.

/** What a worker thread needs to pace itself: the flag its starter keeps, and the share of time to work while it is up. */
export interface PaceShare {
  /** Int32 at 0: 1 while the event loop that started the work is busy. */
  flag: SharedArrayBuffer;
  /** Share of the time to work while the flag is up (0 < duty ≤ 1; 1 never sleeps). */
  duty: number;
}

/** The utilisation above which the event loop counts as busy, and how often it is read. */
export const BUSY_UTILIZATION = 0.5;
export const WATCH_INTERVAL_MS = 200;

/**
 * Keeps a shared flag up while this thread's event loop was busy (utilisation above BUSY_UTILIZATION) over the last
 * WATCH_INTERVAL_MS. The timer is unref'd: it never keeps the process alive.
 */
export function watchEventLoop(): { flag: SharedArrayBuffer; stop: () => void } {
  const flag = new SharedArrayBuffer(4);
  const view = new Int32Array(flag);
  let last = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    Atomics.store(view, 0, busyFrom(performance.eventLoopUtilization(now, last).utilization));
    last = now;
  }, WATCH_INTERVAL_MS);
  timer.unref();
  return { flag, stop: () => clearInterval(timer) };
}

/** 1 when an event loop this busy should make background work back off. */
export function busyFrom(utilization: number): 0 | 1 {
  return utilization > BUSY_UTILIZATION ? 1 : 0;
}

/** Blocks this thread for ms (a worker's; the event loop's thread must never call it). */
export function sleepSync(ms: number): void {
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * After a step that took workedMs: while the flag is up, sleeps workedMs · (1 − duty) / duty, so the thread works
 * `duty` of the time; otherwise returns at once. Without a share it never sleeps.
 */
export function pacer(share: PaceShare | undefined, sleep: (ms: number) => void = sleepSync): (workedMs: number) => void {
  if (!share || !(share.duty > 0) || share.duty >= 1) return () => undefined;
  const view = new Int32Array(share.flag);
  const factor = (1 - share.duty) / share.duty;
  return (workedMs) => {
    if (Atomics.load(view, 0) === 1) sleep(workedMs * factor);
  };
}

/** How many steps of a long loop (rows parsed or built) run between two calls of its pace. */
export const STEPS_PER_PACE = 16_384;

/**
 * For a loop over a million rows in a worker: call the result once per step, and every `every` steps it hands pace
 * the milliseconds they took (a pacer's sleep not counted), so a read backs off as an optimiser's evaluations do.
 */
export function stepPacer(pace: ((workedMs: number) => void) | undefined, every = STEPS_PER_PACE, now: () => number = () => performance.now()): () => void {
  if (!pace) return () => undefined;
  let steps = 0;
  let since = now();
  return () => {
    if (++steps < every) return;
    steps = 0;
    pace(now() - since);
    since = now();
  };
}
