// Writes the batches the Batcher cuts to ClickHouse, one insert per batch, retrying a failed batch whole
// with exponential backoff for as long as ClickHouse is away; the table engines make a retry harmless.
// Two tiers hold what waits: memory up to spill.maxMemoryRows, then local disk (spill.ts) up to spill.maxBytes;
// beyond both, full() asks the processor to stop consuming. Nothing is ever dropped for lack of room.
// Over 400 lines on purpose: the two tiers are one state machine per batch (in memory, being written to disk, on
// disk, in flight) over the per-table queues, and every move between them updates the same counts (memory rows,
// reserved and spilled bytes) that full() and flush() read; the disk I/O itself is spill.ts, the cut batcher.ts.
import { Histogram } from '../../shared/histogram.js';
import { resolve as resolvePath } from 'node:path';
import { systemClock, type Cancel, type SchedulingClock } from '../../shared/clock.js';
import { errorMessage } from '../../shared/errors.js';
import { silentLogger, type Logger } from '../../shared/logger.js';
import { Batcher, type Batch, type BatchPolicy } from './batcher.js';
import type { ClickHouseClient, ClickHouseConfig } from './client.js';
import { serializeRows, SpillCorruptError, SpillStore, type SpillFile } from './spill.js';
import { PiecePool, rowBinaryTable, rowsOf, type EncodedRows } from './rowBinary.js';
import type { RowOf, TableName } from './tables.js';

export interface RetryPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
}

export interface SpillPolicy {
  /** This sink's own directory (createClickHouseSink makes it `<clickhouse.spill.dir>/<database>`). */
  dir: string;
  /** Rows held in memory (gathering, queued, retrying) beyond which queued batches go to disk, newest first. */
  maxMemoryRows: number;
  /** Bytes of spill files beyond which nothing more is spilled and full() is true; 0 = no disk tier. */
  maxBytes: number;
}

export interface SinkOptions {
  batch: BatchPolicy;
  retry: RetryPolicy;
  /** Without it the sink holds everything in memory, without a bound (unit tests of the first tier). */
  spill?: SpillPolicy;
  /** Reads the time and sets batch deadlines and retry backoff; default the system clock. */
  clock?: SchedulingClock;
  logger?: Logger;
  /** In [0, 1): spreads retry delays so scaled-out processors do not retry in step. Defaults to Math.random. */
  random?: () => number;
}

export interface SpillState {
  /** Batches, rows and bytes in spill files waiting for ClickHouse. */
  batches: number;
  rows: number;
  bytes: number;
  dir: string | null;
}

export interface SinkState {
  /** False while any batch is waiting to be retried. */
  ok: boolean;
  detail: string;
  /** The most recent insert failure, even if since recovered. */
  lastError: string | null;
  /** What waits on local disk. */
  spilled: SpillState;
  /** True while both tiers are full: the processor stops consuming (see full()). */
  full: boolean;
}

/** Plain running totals, for the caller to export (e.g. as Prometheus counters). */
export interface SinkCounters {
  rowsPushed: number;
  rowsWritten: number;
  batchesWritten: number;
  /** Bytes of the rows written: their RowBinary encoding (for a spill file an earlier run left, the file's size). */
  bytesWritten: number;
  /** Failed insert attempts (each retry that fails counts again). */
  insertFailures: number;
  /** Rows dropped by abort(). */
  rowsDropped: number;
  rowsWrittenByTable: Record<string, number>;
  /** Batches, rows and file bytes written to the spill directory. */
  batchesSpilled: number;
  rowsSpilled: number;
  bytesSpilled: number;
  /** Spill files an earlier run left, queued at start. */
  batchesRecovered: number;
  rowsRecovered: number;
  /** Failed spill writes (the batch stayed in memory). */
  spillFailures: number;
  /** Spill files moved to corrupt/ (an interrupted write, or content that does not match the name), never inserted. */
  spillFilesSetAside: number;
}

interface PendingBatch {
  table: string;
  /** Order of the sink's batches, kept in spill file names so a restart inserts them in the same order. */
  seq: number;
  /** The rows while in memory (encoded as they came); null once they are only on disk. */
  rows: EncodedRows | null;
  count: number;
  /** Their encoded bytes (counters, and the disk room a spill needs until the real size is known). */
  bytes: number;
  /** Its real size on disk, once serialized (set when the disk could not take it). */
  diskBytes: number | null;
  file: SpillFile | null;
  /** The write of this batch to disk, while it runs. */
  spilling: Promise<void> | null;
  inFlight: boolean;
  /** A flush() is waiting for it. */
  wanted: boolean;
  attempts: number;
  /** Resolves once the rows are in ClickHouse or durably on disk, whichever comes first. */
  durable: Promise<void>;
  resolveDurable: () => void;
  /** Resolves once the rows are in ClickHouse. */
  inserted: Promise<void>;
  resolveInserted: () => void;
}

interface TableQueue {
  batches: PendingBatch[];
  pumping: boolean;
  retrying: { attempts: number; nextAt: number; error: string } | null;
  cancelWait: Cancel | null;
  wake: (() => void) | null;
}

/** The delay before retry `attempt` (1 = first retry): doubling from initialDelayMs up to maxDelayMs, then spread over its upper half. */
export function retryDelayMs(policy: RetryPolicy, attempt: number, random: number): number {
  const full = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(full / 2 + (full / 2) * random);
}

export class ClickHouseSink {
  /** How long each successful insert took (vigil_clickhouse_insert_duration_seconds). */
  readonly insertDurations = new Histogram();
  readonly counters: SinkCounters = {
    rowsPushed: 0,
    rowsWritten: 0,
    batchesWritten: 0,
    bytesWritten: 0,
    insertFailures: 0,
    rowsDropped: 0,
    rowsWrittenByTable: {},
    batchesSpilled: 0,
    rowsSpilled: 0,
    bytesSpilled: 0,
    batchesRecovered: 0,
    rowsRecovered: 0,
    spillFailures: 0,
    spillFilesSetAside: 0,
  };

  private readonly batcher: Batcher<object, EncodedRows>;
  /** The pieces batches are encoded into, used again once a batch is inserted or on disk. */
  readonly pieces = new PiecePool();
  private readonly queues = new Map<string, TableQueue>();
  private readonly clock: SchedulingClock;
  private readonly log: Logger;
  private readonly random: () => number;
  private readonly store: SpillStore | null;
  private readonly maxMemoryRows: number;
  private lastError: string | null = null;
  /** Rows in queued batches, wherever they are. */
  private queuedRows = 0;
  /** Rows in queued batches held in memory and not being written to disk. */
  private memoryRows = 0;
  private readonly disk = { batches: 0, rows: 0, bytes: 0 };
  /** Estimated bytes of spill writes under way, so concurrent decisions cannot overshoot maxBytes together. */
  private reservedBytes = 0;
  /** Spill writes run one after another, oldest decision first. */
  private spillChain: Promise<void> = Promise.resolve();
  /** After a failed spill write, no new one before this time (the disk is not retried in a tight loop). */
  private spillPausedUntil = 0;
  private diskFullSince: number | null = null;
  private nextSeq = 1;
  private aborted = false;

  /**
   * With a spill policy, takes the spill directory and queues the files an earlier run left (before anything
   * pushed later, oldest first), so they are inserted first. Throws CLICKHOUSE_SPILL_UNAVAILABLE when the
   * directory cannot be used.
   */
  constructor(
    private readonly client: Pick<ClickHouseClient, 'insert'>,
    private readonly options: SinkOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.log = (options.logger ?? silentLogger).child({ stage: 'clickhouse-sink' });
    this.random = options.random ?? Math.random;
    this.maxMemoryRows = options.spill?.maxMemoryRows ?? Number.POSITIVE_INFINITY;
    // Every row is encoded in RowBinary as it is pushed (push takes only the tables of TABLES).
    this.batcher = new Batcher<object, EncodedRows>(options.batch, (batch) => this.enqueue(batch), {
      clock: this.clock,
      gathering: { open: (table) => rowBinaryTable(table)!.gather(this.pieces), add: (into, row) => into.add(row) },
    });
    this.store = options.spill && options.spill.maxBytes > 0 ? new SpillStore(options.spill.dir, this.log) : null;
    if (this.store) {
      const { files, setAside } = this.store.open();
      this.counters.spillFilesSetAside += setAside.length;
      this.recover(files);
    }
  }

  /** Buffers one row; it is inserted with its batch, never alone. */
  push<T extends TableName>(table: T, row: RowOf<T>): void {
    if (this.aborted) throw new Error('ClickHouseSink.push after abort()');
    this.counters.rowsPushed++;
    this.batcher.add(table, row);
  }

  /**
   * Resolves once every row pushed before the call is in ClickHouse or durably in a spill file (fsynced), from
   * where it is inserted later (after a crash, at the next start). While ClickHouse takes the rows it waits for
   * the inserts; while a table is retrying, its batches are spilled at once, so that the caller's checkpoint can
   * complete during an outage. Never rejects: when the disk cannot take them either (no disk tier, full, failing)
   * it waits for ClickHouse as long as it takes.
   */
  async flush(): Promise<void> {
    this.batcher.flush();
    const waiting: Promise<void>[] = [];
    for (const queue of this.queues.values()) {
      for (const p of queue.batches) {
        p.wanted = true;
        waiting.push(p.durable);
      }
    }
    this.relieve();
    await Promise.all(waiting);
  }

  /**
   * Resolves once every row pushed before the call is in ClickHouse itself, spilled ones included; for a caller
   * that must act after them in ClickHouse (an erasure must not run before rows of the customer still waiting on
   * disk land). Never rejects.
   */
  async inserted(): Promise<void> {
    this.batcher.flush();
    const waiting: Promise<void>[] = [];
    for (const queue of this.queues.values()) for (const p of queue.batches) waiting.push(p.inserted);
    await Promise.all(waiting);
  }

  /** Rows pushed and not yet inserted: still gathering, cut and queued, retrying, or spilled to disk. */
  bufferedRows(): number {
    return this.batcher.bufferedRows() + this.queuedRows;
  }

  /**
   * True when the sink cannot take more without breaking its bounds: rows in memory above spill.maxMemoryRows
   * that the disk cannot take (spill disabled, failing, or at maxBytes), or spill files at spill.maxBytes. The
   * processor stops consuming while it holds; nothing is dropped.
   */
  full(): boolean {
    if (this.batcher.bufferedRows() + this.memoryRows > this.maxMemoryRows) return true;
    return this.store !== null && this.disk.bytes >= this.options.spill!.maxBytes;
  }

  spilled(): SpillState {
    return { ...this.disk, dir: this.store?.dir ?? null };
  }

  state(): SinkState {
    const spilled = this.spilled();
    const full = this.full();
    const onDisk = spilled.batches > 0 ? `; on disk: ${spilled.batches} batches, ${spilled.rows} rows, ${spilled.bytes} bytes in ${spilled.dir}` : '';
    const fullNote = full ? '; buffer full, consumption paused' : '';
    const failing = [...this.queues.entries()].filter(([, q]) => q.retrying);
    if (failing.length === 0) {
      const detail = this.queuedRows > 0 ? `writing ${this.queuedRows} rows${onDisk}${fullNote}` : 'idle';
      return { ok: true, detail, lastError: this.lastError, spilled, full };
    }
    const now = this.clock.now();
    const detail = failing
      .map(([table, q]) => {
        const r = q.retrying!;
        const rows = q.batches.reduce((n, p) => n + p.count, 0);
        return `${table}: ${rows} rows waiting, attempt ${r.attempts} failed (${r.error}), next in ${Math.max(0, r.nextAt - now)} ms`;
      })
      .join('; ');
    return { ok: false, detail: detail + onDisk + fullNote, lastError: this.lastError, spilled, full };
  }

  /**
   * Inserts everything, spilled files included, then stops the batch timers and gives the spill directory up.
   * Like inserted(), waits for ClickHouse as long as it takes.
   */
  async close(): Promise<void> {
    await this.inserted();
    this.batcher.close();
    this.store?.release();
  }

  /**
   * Gives up on everything buffered in memory (for shutdown when ClickHouse does not come back): those rows were
   * never acknowledged upstream, so JetStream redelivers them. Spill files stay on disk for the next start.
   * flush() calls still waiting stay pending.
   */
  abort(): void {
    this.aborted = true;
    let dropped = this.batcher.close();
    let onDisk = 0;
    for (const queue of this.queues.values()) {
      queue.cancelWait?.();
      queue.wake?.(); // lets the pump see `aborted` and end
      for (const p of queue.batches) {
        if (p.rows === null) onDisk += p.count;
        else dropped += p.count;
      }
      queue.batches = [];
      queue.retrying = null;
    }
    this.queuedRows = 0;
    this.memoryRows = 0;
    this.counters.rowsDropped += dropped;
    if (dropped > 0) this.log.warn({ rows: dropped }, 'aborted: buffered rows dropped, not acknowledged upstream');
    if (onDisk > 0) this.log.warn({ rows: onDisk, dir: this.store?.dir }, 'aborted: spilled rows stay on disk for the next start');
    // A spill write under way finishes first; its file is then one more for the next start.
    void this.spillChain.then(() => this.store?.release());
  }

  private newBatch(table: string, seq: number, rows: EncodedRows | null, count: number, bytes: number, file: SpillFile | null): PendingBatch {
    let resolveDurable!: () => void;
    let resolveInserted!: () => void;
    const durable = new Promise<void>((r) => (resolveDurable = r));
    const inserted = new Promise<void>((r) => (resolveInserted = r));
    return { table, seq, rows, count, bytes, diskBytes: file?.bytes ?? null, file, spilling: null, inFlight: false, wanted: false, attempts: 0, durable, resolveDurable, inserted, resolveInserted };
  }

  private queueFor(table: string): TableQueue {
    let queue = this.queues.get(table);
    if (!queue) {
      queue = { batches: [], pumping: false, retrying: null, cancelWait: null, wake: null };
      this.queues.set(table, queue);
    }
    return queue;
  }

  /**
   * Queues the files an earlier run left, in seq order, ahead of anything pushed in this one. Order per table is
   * kept for all batches, spilled or not: the versioned tables (customer_activity, entity_activity) would not need
   * it, since ReplacingMergeTree(version) keeps the highest version whatever arrives last, but the unversioned
   * ReplacingMergeTree tables (events, customer_signals, alerts, rejected_events) keep the last row inserted for a
   * key, so writing in the order rows were produced keeps them what they would have been without the outage.
   */
  private recover(files: SpillFile[]): void {
    for (const file of files) {
      const p = this.newBatch(file.table, file.seq, null, file.rows, file.bytes, file);
      p.resolveDurable();
      this.queueFor(file.table).batches.push(p);
      this.queuedRows += file.rows;
      this.disk.batches++;
      this.disk.rows += file.rows;
      this.disk.bytes += file.bytes;
      this.counters.batchesRecovered++;
      this.counters.rowsRecovered += file.rows;
      this.nextSeq = Math.max(this.nextSeq, file.seq + 1);
    }
    if (files.length > 0) {
      this.log.info({ dir: this.store!.dir, batches: files.length, rows: this.disk.rows, bytes: this.disk.bytes }, 'spill files from an earlier run queued for ClickHouse first');
      for (const [table, queue] of this.queues) if (!queue.pumping) void this.pump(table, queue);
    }
  }

  private enqueue(batch: Batch<EncodedRows>): void {
    const queue = this.queueFor(batch.key);
    queue.batches.push(this.newBatch(batch.key, this.nextSeq++, batch.rows, batch.count, batch.bytes, null));
    this.queuedRows += batch.count;
    this.memoryRows += batch.count;
    if (!queue.pumping) void this.pump(batch.key, queue); // an idle table sends it at once: it is then not moved
    this.relieve();
  }

  /**
   * Moves batches from memory to disk where needed: first those a flush() waits for whose table cannot insert
   * now (it is retrying), then, while memory is above maxMemoryRows, the newest batches (the oldest are inserted
   * next). A batch being inserted is never moved. Stops when the disk has no room left.
   */
  private relieve(): void {
    if (!this.store || this.aborted || this.clock.now() < this.spillPausedUntil) return;
    for (const queue of this.queues.values()) {
      if (!queue.retrying) continue;
      for (const p of queue.batches) if (p.wanted && this.movable(p) && !this.startSpill(p)) return;
    }
    while (this.batcher.bufferedRows() + this.memoryRows > this.maxMemoryRows) {
      let newest: PendingBatch | null = null;
      for (const queue of this.queues.values()) {
        for (const p of queue.batches) if (this.movable(p) && (!newest || p.seq > newest.seq)) newest = p;
      }
      if (!newest || !this.startSpill(newest)) return;
    }
  }

  private movable(p: PendingBatch): boolean {
    return p.rows !== null && p.spilling === null && !p.inFlight;
  }

  /** Starts writing a batch to disk; false (and nothing started) when it would not fit under maxBytes. */
  private startSpill(p: PendingBatch): boolean {
    const maxBytes = this.options.spill!.maxBytes;
    const reserved = p.diskBytes ?? p.bytes;
    if (this.disk.bytes + this.reservedBytes + reserved > maxBytes) {
      this.noteDiskFull(p);
      return false;
    }
    this.reservedBytes += reserved;
    this.memoryRows -= p.count;
    const done = (this.spillChain = this.spillChain.then(() => this.writeSpill(p, reserved)));
    p.spilling = done;
    return true;
  }

  private async writeSpill(p: PendingBatch, reserved: number): Promise<void> {
    const maxBytes = this.options.spill!.maxBytes;
    let written = false;
    try {
      if (this.aborted) return;
      // Spill files stay JSONEachRow (an operator can load one by hand): the batch is decoded back for its file.
      const data = serializeRows(rowsOf(p.rows!));
      const bytes = Buffer.byteLength(data, 'utf8');
      p.diskBytes = bytes;
      if (this.disk.bytes + bytes > maxBytes) {
        this.noteDiskFull(p);
        return;
      }
      const file = await this.store!.write(p.table, p.seq, p.count, data);
      if (this.aborted) return; // the file stays for the next start
      written = true;
      p.file = file;
      p.rows!.release();
      p.rows = null;
      this.disk.batches++;
      this.disk.rows += p.count;
      this.disk.bytes += file.bytes;
      this.counters.batchesSpilled++;
      this.counters.rowsSpilled += p.count;
      this.counters.bytesSpilled += file.bytes;
      this.diskFullSince = null;
      this.log.info({ table: p.table, rows: p.count, bytes: file.bytes, file: file.path, spilledBytes: this.disk.bytes }, 'batch spilled to disk');
      p.resolveDurable();
    } catch (err) {
      this.counters.spillFailures++;
      const delay = this.options.retry.initialDelayMs;
      this.spillPausedUntil = this.clock.now() + delay;
      this.log.error({ table: p.table, rows: p.count, dir: this.store!.dir, err: errorMessage(err), retryInMs: delay }, 'writing a batch to the spill directory failed; it stays in memory');
    } finally {
      this.reservedBytes -= reserved;
      p.spilling = null;
      if (!written && !this.aborted) this.memoryRows += p.count;
    }
  }

  private noteDiskFull(p: PendingBatch): void {
    if (this.diskFullSince !== null) return;
    this.diskFullSince = this.clock.now();
    this.log.warn(
      { table: p.table, rows: p.count, spilledBytes: this.disk.bytes, maxBytes: this.options.spill!.maxBytes },
      'spill directory at clickhouse.spill.maxBytes: batches stay in memory, consumption pauses above clickhouse.spill.maxMemoryRows',
    );
  }

  /** One insert at a time per table, oldest batch first; a failed batch blocks its table until it lands. */
  private async pump(table: string, queue: TableQueue): Promise<void> {
    queue.pumping = true;
    try {
      while (queue.batches.length > 0 && !this.aborted) {
        const pending = queue.batches[0];
        if (pending.spilling) await pending.spilling; // never insert a batch while it is being written to disk
        if (this.aborted || queue.batches[0] !== pending) return;
        let rows: readonly object[] | EncodedRows;
        try {
          rows = pending.rows ?? (await this.store!.read(pending.file!));
        } catch (err) {
          if (this.aborted) return;
          if (err instanceof SpillCorruptError || (err as NodeJS.ErrnoException).code === 'ENOENT') {
            await this.setAside(queue, pending, err);
            continue;
          }
          await this.failed(table, queue, pending, `reading ${pending.file!.path}: ${errorMessage(err)}`);
          continue;
        }
        pending.inFlight = true;
        const started = performance.now();
        try {
          await this.client.insert(table, rows);
          this.insertDurations.observeMs(performance.now() - started);
        } catch (err) {
          pending.inFlight = false;
          if (this.aborted) return;
          await this.failed(table, queue, pending, errorMessage(err));
          continue;
        }
        pending.inFlight = false;
        if (queue.batches[0] !== pending) return; // aborted while the insert was in flight
        if (pending.file) {
          // Deleted only now that the insert succeeded. A crash between the two inserts the file again at the next
          // start, which the table engines make harmless (docs/clickhouse.md, "Why the counts are exact").
          await this.store!.remove(pending.file).catch((err: unknown) =>
            this.log.warn({ file: pending.file!.path, err: errorMessage(err) }, 'could not delete an inserted spill file; the next start inserts it again (harmless)'),
          );
          this.disk.batches--;
          this.disk.rows -= pending.count;
          this.disk.bytes -= pending.file.bytes;
        } else {
          this.memoryRows -= pending.count;
          (rows as EncodedRows).release();
        }
        if (queue.batches[0] !== pending) return;
        queue.batches.shift();
        if (queue.retrying) this.log.info({ table, attempts: pending.attempts + 1, fromDisk: pending.file !== null }, 'insert succeeded after retries');
        queue.retrying = null;
        this.queuedRows -= pending.count;
        this.counters.rowsWritten += pending.count;
        this.counters.batchesWritten++;
        this.counters.bytesWritten += pending.bytes;
        this.counters.rowsWrittenByTable[table] = (this.counters.rowsWrittenByTable[table] ?? 0) + pending.count;
        pending.resolveDurable();
        pending.resolveInserted();
        this.relieve(); // a batch the disk could not take before may fit now
      }
    } finally {
      queue.pumping = false;
    }
  }

  /** An insert (or a read of its file) failed: note it, spill what a flush waits for, wait the backoff delay. */
  private async failed(table: string, queue: TableQueue, pending: PendingBatch, error: string): Promise<void> {
    pending.attempts++;
    this.counters.insertFailures++;
    this.lastError = `${table}: ${error}`;
    const delay = retryDelayMs(this.options.retry, pending.attempts, this.random());
    queue.retrying = { attempts: pending.attempts, nextAt: this.clock.now() + delay, error };
    this.log.warn({ table, rows: pending.count, attempt: pending.attempts, retryInMs: delay, err: error }, 'insert failed, will retry');
    this.relieve();
    await new Promise<void>((wake) => {
      queue.wake = wake;
      queue.cancelWait = this.clock.schedule(wake, delay);
    });
    queue.wake = null;
    queue.cancelWait = null;
  }

  /**
   * A spill file that is not the complete batch its name promises (or vanished) is never inserted: inserting part
   * of a batch could be worse than none (a cumulative activity row cut off mid-file is still a valid row). It goes
   * to corrupt/ for an operator to look at, with an error in the log and the spillFilesSetAside counter.
   */
  private async setAside(queue: TableQueue, pending: PendingBatch, err: unknown): Promise<void> {
    const file = pending.file!;
    const fields = { table: file.table, file: file.path, rows: file.rows, bytes: file.bytes, err: errorMessage(err) };
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      this.log.error(fields, 'spill file skipped: it vanished from the spill directory before its insert');
    } else {
      let keptAt: string | null = null;
      try {
        keptAt = await this.store!.setAside(file.path);
      } catch (moveErr) {
        this.log.error({ file: file.path, err: errorMessage(moveErr) }, 'could not move a corrupt spill file aside; it stays where it is');
      }
      this.log.error({ ...fields, keptAt }, 'spill file skipped: its content is not the complete batch its name promises; kept aside, not inserted');
    }
    this.counters.spillFilesSetAside++;
    this.disk.batches--;
    this.disk.rows -= file.rows;
    this.disk.bytes -= file.bytes;
    this.queuedRows -= file.rows;
    if (queue.batches[0] === pending) queue.batches.shift();
    queue.retrying = null;
    pending.resolveInserted(); // nobody must wait on it forever; the log and the counter say what happened
  }
}

/** A sink with the batch, retry and spill policy of the `clickhouse` config section. */
export function createClickHouseSink(
  client: Pick<ClickHouseClient, 'insert'>,
  config: Pick<ClickHouseConfig, 'batch' | 'retry' | 'spill' | 'database'>,
  opts: Omit<SinkOptions, 'batch' | 'retry' | 'spill'> = {},
): ClickHouseSink {
  const spill = { dir: resolvePath(config.spill.dir, config.database), maxMemoryRows: config.spill.maxMemoryRows, maxBytes: config.spill.maxBytes };
  return new ClickHouseSink(client, { ...opts, batch: config.batch, retry: config.retry, spill });
}
