// The batch policy, apart from the writer (as Redpanda Connect keeps it): rows gather per table and a
// batch is cut at maxRows, at maxBytes of estimated JSON, or maxDelayMs after its first row.
import { systemClock, type Cancel, type SchedulingClock } from '../../shared/clock.js';

export interface BatchPolicy {
  maxRows: number;
  maxBytes: number;
  maxDelayMs: number;
}

export type CutReason = 'rows' | 'bytes' | 'delay' | 'flush';

export interface Batch<R> {
  key: string;
  rows: R[];
  /** Estimated JSONEachRow size of the rows. */
  bytes: number;
  /** When the first row arrived, and when the batch was cut (clock milliseconds). */
  openedAt: number;
  cutAt: number;
  reason: CutReason;
}

export interface BatcherOptions<R> {
  /** Reads the time and sets the batch deadlines; default the system clock. */
  clock?: SchedulingClock;
  /** Estimated serialized size of a row; defaults to estimateJsonBytes. */
  sizeOf?: (row: R) => number;
}

interface OpenBatch<R> {
  rows: R[];
  bytes: number;
  openedAt: number;
  cancelTimer: Cancel | null;
}

/**
 * Roughly what JSON.stringify(value) plus a newline weighs, without building the string: strings count
 * their length plus quotes (escapes ignored), numbers a typical 8 characters.
 */
export function estimateJsonBytes(value: unknown): number {
  return jsonSize(value) + 1;
}

function jsonSize(value: unknown): number {
  switch (typeof value) {
    case 'string':
      return value.length + 2;
    case 'number':
    case 'bigint':
      return 8;
    case 'boolean':
      return 5;
    case 'object': {
      if (value === null) return 4;
      if (Array.isArray(value)) {
        let n = 2;
        for (const v of value) n += jsonSize(v) + 1;
        return n;
      }
      let n = 2;
      for (const k in value) n += k.length + 4 + jsonSize((value as Record<string, unknown>)[k]);
      return n;
    }
    default:
      return 4;
  }
}

export class Batcher<R> {
  private readonly open = new Map<string, OpenBatch<R>>();
  private readonly clock: SchedulingClock;
  private readonly sizeOf: (row: R) => number;
  private buffered = 0;

  constructor(
    private readonly policy: BatchPolicy,
    private readonly onBatch: (batch: Batch<R>) => void,
    opts: BatcherOptions<R> = {},
  ) {
    if (policy.maxRows < 1 || policy.maxBytes < 1 || policy.maxDelayMs < 0) throw new RangeError(`invalid batch policy ${JSON.stringify(policy)}`);
    this.clock = opts.clock ?? systemClock;
    this.sizeOf = opts.sizeOf ?? estimateJsonBytes;
  }

  add(key: string, row: R): void {
    const size = this.sizeOf(row);
    let batch = this.open.get(key);
    // A row that would push the open batch past maxBytes starts the next one instead.
    if (batch && batch.bytes + size > this.policy.maxBytes) {
      this.cut(key, 'bytes');
      batch = undefined;
    }
    if (!batch) {
      batch = { rows: [], bytes: 0, openedAt: this.clock.now(), cancelTimer: null };
      this.open.set(key, batch);
      batch.cancelTimer = this.clock.schedule(() => this.cut(key, 'delay'), this.policy.maxDelayMs);
    }
    batch.rows.push(row);
    batch.bytes += size;
    this.buffered++;
    if (batch.rows.length >= this.policy.maxRows) this.cut(key, 'rows');
    else if (batch.bytes >= this.policy.maxBytes) this.cut(key, 'bytes');
  }

  /** Cuts every open batch now. */
  flush(): void {
    for (const key of [...this.open.keys()]) this.cut(key, 'flush');
  }

  /** Rows added and not yet handed out in a batch. */
  bufferedRows(): number {
    return this.buffered;
  }

  /** Drops open batches and their timers without handing them out. */
  close(): number {
    const dropped = this.buffered;
    for (const batch of this.open.values()) batch.cancelTimer?.();
    this.open.clear();
    this.buffered = 0;
    return dropped;
  }

  private cut(key: string, reason: CutReason): void {
    const batch = this.open.get(key);
    if (!batch) return;
    this.open.delete(key);
    batch.cancelTimer?.();
    this.buffered -= batch.rows.length;
    this.onBatch({ key, rows: batch.rows, bytes: batch.bytes, openedAt: batch.openedAt, cutAt: this.clock.now(), reason });
  }
}
