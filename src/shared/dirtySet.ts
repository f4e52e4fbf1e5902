// The slots touched since the last derive (customers or entities), each once, with the latest thing that touched it:
// what the per-event path marks and the derive step (pipeline.ts) empties, so derived work runs per tick, not per event.

/**
 * A set of slot indices in typed arrays: a list in insertion order and a slot-to-position map (0 = not in the set),
 * so marking allocates nothing and the set never holds more entries than there are slots. Each entry keeps the
 * latest value it was marked with (the event that touched it last) and a time.
 */
export class DirtySet<T> {
  private list = new Int32Array(64);
  /** Position + 1 of each slot in `list`, 0 when the slot is not in the set. */
  private position = new Int32Array(64);
  private latest: (T | undefined)[] = [];
  private at = new Float64Array(64);
  /** Each entry's place in the order of every mark ever made (first marked since it was last taken). */
  private tickets = new Float64Array(64);
  private marked = 0;
  private n = 0;
  /** Entries of `list` unmarked by delete (-1), until the next drain or clear drops them. */
  private holes = 0;

  /** How many slots are marked. */
  get size(): number {
    return this.n - this.holes;
  }

  has(slot: number): boolean {
    return slot < this.position.length && this.position[slot] !== 0;
  }

  /** Marks the slot (once), remembering `value` and `at` as its latest. */
  add(slot: number, value: T, at: number): void {
    if (slot >= this.position.length) this.position = grown(this.position, slot + 1);
    let p = this.position[slot] - 1;
    if (p === -1) {
      if (this.n === this.list.length) {
        this.list = grown(this.list, this.n + 1);
        this.at = grown(this.at, this.n + 1);
        this.tickets = grown(this.tickets, this.n + 1);
      }
      p = this.n++;
      this.list[p] = slot;
      this.tickets[p] = this.marked++;
      this.position[slot] = p + 1;
    }
    this.latest[p] = value;
    this.at[p] = at;
  }

  /** Unmarks a slot (its customer evicted or erased): a drain skips it. */
  delete(slot: number): void {
    if (!this.has(slot)) return;
    const p = this.position[slot] - 1;
    this.position[slot] = 0;
    this.latest[p] = undefined;
    this.list[p] = -1;
    this.holes++;
  }

  /**
   * Visits the marked slots in the order first marked, unmarking each, and returns how many were visited. Without
   * `more` every slot is visited and the set is left empty; with it the visits stop once `more()` answers false (after
   * one at least) and the slots not visited stay marked, first in the order, for the next drain.
   */
  drain(visit: (slot: number, latest: T, at: number) => void, more?: () => boolean): number {
    const n = this.n;
    let visited = 0;
    let p = 0;
    for (; p < n; p++) {
      if (more !== undefined && visited > 0 && !more()) break;
      const slot = this.list[p];
      if (slot === -1) continue;
      this.position[slot] = 0;
      const value = this.latest[p] as T;
      this.latest[p] = undefined;
      visit(slot, value, this.at[p]);
      visited++;
    }
    // What is left (slots not visited, or marked during the visits) moves to the front, in its order; deleted ones go.
    let q = 0;
    for (; p < this.n; p++) {
      const slot = this.list[p];
      const value = this.latest[p];
      this.latest[p] = undefined;
      if (slot === -1) continue;
      this.list[q] = slot;
      this.latest[q] = value;
      this.at[q] = this.at[p];
      this.tickets[q] = this.tickets[p];
      this.position[slot] = ++q;
    }
    this.n = q;
    this.holes = 0;
    return visited;
  }

  /** The ticket the next slot marked will get: takenBefore(it) holds once every slot marked until now was taken. */
  get nextTicket(): number {
    return this.marked;
  }

  /**
   * True once no slot marked before `ticket` is still marked: each was drained or deleted since (a slot marked again
   * after it was taken has a later ticket). The set is in the order first marked, so the first entry left says it.
   */
  takenBefore(ticket: number): boolean {
    for (let p = 0; p < this.n; p++) if (this.list[p] !== -1) return this.tickets[p] >= ticket;
    return true;
  }

  /** Empties the set without visiting. */
  clear(): void {
    for (let p = 0; p < this.n; p++) {
      if (this.list[p] !== -1) this.position[this.list[p]] = 0;
      this.latest[p] = undefined;
    }
    this.n = 0;
    this.holes = 0;
  }
}

function grown<A extends Int32Array | Float64Array>(a: A, atLeast: number): A {
  const b = new (a.constructor as new (n: number) => A)(Math.max(atLeast, Math.ceil(a.length * 1.5)));
  b.set(a);
  return b;
}

/** A test that holds once every slot marked in `sets` until this call has been taken (DirtySet.takenBefore). */
export function takenSince(sets: readonly DirtySet<unknown>[]): () => boolean {
  const tickets = sets.map((s) => s.nextTicket);
  return () => sets.every((s, i) => s.takenBefore(tickets[i]));
}
