import { describe, expect, it } from 'vitest';
import { BlobBuffer, packSnapshot, snapshotBytes, SnapshotReader, SnapshotWriter } from './snapshotCodec.js';
import { turnsDuring } from './slices.testing.js';

/** The bytes a typed array covers (a view into a blob covers part of its buffer). */
const bytesOf = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe('snapshot codec', () => {
  it('round-trips JSON and typed arrays of every width', () => {
    const w = new SnapshotWriter();
    w.json.meta = { a: 1, ids: ['x', null] };
    w.array('u8', Uint8Array.of(1, 2, 3));
    w.array('i32', Int32Array.of(-1, 2 ** 31 - 1));
    w.array('f64', Float64Array.of(Math.PI, -0));
    w.array('f32', new Float32Array([1.5, 2.5]).subarray(1));
    const r = new SnapshotReader(w.finish());
    expect(r.json.meta).toEqual({ a: 1, ids: ['x', null] });
    expect([...r.array('u8', Uint8Array)!]).toEqual([1, 2, 3]);
    expect([...r.array('i32', Int32Array)!]).toEqual([-1, 2 ** 31 - 1]);
    expect([...r.array('f64', Float64Array)!]).toEqual([Math.PI, -0]);
    expect([...r.array('f32', Float32Array)!]).toEqual([2.5]);
    expect(r.array('missing', Uint8Array)).toBeNull();
  });

  it('reads a blob handed back as a Node Buffer view at an odd offset', () => {
    const w = new SnapshotWriter();
    w.array('i32', Int32Array.of(-1, 7));
    const blob = w.finish();
    const holder = Buffer.alloc(blob.byteLength + 133);
    holder.set(blob, 133);
    const r = new SnapshotReader(holder.subarray(133));
    expect([...r.array('i32', Int32Array)!]).toEqual([-1, 7]);
    // At an offset its type can be read at, the array is a view into the blob, not a copy.
    const even = Buffer.alloc(blob.byteLength + 136);
    even.set(blob, 136);
    const aligned = new SnapshotReader(even.subarray(136)).array('i32', Int32Array)!;
    expect([...aligned]).toEqual([-1, 7]);
    expect(aligned.buffer).toBe(even.buffer);
  });

  it('refuses what is not a checkpoint, and an array read with the wrong width', () => {
    expect(() => new SnapshotReader(new Uint8Array(16))).toThrow(/not a Vigil checkpoint/);
    const w = new SnapshotWriter();
    w.array('i32', Int32Array.of(1));
    expect(() => new SnapshotReader(w.finish()).array('i32', Float64Array)).toThrow(/4-byte elements/);
  });

  it('reads a packed blob as the plain one, and packs mostly empty arrays small', async () => {
    const w = new SnapshotWriter();
    w.json.meta = { n: 3 };
    const counts = new Uint16Array(100_000);
    counts[7] = 5;
    counts[99_999] = 65_535;
    w.array('counts', counts);
    const blob = w.finish();
    const packed = (await packSnapshot(blob)).bytes;
    expect(packed.byteLength).toBeLessThan(blob.byteLength / 20);
    const r = new SnapshotReader(packed);
    expect(r.json.meta).toEqual({ n: 3 });
    expect(Buffer.compare(bytesOf(r.array('counts', Uint16Array)!), bytesOf(counts))).toBe(0);
  });

  it('reads back a packed blob smaller than zlib’s least chunk', async () => {
    const blob = new SnapshotWriter().finish();
    expect(blob.byteLength).toBeLessThan(64);
    expect(new SnapshotReader((await packSnapshot(blob)).bytes).json).toEqual({});
  });

  it('packs a blob whose deflated output spans many pieces and several turns of the loop, and reads it back whole', async () => {
    // Bytes that do not deflate: ~10 MiB out, in 1 MiB pieces joined 4 MiB per turn.
    const noise = new Uint32Array(10 << 18);
    let x = 2463534242;
    for (let i = 0; i < noise.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      noise[i] = x >>> 0;
    }
    const w = new SnapshotWriter();
    w.json.meta = { big: true };
    w.array('noise', noise);
    const blob = w.finish();
    const packed = (await packSnapshot(blob)).bytes;
    expect(packed.byteLength).toBeGreaterThan(10 << 20);
    const r = new SnapshotReader(packed);
    expect(r.json.meta).toEqual({ big: true });
    expect(Buffer.compare(bytesOf(r.array('noise', Uint32Array)!), bytesOf(noise))).toBe(0);
  });

  it('copies the arrays when the blob is finished, not after', () => {
    const w = new SnapshotWriter();
    const live = Int32Array.of(1, 2);
    w.array('live', live);
    const blob = w.finish();
    live[0] = 99;
    expect([...new SnapshotReader(blob).array('live', Int32Array)!]).toEqual([1, 2]);
  });

  it('keeps many strings as one block, empty ones and missing ones included', () => {
    const w = new SnapshotWriter();
    const list = ['c1', '', null, 'ünï\u0000\n"code" 🙂', undefined, 'x'.repeat(300)];
    w.strings('ids', list);
    // a lone surrogate, which UTF-8 cannot carry, is kept as it is too
    w.strings('odd', ['a', '\ud800', 'b']);
    const r = new SnapshotReader(w.finish());
    expect(r.strings('ids')).toEqual(['c1', '', null, 'ünï\u0000\n"code" 🙂', null, 'x'.repeat(300)]);
    expect(r.strings('odd')).toEqual(['a', '\ud800', 'b']);
    expect(r.strings('other')).toBeNull();
  });

  it('writes into a reused buffer the same blob as into a fresh one, stale bytes of a larger earlier blob overwritten', () => {
    const write = (n: number, into?: BlobBuffer) => {
      const w = new SnapshotWriter();
      w.json.n = n;
      w.array('a', Uint8Array.from({ length: n }, (_, i) => (i * 7 + n) & 0xff));
      w.array('b', new Float64Array(3).fill(n));
      w.strings('ids', [`id-${n}`, null, 'x']);
      return w.finish(into);
    };
    const buffer = new BlobBuffer();
    const big = write(1001, buffer);
    big.fill(0xee);
    buffer.release(big);
    for (const n of [5, 13, 1001, 1500]) {
      const reused = write(n, buffer);
      if (n === 1500) expect(reused.buffer).not.toBe(big.buffer);
      else expect(reused.buffer).toBe(big.buffer);
      expect([...reused]).toEqual([...write(n)]);
      expect(new SnapshotReader(reused).array('a', Uint8Array)![n - 1]).toBe(((n - 1) * 7 + n) & 0xff);
      reused.fill(0xee);
      buffer.release(reused);
    }
    // Grown past the first blob once; the grown buffer is kept.
    expect(buffer.capacity).toBeGreaterThanOrEqual(1500);
  });

  it('hands out a fresh buffer while the kept one is out, and that blob’s release leaves the kept one out', () => {
    const buffer = new BlobBuffer();
    const first = buffer.take(64);
    const second = buffer.take(64);
    expect(second.buffer).not.toBe(first.buffer);
    buffer.release(second);
    expect(buffer.take(64).buffer).not.toBe(first.buffer);
    buffer.release(first);
    expect(buffer.take(64).buffer).toBe(first.buffer);
  });

  it('reserves ahead: grows a free buffer too small for the size, so the next take of that size is its memory, and leaves a large enough or taken one alone', async () => {
    const buffer = new BlobBuffer();
    await buffer.reserve(10 << 20);
    expect(buffer.capacity).toBeGreaterThanOrEqual(10 << 20);
    const blob = buffer.take(10 << 20);
    const kept = blob.buffer;
    buffer.release(blob);
    // Large enough already: the same memory (compared as booleans: a failed toBe would print megabytes).
    await buffer.reserve(1 << 20);
    const small = buffer.take(1 << 20);
    expect(small.buffer === kept).toBe(true);
    // Taken (a checkpoint under way): nothing changes, and a take while it is out is fresh memory as before.
    await buffer.reserve(20 << 20);
    expect(buffer.capacity).toBe(kept.byteLength);
    expect(buffer.take(8).buffer === kept).toBe(false);
    buffer.release(small);
    // Free again: now it grows.
    await buffer.reserve(20 << 20);
    expect(buffer.capacity).toBeGreaterThanOrEqual(20 << 20);
    expect(buffer.take(20 << 20).buffer === kept).toBe(false);
  });

  it('pages a reserved buffer in over turns of the event loop, and reads the plain size of a stored blob', async () => {
    const buffer = new BlobBuffer();
    const turns = await turnsDuring(() => buffer.reserve(40 << 20));
    // 50 MiB paged in 4 MiB per turn.
    expect(turns).toBeGreaterThanOrEqual(12);
    const w = new SnapshotWriter();
    w.array('zeros', new Uint8Array(100_000));
    const plain = w.finish();
    expect(snapshotBytes(plain)).toBe(plain.byteLength);
    const packed = (await packSnapshot(plain)).bytes;
    expect(packed.byteLength).toBeLessThan(plain.byteLength / 10);
    expect(snapshotBytes(packed)).toBe(plain.byteLength);
  });
});
