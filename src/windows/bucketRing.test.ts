import { describe, expect, it } from 'vitest';
import { SnapshotReader, SnapshotWriter } from '../shared/snapshotCodec.js';
import { BucketRing, NibbleRing } from './bucketRing.js';

describe('BucketRing', () => {
  it('sums a sliding window of whole buckets as the clock moves on', () => {
    const ring = new BucketRing(10, 6, Float32Array, 2); // one hour of 10-minute buckets
    let head = 0;
    for (const t of [0, 5, 15, 59]) {
      ring.advance(0, head, Math.max(head, t));
      head = Math.max(head, t);
      ring.add(0, head, t, 1);
    }
    expect(ring.sum(0, head, 59)).toBe(4);
    // at minute 60 the bucket [0,10) holding minutes 0 and 5 has slid out; 15 and 59 remain
    expect(ring.sum(0, head, 60)).toBe(2);
    expect(ring.sum(0, head, 100)).toBe(1);
    expect(ring.sum(0, head, 110)).toBe(0);
  });

  it('places an out-of-order event in its own bucket and ignores one older than the ring', () => {
    const ring = new BucketRing(1, 5, Uint16Array, 1);
    const head = 100;
    ring.advance(0, 0, head);
    expect(ring.add(0, head, 98, 1)).toBe(true);
    expect(ring.add(0, head, 95, 1)).toBe(false);
    expect(ring.sum(0, head, 100)).toBe(1);
    expect(ring.sum(0, head, 100, 2)).toBe(0);
    expect(ring.sum(0, head, 100, 3)).toBe(1);
  });

  it('clears the buckets the head passes over, so old counts never reappear', () => {
    const ring = new BucketRing(1, 5, Uint8Array, 1);
    ring.add(0, 0, 0, 3);
    ring.advance(0, 0, 5); // index 5 reuses the position of index 0
    ring.add(0, 5, 5, 1);
    expect(ring.sum(0, 5, 5)).toBe(1);
    ring.advance(0, 5, 100);
    expect(ring.sum(0, 100, 100)).toBe(0);
  });

  it('saturates integer buckets instead of wrapping', () => {
    const ring = new BucketRing(1, 2, Uint8Array, 1);
    for (let i = 0; i < 300; i++) ring.add(0, 0, 0, 1);
    expect(ring.sum(0, 0, 0)).toBe(255);
  });

  it('keeps slots apart and survives growth', () => {
    const ring = new BucketRing(60, 24, Float32Array, 1);
    ring.add(0, 0, 0, 2);
    ring.grow(3);
    ring.add(2, 0, 0, 5);
    expect(ring.sum(0, 0, 0)).toBe(2);
    expect(ring.sum(1, 0, 0)).toBe(0);
    expect(ring.sum(2, 0, 0)).toBe(5);
  });

  it('returns a daily series oldest first with zeros for quiet days', () => {
    const ring = new BucketRing(1440, 14, Float32Array, 1);
    const head = 1440 * 20 + 5;
    ring.advance(0, 0, head);
    ring.add(0, head, 1440 * 20, 4);
    ring.add(0, head, 1440 * 18, 2);
    expect(ring.series(0, head, head, 4)).toEqual([0, 2, 0, 4]);
    expect(ring.series(0, head, head + 1440, 3)).toEqual([0, 4, 0]);
  });

  it('keeps fixed-point sixteenths in integer storage: exact for halves, rounded to 1/16 otherwise, saturating', () => {
    const ring = new BucketRing(10, 6, Uint16Array, 1, 16);
    ring.add(0, 0, 0, 0.5);
    ring.add(0, 0, 0, 2);
    expect(ring.sum(0, 0, 0)).toBe(2.5);
    ring.add(0, 0, 1, 0.3); // 4.8 sixteenths, kept as 5
    expect(ring.sum(0, 0, 1)).toBe(2.5 + 5 / 16);
    for (let i = 0; i < 10_000; i++) ring.add(0, 0, 2, 1);
    expect(ring.sum(0, 0, 2)).toBe(0xffff / 16);
  });
});

describe('NibbleRing', () => {
  it('does the bucket arithmetic of BucketRing with two buckets to a byte', () => {
    const nibbles = new NibbleRing(10, 6, 3);
    const bytes = new BucketRing(10, 6, Uint8Array, 3);
    let head = 0;
    // Random walk over minutes and slots, out of order within the ring, compared bucket for bucket.
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 2_000; i++) {
      const t = head + Math.floor(next() * 30) - 10;
      if (t > head) {
        for (const r of [nibbles, bytes]) for (let s = 0; s < 3; s++) r.advance(s, head, t);
        head = t;
      }
      const slot = Math.floor(next() * 3);
      expect(nibbles.add(slot, head, t, 1)).toBe(bytes.add(slot, head, t, 1));
      const now = head + Math.floor(next() * 20);
      // the bytes ring saturates at 255, the nibbles at 15: compare while nothing is past 15
      if (bytes.series(slot, head, head).every((v) => v <= 15)) {
        expect(nibbles.sum(slot, head, now)).toBe(bytes.sum(slot, head, now));
        expect(nibbles.series(slot, head, now)).toEqual(bytes.series(slot, head, now));
      }
    }
  });

  it('saturates at 15 and keeps neighbouring buckets apart', () => {
    const ring = new NibbleRing(1, 3, 2);
    for (let i = 0; i < 40; i++) ring.add(1, 2, 1, 1);
    ring.add(1, 2, 0, 2);
    ring.add(1, 2, 2, 3);
    expect(ring.series(1, 2, 2)).toEqual([2, 15, 3]);
    expect(ring.sum(0, 2, 2)).toBe(0);
  });

  it('restores itself from a checkpoint, and a ring of bytes from the earlier layout', () => {
    const before = new BucketRing(60, 5, Uint8Array, 2);
    before.add(1, 0, 0, 3);
    before.add(1, 0, 0, 40);
    const w = new SnapshotWriter();
    before.save(w, 'old', 2);
    const ring = new NibbleRing(60, 5, 2);
    ring.add(0, 0, 0, 9);
    ring.save(w, 'new', 2);
    const r = new SnapshotReader(w.finish());
    const again = new NibbleRing(60, 5, 4);
    again.load(r, 'new', 4);
    expect(again.sum(0, 0, 0)).toBe(9);
    const converted = new NibbleRing(60, 5, 4);
    converted.loadConverted(r, 'old', 4, Uint8Array, 1);
    expect(converted.sum(1, 0, 0)).toBe(15);
  });
});
