// A process that pushes rows into a ClickHouseSink while ClickHouse is unreachable, reports once flush() has put
// them on disk, and then idles until the test kills it with SIGKILL (the crash variant of the spill tests).
// Env: SPILL_CH_URL, SPILL_DB, SPILL_DIR, SPILL_ROWS, SPILL_WRITER.
import { parseConfig } from '../../src/config/load.js';
import { createClickHouseClient } from '../../src/sinks/clickhouse/client.js';
import { createClickHouseSink } from '../../src/sinks/clickhouse/writer.js';

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

const config = parseConfig({
  clickhouse: {
    url: env('SPILL_CH_URL'),
    database: env('SPILL_DB'),
    requestTimeoutMs: 2_000,
    batch: { maxRows: 250, maxDelayMs: 50 },
    retry: { initialDelayMs: 50, maxDelayMs: 200 },
    spill: { dir: env('SPILL_DIR'), maxMemoryRows: 500 },
  },
}).clickhouse;
const sink = createClickHouseSink(createClickHouseClient(config), config);
const rows = Number(env('SPILL_ROWS'));
for (let i = 0; i < rows; i++) {
  sink.push('customer_activity', { customer_id: `crash-${i}`, minute: 1_736_937_000, event_type: 'page_view', events: i + 1, revenue: 0, writer: env('SPILL_WRITER'), version: 1 });
}
await sink.flush();
process.stdout.write(JSON.stringify({ flushed: rows, spilled: sink.spilled(), rowsWritten: sink.counters.rowsWritten }) + '\n');
setInterval(() => undefined, 60_000); // stays up, retrying, until killed
