import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/clock.js';
import { Batcher, estimateJsonBytes, type Batch, type BatchPolicy } from './batcher.js';

interface Row {
  id: number;
  pad?: string;
}

function setup(policy: Partial<BatchPolicy> = {}, sizeOf?: (row: Row) => number) {
  const clock = new ManualClock(1_000_000);
  const batches: Batch<Row[]>[] = [];
  const batcher = new Batcher<Row>(
    { maxRows: 1_000, maxBytes: 1_000_000, maxDelayMs: 2_000, ...policy },
    (b) => batches.push(b),
    { clock, sizeOf },
  );
  const ids = () => batches.map((b) => b.rows.map((r) => r.id));
  return { clock, batches, batcher, ids };
}

describe('Batcher', () => {
  it('cuts a batch as soon as it holds maxRows rows', () => {
    const { batcher, batches, ids } = setup({ maxRows: 3 });
    for (let i = 1; i <= 7; i++) batcher.add('t', { id: i });
    expect(ids()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(batches.map((b) => b.reason)).toEqual(['rows', 'rows']);
    expect(batcher.bufferedRows()).toBe(1);
  });

  it('cuts before the row that would pass maxBytes, so no batch exceeds it', () => {
    const { batcher, batches, ids } = setup({ maxBytes: 100 }, () => 30);
    for (let i = 1; i <= 7; i++) batcher.add('t', { id: i });
    expect(ids()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(batches.every((b) => b.bytes <= 100 && b.reason === 'bytes')).toBe(true);
    expect(batches[0].bytes).toBe(90);
  });

  it('cuts at once when a batch reaches maxBytes exactly, and sends an oversized row alone', () => {
    const { batcher, ids } = setup({ maxBytes: 100 }, (r) => (r.pad ? r.pad.length : 50));
    batcher.add('t', { id: 1 });
    batcher.add('t', { id: 2 }); // 100 bytes: full
    batcher.add('t', { id: 3, pad: 'x'.repeat(500) }); // larger than maxBytes on its own
    batcher.add('t', { id: 4 });
    expect(ids()).toEqual([[1, 2], [3]]);
    expect(batcher.bufferedRows()).toBe(1);
  });

  it('cuts maxDelayMs after the first row of a batch, not after the last', () => {
    const { batcher, clock, batches, ids } = setup({ maxDelayMs: 2_000 });
    const opened = clock.now();
    batcher.add('t', { id: 1 });
    clock.advance(1_500);
    batcher.add('t', { id: 2 });
    clock.advance(499);
    expect(batches).toHaveLength(0);
    clock.advance(1);
    expect(ids()).toEqual([[1, 2]]);
    expect(batches[0]).toMatchObject({ reason: 'delay', openedAt: opened, cutAt: opened + 2_000 });
    expect(clock.pending()).toBe(0);
  });

  it('starts a fresh deadline for the batch after a cut', () => {
    const { batcher, clock, batches } = setup({ maxRows: 2, maxDelayMs: 1_000 });
    batcher.add('t', { id: 1 });
    batcher.add('t', { id: 2 }); // cut by rows; its timer is cancelled
    expect(clock.pending()).toBe(0);
    clock.advance(600);
    batcher.add('t', { id: 3 });
    clock.advance(999);
    expect(batches).toHaveLength(1);
    clock.advance(1);
    expect(batches.map((b) => b.reason)).toEqual(['rows', 'delay']);
  });

  it('keeps one batch per key, each with its own limits and deadline', () => {
    const { batcher, clock, batches } = setup({ maxRows: 2, maxDelayMs: 1_000 });
    batcher.add('a', { id: 1 });
    clock.advance(500);
    batcher.add('b', { id: 2 });
    batcher.add('a', { id: 3 });
    expect(batches.map((b) => [b.key, b.reason])).toEqual([['a', 'rows']]);
    clock.advance(1_000);
    expect(batches.map((b) => [b.key, b.reason, b.rows.length])).toEqual([
      ['a', 'rows', 2],
      ['b', 'delay', 1],
    ]);
  });

  it('flush cuts every open batch now and leaves no timers behind', () => {
    const { batcher, clock, batches } = setup();
    batcher.add('a', { id: 1 });
    batcher.add('b', { id: 2 });
    batcher.flush();
    expect(batches.map((b) => [b.key, b.reason])).toEqual([
      ['a', 'flush'],
      ['b', 'flush'],
    ]);
    expect(batcher.bufferedRows()).toBe(0);
    expect(clock.pending()).toBe(0);
  });

  it('close drops open batches and reports how many rows', () => {
    const { batcher, clock, batches } = setup();
    batcher.add('a', { id: 1 });
    batcher.add('a', { id: 2 });
    expect(batcher.close()).toBe(2);
    clock.advance(10_000);
    expect(batches).toHaveLength(0);
  });
});

describe('Batcher with a gathering', () => {
  /** Gathers the ids into a string, each id counting its own digits as bytes. */
  function setupGathering(policy: Partial<BatchPolicy>) {
    const clock = new ManualClock(0);
    const batches: Batch<{ ids: string }>[] = [];
    const batcher = new Batcher<Row, { ids: string }>({ maxRows: 1_000, maxBytes: 1_000_000, maxDelayMs: 2_000, ...policy }, (b) => batches.push(b), {
      clock,
      sizeOf: () => { throw new Error('a gathering counts its own bytes'); },
      gathering: {
        open: (key) => ({ ids: `${key}:` }),
        add(into, row) {
          into.ids += String(row.id);
          return String(row.id).length;
        },
      },
    });
    return { clock, batches, batcher };
  }

  it('hands out what the gathering made, with the count and the bytes it counted', () => {
    const { batcher, batches, clock } = setupGathering({ maxRows: 3 });
    for (const id of [1, 22, 333, 4]) batcher.add('t', { id });
    expect(batches.map((b) => [b.rows.ids, b.count, b.bytes, b.reason])).toEqual([['t:122333', 3, 6, 'rows']]);
    expect(batcher.bufferedRows()).toBe(1);
    clock.advance(2_000);
    expect(batches.map((b) => [b.rows.ids, b.count, b.reason])).toEqual([['t:122333', 3, 'rows'], ['t:4', 1, 'delay']]);
  });

  it('cuts after the row that reaches maxBytes (its bytes are known only once added)', () => {
    const { batcher, batches } = setupGathering({ maxBytes: 4 });
    for (const id of [1, 22, 333, 4, 5]) batcher.add('t', { id });
    // 1 and 22 take 3 bytes, under 4; 333 takes the batch to 6 and cuts it; 4 and 5 open the next.
    expect(batches.map((b) => [b.rows.ids, b.bytes, b.reason])).toEqual([['t:122333', 6, 'bytes']]);
    expect(batcher.close()).toBe(2);
  });
});

describe('estimateJsonBytes', () => {
  it('is close to the real JSON size for a typical row', () => {
    const row = { customer_id: 'c-123456', minute: 1_700_000_000, event_type: 'page_view', events: 12, revenue: 0, writer: 123456789, version: 3, reasons: ['a', 'bb'] };
    const real = JSON.stringify(row).length + 1;
    const estimate = estimateJsonBytes(row);
    expect(Math.abs(estimate - real) / real).toBeLessThan(0.2);
  });
});
