import { describe, expect, it } from 'vitest';
import { DirtySet } from './dirtySet.js';

describe('DirtySet', () => {
  it('holds a slot once however often it is marked, with the latest value, in the order first marked', () => {
    const d = new DirtySet<string>();
    d.add(7, 'a', 1);
    d.add(3, 'b', 2);
    d.add(7, 'c', 3);
    expect(d.size).toBe(2);
    const seen: [number, string, number][] = [];
    expect(d.drain((slot, v, at) => seen.push([slot, v, at]))).toBe(2);
    expect(seen).toEqual([[7, 'c', 3], [3, 'b', 2]]);
  });

  it('is empty after a drain, and a slot marked again after it is visited again', () => {
    const d = new DirtySet<number>();
    d.add(1, 10, 0);
    d.drain(() => undefined);
    expect(d.size).toBe(0);
    expect(d.has(1)).toBe(false);
    expect(d.drain(() => expect.unreachable())).toBe(0);
    d.add(1, 11, 0);
    const seen: number[] = [];
    d.drain((_slot, v) => seen.push(v));
    expect(seen).toEqual([11]);
  });

  it('skips a slot deleted after it was marked (its customer evicted or erased)', () => {
    const d = new DirtySet<string>();
    d.add(0, 'gone', 0);
    d.add(1, 'kept', 0);
    d.delete(0);
    const seen: string[] = [];
    expect(d.drain((_slot, v) => seen.push(v))).toBe(1);
    expect(seen).toEqual(['kept']);
    // Marked again after the delete: a new customer in the slot.
    d.add(0, 'new', 0);
    d.drain((_slot, v) => seen.push(v));
    expect(seen).toEqual(['kept', 'new']);
  });

  it('never holds more entries than distinct slots, however many marks (bounded by the slots)', () => {
    const d = new DirtySet<number>();
    for (let i = 0; i < 100_000; i++) d.add(i % 500, i, i);
    expect(d.size).toBe(500);
    let n = 0;
    d.drain(() => n++);
    expect(n).toBe(500);
  });

  it('keeps a slot marked during a drain for the next one', () => {
    const d = new DirtySet<number>();
    d.add(1, 1, 0);
    d.add(2, 2, 0);
    const seen: number[] = [];
    d.drain((slot) => {
      seen.push(slot);
      if (slot === 1) d.add(5, 5, 0);
    });
    expect(seen).toEqual([1, 2]);
    expect(d.size).toBe(1);
    d.drain((slot) => seen.push(slot));
    expect(seen).toEqual([1, 2, 5]);
  });

  it('clears without visiting', () => {
    const d = new DirtySet<number>();
    d.add(4, 4, 0);
    d.clear();
    expect(d.has(4)).toBe(false);
    expect(d.drain(() => expect.unreachable())).toBe(0);
  });
});
