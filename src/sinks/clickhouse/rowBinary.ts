// Rows as RowBinary, the format ClickHouse copies into its columns as they come. JSONEachRow spelt out every key,
// formatted every number as text here and parsed it back there: ~700 bytes of JSON per event, a tenth of the
// processor's time (JSON.stringify) and much of the server's. The same rows in RowBinary are about a third of the bytes.
import { DAY_MS } from '../../shared/clock.js';
import { TABLES, type TableName } from './tables.js';

/** Writes one value of one column type; rows keep the JSON shapes of RowOf (DateTime as unix seconds, UInt64 maybe a string). */
type Put = (w: BinaryWriter, v: unknown) => void;

const TWO_32 = 2 ** 32;

/** A growing byte buffer with the few primitives RowBinary needs, all little-endian. */
class BinaryWriter {
  buf: Buffer;
  at = 0;

  constructor(bytes: number) {
    this.buf = Buffer.allocUnsafe(Math.max(1024, bytes));
  }

  ensure(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.at++] = v;
  }

  u16(v: number): void {
    this.ensure(2);
    this.at = this.buf.writeUInt16LE(v, this.at);
  }

  u32(v: number): void {
    this.ensure(4);
    this.at = this.buf.writeUInt32LE(v >>> 0, this.at);
  }

  u64(v: unknown): void {
    this.ensure(8);
    // Stream sequences and epoch milliseconds stay far below 2^53: two 32-bit halves, no BigInt per value.
    const n = typeof v === 'number' ? v : typeof v === 'string' && v.length < 16 ? Number(v) : Number.NaN;
    if (Number.isSafeInteger(n) && n >= 0) {
      this.buf.writeUInt32LE(n % TWO_32, this.at);
      this.buf.writeUInt32LE(Math.floor(n / TWO_32), this.at + 4);
      this.at += 8;
    } else {
      this.at = this.buf.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v === undefined || v === null || v === '' ? 0 : (v as string | number | bigint))), this.at);
    }
  }

  f32(v: number): void {
    this.ensure(4);
    this.at = this.buf.writeFloatLE(v, this.at);
  }

  f64(v: number): void {
    this.ensure(8);
    this.at = this.buf.writeDoubleLE(v, this.at);
  }

  varint(n: number): void {
    this.ensure(10);
    while (n >= 0x80) {
      this.buf[this.at++] = (n & 0x7f) | 0x80;
      n = Math.floor(n / 128);
    }
    this.buf[this.at++] = n;
  }

  string(s: string): void {
    // Written after a one-byte length, which is moved over in the rare case a string takes 128 bytes or more.
    this.ensure(s.length * 3 + 10);
    const start = this.at;
    const buf = this.buf;
    // Ids, types and channels are short ASCII: copied byte by byte, cheaper than a call into the UTF-8 encoder.
    if (s.length < 0x80) {
      let i = 0;
      for (; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[start + 1 + i] = c;
      }
      if (i === s.length) {
        buf[start] = i;
        this.at = start + 1 + i;
        return;
      }
    }
    const n = buf.write(s, start + 1, 'utf8');
    if (n < 0x80) {
      buf[start] = n;
      this.at = start + 1 + n;
      return;
    }
    let extra = 0;
    for (let m = n >> 7; m > 0; m = Math.floor(m / 128)) extra++;
    buf.copyWithin(start + 1 + extra, start + 1, start + 1 + n);
    this.at = start;
    this.varint(n);
    this.at = start + 1 + extra + n;
  }
}

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v ?? 0));

/** The writer of one column type, as TABLES names them. */
function putFor(type: string): Put {
  if (type === 'String') return (w, v) => w.string(typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));
  if (type.startsWith('DateTime')) return (w, v) => w.u32(num(v));
  // A Date as the 'YYYY-MM-DD' text of RowOf: days since 1970-01-01.
  if (type === 'Date') return (w, v) => w.u16(Math.floor(Date.parse(`${String(v)}T00:00:00Z`) / DAY_MS) || 0);
  if (type === 'UInt64') return (w, v) => w.u64(v);
  if (type === 'UInt32') return (w, v) => w.u32(num(v));
  if (type === 'UInt8') return (w, v) => w.u8(num(v) & 0xff);
  if (type === 'Float64') return (w, v) => w.f64(num(v));
  if (type === 'Float32') return (w, v) => w.f32(num(v));
  const inner = /^Array\((.+)\)$/.exec(type)?.[1];
  if (inner !== undefined) {
    const put = putFor(inner);
    return (w, v) => {
      const items = Array.isArray(v) ? (v as unknown[]) : [];
      w.varint(items.length);
      for (const item of items) put(w, item);
    };
  }
  throw new Error(`no RowBinary writer for column type ${type}`);
}

/** Reads one value of one column type back into the JSON shape of RowOf (UInt64 past 2^53 as a decimal string). */
type Get = (r: BinaryReader) => unknown;

/** Reads what BinaryWriter wrote; a read past the end throws (a piece cut short). */
class BinaryReader {
  at = 0;

  constructor(readonly buf: Buffer) {}

  private need(n: number): number {
    const at = this.at;
    if (at + n > this.buf.length) throw new RangeError(`RowBinary cut short: ${n} bytes wanted at ${at} of ${this.buf.length}`);
    this.at = at + n;
    return at;
  }

  u8 = (): number => this.buf[this.need(1)];
  u16 = (): number => this.buf.readUInt16LE(this.need(2));
  u32 = (): number => this.buf.readUInt32LE(this.need(4));
  f32 = (): number => this.buf.readFloatLE(this.need(4));
  f64 = (): number => this.buf.readDoubleLE(this.need(8));

  u64 = (): number | string => {
    const at = this.need(8);
    const lo = this.buf.readUInt32LE(at);
    const hi = this.buf.readUInt32LE(at + 4);
    const n = hi * TWO_32 + lo;
    return Number.isSafeInteger(n) ? n : this.buf.readBigUInt64LE(at).toString();
  };

  varint = (): number => {
    let n = 0;
    for (let shift = 1; ; shift *= 128) {
      const b = this.u8();
      n += (b & 0x7f) * shift;
      if (b < 0x80) return n;
    }
  };

  string = (): string => {
    const n = this.varint();
    const at = this.need(n);
    return this.buf.toString('utf8', at, at + n);
  };
}

/** The reader of one column type (the inverse of putFor). */
function getFor(type: string): Get {
  if (type === 'String') return (r) => r.string();
  if (type.startsWith('DateTime')) return (r) => r.u32();
  if (type === 'Date') return (r) => new Date(r.u16() * DAY_MS).toISOString().slice(0, 10);
  if (type === 'UInt64') return (r) => r.u64();
  if (type === 'UInt32') return (r) => r.u32();
  if (type === 'UInt8') return (r) => r.u8();
  if (type === 'Float64') return (r) => r.f64();
  if (type === 'Float32') return (r) => r.f32();
  const inner = /^Array\((.+)\)$/.exec(type)?.[1];
  if (inner !== undefined) {
    const get = getFor(inner);
    return (r) => {
      const items: unknown[] = [];
      for (let n = r.varint(); n > 0; n--) items.push(get(r));
      return items;
    };
  }
  throw new Error(`no RowBinary reader for column type ${type}`);
}

/** One table's insert: its column list (for the INSERT statement) and a writer per column, in that order. */
export interface RowBinaryTable {
  /** The table's name without its database (a key of TABLES). */
  name: TableName;
  columns: string[];
  encode(rows: readonly object[]): Buffer;
  /**
   * The same bytes in pieces of `rowsPerChunk` rows, each encoded only when the insert's body stream asks for it
   * (RowBinary has no header: the pieces join into the whole). A batch of 10,000 rows encoded at once held the event
   * loop tens of milliseconds at every commit; a piece of ~1,000 is a few. The client paces the pieces (paced(),
   * shared/slices.ts): a stream pulls a plain iterator whole in one stretch while the socket takes every write.
   */
  chunks(rows: readonly object[], rowsPerChunk?: number): Generator<Buffer>;
  /** An empty batch that encodes each row as it is added (EncodedRows), into pieces of `pool`. */
  gather(pool: PiecePool): EncodedRows;
  /** The rows an encoding holds, as objects of RowOf's shapes; RangeError when it is cut short or runs over. */
  decode(pieces: readonly Buffer[]): Record<string, unknown>[];
}

/** Rows per piece of an insert's body (~250 KB and a few milliseconds of encoding at the bench's rows). */
export const ROWS_PER_CHUNK = 1_024;

/** Bytes of a piece of an encoded batch: ~1,000 of the bench's rows. */
export const PIECE_BYTES = 256 * 1024;

/**
 * The pieces encoded batches are written into, used again once their batch is in ClickHouse or on disk (as the
 * Kafka producer pools its batch buffers). A piece lives as long as its batch waits: pieces allocated anew would
 * be promoted with it and count towards the external memory whose growth starts a major GC. The pool holds, free
 * and in use together, no more pieces than were ever in use at once (a batch given back while the next one fills
 * is taken again), and at most `maxFree` free ones (what an outage's backlog needed is not kept after it).
 */
export class PiecePool {
  /** Pieces made so far (not taken from the free ones). */
  made = 0;
  /** Pieces taken and not given back, and the most there ever were. */
  inUse = 0;
  peak = 0;
  private readonly free: Buffer[] = [];

  constructor(
    readonly pieceBytes = PIECE_BYTES,
    private readonly maxFree = 128,
  ) {}

  take(): Buffer {
    if (++this.inUse > this.peak) this.peak = this.inUse;
    const piece = this.free.pop();
    if (piece !== undefined) return piece;
    this.made++;
    return Buffer.allocUnsafeSlow(this.pieceBytes);
  }

  give(piece: Buffer): void {
    if (piece.length !== this.pieceBytes) return; // a row's own piece, never taken from the pool
    this.inUse--;
    if (this.free.length < this.maxFree && this.free.length + this.inUse < this.peak) this.free.push(piece);
  }

  /** Pieces waiting to be used again. */
  get size(): number {
    return this.free.length;
  }
}

/**
 * A batch encoded as its rows come (the sink's batches): each row is encoded at once and copied into the batch's
 * open piece (a new one from the pool when it does not fit; a row larger than a piece gets one of its own size).
 * No row object outlives its push: a batch waits up to clickhouse.batch.maxDelayMs, and rows kept as objects that
 * long were copied by every scavenge and promoted to the old generation, to be collected by a major GC.
 */
export class EncodedRows {
  count = 0;
  /** Encoded bytes of every row added. */
  bytes = 0;
  private readonly full: Buffer[] = [];
  private readonly used: number[] = [];
  private open: Buffer | null = null;
  private at = 0;

  constructor(
    readonly table: RowBinaryTable,
    /** Where each row is encoded before it is copied in (one per table, reused). */
    private readonly scratch: BinaryWriter,
    private readonly write: (w: BinaryWriter, row: object) => void,
    private readonly pool: PiecePool,
  ) {}

  /** Encodes the row; returns its bytes. */
  add(row: object): number {
    const w = this.scratch;
    w.at = 0;
    this.write(w, row);
    const n = w.at;
    if (this.open === null || this.at + n > this.open.length) {
      this.close();
      this.open = n <= this.pool.pieceBytes ? this.pool.take() : Buffer.allocUnsafeSlow(n);
    }
    w.buf.copy(this.open, this.at, 0, n);
    this.at += n;
    this.count++;
    this.bytes += n;
    return n;
  }

  /** Every row's bytes, in order, in pieces of whole rows (what the insert's body is made of). */
  pieces(): Buffer[] {
    this.close();
    return this.full.map((piece, i) => piece.subarray(0, this.used[i]));
  }

  /** Gives the pieces back to the pool: for a batch in ClickHouse or on disk, never read again. */
  release(): void {
    this.close();
    for (const piece of this.full) this.pool.give(piece);
    this.full.length = 0;
    this.used.length = 0;
    this.count = 0;
    this.bytes = 0;
  }

  private close(): void {
    if (this.open === null) return;
    this.full.push(this.open);
    this.used.push(this.at);
    this.open = null;
    this.at = 0;
  }
}

/** Rows as objects, whether they travel as objects (a spill file read back) or encoded (the sink's batches). */
export function rowsOf(rows: readonly object[] | EncodedRows): readonly object[] {
  return rows instanceof EncodedRows ? rows.table.decode(rows.pieces()) : rows;
}

const tables = new Map<string, RowBinaryTable>();

/** The RowBinary encoding of a table Vigil writes (TABLES), or null for any other table. */
export function rowBinaryTable(table: string): RowBinaryTable | null {
  const name = table.slice(table.indexOf('.') + 1);
  if (!Object.hasOwn(TABLES, name)) return null;
  let t = tables.get(name);
  if (!t) {
    const types = TABLES[name as TableName] as Record<string, string>;
    const columns = Object.keys(types);
    const puts = columns.map((c) => putFor(types[c]));
    const gets = columns.map((c) => getFor(types[c]));
    const scratch = new BinaryWriter(1024);
    const writeRow = (w: BinaryWriter, row: object): void => {
      const r = row as Record<string, unknown>;
      for (let i = 0; i < columns.length; i++) puts[i](w, r[columns[i]]);
    };
    const encodeRange = (rows: readonly object[], from: number, to: number): Buffer => {
      const w = new BinaryWriter((to - from) * 160);
      for (let k = from; k < to; k++) writeRow(w, rows[k]);
      return w.buf.subarray(0, w.at);
    };
    const table: RowBinaryTable = {
      name: name as TableName,
      columns,
      encode(rows) {
        return encodeRange(rows, 0, rows.length);
      },
      *chunks(rows, rowsPerChunk = ROWS_PER_CHUNK) {
        for (let from = 0; from < rows.length; from += rowsPerChunk) yield encodeRange(rows, from, Math.min(rows.length, from + rowsPerChunk));
      },
      gather(pool) {
        return new EncodedRows(table, scratch, writeRow, pool);
      },
      decode(pieces) {
        const out: Record<string, unknown>[] = [];
        for (const piece of pieces) {
          const r = new BinaryReader(piece);
          while (r.at < piece.length) {
            const row: Record<string, unknown> = {};
            for (let i = 0; i < columns.length; i++) row[columns[i]] = gets[i](r);
            out.push(row);
          }
        }
        return out;
      },
    };
    t = table;
    tables.set(name, t);
  }
  return t;
}
