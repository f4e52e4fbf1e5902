// An insert's body in pieces: the pieces join into the batch's encoding at once, and each is encoded only when asked
// for (what lets the socket's turns run between them). What the server reads back: tests/integration/clickhouse.test.ts.
import { describe, expect, it } from 'vitest';
import { rowBinaryTable } from './rowBinary.js';

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
