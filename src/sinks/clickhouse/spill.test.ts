// The sink's disk tier with a fake ClickHouse and a temporary directory: spilling beyond the memory bound, flush()
// resolving once rows are on disk, recovery by a new sink over the same directory, corrupt and interrupted files,
// the disk bound turning into backpressure, and a failing disk.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/clock.js';
import { createLogger } from '../../shared/logger.js';
import { serializeRows, spillFileName } from './spill.js';
import { rowsOf, type EncodedRows } from './rowBinary.js';
import type { CustomerActivityRow } from './tables.js';
import { ClickHouseSink, type SpillPolicy } from './writer.js';

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

  ids(): string[] {
    return this.inserted.flatMap((b) => b.rows.map((r) => (r as CustomerActivityRow).customer_id));
  }
}

function activity(i: number): CustomerActivityRow {
  return { customer_id: `c${i}`, minute: 1_700_000_040, event_type: 'page_view', events: i + 1, revenue: 0.5 * i, writer: '9223372036854775807', version: i + 1 };
}

/** Waits for real file I/O (and the microtasks around it) until `check` holds. */
async function until(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-spill-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const spillFiles = (d = dir): string[] => readdirSync(d).filter((f) => f.endsWith('.jsonl')).sort();

function setup(spill: Partial<SpillPolicy> = {}, ch = new FakeClickHouse()) {
  const clock = new ManualClock(0);
  const logs: { level: number; msg: string; [k: string]: unknown }[] = [];
  const logger = createLogger('info', false, { write: (line: string) => void logs.push(JSON.parse(line)) });
  const sink = new ClickHouseSink(ch, {
    batch: { maxRows: 3, maxBytes: 1_000_000, maxDelayMs: 1_000 },
    retry: { initialDelayMs: 100, maxDelayMs: 1_000 },
    spill: { dir, maxMemoryRows: 1_000, maxBytes: 10_000_000, ...spill },
    clock,
    logger,
    random: () => 1,
  });
  return { clock, ch, sink, logs };
}

describe('ClickHouseSink disk tier', () => {
  it('spills queued batches beyond maxMemoryRows, newest first, and inserts everything in order once ClickHouse is back', async () => {
    const { ch, sink, clock } = setup({ maxMemoryRows: 5 });
    ch.down = true;
    for (let i = 0; i < 12; i++) sink.push('customer_activity', activity(i));
    // Four batches of 3: the first is being inserted (never moved), the three behind it push memory past 5 rows.
    await until('three batches on disk', () => sink.spilled().batches === 3);
    expect(spillFiles()).toEqual([2, 3, 4].map((seq) => spillFileName('customer_activity', seq, 3)));
    expect(readFileSync(join(dir, spillFileName('customer_activity', 2, 3)), 'utf8')).toBe(serializeRows([activity(3), activity(4), activity(5)]));
    expect(sink.spilled()).toMatchObject({ batches: 3, rows: 9, bytes: expect.any(Number) as number, dir });
    expect(sink.bufferedRows()).toBe(12);
    expect(sink.full()).toBe(false);
    expect(sink.counters).toMatchObject({ batchesSpilled: 3, rowsSpilled: 9, rowsDropped: 0 });

    ch.down = false;
    clock.advance(100);
    await sink.inserted();
    expect(ch.ids()).toEqual(Array.from({ length: 12 }, (_, i) => `c${i}`));
    // Read back exactly as pushed, 64-bit strings and fractions included.
    expect(ch.inserted[1].rows).toEqual([activity(3), activity(4), activity(5)]);
    expect(spillFiles()).toEqual([]);
    expect(sink.spilled()).toMatchObject({ batches: 0, rows: 0, bytes: 0 });
    expect(sink.bufferedRows()).toBe(0);
    expect(sink.counters).toMatchObject({ rowsWritten: 12, batchesWritten: 4 });
  });

  it('flush() resolves once the rows are durably on disk while ClickHouse is down; inserted() waits for ClickHouse', async () => {
    const { ch, sink, clock } = setup();
    ch.down = true;
    for (let i = 0; i < 4; i++) sink.push('customer_activity', activity(i));
    let inserted = false;
    const insertedP = sink.inserted().then(() => (inserted = true));
    await sink.flush(); // under the memory bound, yet spilled: the table is retrying and a flush waits for it
    expect(ch.inserted).toEqual([]);
    expect(spillFiles()).toEqual([spillFileName('customer_activity', 1, 3), spillFileName('customer_activity', 2, 1)]);
    expect(sink.state()).toMatchObject({ ok: false, full: false, spilled: { batches: 2, rows: 4 } });
    expect(sink.state().detail).toMatch(/customer_activity: 4 rows waiting, attempt 1 failed .*; on disk: 2 batches, 4 rows, \d+ bytes in /);
    expect(inserted).toBe(false);

    ch.down = false;
    clock.advance(100);
    await insertedP;
    expect(ch.ids()).toEqual(['c0', 'c1', 'c2', 'c3']);
    expect(spillFiles()).toEqual([]);
    expect(sink.state()).toMatchObject({ ok: true, detail: 'idle' });
  });

  it('a new sink over the same directory (after a crash) inserts what the previous one left first, in order, and deletes the files', async () => {
    const first = setup();
    first.ch.down = true;
    for (let i = 0; i < 7; i++) first.sink.push('customer_activity', activity(i));
    first.sink.push('events', { id: 'e1', customer_id: 'c0', type: 'click', ts: 1, ts_ms: 1_000, channel: '', value: 0, segment: '', campaign_id: '', props: '', received_at: 1, stream_seq: 1 });
    await first.sink.flush();
    expect(spillFiles()).toHaveLength(4);
    // The first sink is abandoned as a crash would leave it: nothing closed, its memory gone.

    const ch = new FakeClickHouse();
    ch.down = true;
    const second = setup({}, ch);
    expect(second.sink.counters).toMatchObject({ batchesRecovered: 4, rowsRecovered: 8 });
    expect(second.sink.bufferedRows()).toBe(8);
    expect(second.logs.some((l) => l.msg.includes('spill files from an earlier run queued'))).toBe(true);
    second.sink.push('customer_activity', activity(100)); // newer: must land after the recovered batches
    await second.sink.flush();
    expect(spillFiles()).toContain(spillFileName('customer_activity', 5, 1)); // numbering goes on after the old files

    ch.down = false;
    second.clock.advance(100);
    await second.sink.inserted();
    expect(ch.inserted.filter((b) => b.table === 'customer_activity').flatMap((b) => b.rows.map((r) => (r as CustomerActivityRow).customer_id))).toEqual([
      'c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c100',
    ]);
    expect(ch.inserted.filter((b) => b.table === 'events')).toHaveLength(1);
    expect(spillFiles()).toEqual([]);
    expect(second.sink.counters).toMatchObject({ rowsWritten: 9, rowsRecovered: 8 });
  });

  it('sets aside, never inserts, a write cut short by a crash (.tmp) and a file whose content does not match its name, and says so', async () => {
    writeFileSync(join(dir, spillFileName('customer_activity', 1, 2)), serializeRows([activity(0), activity(1)]));
    // Truncated: the name promises 3 rows, the last line is cut (a disk that lost the tail of the file).
    const cut = serializeRows([activity(2), activity(3), activity(4)]);
    writeFileSync(join(dir, spillFileName('customer_activity', 2, 3)), cut.slice(0, cut.length - 20));
    // Cut exactly at a line end: only the row count in the name can tell.
    writeFileSync(join(dir, spillFileName('customer_activity', 3, 2)), serializeRows([activity(5)]));
    writeFileSync(join(dir, spillFileName('customer_activity', 4, 1)), serializeRows([activity(6)]));
    // A crash between open and rename leaves the temporary name.
    writeFileSync(join(dir, `${spillFileName('customer_activity', 5, 2)}.tmp`), '{"customer_id":"c7"');

    const { ch, sink, logs } = setup();
    await sink.inserted();
    expect(ch.ids()).toEqual(['c0', 'c1', 'c6']);
    expect(spillFiles()).toEqual([]);
    const aside = readdirSync(join(dir, 'corrupt')).map((f) => f.replace(/^\d+-/, '')).sort();
    expect(aside).toEqual([spillFileName('customer_activity', 2, 3), spillFileName('customer_activity', 3, 2), `${spillFileName('customer_activity', 5, 2)}.tmp`]);
    expect(sink.counters.spillFilesSetAside).toBe(3);
    expect(sink.spilled()).toMatchObject({ batches: 0, rows: 0, bytes: 0 });
    expect(sink.bufferedRows()).toBe(0);
    const errors = logs.filter((l) => l.level >= 50).map((l) => `${l.msg} ${String(l.err)}`);
    expect(errors).toEqual([
      expect.stringMatching(/spill file skipped: .*kept aside, not inserted .*last line is cut off/),
      expect.stringMatching(/spill file skipped: .*kept aside, not inserted .*1 lines where the name says 2 rows/),
    ]);
    expect(logs.some((l) => l.level === 40 && l.msg.includes('incomplete spill file from an interrupted write set aside'))).toBe(true);
  });

  it('turns a full disk into backpressure (full()), never dropping, and drains when ClickHouse is back', async () => {
    // Room for one batch of 3 (400 bytes on disk, 456 estimated before writing), not two.
    const { ch, sink, clock, logs } = setup({ maxMemoryRows: 4, maxBytes: 600 });
    ch.down = true;
    for (let i = 0; i < 12; i++) sink.push('customer_activity', activity(i));
    await until('one batch on disk', () => sink.spilled().batches === 1);
    // 3 rows in flight + 6 that the disk cannot take: above the memory bound, with the disk at its bound.
    expect(sink.full()).toBe(true);
    expect(sink.state()).toMatchObject({ full: true, detail: expect.stringContaining('buffer full, consumption paused') as string });
    expect(sink.bufferedRows()).toBe(12);
    expect(sink.counters.rowsDropped).toBe(0);
    expect(logs.some((l) => l.msg.includes('spill directory at clickhouse.spill.maxBytes'))).toBe(true);

    ch.down = false;
    clock.advance(100);
    await sink.inserted();
    expect(ch.ids()).toEqual(Array.from({ length: 12 }, (_, i) => `c${i}`));
    expect(sink.full()).toBe(false);
    expect(spillFiles()).toEqual([]);
  });

  it('keeps a batch in memory when the disk write fails; flush() then waits for ClickHouse', async () => {
    const { ch, sink, clock } = setup();
    rmSync(dir, { recursive: true, force: true }); // the disk goes away under the sink
    ch.down = true;
    for (let i = 0; i < 3; i++) sink.push('customer_activity', activity(i));
    let flushed = false;
    const flushing = sink.flush().then(() => (flushed = true));
    await until('a failed spill write', () => sink.counters.spillFailures === 1);
    expect(flushed).toBe(false);
    expect(sink.spilled().batches).toBe(0);
    expect(sink.bufferedRows()).toBe(3);

    mkdirSync(dir);
    ch.down = false;
    clock.advance(100);
    await flushing;
    expect(ch.ids()).toEqual(['c0', 'c1', 'c2']);
  });

  it('refuses a spill directory another live process holds, and takes over one whose process is gone', () => {
    writeFileSync(join(dir, 'lock'), JSON.stringify({ pid: process.ppid, host: hostname() }));
    expect(() => setup()).toThrow(expect.objectContaining({ code: 'CLICKHOUSE_SPILL_UNAVAILABLE', message: expect.stringContaining(`in use by process ${process.ppid}`) as string }));
    writeFileSync(join(dir, 'lock'), JSON.stringify({ pid: 2 ** 22 + 12_345, host: hostname() }));
    const { sink } = setup();
    expect(JSON.parse(readFileSync(join(dir, 'lock'), 'utf8'))).toMatchObject({ pid: process.pid });
    sink.abort();
  });

  it('abort() drops what is in memory and keeps the spill files for the next start', async () => {
    const { ch, sink } = setup({ maxMemoryRows: 3 });
    ch.down = true;
    for (let i = 0; i < 9; i++) sink.push('customer_activity', activity(i));
    await until('two batches on disk', () => sink.spilled().batches === 2);
    sink.abort();
    expect(sink.counters.rowsDropped).toBe(3);
    await until('the lock released', () => !existsSync(join(dir, 'lock')));
    expect(spillFiles()).toHaveLength(2);
  });

  it('with spill.maxBytes 0 there is no disk tier: memory, then backpressure', async () => {
    const { ch, sink } = setup({ maxMemoryRows: 4, maxBytes: 0 });
    ch.down = true;
    for (let i = 0; i < 6; i++) sink.push('customer_activity', activity(i));
    await until('the first attempt', () => ch.attempts >= 1);
    expect(sink.full()).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
    sink.abort();
  });
});
