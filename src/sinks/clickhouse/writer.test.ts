import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/clock.js';
import { EncodedRows, rowsOf } from './rowBinary.js';
import type { CustomerActivityRow } from './tables.js';
import { ClickHouseSink, retryDelayMs } from './writer.js';

/** An insert that fails while `down` is set, and records every batch it accepts. */
class FakeClickHouse {
  down = false;
  attempts = 0;
  inserted: { table: string; rows: object[] }[] = [];

  async insert(table: string, rows: readonly object[] | EncodedRows): Promise<void> {
    this.attempts++;
    await Promise.resolve();
    if (this.down) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' });
    this.inserted.push({ table, rows: [...rowsOf(rows)] });
  }
}

function activity(i: number): CustomerActivityRow {
  return { customer_id: `c${i}`, minute: 1_700_000_040, event_type: 'page_view', events: 1, revenue: 0, writer: 7, version: 1 };
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

function setup() {
  const clock = new ManualClock(0);
  const ch = new FakeClickHouse();
  const sink = new ClickHouseSink(ch, {
    batch: { maxRows: 3, maxBytes: 1_000_000, maxDelayMs: 1_000 },
    retry: { initialDelayMs: 100, maxDelayMs: 1_000 },
    clock,
    random: () => 1,
  });
  return { clock, ch, sink };
}

describe('ClickHouseSink', () => {
  it('inserts whole batches, never row by row', async () => {
    const { ch, sink, clock } = setup();
    for (let i = 0; i < 7; i++) sink.push('customer_activity', activity(i));
    await settle();
    expect(ch.inserted.map((b) => b.rows.length)).toEqual([3, 3]);
    clock.advance(1_000);
    await settle();
    expect(ch.inserted.map((b) => b.rows.length)).toEqual([3, 3, 1]);
    expect(sink.counters).toMatchObject({ rowsPushed: 7, rowsWritten: 7, batchesWritten: 3, insertFailures: 0 });
    expect(sink.counters.rowsWrittenByTable).toEqual({ customer_activity: 7 });
    expect(sink.bufferedRows()).toBe(0);
  });

  it('flush resolves once everything pushed before it is inserted', async () => {
    const { ch, sink } = setup();
    sink.push('customer_activity', activity(1));
    let flushed = false;
    const flushing = sink.flush().then(() => (flushed = true));
    expect(sink.bufferedRows()).toBe(1);
    await flushing;
    expect(flushed).toBe(true);
    expect(ch.inserted).toHaveLength(1);
    expect(sink.bufferedRows()).toBe(0);
  });

  it('retries a failed batch whole with doubling delays while ClickHouse is down, then recovers', async () => {
    const { ch, sink, clock } = setup();
    ch.down = true;
    for (let i = 0; i < 2; i++) sink.push('customer_activity', activity(i));
    let flushed = false;
    const flushing = sink.flush().then(() => (flushed = true));
    await settle();
    expect(ch.attempts).toBe(1);
    expect(sink.state()).toMatchObject({ ok: false, lastError: expect.stringContaining('ECONNREFUSED') });
    expect(sink.state().detail).toMatch(/customer_activity: 2 rows waiting, attempt 1 failed .*next in 100 ms/);

    // Delays double: 100, 200, 400, then stay at the 1,000 ms cap.
    for (const delay of [100, 200, 400, 800, 1_000, 1_000]) {
      clock.advance(delay - 1);
      await settle();
      const before = ch.attempts;
      clock.advance(1);
      await settle();
      expect(ch.attempts).toBe(before + 1);
    }
    expect(flushed).toBe(false);
    expect(sink.bufferedRows()).toBe(2);

    ch.down = false;
    clock.advance(1_000);
    await flushing;
    expect(ch.inserted).toEqual([{ table: 'customer_activity', rows: [activity(0), activity(1)] }]);
    expect(sink.state()).toMatchObject({ ok: true, detail: 'idle' });
    expect(sink.state().lastError).toContain('ECONNREFUSED');
    expect(sink.counters.insertFailures).toBe(7);
  });

  it('keeps batches of one table in order behind a failing one', async () => {
    const { ch, sink, clock } = setup();
    ch.down = true;
    for (let i = 0; i < 6; i++) sink.push('customer_activity', activity(i));
    await settle();
    ch.down = false;
    clock.advance(100);
    await sink.flush();
    expect(ch.inserted.map((b) => (b.rows[0] as CustomerActivityRow).customer_id)).toEqual(['c0', 'c3']);
  });

  it('encodes each row as it is pushed: the insert gets the encoding, and a row object changed later changes nothing', async () => {
    const clock = new ManualClock(0);
    const got: { encoded: boolean; bytes: number; rows: readonly object[] }[] = [];
    const insert = async (_table: string, rows: readonly object[] | EncodedRows) => void got.push({ encoded: rows instanceof EncodedRows, bytes: (rows as EncodedRows).bytes, rows: rowsOf(rows) });
    const sink = new ClickHouseSink({ insert }, { batch: { maxRows: 2, maxBytes: 1_000_000, maxDelayMs: 1_000 }, retry: { initialDelayMs: 100, maxDelayMs: 1_000 }, clock });
    const row = activity(1);
    sink.push('customer_activity', row);
    Object.assign(row, { events: 42 }); // a caller reusing its object: what was pushed is what lands
    sink.push('customer_activity', activity(2));
    await settle();
    expect(got).toEqual([{ encoded: true, bytes: sink.counters.bytesWritten, rows: [activity(1), activity(2)] }]);
    expect(sink.pieces.size).toBe(1); // the batch's piece, back in the pool once inserted
  });

  it('abort drops what is buffered and stops retrying', async () => {
    const { ch, sink, clock } = setup();
    ch.down = true;
    for (let i = 0; i < 4; i++) sink.push('customer_activity', activity(i));
    await settle();
    sink.abort();
    expect(sink.counters.rowsDropped).toBe(4);
    expect(sink.bufferedRows()).toBe(0);
    expect(clock.pending()).toBe(0);
    const attempts = ch.attempts;
    clock.advance(60_000);
    await settle();
    expect(ch.attempts).toBe(attempts);
  });
});

describe('retryDelayMs', () => {
  it('doubles from the initial delay up to the cap and spreads over the upper half', () => {
    const policy = { initialDelayMs: 500, maxDelayMs: 30_000 };
    expect([1, 2, 3, 7, 8, 50].map((a) => retryDelayMs(policy, a, 1))).toEqual([500, 1_000, 2_000, 30_000, 30_000, 30_000]);
    expect(retryDelayMs(policy, 1, 0)).toBe(250);
  });
});
