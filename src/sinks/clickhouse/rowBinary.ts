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

/** One table's insert: its column list (for the INSERT statement) and a writer per column, in that order. */
export interface RowBinaryTable {
  columns: string[];
  encode(rows: readonly object[]): Buffer;
  /**
   * The same bytes in pieces of `rowsPerChunk` rows, each encoded only when the insert's body stream asks for it
   * (RowBinary has no header: the pieces join into the whole). A batch of 10,000 rows encoded at once held the event
   * loop tens of milliseconds at every commit; a piece of ~1,000 is a few. The client paces the pieces (paced(),
   * shared/slices.ts): a stream pulls a plain iterator whole in one stretch while the socket takes every write.
   */
  chunks(rows: readonly object[], rowsPerChunk?: number): Generator<Buffer>;
}

/** Rows per piece of an insert's body (~250 KB and a few milliseconds of encoding at the bench's rows). */
export const ROWS_PER_CHUNK = 1_024;

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
    const encodeRange = (rows: readonly object[], from: number, to: number): Buffer => {
      const w = new BinaryWriter((to - from) * 160);
      for (let k = from; k < to; k++) {
        const r = rows[k] as Record<string, unknown>;
        for (let i = 0; i < columns.length; i++) puts[i](w, r[columns[i]]);
      }
      return w.buf.subarray(0, w.at);
    };
    t = {
      columns,
      encode(rows) {
        return encodeRange(rows, 0, rows.length);
      },
      *chunks(rows, rowsPerChunk = ROWS_PER_CHUNK) {
        for (let from = 0; from < rows.length; from += rowsPerChunk) yield encodeRange(rows, from, Math.min(rows.length, from + rowsPerChunk));
      },
    };
    tables.set(name, t);
  }
  return t;
}
