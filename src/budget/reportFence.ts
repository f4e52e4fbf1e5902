// What the main thread keeps of the messages it sends the budget's thread (budgetThread.ts): the fence that keeps its
// copy of the reservations what the thread's are although the thread's reports cross those messages on their way.
import { BUDGET_CHANNELS, type BudgetChannel } from './allowance.js';

/**
 * Keeps the main thread's copy of the reservations what the thread's are, although the thread's reports of what it
 * settled cross, on their way, the messages the main thread sends it. ControlMessages are counted as sent; the thread
 * says, per report, how many it had applied when it settled that check; two kinds of message matter:
 * - An erasure: a report for that customer settled before the thread applied it would bring the erased customer back
 *   here (its slot, its suppressed-set refresh), after the erasure was applied here. It is left out (`stale`); the
 *   thread drops the slot itself when it applies the erasure.
 * - A touch whose consume found no slot here: the thread may have held one (reserved by a check whose report was still
 *   on its way) and used it. The first report of a slot on that customer and channel settled before the touch was
 *   applied is that slot, already used: it is not taken here (`usedSince`). Without it the late report would add a
 *   slot here that nothing uses until its time-to-live, counted in the suppressed set and taken over by a thread
 *   started again.
 * Entries go once the thread has applied them: every report settled before that has arrived (reports come in order).
 */
export class ReportFence {
  private sent = 0;
  private readonly erasedAt = new Map<string, number>();
  /** Touches that found no slot here, in the order sent (most touches: one may be matched by a report). */
  private readonly unmatched = new TouchLog();

  /** A ControlMessage other than the two below was sent. */
  send(): void {
    this.sent++;
  }

  /** An erasure of the customer was sent. */
  erasure(customerId: string): void {
    this.erasedAt.set(customerId, ++this.sent);
  }

  /** A touch was sent; `found`: it used a slot of this thread's copy. */
  touch(customerId: string, channel: BudgetChannel, found: boolean): void {
    this.sent++;
    if (!found) this.unmatched.add(customerId, channel, this.sent);
  }

  /** Whether a report settled after `seen` messages were applied is of a customer erased since. */
  stale(customerId: string, seen: number): boolean {
    const at = this.erasedAt.get(customerId);
    return at !== undefined && at > seen;
  }

  /**
   * Whether a slot reserved on `channel` by a check settled after `seen` messages were applied was used by a touch
   * sent since that found none here; that touch is then matched and matches no other report.
   */
  usedSince(customerId: string, channel: BudgetChannel, seen: number): boolean {
    return this.unmatched.match(customerId, channel, seen);
  }

  /** The thread has applied `applied` messages: no report settled before them is still to come. */
  applied(applied: number): void {
    if (this.erasedAt.size > 0) for (const [id, at] of this.erasedAt) if (at <= applied) this.erasedAt.delete(id);
    this.unmatched.dropThrough(applied);
  }

  /** A new thread starts from nothing: no report of the old one is to come. */
  reset(): void {
    this.sent = 0;
    this.erasedAt.clear();
    this.unmatched.dropThrough(Number.POSITIVE_INFINITY);
  }

  /** Erasures sent that the thread has not said it applied. */
  get erasures(): number {
    return this.erasedAt.size;
  }

  /** Touches that found no slot here and that the thread has not said it applied. */
  get touches(): number {
    return this.unmatched.size;
  }
}

/**
 * ReportFence's touches that found no slot here, in columns and in the order sent: a push per touch, where a map by
 * customer cost every touch of the stream a lookup, an insert and two objects (0.3–0.65 µs). A report of a slot looks
 * through the touches sent since its check was settled, what the stream carried in those few milliseconds.
 */
class TouchLog {
  // ids[i] is null once a report matched it; channels[i] its channel's index in BUDGET_CHANNELS; values[i] the touch's
  // number among the messages sent (rising).
  private ids: (string | null)[] = [];
  private channels = new Uint8Array(256);
  private values = new Float64Array(256);
  private start = 0;
  private matched = 0;

  get size(): number {
    return this.ids.length - this.start - this.matched;
  }

  add(customerId: string, channel: BudgetChannel, seq: number): void {
    const n = this.ids.length;
    if (n === this.values.length) {
      const channels = new Uint8Array(2 * n);
      const values = new Float64Array(2 * n);
      channels.set(this.channels);
      values.set(this.values);
      this.channels = channels;
      this.values = values;
    }
    this.ids.push(customerId);
    this.channels[n] = BUDGET_CHANNELS.indexOf(channel);
    this.values[n] = seq;
  }

  /** Matches the first touch of the customer on the channel sent after `seen` messages, if any. */
  match(customerId: string, channel: BudgetChannel, seen: number): boolean {
    const ch = BUDGET_CHANNELS.indexOf(channel);
    // The first touch sent after `seen`: the numbers rise, so a binary search.
    let lo = this.start;
    let hi = this.ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.values[mid] <= seen) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.ids.length; i++) {
      if (this.ids[i] === customerId && this.channels[i] === ch) {
        this.ids[i] = null;
        this.matched++;
        return true;
      }
    }
    return false;
  }

  /** The thread has applied every message up to `applied`: touches among them can no longer be matched. */
  dropThrough(applied: number): void {
    const n = this.ids.length;
    while (this.start < n && this.values[this.start] <= applied) {
      if (this.ids[this.start] === null) this.matched--;
      this.start++;
    }
    if (this.start === n) {
      this.ids = [];
      this.start = this.matched = 0;
    } else if (this.start >= 4096 && this.start * 2 >= n) {
      // Most of the columns are behind us: move the rest to the front.
      this.ids = this.ids.slice(this.start);
      this.channels.copyWithin(0, this.start, n);
      this.values.copyWithin(0, this.start, n);
      this.start = 0;
    }
  }
}
