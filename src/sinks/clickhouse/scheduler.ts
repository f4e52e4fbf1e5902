// Timers behind an interface, so batch deadlines and retry backoff run on fake time in unit tests.
import type { ManualClock } from '../../shared/clock.js';

/** Cancels a scheduled callback; calling it after the callback ran does nothing. */
export type Cancel = () => void;

export interface Scheduler {
  schedule(fn: () => void, delayMs: number): Cancel;
}

export const timerScheduler: Scheduler = {
  schedule(fn, delayMs) {
    const timer = setTimeout(fn, delayMs);
    return () => clearTimeout(timer);
  },
};

/** Runs callbacks only when the test moves its ManualClock forward through `advance`. */
export class ManualScheduler implements Scheduler {
  private timers: { at: number; seq: number; fn: () => void }[] = [];
  private seq = 0;

  constructor(readonly clock: ManualClock) {}

  schedule(fn: () => void, delayMs: number): Cancel {
    const timer = { at: this.clock.now() + Math.max(0, delayMs), seq: this.seq++, fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }

  /** Moves the clock forward by `ms`, running each due callback at its own time, in order. */
  advance(ms: number): void {
    const until = this.clock.now() + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      if (due.at > this.clock.now()) this.clock.set(due.at);
      due.fn();
    }
    this.clock.set(until);
  }

  pending(): number {
    return this.timers.length;
  }
}
