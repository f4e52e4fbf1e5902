// How a consumer's messages reach the pipeline: from nats.js's callback, in the order they came, in slices.
//
// nats.js hands a consumer's messages either through an async iterator or to a callback. The iterator is an async
// generator (down-levelled, two promises, an await box and a queue entry per message, settled as microtasks): 10 %
// of the bytes the processor allocated in the backlog and ~3.5 % of its main thread (`npm run bench -- --profile`),
// ~1 µs of CPU per message (`node --import tsx bench/intakeCost.ts`: 3.83 against 2.77 µs through this intake). The
// callback is called synchronously while the client parses a socket read, one read (at most 64 KiB, ~200 events) per
// turn of the event loop.
//
// What the iterator loop did stays: a message is taken at once while the turn's slice (sliceMs) has time left, no
// work waited on has precedence (a budget batch) and the outputs have room; otherwise it is queued, and the queue is
// taken in slices after a turn of the loop (streamTurn: sockets and timers run first; precedence ends first) and once
// backpressure has let go. While anything is queued every new message joins the queue, so the order is the
// stream's. The queue holds what the client has already received: its bound is the server's (max_ack_pending and the
// pull's size), as the iterator's own queue was.
import type { JsMsg } from 'nats';
import { sleep, type Scheduler } from '../shared/clock.js';
import { answersFirst, nextTurn, sliceBudget, streamTurn, type Precedence } from '../shared/slices.js';

export interface IntakeOptions {
  /** Hands one message on; false when no more are wanted (the intake stops). */
  take(m: JsMsg): boolean;
  /** True while outputs are full: nothing is taken until it turns false. */
  backpressure(): boolean;
  /** How often backpressure is asked again while it holds. */
  recheckMs: number;
  clock: Scheduler;
  /** How long the intake may hold the event loop before it lets the loop turn (0: one message per turn). */
  sliceMs: number;
  /** Work that callers wait on and that goes first (the process's own when absent); null for none (a replay, which
   * catches up state that checks read, and does not wait for them). */
  precedence?: Precedence | null;
  /** A message's handling threw: the intake has stopped. */
  onError(err: unknown): void;
}

/** Taken messages at the queue's front past which it is compacted (when they are at least half of it). */
const COMPACT_AT = 1_024;

export class SlicedIntake {
  private queue: JsMsg[] = [];
  private head = 0;
  private draining = false;
  private inSlice = false;
  private sliceStart = 0;
  private stopped = false;
  private readonly precedence: Precedence | null;

  constructor(private readonly o: IntakeOptions) {
    this.precedence = o.precedence === undefined ? answersFirst : o.precedence;
  }

  /** nats.js's consume callback: takes `m` now or queues it behind what waits. */
  readonly push = (m: JsMsg): void => {
    if (this.stopped) return;
    if (this.draining) {
      this.queue.push(m);
      return;
    }
    if (this.o.backpressure()) return this.queueAndDrain(m);
    if (!this.inSlice) {
      if (this.precedence?.busy) return this.queueAndDrain(m);
      // The slice lasts until the loop turns (the check phase, after this read's messages).
      this.inSlice = true;
      this.sliceStart = performance.now();
      setImmediate(this.endSlice);
    } else if (performance.now() - this.sliceStart >= this.o.sliceMs) return this.queueAndDrain(m);
    this.takeOne(m);
  };

  /** Messages received and not yet taken. */
  get queued(): number {
    return this.queue.length - this.head;
  }

  /** Entries the queue's array holds, taken ones included until it is compacted (what the tests bound). */
  get retained(): number {
    return this.queue.length;
  }

  /** Takes nothing more; what is queued is dropped (not acknowledged, so delivered again after a restart). */
  stop(): void {
    this.stopped = true;
    this.queue = [];
    this.head = 0;
  }

  private readonly endSlice = (): void => {
    this.inSlice = false;
  };

  private takeOne(m: JsMsg): boolean {
    try {
      if (this.o.take(m)) return true;
      this.stop();
    } catch (err) {
      this.stop();
      this.o.onError(err);
    }
    return false;
  }

  private queueAndDrain(m: JsMsg): void {
    this.queue.push(m);
    this.startDrain();
  }

  private startDrain(): void {
    this.draining = true;
    this.drain().catch((err: unknown) => {
      this.draining = false;
      this.stop();
      this.o.onError(err);
    });
  }

  /**
   * The queue in slices, a turn of the loop before each, while backpressure lets go; ends once it is empty.
   * `draining` falls in the same synchronous step as the queue is found empty (not a microtask later, when a message
   * of the next socket read may already have come and been queued behind a drain that is over).
   */
  private async drain(): Promise<void> {
    for (;;) {
      while (this.o.backpressure() && !this.stopped) await sleep(this.o.clock, this.o.recheckMs);
      if (this.stopped) return this.drained();
      await (this.precedence ? streamTurn(this.precedence) : nextTurn());
      const more = sliceBudget(this.o.sliceMs);
      while (this.head < this.queue.length && !this.stopped && !this.o.backpressure()) {
        if (!this.takeOne(this.queue[this.head++]) || !more()) break;
      }
      if (this.stopped) return this.drained();
      if (this.head === this.queue.length) {
        // Empty: messages are taken as they come again.
        this.queue = [];
        this.head = 0;
        return this.drained();
      }
      // A backlog may keep the queue from emptying for as long as it lasts: the messages taken leave the array (each
      // holds its socket read's buffer), so it holds about what waits, not everything received since it last emptied.
      if (this.head >= COMPACT_AT && this.head * 2 >= this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
    }
  }

  private drained(): void {
    this.draining = false;
  }
}
