// The derive's remainder, in slices, before the steps that need it done. The tick (rules, frames), a commit's drain
// and a checkpoint each derive what is still marked, synchronously, so that what they read and write covers every
// message handled. While the stream runs ahead of the derive tick (a backlog, a burst, a loaded machine), that
// remainder was hundreds of customers: 20-45 ms held in the tick's timer at 250,000 customers, as long again in a
// commit's drain, with every budget check that arrived meanwhile waiting behind it. Here what was marked when the
// step fell due is derived in slices first, events and checks running between them. Then a commit or checkpoint
// derives what is left in its own stretch: what was marked meanwhile, or more when the stream outran the derive for
// CATCH_UP_MS. The tick derives it only when it is a few dozen customers, else leaves it to the derive tick: its
// rules and frames then read the state as of when it fell due, not of when it ran.
import { backgroundTurn, inSlices, slicesFromNow } from '../shared/slices.js';

/**
 * What a step derives in its own stretch; a larger remainder is derived in slices before it. A customer's derive
 * (score, rules, snapshot decision) is 20-100 µs on this machine, so 32 of them hold the loop for 1-3 ms.
 */
export const SYNC_DERIVE_MAX = 32;

/**
 * How long a step waits for the derive in slices: a stream that outruns the derive meanwhile (every slice leaves more
 * marked than it took) gets the rest derived in the step's stretch, as before, rather than delaying it without end.
 */
export const CATCH_UP_MS = 250;

/** A pipeline as the catch-up sees it (Pipeline). */
export interface Deriving {
  /** Derives what is marked, while `more()` says so when given. */
  derive(now?: number, more?: () => boolean): number;
  /** Customers, entities and products marked and not derived yet. */
  readonly deriveBacklog: number;
  /** A test that holds once everything marked until the call has been derived. */
  markedUntilNow(): () => boolean;
}

export interface CatchUpOptions {
  /** The pipelines of the step (one, or every partition's). */
  pipelines: () => Iterable<Deriving>;
  now: () => number;
  /** Derived in the step's stretch (SYNC_DERIVE_MAX); 0 in tests that want every remainder sliced. */
  syncMax?: number;
  limitMs?: number;
  sliceMs?: number;
}

function backlog(pipelines: Iterable<Deriving>): number {
  let n = 0;
  for (const p of pipelines) n += p.deriveBacklog;
  return n;
}

/**
 * A sliced step (for inSlices or SlicedWork) that derives, in the slices it is given, what was marked when it was made,
 * then runs `then` and reports done. It stops deriving early when no more than `syncMax` is left marked, or once
 * `limitMs` has passed (the stream outran the derive meanwhile). `then` is told whether what is left marked is few
 * enough (syncMax) for the step to derive in its own stretch; marks made meanwhile are the derive tick's otherwise.
 */
export function catchUpThen(o: CatchUpOptions, then: (deriveRest: boolean) => void): (more: () => boolean) => boolean {
  const started = performance.now();
  const syncMax = o.syncMax ?? SYNC_DERIVE_MAX;
  const limitMs = o.limitMs ?? CATCH_UP_MS;
  const marked = [...o.pipelines()].map((p) => p.markedUntilNow());
  const caughtUp = () => backlog(o.pipelines()) <= syncMax || marked.every((derived) => derived());
  return (more) => {
    if (!caughtUp() && performance.now() - started < limitMs) {
      for (const p of o.pipelines()) p.derive(o.now(), more);
      if (!caughtUp()) return false;
    }
    then(backlog(o.pipelines()) <= syncMax);
    return true;
  };
}

/**
 * The derive's remainder in slices, for a step that must then derive in its own stretch (a commit's drain, a
 * checkpoint); null, without a turn of the loop, when no more than `syncMax` is marked, so the step goes on in the
 * caller's own stretch as it did.
 */
export function deriveCatchUp(o: CatchUpOptions): Promise<void> | null {
  if (backlog(o.pipelines()) <= (o.syncMax ?? SYNC_DERIVE_MAX)) return null;
  // Then the step derives the rest in its own stretch, whatever is left.
  return slicesFromNow(catchUpThen(o, () => undefined), o.sliceMs);
}

/**
 * A commit's catch-up: the derive's remainder in slices (deriveCatchUp), then `rows` (the minute buckets changed so
 * far) in slices, then the derive's remainder again, since every slice of rows let events in and the derive tick may
 * not have taken what they marked: at half load at 250,000 customers, hundreds of customers, 28-41 ms derived in
 * the commit's own stretch after each catch-up. null when no turn of the loop came between, so the step goes on in
 * the caller's stretch.
 */
export function catchUpAround(o: CatchUpOptions, rows: (more: () => boolean) => boolean): Promise<void> | null {
  const deriving = deriveCatchUp(o);
  const rowsDone = deriving === null ? slicesFromNow(rows, o.sliceMs) : deriving.then(() => backgroundTurn()).then(() => inSlices(rows, o.sliceMs));
  if (rowsDone === null) return null;
  return rowsDone.then(() => deriveCatchUp(o) ?? undefined);
}

/**
 * Owed snapshot rows a checkpoint may pay in its own stretch: a pass ahead that paid more took long enough for the
 * derive tick to mark many customers owed behind its scan meanwhile, and another pass follows.
 */
export const SYNC_OWED_MAX = 32;

/** Passes ahead of a checkpoint at most: a stream that marks customers owed as fast as they are paid ends them. */
export const OWED_PASSES = 3;

/** A pipeline's owed snapshot rows as a checkpoint's preparation pays them (Pipeline.payOwedSnapshotsFrom). */
export interface OwedRows {
  /** Pays owed rows from slot `from` while `more()`; where to go on, -1 once the scan reached the end. */
  payFrom(from: number, more: () => boolean): number;
  /** Owed rows paid so far, by any caller. */
  readonly paid: number;
}

/**
 * Ahead of a checkpoint: `catchUp()`, then a scan that pays the owed rows, in slices, events flowing between them; again
 * while a pass paid more than `syncMax` (what the derive tick marked owed behind the scan meanwhile is left for the
 * next pass, or for the checkpoint's own stretch), at most `passes` times. At half load at 250,000 customers one pass
 * left 3.5-8 ms of owed rows to the checkpoint's synchronous step.
 */
export async function payOwedAhead(catchUp: () => Promise<void> | null, owed: OwedRows, passes = OWED_PASSES, syncMax = SYNC_OWED_MAX, sliceMs?: number): Promise<void> {
  for (let pass = 0; pass < passes; pass++) {
    await catchUp();
    const before = owed.paid;
    let from = 0;
    await inSlices((more) => (from = owed.payFrom(from, more)) === -1, sliceMs);
    if (owed.paid - before <= syncMax) return;
  }
}
