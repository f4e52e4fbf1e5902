import { describe, expect, it } from 'vitest';
import { DirtySet, takenSince } from './dirtySet.js';

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

  it('a drain with a budget stops when it runs out, after one slot at least, and keeps the rest marked in order', () => {
    const d = new DirtySet<string>();
    for (const slot of [7, 3, 9, 4]) d.add(slot, `v${slot}`, slot);
    const seen: number[] = [];
    expect(d.drain((slot) => seen.push(slot), () => false)).toBe(1);
    expect(seen).toEqual([7]);
    expect(d.size).toBe(3);
    expect(d.has(7)).toBe(false);
    // Asked before each visit after the first: one yes is two visits.
    let budget = 1;
    expect(d.drain((slot) => seen.push(slot), () => budget-- > 0)).toBe(2);
    expect(seen).toEqual([7, 3, 9]);
    // A slot left over keeps its latest value and time; marking it again does not move it.
    d.add(4, 'again', 40);
    d.add(3, 'back', 30);
    const rest: [number, string, number][] = [];
    d.drain((slot, v, at) => rest.push([slot, v, at]));
    expect(rest).toEqual([
      [4, 'again', 40],
      [3, 'back', 30],
    ]);
    expect(d.size).toBe(0);
  });

  it('visits each marked slot once with its latest value, however drains with budgets cut the walk (seeded walk against a model)', () => {
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const d = new DirtySet<number>();
    // The model: marked slots in the order first marked since their last visit, each with its latest value.
    const model = new Map<number, number>();
    for (let step = 0; step < 20_000; step++) {
      const op = rand(10);
      if (op < 6) {
        const slot = rand(300);
        d.add(slot, step, step);
        model.set(slot, step);
      } else if (op < 7) {
        const slot = rand(300);
        d.delete(slot);
        model.delete(slot);
      } else {
        let budget = rand(5);
        const before = [...model];
        const seen: [number, number][] = [];
        const markedAgain: number[] = [];
        // Now and then a visit marks its slot again: it joins the end, as an add does.
        const visited = d.drain(
          (slot, v) => {
            seen.push([slot, v]);
            if (rand(8) === 0) {
              d.add(slot, -step, step);
              markedAgain.push(slot);
            }
          },
          op === 9 ? undefined : () => budget-- > 0,
        );
        expect(seen).toEqual(before.slice(0, seen.length));
        for (const [slot] of seen) model.delete(slot);
        for (const slot of markedAgain) model.set(slot, -step);
        expect(visited).toBe(seen.length);
        if (op === 9) expect(d.size).toBe(model.size);
      }
      expect(d.size).toBe(model.size);
    }
  });

  it('tells when every slot marked until a moment has been taken, however drains, deletes and new marks interleave (seeded walk)', () => {
    for (let seed = 1; seed <= 30; seed++) {
      let x = seed;
      const rand = (n: number) => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8) % n;
      const d = new DirtySet<number>();
      const marked = new Set<number>();
      // Each moment: its test, and the slots marked then that were not taken since (the model).
      const moments: { derived: () => boolean; left: Set<number> }[] = [];
      const taken = (slot: number) => {
        marked.delete(slot);
        for (const m of moments) m.left.delete(slot);
      };
      for (let step = 0; step < 400; step++) {
        const op = rand(12);
        if (op < 6) {
          const slot = rand(40);
          d.add(slot, step, step);
          marked.add(slot);
        } else if (op < 8) {
          const slot = rand(40);
          d.delete(slot);
          taken(slot);
        } else if (op < 10) {
          let budget = 1 + rand(6);
          d.drain((slot) => taken(slot), () => budget-- > 0);
        } else if (op === 10) moments.push({ derived: takenSince([d]), left: new Set(marked) });
        else if (rand(10) === 0) {
          d.clear();
          for (const slot of [...marked]) taken(slot);
        }
        for (const m of moments) expect(m.derived(), `seed ${seed}, step ${step}`).toBe(m.left.size === 0);
      }
    }
  });

  it('clears without visiting', () => {
    const d = new DirtySet<number>();
    d.add(4, 4, 0);
    d.clear();
    expect(d.has(4)).toBe(false);
    expect(d.drain(() => expect.unreachable())).toBe(0);
  });
});
