// Work spread over turns of the event loop. The processor answers budget checks, serves the wall and takes events on
// one thread: a step that holds the loop for 50 ms is 50 ms that a check arriving then waits. Work that need not be
// one synchronous step runs here in slices of a few milliseconds, with a turn of the loop (setImmediate: sockets and
// timers run) between them. Work that a caller waits on (a budget batch) can ask the stream to wait for it.
import { systemClock, type Cancel, type SchedulingClock } from './clock.js';

/** How long one slice of background work may hold the event loop. */
export const SLICE_MS = 5;

/** Resolves on the next turn of the event loop, after the sockets have been read and the due timers have run. */
export const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * One slice of background work per turn of the event loop, whoever's it is. Each piece of sliced work (the derive
 * tick, the alert round, alert state written ahead, an insert's body) used to take its own setImmediate: with five of
 * them under way beside the stream's consumer, one turn's immediates held the loop for six slices, and a check that
 * arrived waited for all of them before its socket was read. Here the waiting work is granted its slices in turn,
 * first come first served, one each turn, so a turn holds the loop for the consumer's slice and one other at most.
 */
class BackgroundTurns {
  private readonly waiting: (() => void)[] = [];
  private armed = false;

  /** Resolves in a later turn of the loop, when every piece of work that asked before has had its slice. */
  next(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.waiting.push(resolve);
      this.arm();
    });
  }

  private arm(): void {
    if (this.armed || this.waiting.length === 0) return;
    this.armed = true;
    // An immediate set from an immediate runs at the next turn: one grant per turn, after the sockets were read.
    setImmediate(this.grant);
  }

  private readonly grant = (): void => {
    this.armed = false;
    const next = this.waiting.shift();
    this.arm();
    next?.();
  };
}

const turns = new BackgroundTurns();

/**
 * The next turn of the event loop for background work: its slice in turn with the other background work (one slice
 * per turn in all), and after it, while work that callers wait on has precedence (a budget batch, see Precedence),
 * until that ends.
 */
export async function backgroundTurn(precedence: Precedence = answersFirst): Promise<void> {
  await turns.next();
  await precedenceEnds(precedence);
}

/**
 * The next turn of the event loop for the stream's consumer, which keeps a slice of its own every turn beside the one
 * of background work (the derive tick and the rest follow from what it takes in), and waits like it while work that
 * callers wait on has precedence.
 */
export async function streamTurn(precedence: Precedence = answersFirst): Promise<void> {
  await nextTurn();
  await precedenceEnds(precedence);
}

async function precedenceEnds(precedence: Precedence): Promise<void> {
  const waiting = precedence.wait();
  if (waiting) await waiting;
}

/** True while the slice begun at `started` (performance.now()) has time left. */
export const sliceBudget = (sliceMs = SLICE_MS): (() => boolean) => {
  const started = performance.now();
  return () => performance.now() - started < sliceMs;
};

/**
 * Runs `step` once per turn of the event loop until it reports done. Each call gets the slice's budget (true while
 * it has time left) and does at least one unit of work, then returns true when nothing is left. `stopped` ends the
 * loop early, between slices. Between slices it lets work that callers wait on go first (backgroundTurn).
 */
export async function inSlices(step: (more: () => boolean) => boolean, sliceMs = SLICE_MS, stopped: () => boolean = () => false, precedence?: Precedence): Promise<void> {
  while (!stopped() && !step(sliceBudget(sliceMs))) await backgroundTurn(precedence);
}

/**
 * `step`'s first slice now, in the caller's stretch; null when that did it all (no turn of the loop follows), else
 * the rest in slices after a background turn, as inSlices runs them.
 */
export function slicesFromNow(step: (more: () => boolean) => boolean, sliceMs = SLICE_MS): Promise<void> | null {
  if (step(sliceBudget(sliceMs))) return null;
  return backgroundTurn().then(() => inSlices(step, sliceMs));
}

/**
 * The items of `items` as an async iterable that lets the loop turn whenever producing and consuming them has held it
 * for `sliceMs`. For a request body encoded as it is read: Readable.from over a plain iterator pulls it whole in one
 * synchronous stretch while the socket takes every write. The first item too is produced in a background slice of
 * its own, not in the caller's stretch (a commit's, in a timer callback beside the tick).
 */
export async function* paced<T>(items: Iterable<T>, sliceMs = SLICE_MS): AsyncGenerator<T> {
  await backgroundTurn();
  let more = sliceBudget(sliceMs);
  for (const item of items) {
    yield item;
    if (!more()) {
      await backgroundTurn();
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

/**
 * How long work that a caller waits on may keep the stream's consumer and the background work waiting, from its
 * start: a 10,000-id budget batch takes 40-100 ms of decisions on a loaded 2-core machine.
 */
export const PRECEDENCE_MS = 150;

/**
 * Work that someone waits on goes before the stream and the background work. A budget batch is tens of milliseconds
 * of decisions in slices; between its slices the consumer would take a slice of events each turn, the derive tick and
 * the alert round theirs, and the batch would finish only after many of them. While a holder is under way, they wait
 * at their next turn (wait(), backgroundTurn()) until every holder has released or has had `maxMs` since it began,
 * then take at least one slice before they look again: a sender that asks without pause slows them, and never stops
 * them. Single checks, the wall and the first slice of each timer's work still run between the holder's slices.
 */
export class Precedence {
  private readonly held = new Set<{ until: number }>();
  private waiters: (() => void)[] = [];
  private timer: Cancel | null = null;

  constructor(
    private readonly maxMs = PRECEDENCE_MS,
    private readonly clock: SchedulingClock = systemClock,
  ) {}

  /** Work begins that a caller waits on; the returned release ends its precedence (calling it twice does nothing). */
  hold(): () => void {
    const h = { until: this.clock.now() + this.maxMs };
    this.held.add(h);
    return () => {
      if (this.held.delete(h)) this.settle();
    };
  }

  /** True while some holder has precedence now. */
  get busy(): boolean {
    return this.deadline() !== null;
  }

  /**
   * Resolves once no holder has precedence (every one released or past its maxMs); null, at no cost, when none has
   * it now: the consumer asks at every turn.
   */
  wait(): Promise<void> | null {
    if (this.deadline() === null) return null;
    const p = new Promise<void>((resolve) => this.waiters.push(resolve));
    this.settle();
    return p;
  }

  /** The last moment a holder has precedence until, counting only those still within it; null when none is. */
  private deadline(): number | null {
    const now = this.clock.now();
    let last: number | null = null;
    for (const h of this.held) {
      if (h.until <= now) this.held.delete(h);
      else if (last === null || h.until > last) last = h.until;
    }
    return last;
  }

  /** Wakes the waiters when no holder has precedence, else sets the timer for when the last one's runs out. */
  private settle(): void {
    this.timer?.();
    this.timer = null;
    if (this.waiters.length === 0) return;
    const until = this.deadline();
    if (until !== null) {
      this.timer = this.clock.schedule(() => this.settle(), until - this.clock.now());
      return;
    }
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/** The process's one event loop: budget batches hold it; the stream's consumers and the background work wait on it. */
export const answersFirst = new Precedence();
