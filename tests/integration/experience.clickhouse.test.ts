// Brand experience snapshots in ClickHouse on both engines Vigil meets (Debian's 18.16 server, written in RowBinary,
// and current ClickHouse in chdb): the processor's ExperienceSnapshot records through the sink into
// experience_snapshots exactly, a retried batch once under FINAL; an erasure deletes a customer's own rows and
// leaves products and segments (and a product that happens to share the id); the export reads the customer's rows.
import { describe, expect, it } from 'vitest';
import type { ExperienceSnapshot } from '../../src/contract/outputs.js';
import { eraseCustomer } from '../../src/privacy/erasure.js';
import { exportTables, openIdsTable, tablePages } from '../../src/privacy/exportTables.js';
import { systemClock } from '../../src/shared/clock.js';
import { silentLogger } from '../../src/shared/logger.js';
import type { ClickHouseClient } from '../../src/sinks/clickhouse/client.js';
import { ClickHouseSink } from '../../src/sinks/clickhouse/writer.js';
import { ClickHouseOutputs } from '../../src/sinks/clickhouseOutputs.js';
import { CLICKHOUSE_ENGINES, onMigratedDatabase } from '../helpers/bothEngines.js';

const T0 = Date.parse('2026-11-20T12:00:00.250Z');
const HOUR = 3_600_000;

function snapshot(scope: ExperienceSnapshot['scope'], key: string, ts: number, index: number, over: Partial<ExperienceSnapshot> = {}): ExperienceSnapshot {
  return { ts, scope, key, segment: scope === 'segment' ? key : null, index, product: 0, interactive: 0, others: 0, volume: 1, reasons: [], ...over };
}

/** Pushes the records through ClickHouseOutputs and a sink, as the processor does, and waits until they are in. */
async function write(ch: ClickHouseClient, records: ExperienceSnapshot[]): Promise<void> {
  const sink = new ClickHouseSink(ch, { batch: { maxRows: 1_000, maxBytes: 1_048_576, maxDelayMs: 10_000 }, retry: { initialDelayMs: 10, maxDelayMs: 50 } });
  const outputs = new ClickHouseOutputs(sink);
  for (const r of records) outputs.experience(r);
  await sink.close();
}

describe.each(CLICKHOUSE_ENGINES)('experience_snapshots on %s', (_name, make) => {
  let ch: ClickHouseClient;
  onMigratedDatabase(make, (c) => (ch = c));

  it('holds what the processor wrote: scope, key, segment, index, components, volume and reasons; a retried batch once under FINAL', async () => {
    const defect = snapshot('product', 'sku-0042', T0, 23.5, { product: -0.75, interactive: -0.25, others: -0.5, volume: 211.6, reasons: ['14 refunds in 7 days', 'rated 1.8 by 212'] });
    await write(ch, [
      defect,
      snapshot('customer', 'cust-1', T0 + 1, 31.25, { segment: 'vip', product: -0.5, volume: 3.4, reasons: ['3 refunds in 30 days', 'ticket open 4 days'] }),
      // No segment known, a non-finite component (stored 0, as customer_signals does), a volume past UInt32.
      snapshot('segment', 'retail', T0 + 2, 50, { segment: null, others: Number.NaN, volume: 2 ** 40 }),
    ]);
    await write(ch, [defect]); // the same batch again, as after a retry whose first attempt landed
    const rows = await ch.query<Record<string, unknown>>(
      `SELECT ts, toString(ts_ms) AS ts_ms, scope, key, segment, experience_index, product, interactive, others, volume, reasons FROM ${ch.database}.experience_snapshots FINAL ORDER BY scope, key`,
    );
    expect(rows).toEqual([
      { ts: '2026-11-20 12:00:00', ts_ms: String(T0 + 1), scope: 'customer', key: 'cust-1', segment: 'vip', experience_index: 31.25, product: -0.5, interactive: 0, others: 0, volume: 3, reasons: ['3 refunds in 30 days', 'ticket open 4 days'] },
      { ts: '2026-11-20 12:00:00', ts_ms: String(T0), scope: 'product', key: 'sku-0042', segment: '', experience_index: 23.5, product: -0.75, interactive: -0.25, others: -0.5, volume: 212, reasons: ['14 refunds in 7 days', 'rated 1.8 by 212'] },
      { ts: '2026-11-20 12:00:00', ts_ms: String(T0 + 2), scope: 'segment', key: 'retail', segment: '', experience_index: 50, product: 0, interactive: 0, others: 0, volume: 4_294_967_295, reasons: [] },
    ]);
  });

  it('an erasure deletes the customer\'s own rows, and the export reads them before, page by page', async () => {
    const who = 'exp-erase-7c1';
    const theirs = [0, 1, 2].map((k) => snapshot('customer', who, T0 + k * HOUR, 40 - k * 5, { segment: 'vip', reasons: [`step ${k}`] }));
    await write(ch, [
      ...theirs,
      snapshot('customer', 'exp-bystander', T0, 60),
      snapshot('product', who, T0, 45), // a product named like the customer is not the customer
      snapshot('segment', 'vip', T0, 48),
    ]);

    // The export finds the table by its columns, pages it by ts_ms under FINAL.
    const table = (await exportTables(ch, ch.database)).find((t) => t.table === 'experience_snapshots');
    expect(table).toMatchObject({ final: true, keyset: [{ name: 'ts_ms', type: 'UInt64' }] });
    const ids = await openIdsTable(ch, ch.database, who);
    const pages: number[] = [];
    const read: Record<string, unknown>[] = [];
    try {
      for await (const page of tablePages(ch, ch.database, table!, ids.table, 2, (n) => pages.push(n))) read.push(...page);
    } finally {
      await ids.drop();
    }
    expect(pages).toEqual([2, 1]);
    expect(read.map((r) => [r.scope, r.key, r.reasons])).toEqual(theirs.map((r) => ['customer', who, r.reasons]));

    const audit = await eraseCustomer(
      {
        ch,
        database: ch.database,
        forgetInRedis: async () => 0,
        deleteStreamMessages: async () => 0,
        subjectKey: '',
        timeoutMs: 30_000,
        log: silentLogger,
        clock: systemClock,
      },
      { requestId: 'req-exp-1', customerId: who, requestedAt: T0, requestedBy: 'privacy-desk', via: 'cli', streamSeq: 0, redisEntries: 0, liveState: false },
    );
    const removed = Object.fromEntries(audit.tables.map((t, i) => [t, Number(audit.rows[i])]));
    expect(removed.experience_snapshots).toBe(3);
    const left = await ch.query<{ scope: string; key: string }>(`SELECT scope, key FROM ${ch.database}.experience_snapshots FINAL WHERE key IN ('${who}', 'exp-bystander', 'vip') ORDER BY scope, key`);
    expect(left).toEqual([
      { scope: 'customer', key: 'exp-bystander' },
      { scope: 'product', key: who },
      { scope: 'segment', key: 'vip' },
    ]);
  });
});
