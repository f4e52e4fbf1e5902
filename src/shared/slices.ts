// Work spread over turns of the event loop. The processor answers budget checks, serves the wall and takes events on
// one thread: a step that holds the loop for 50 ms is 50 ms that a check arriving then waits. Work that need not be
// one synchronous step runs here in slices of a few milliseconds, with a turn of the loop (setImmediate: sockets and
// timers run) between them.

/** How long one slice of background work may hold the event loop. */
export const SLICE_MS = 5;

/** Resolves on the next turn of the event loop, after the sockets have been read and the due timers have run. */
export const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** True while the slice begun at `started` (performance.now()) has time left. */
export const sliceBudget = (sliceMs = SLICE_MS): (() => boolean) => {
  const started = performance.now();
  return () => performance.now() - started < sliceMs;
};

/**
 * Runs `step` once per turn of the event loop until it reports done. Each call gets the slice's budget (true while
 * it has time left) and does at least one unit of work, then returns true when nothing is left. `stopped` ends the
 * loop early, between slices.
 */
export async function inSlices(step: (more: () => boolean) => boolean, sliceMs = SLICE_MS, stopped: () => boolean = () => false): Promise<void> {
  while (!stopped() && !step(sliceBudget(sliceMs))) await nextTurn();
}

/**
 * The items of `items` as an async iterable that lets the loop turn whenever producing and consuming them has held it
 * for `sliceMs`. For a request body encoded as it is read: Readable.from over a plain iterator pulls it whole in one
 * synchronous stretch while the socket takes every write.
 */
export async function* paced<T>(items: Iterable<T>, sliceMs = SLICE_MS): AsyncGenerator<T> {
  let more = sliceBudget(sliceMs);
  for (const item of items) {
    yield item;
    if (!more()) {
      await nextTurn();
      more = sliceBudget(sliceMs);
    }
  }
}

/**
 * Work a timer starts, one run at a time: run() does the first slice in the timer's own callback and, only when work
 * is left, goes on in slices after a turn of the loop; a run() while one is under way does nothing (the one under way
 * reads the latest state as it goes). An error is handed to `onError` and ends that run.
 */
export class SlicedWork {
  private running: Promise<void> | null = null;
  private stopped = false;
  private halted = false;

  constructor(
    private readonly onError: (err: unknown) => void,
    private readonly sliceMs = SLICE_MS,
  ) {}

  /** `start` makes the run's step (called only when no run is under way). */
  run(start: () => (more: () => boolean) => boolean): void {
    if (this.running !== null || this.stopped) return;
    let step: (more: () => boolean) => boolean;
    try {
      step = start();
      if (step(sliceBudget(this.sliceMs))) return;
    } catch (err) {
      return this.onError(err);
    }
    this.running = nextTurn()
      .then(() => inSlices(step, this.sliceMs, () => this.halted))
      .catch(this.onError)
      .finally(() => (this.running = null));
  }

  /** No run starts from here; the one under way ends between two slices, or with `finish` goes on to its end. */
  async stop(finish = false): Promise<void> {
    this.stopped = true;
    this.halted = !finish;
    await this.running;
  }
}
