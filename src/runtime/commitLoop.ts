// The processor's two timers, both on its clock: the commit loop (never overlapping itself: a round waits for the last
// one) with the heartbeat `vigil forget` reads, and the tick that evaluates rules and snapshots on a fixed period.
import type { Cancel, Scheduler } from '../shared/clock.js';
import { errorMessage } from '../shared/errors.js';

export interface CommitLoopDeps {
  timers: Scheduler;
  intervalMs: number;
  /** Before each round, whatever its outcome. */
  beat(): void;
  /** One commit round (commit.ts Committer.round, run one at a time with the hand-overs). */
  round(): Promise<void>;
  log: { error(fields: Record<string, unknown>, message: string): void };
}

/** Waits an interval, beats, runs a round; a failed round is logged and the next interval retries. */
export function startCommitLoop(d: CommitLoopDeps): { stop(): Promise<void> } {
  let looping = true;
  const loop = (async () => {
    while (looping) {
      await new Promise<void>((r) => d.timers.schedule(r, d.intervalMs));
      if (!looping) break;
      d.beat();
      try {
        await d.round();
      } catch (err) {
        d.log.error({ err: errorMessage(err) }, 'commit failed; retrying at the next interval');
      }
    }
  })();
  return {
    // Lets the interval under way run out, and the round under way finish.
    stop: async () => {
      looping = false;
      await loop;
    },
  };
}

/** Calls `fn` every `intervalMs` (each call scheduled before the last one runs, as setInterval does) until cancelled. */
export function every(timers: Scheduler, intervalMs: number, fn: () => void): Cancel {
  let on = true;
  let cancel: Cancel = () => undefined;
  const next = (): void => {
    cancel = timers.schedule(() => {
      if (!on) return;
      next();
      fn();
    }, intervalMs);
  };
  next();
  return () => {
    on = false;
    cancel();
  };
}
