// The batch policy, apart from the writer (as Redpanda Connect keeps it): rows gather per table and a
// batch is cut at maxRows, at maxBytes (estimated JSON, or the encoding's own bytes), or maxDelayMs after its first row.
import { systemClock, type Cancel, type SchedulingClock } from '../../shared/clock.js';

export interface BatchPolicy {
  maxRows: number;
  maxBytes: number;
  maxDelayMs: number;
}

export type CutReason = 'rows' | 'bytes' | 'delay' | 'flush';

export interface Batch<G> {
  key: string;
  /** The rows as gathered: a list of them, or what a Gathering made of them. */
  rows: G;
  count: number;
  /** Estimated JSONEachRow size of the rows, or the bytes a Gathering counted. */
  bytes: number;
  /** When the first row arrived, and when the batch was cut (clock milliseconds). */
  openedAt: number;
  cutAt: number;
  reason: CutReason;
}

/**
 * Where a batch's rows go as they are added, instead of a list: the sink encodes each row at once (EncodedRows).
 * A row's bytes are known only once added, so such a batch is cut after the row that reaches maxBytes.
 */
export interface Gathering<R, G> {
  open(key: string): G;
  /** Adds the row; returns the bytes it takes. */
  add(into: G, row: R): number;
}

export interface BatcherOptions<R, G = R[]> {
  /** Reads the time and sets the batch deadlines; default the system clock. */
  clock?: SchedulingClock;
  /** Estimated serialized size of a row (for lists of rows); defaults to estimateJsonBytes. */
  sizeOf?: (row: R) => number;
  /** Where rows go instead of a list (then sizeOf is not asked); without it G is R[]. */
  gathering?: Gathering<R, G>;
}

interface OpenBatch<G> {
  rows: G;
  count: number;
  bytes: number;
  openedAt: number;
  cancelTimer: Cancel | null;
}

/** The default gathering: a list of the rows (their sizes are estimated apart, by sizeOf). */
const listOfRows: Gathering<unknown, unknown[]> = {
  open: () => [],
  add(into, row) {
    into.push(row);
    return 0;
  },
};

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

/** Gathers rows per key into batches; `G` is what a batch holds (a list of its rows unless a Gathering says otherwise). */
export class Batcher<R, G = R[]> {
  private readonly open = new Map<string, OpenBatch<G>>();
  private readonly clock: SchedulingClock;
  private readonly sizeOf: ((row: R) => number) | null;
  private readonly gathering: Gathering<R, G>;
  private buffered = 0;

  constructor(
    private readonly policy: BatchPolicy,
    private readonly onBatch: (batch: Batch<G>) => void,
    opts: BatcherOptions<R, G> = {},
  ) {
    if (policy.maxRows < 1 || policy.maxBytes < 1 || policy.maxDelayMs < 0) throw new RangeError(`invalid batch policy ${JSON.stringify(policy)}`);
    this.clock = opts.clock ?? systemClock;
    this.sizeOf = opts.gathering ? null : (opts.sizeOf ?? estimateJsonBytes);
    this.gathering = opts.gathering ?? (listOfRows as unknown as Gathering<R, G>);
  }

  add(key: string, row: R): void {
    let batch = this.open.get(key);
    let size = 0;
    if (this.sizeOf !== null) {
      size = this.sizeOf(row);
      // A row that would push the open batch past maxBytes starts the next one instead.
      if (batch && batch.bytes + size > this.policy.maxBytes) {
        this.cut(key, 'bytes');
        batch = undefined;
      }
    }
    if (!batch) {
      batch = { rows: this.gathering.open(key), count: 0, bytes: 0, openedAt: this.clock.now(), cancelTimer: null };
      this.open.set(key, batch);
      batch.cancelTimer = this.clock.schedule(() => this.cut(key, 'delay'), this.policy.maxDelayMs);
    }
    const added = this.gathering.add(batch.rows, row);
    batch.bytes += this.sizeOf !== null ? size : added;
    batch.count++;
    this.buffered++;
    if (batch.count >= this.policy.maxRows) this.cut(key, 'rows');
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
    this.buffered -= batch.count;
    this.onBatch({ key, rows: batch.rows, count: batch.count, bytes: batch.bytes, openedAt: batch.openedAt, cutAt: this.clock.now(), reason });
  }
}
