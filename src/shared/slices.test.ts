import { describe, expect, it } from 'vitest';
import { inSlices, nextTurn, paced } from './slices.js';
import { turnsDuring } from './slices.testing.js';

describe('slices', () => {
  it('runs a step per turn of the loop until it reports done, other work running between the slices', async () => {
    let left = 4;
    let slices = 0;
    const turns = await turnsDuring(() =>
      inSlices(() => {
        slices++;
        return --left === 0;
      }),
    );
    expect(slices).toBe(4);
    // Four slices, a turn after each of the first three: the re-arming immediate ran between them.
    expect(turns).toBeGreaterThanOrEqual(3);
  });

  it('hands each slice a budget that runs out after its time, and stops between slices when told', async () => {
    let slices = 0;
    let stop = false;
    await inSlices(
      (more) => {
        slices++;
        // A budget of 0 ms is spent at once.
        expect(more()).toBe(false);
        if (slices === 3) stop = true;
        return false;
      },
      0,
      () => stop,
    );
    expect(slices).toBe(3);
    let generous = false;
    await inSlices((more) => (generous = more()), 60_000);
    expect(generous).toBe(true);
  });

  it('paces an iterable: every item in order, with turns of the loop between items once a slice is spent', async () => {
    const items = Array.from({ length: 50 }, (_, i) => i);
    const seen: number[] = [];
    const turns = await turnsDuring(async () => {
      for await (const i of paced(items, 0)) seen.push(i);
    });
    expect(seen).toEqual(items);
    expect(turns).toBeGreaterThanOrEqual(49);
    // With time left in the slice the items come without a turn between them.
    const quick: number[] = [];
    const fewTurns = await turnsDuring(async () => {
      for await (const i of paced(items, 60_000)) quick.push(i);
    });
    expect(quick).toEqual(items);
    expect(fewTurns).toBeLessThan(5);
  });

  it('nextTurn resolves after an immediate queued before it', async () => {
    const order: string[] = [];
    setImmediate(() => order.push('immediate'));
    await nextTurn();
    order.push('after');
    expect(order).toEqual(['immediate', 'after']);
  });
});
