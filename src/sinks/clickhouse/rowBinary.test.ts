// An insert's body in pieces: the pieces join into the batch's encoding at once, and each is encoded only when asked
// for (what lets the socket's turns run between them). What the server reads back: tests/integration/clickhouse.test.ts.
import { describe, expect, it } from 'vitest';
import { PiecePool, rowBinaryTable, rowsOf } from './rowBinary.js';

const activity = (i: number) => ({ customer_id: `c${i}`, minute: '2025-01-15 10:30:00', event_type: i % 2 ? 'page_view' : 'purchase', events: i, revenue: i / 4, writer: '1', version: i });

describe('RowBinary pieces', () => {
  it('joins into the whole encoding, a piece per rowsPerChunk rows and the rest', () => {
    const t = rowBinaryTable('vigil.customer_activity')!;
    const rows = Array.from({ length: 10 }, (_, i) => activity(i));
    const pieces = [...t.chunks(rows, 4)];
    expect(pieces).toHaveLength(3);
    expect(Buffer.concat(pieces).equals(t.encode(rows))).toBe(true);
    expect(Buffer.concat(pieces.slice(0, 1)).equals(t.encode(rows.slice(0, 4)))).toBe(true);
    expect([...t.chunks([], 4)]).toEqual([]);
  });

  it('encodes a piece only when it is asked for', () => {
    const t = rowBinaryTable('vigil.customer_activity')!;
    const read = new Set<number>();
    const rows = Array.from({ length: 9 }, (_, i) => new Proxy(activity(i), { get: (row, key) => (read.add(i), Reflect.get(row, key)) }));
    const pieces = t.chunks(rows, 3);
    expect(read.size).toBe(0);
    pieces.next();
    expect([...read]).toEqual([0, 1, 2]);
    pieces.next();
    expect([...read]).toEqual([0, 1, 2, 3, 4, 5]);
  });
});

describe('rows encoded as they come (the sink\'s batches)', () => {
  const signals = (i: number) => ({
    ts: 1_736_937_000 + i, ts_ms: 1_736_937_000_123 + i, customer_id: i % 2 ? `ç-${i}` : 'x'.repeat(200 + i), engagement: 41.5, engagement_trend: -0.25,
    churn_risk: 0.75, p_alive: 0.5, expected_purchases_30d: 1.25, expected_purchases_90d: 3, customer_value: 123.456789, value_at_risk: 0.1 + i,
    fatigue: 1, touches_24h: 4_000_000_000, negatives_7d: i, reasons: i % 3 ? ['quiet for 42 days', 'ünsubscribed'] : [], model: 'bgnbd-gg:config',
  });

  it('holds the same bytes as encoding the rows at once, in pieces of whole rows from the pool', () => {
    const t = rowBinaryTable('customer_signals')!;
    const rows = Array.from({ length: 11 }, (_, i) => signals(i));
    const one = t.encode([rows[0]]).length;
    const pool = new PiecePool(one * 3 + 10);
    const gathered = t.gather(pool);
    const sizes = rows.map((r) => gathered.add(r));
    expect(gathered.count).toBe(11);
    const pieces = gathered.pieces();
    expect(pieces.length).toBeGreaterThanOrEqual(Math.ceil(gathered.bytes / pool.pieceBytes));
    for (const piece of pieces) expect(piece.length).toBeLessThanOrEqual(pool.pieceBytes);
    expect(Buffer.concat(pieces).equals(t.encode(rows))).toBe(true);
    for (const piece of pieces) expect(t.decode([piece]).length).toBeGreaterThan(0); // no row split between pieces
    expect(gathered.bytes).toBe(Buffer.concat(pieces).length);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(gathered.bytes);
    expect(sizes[0]).toBe(one);
  });

  it('gives its pieces back once released, and the next batch writes into them', () => {
    const t = rowBinaryTable('customer_activity')!;
    const pool = new PiecePool(1024, 2);
    const first = t.gather(pool);
    for (let i = 0; i < 200; i++) first.add(activity(i));
    const used = first.pieces().map((p) => p.buffer);
    expect(used.length).toBeGreaterThan(2);
    first.release();
    expect(pool.size).toBe(2); // maxFree: the rest are left to the GC
    expect(pool.inUse).toBe(0);
    expect(first.count).toBe(0);
    const next = t.gather(pool);
    next.add(activity(7));
    expect(used).toContain(next.pieces()[0].buffer);
    expect(rowsOf(next)).toEqual(t.decode([t.encode([activity(7)])]));
    // A row larger than a piece gets a piece of its own size, never given to the pool.
    const huge = t.gather(pool);
    huge.add({ ...activity(1), customer_id: 'x'.repeat(5_000) });
    expect(huge.pieces()[0].length).toBeGreaterThan(5_000);
    huge.release();
    expect(pool.size).toBe(1);
  });

  it('decodes back to the rows, every column type included (long and non-ASCII strings, 64-bit ids, dates, arrays)', () => {
    const signalsTable = rowBinaryTable('customer_signals')!;
    const rows = Array.from({ length: 5 }, (_, i) => signals(i));
    const gathered = signalsTable.gather(new PiecePool(700));
    for (const r of rows) gathered.add(r);
    const back = signalsTable.decode(gathered.pieces()); // several pieces
    // Float32 columns come back as the float32 the server stores.
    const f32 = (v: number) => Math.fround(v);
    expect(back).toEqual(rows.map((r) => ({ ...r, engagement: f32(r.engagement), engagement_trend: f32(r.engagement_trend), churn_risk: f32(r.churn_risk), p_alive: f32(r.p_alive), expected_purchases_30d: f32(r.expected_purchases_30d), expected_purchases_90d: f32(r.expected_purchases_90d), fatigue: f32(r.fatigue) })));

    const activityTable = rowBinaryTable('vigil.customer_activity')!;
    const big = { customer_id: 'c1', minute: 1_736_937_000, event_type: 'purchase', events: 3, revenue: 19.99, writer: '18446744073709551615', version: 2 ** 53 - 1 };
    expect(activityTable.decode(activityTable.gather(new PiecePool()).pieces())).toEqual([]);
    const g = activityTable.gather(new PiecePool());
    g.add(big);
    expect(rowsOf(g)).toEqual([big]);

    const days = rowBinaryTable('customer_days')!;
    expect(days.decode([days.encode([{ day: '2026-12-06', customer_id: 'c9' }])])).toEqual([{ day: '2026-12-06', customer_id: 'c9' }]);
  });

  it('a piece cut short does not decode', () => {
    const t = rowBinaryTable('customer_activity')!;
    const whole = t.encode([activity(1), activity(2)]);
    expect(() => t.decode([whole.subarray(0, whole.length - 3)])).toThrow(RangeError);
  });

  it('keeps nothing of a row object once added', () => {
    const t = rowBinaryTable('customer_activity')!;
    const g = t.gather(new PiecePool());
    const row = { customer_id: 'c1', minute: 1_736_937_000, event_type: 'purchase', events: 3, revenue: 2.5, writer: 7, version: 1 };
    g.add(row);
    row.events = 99;
    row.customer_id = 'someone else';
    expect(rowsOf(g)).toEqual([{ ...row, customer_id: 'c1', events: 3 }]);
  });
});
