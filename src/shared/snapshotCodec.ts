// One binary blob for a checkpoint: a JSON header plus typed arrays copied whole, 8-byte aligned, no per-item encoding.
import { createHash } from 'node:crypto';
import { constants as zlibConstants, createDeflateRaw, inflateRawSync } from 'node:zlib';
import { nextTurn } from './slices.js';

type Typed = Float32Array | Float64Array | Int32Array | Uint32Array | Uint16Array | Uint8Array;
type TypedCtor<T extends Typed> = { new (n: number): T; new (buf: ArrayBuffer, offset: number, length: number): T; BYTES_PER_ELEMENT: number };

const MAGIC = 0x56474c31; // "VGL1"
/** A VGL1 blob deflated for storage (packSnapshot): the magic, the VGL1 blob's length, then the raw deflate stream. */
const PACKED_MAGIC = 0x56474c5a; // "VGLZ"
const align = (n: number) => (n + 7) & ~7;
/** The length `strings` records for a missing entry. */
export const NO_STRING = 0xffffffff;

interface ArrayEntry {
  offset: number;
  length: number;
  bytesPerElement: number;
}

/**
 * Arrays are copied once, by finish(), straight into the blob (at a million customers a second copy is ~200 MB more to
 * allocate): so finish() must run before the live arrays change, in the same synchronous step as array().
 */
export class SnapshotWriter {
  private readonly arrays: Record<string, ArrayEntry> = {};
  private readonly parts: Uint8Array[] = [];
  private size = 0;
  private readonly texts: Record<string, string> = {};
  readonly json: Record<string, unknown> = {};

  /**
   * Many strings (ids) at once, nulls kept: their lengths as an array and their characters as one block of UTF-8. A
   * million ids encode and decode in a fraction of the time they take as a JSON array of strings.
   */
  strings(name: string, list: readonly (string | null | undefined)[]): void {
    const lengths = new Uint32Array(list.length);
    const present: string[] = [];
    for (let i = 0; i < list.length; i++) {
      const s = list[i];
      if (s === null || s === undefined) lengths[i] = NO_STRING;
      else {
        lengths[i] = s.length;
        present.push(s);
      }
    }
    const text = present.join('');
    // UTF-8 cannot carry a lone surrogate (JSON.parse makes one of "\ud800"): such a block stays in the JSON header.
    if ((text as string & { isWellFormed(): boolean }).isWellFormed()) this.array(`${name}.text`, new TextEncoder().encode(text));
    else this.texts[name] = text;
    this.array(`${name}.lengths`, lengths);
  }

  /**
   * Strings already held as UTF-8 (without lone surrogates), in the layout `strings` writes: `text` their bytes one
   * after another, `lengths` each one's length in UTF-16 units or NO_STRING. Saves decoding a million ids to write them.
   */
  utf8Strings(name: string, text: Uint8Array, lengths: Uint32Array): void {
    this.array(`${name}.text`, text);
    this.array(`${name}.lengths`, lengths);
  }

  array(name: string, a: Typed): void {
    const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    this.arrays[name] = { offset: this.size, length: a.length, bytesPerElement: a.BYTES_PER_ELEMENT };
    this.parts.push(bytes);
    this.size = align(this.size + bytes.byteLength);
  }

  /**
   * The blob: a fresh buffer, or `into`'s when given (its bytes are the blob's until it is released). Every byte is
   * written, the alignment gaps too, so a reused buffer makes the same blob as a fresh one.
   */
  finish(into?: BlobBuffer): Uint8Array {
    const header = new TextEncoder().encode(JSON.stringify({ json: this.json, arrays: this.arrays, strings: this.texts }));
    const start = align(8 + header.byteLength);
    const out = into ? into.take(start + this.size) : new Uint8Array(start + this.size);
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    view.setUint32(0, MAGIC);
    view.setUint32(4, header.byteLength);
    out.set(header, 8);
    let end = 8 + header.byteLength;
    Object.values(this.arrays).forEach((e, i) => {
      const at = start + e.offset;
      if (into) out.fill(0, end, at);
      out.set(this.parts[i], at);
      end = at + this.parts[i].byteLength;
    });
    if (into) out.fill(0, end);
    return out;
  }
}

/**
 * One buffer for a slice's checkpoint blobs, taken by each checkpoint and released once the blob is stored. Copying
 * the live arrays into memory the process already touched costs about a tenth of copying them into a fresh
 * allocation, whose every page the kernel must fault in and zero: at 1,000,000 customers (250 MB) ~17 ms against
 * ~180 ms on this machine, and more under load, all of it on the event loop. The price is the blob's size held
 * between checkpoints. A take while the buffer is out (never in the commit protocol, which stores one checkpoint of
 * a slice at a time) gets a fresh allocation, which its release leaves alone.
 */
export class BlobBuffer {
  private buffer: Uint8Array | null = null;
  private out = false;

  /** `size` bytes, of the kept buffer when it is free and large enough (grown by a quarter when it is not). */
  take(size: number): Uint8Array {
    if (this.out) return new Uint8Array(size);
    if (this.buffer === null || this.buffer.byteLength < size) this.buffer = new Uint8Array(Math.ceil(size * 1.25));
    this.out = true;
    return this.buffer.subarray(0, size);
  }

  /** `blob` (what a take returned) is no longer read: when it is the kept buffer's, the next take may write over it. */
  release(blob: Uint8Array): void {
    if (this.buffer !== null && blob.buffer === this.buffer.buffer) this.out = false;
  }

  /** Bytes held between checkpoints. */
  get capacity(): number {
    return this.buffer?.byteLength ?? 0;
  }

  /**
   * Ahead of a checkpoint, while the loop is free: when the kept buffer is free and smaller than `size`, a new one
   * (a quarter larger than `size`, as take() grows it), its pages written PAGE_IN_BYTES per turn of the event loop so
   * the kernel faults them in there, not in the checkpoint's synchronous copy: a growth there cost ~870 ms once at
   * 1,000,000 customers. The old buffer is kept until the new one is ready.
   */
  async reserve(size: number): Promise<void> {
    if (this.out || this.capacity >= size) return;
    const next = new Uint8Array(Math.ceil(size * 1.25));
    for (let at = 0; at < next.byteLength; at += PAGE_IN_BYTES) {
      next.fill(0, at, Math.min(next.byteLength, at + PAGE_IN_BYTES));
      await nextTurn();
    }
    // A take while it was being paged in has the old buffer out: the new one waits for the next reserve.
    if (!this.out) this.buffer = next;
  }
}

/** How much of a new BlobBuffer is paged in per turn of the event loop (~1-3 ms of page faults). */
const PAGE_IN_BYTES = 4 << 20;

/** The size of the plain blob a stored checkpoint holds (a packed one's header says it), to size the next one's buffer. */
export function snapshotBytes(stored: Uint8Array): number {
  if (stored.byteLength < 8) return stored.byteLength;
  const view = new DataView(stored.buffer, stored.byteOffset, stored.byteLength);
  return view.getUint32(0) === PACKED_MAGIC ? view.getUint32(4) : stored.byteLength;
}

export class SnapshotReader {
  readonly json: Record<string, unknown>;
  private readonly arrays: Record<string, ArrayEntry>;
  private readonly texts: Record<string, string>;
  private readonly start: number;

  private readonly blob: Uint8Array;

  /** Reads a blob as SnapshotWriter.finish() made it, or as packSnapshot() stored it. */
  constructor(stored: Uint8Array) {
    const blob = unpackSnapshot(stored);
    this.blob = blob;
    const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    if (blob.byteLength < 8 || view.getUint32(0) !== MAGIC) throw new Error('not a Vigil checkpoint');
    const len = view.getUint32(4);
    const header = JSON.parse(new TextDecoder().decode(blob.subarray(8, 8 + len))) as { json: Record<string, unknown>; arrays: Record<string, ArrayEntry>; strings?: Record<string, string> };
    this.json = header.json;
    this.arrays = header.arrays;
    this.texts = header.strings ?? {};
    this.start = align(8 + len);
  }

  has(name: string): boolean {
    return Object.hasOwn(this.arrays, name);
  }

  /** What SnapshotWriter.strings wrote under `name`, or null when the checkpoint has none. */
  strings(name: string): (string | null)[] | null {
    const lengths = this.array(`${name}.lengths`, Uint32Array);
    const e = this.arrays[`${name}.text`];
    const text = e ? new TextDecoder().decode(this.blob.subarray(this.start + e.offset, this.start + e.offset + e.length)) : this.texts[name];
    if (text === undefined || lengths === null) return null;
    const out = new Array<string | null>(lengths.length);
    let at = 0;
    for (let i = 0; i < lengths.length; i++) {
      const n = lengths[i];
      if (n === NO_STRING) out[i] = null;
      else {
        out[i] = text.slice(at, at + n);
        at += n;
      }
    }
    return out;
  }

  /**
   * What SnapshotWriter.strings or utf8Strings wrote under `name` as UTF-8 bytes and UTF-16 lengths (NO_STRING for a
   * missing entry), without decoding; null when the checkpoint has none in that form (then `strings` reads them).
   */
  utf8Strings(name: string): { text: Uint8Array; lengths: Uint32Array } | null {
    const lengths = this.array(`${name}.lengths`, Uint32Array);
    const text = this.has(`${name}.text`) ? this.array(`${name}.text`, Uint8Array) : null;
    return lengths === null || text === null ? null : { text, lengths };
  }

  /** Bytes per element of the named array, or null when the checkpoint has none (for reading an older layout). */
  elementBytes(name: string): number | null {
    return this.arrays[name]?.bytesPerElement ?? null;
  }

  /**
   * The named array, or null when the checkpoint has none: a view into the blob (callers copy what they keep; every
   * loader does), or a copy when the blob lies at an offset its type cannot be read at (a Node Buffer's slice).
   * Copying every array was a second pass over the whole blob at a restore (over 200 MB at 1,000,000 customers).
   */
  array<T extends Typed>(name: string, ctor: TypedCtor<T>): T | null {
    const e = this.arrays[name];
    if (!e) return null;
    if (e.bytesPerElement !== ctor.BYTES_PER_ELEMENT) throw new Error(`checkpoint array ${name} has ${e.bytesPerElement}-byte elements`);
    const at = this.blob.byteOffset + this.start + e.offset;
    if (at % e.bytesPerElement === 0) return new ctor(this.blob.buffer as ArrayBuffer, at, e.length);
    const bytes = new Uint8Array(e.length * e.bytesPerElement);
    bytes.set(this.blob.subarray(this.start + e.offset, this.start + e.offset + bytes.byteLength));
    return new ctor(bytes.buffer, 0, e.length);
  }
}

/** How much of the deflated output is copied into the packed blob per turn of the event loop. */
const PACK_COPY_BYTES = 4 << 20;

/**
 * The blob deflated (level 1) for storage, on libuv's thread pool rather than the event loop. Counters in mostly empty
 * rings shrink ~15×, so uploading and storing a checkpoint (and reading it at a restart) moves a fifteenth of the bytes.
 * With the bytes, their SHA-256 (what the object store records), hashed here as each 1 MiB piece of the
 * deflated output comes: with the CPU's SHA extensions ~0.75 ms a piece, where WebCrypto's digest first copies the
 * whole blob on the event loop (70 ms for 64 MB into fresh memory on this machine). The pieces are joined behind the
 * header PACK_COPY_BYTES per turn of the loop: zlib's own callback joins them whole (and the header took a second
 * copy), tens of megabytes in one step at 250,000 customers.
 */
export async function packSnapshot(blob: Uint8Array): Promise<{ bytes: Uint8Array; sha256: Uint8Array }> {
  const header = new Uint8Array(8);
  const hv = new DataView(header.buffer);
  hv.setUint32(0, PACKED_MAGIC);
  hv.setUint32(4, blob.byteLength);
  const hash = createHash('sha256').update(header);
  const pieces: Buffer[] = [];
  let size = 0;
  await new Promise<void>((resolve, reject) => {
    const z = createDeflateRaw({ level: 1, chunkSize: 1 << 20 });
    z.on('data', (piece: Buffer) => {
      pieces.push(piece);
      hash.update(piece);
      size += piece.byteLength;
    });
    z.once('end', resolve);
    z.once('error', reject);
    z.end(blob);
  });
  const out = new Uint8Array(8 + size);
  out.set(header);
  let at = 8;
  let sinceTurn = 0;
  for (const piece of pieces) {
    if (sinceTurn >= PACK_COPY_BYTES) {
      await nextTurn();
      sinceTurn = 0;
    }
    out.set(piece, at);
    at += piece.byteLength;
    sinceTurn += piece.byteLength;
  }
  return { bytes: out, sha256: new Uint8Array(hash.digest()) };
}

/** The VGL1 blob inside a packed one; any other blob as it is. */
export function unpackSnapshot(stored: Uint8Array): Uint8Array {
  if (stored.byteLength < 8) return stored;
  const view = new DataView(stored.buffer, stored.byteOffset, stored.byteLength);
  if (view.getUint32(0) !== PACKED_MAGIC) return stored;
  const size = view.getUint32(4);
  // One output buffer a byte larger than the blob: zlib's default 16 KiB chunks are allocated one by one and joined
  // by a copy at the end (at 1,000,000 customers ~30,000 chunks of a 490 MB blob: 0.9 s of the restore, 0.3 s here);
  // a buffer of exactly the size would be followed by a second one, empty, when the output fills it.
  const blob = inflateRawSync(stored.subarray(8), { chunkSize: Math.max(zlibConstants.Z_MIN_CHUNK, size + 1) });
  if (blob.byteLength !== size) throw new Error(`packed checkpoint inflates to ${blob.byteLength} bytes, not ${size}`);
  return blob;
}
