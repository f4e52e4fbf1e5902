// The pipeline and the ClickHouse sink together, fed in real time, with no network: what holding rows for their
// batch costs in CPU and in the young generation's scavenges. The benchmark workload's first day is handled at once
// (every customer in state), then the next two days are fed at `rate` events a second in turns of 5 ms, with the
// derive and the once-a-second work as the processor runs them; each batch goes to a ClickHouse stand-in that takes
// the insert's body and answers 30 ms later (what a local server takes). CPU per event and GC pauses by kind, from
// perf_hooks. Compare two versions by running it from each tree (a `git worktree` of the older commit).
//
//   node --expose-gc --import tsx bench/sinkCost.ts [customers=300000] [rate=15000]
import { PerformanceObserver, constants } from 'node:perf_hooks';
import type { InboundMessage } from '../src/contract/pipeline.js';
import { parseConfig } from '../src/config/load.js';
import { Pipeline } from '../src/pipeline.js';
import { configuredPurchaseModel } from '../src/signals/purchaseModel.js';
import { liveEngagementTrend } from '../src/signals/models/trend.js';
import { MemoryAlertStore } from '../src/alerts/alertStore.js';
import { ClickHouseOutputs } from '../src/sinks/clickhouseOutputs.js';
import { ClickHouseSink } from '../src/sinks/clickhouse/writer.js';
import * as rowBinary from '../src/sinks/clickhouse/rowBinary.js';
import { WorkloadGenerator } from './workload.js';

const customers = Number(process.argv[2] ?? 300_000);
const rate = Number(process.argv[3] ?? 15_000);
const enc = new TextEncoder();
const END = Date.parse('2026-11-23T12:00:00Z');
const gen = new WorkloadGenerator({ customers, bodyEvents: customers * 4, days: 7, endTs: END, seed: 5, worker: 0, workers: 1 });
const warm: InboundMessage[] = [];
const timed: InboundMessage[] = [];
let seq = 0;
for (let k = 0; k < 3 * 1440; k++) {
  for (const ev of gen.minute(gen.firstMin + k)) (k < 1440 ? warm : timed).push({ subject: `events.${ev.type}`, data: enc.encode(JSON.stringify(ev)), streamSeq: ++seq, receivedAt: END });
}

let bodyBytes = 0;
/** The insert's body as the HTTP client would take it: encoded rows as they are, or (before) rows encoded on the way. */
async function insert(table: string, rows: readonly object[] | { pieces(): Buffer[] }): Promise<void> {
  const body = Array.isArray(rows) ? (rowBinary.rowBinaryTable(table)?.chunks(rows) ?? []) : (rows as { pieces(): Buffer[] }).pieces();
  for (const piece of body) bodyBytes += piece.length;
  await new Promise((r) => setTimeout(r, 30));
}

const config = parseConfig({ log: { level: 'silent' } });
const sink = new ClickHouseSink({ insert } as never, { batch: config.clickhouse.batch, retry: config.clickhouse.retry });
const pipeline = new Pipeline({ config, clock: { now: () => END }, outputs: new ClickHouseOutputs(sink), model: configuredPurchaseModel(config.signals.model), trend: liveEngagementTrend, alertStore: new MemoryAlertStore() });
for (const m of warm) pipeline.handle(m);
warm.length = 0;
await sink.flush();

const kinds: Record<number, string> = { [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major', [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge', [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental', [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks' };
const gc: Record<string, { n: number; ms: number; maxMs: number }> = {};
const observer = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = kinds[(e as unknown as { detail?: { kind: number } }).detail?.kind ?? -1] ?? 'other';
    const g = (gc[kind] ??= { n: 0, ms: 0, maxMs: 0 });
    g.n++;
    g.ms += e.duration;
    g.maxMs = Math.max(g.maxMs, e.duration);
  }
});
observer.observe({ entryTypes: ['gc'] });

// The first day's garbage is not the timed phase's: collected before it when the GC is exposed (as `npm` runs it).
(globalThis as { gc?: () => void }).gc?.();
const made0 = (sink as { pieces?: { made: number } }).pieces?.made ?? 0;
const cpu0 = process.cpuUsage();
const start = performance.now();
let i = 0;
let sinceDerive = 0;
let sinceSecond = 0;
while (i < timed.length) {
  const due = Math.min(timed.length, Math.floor(((performance.now() - start) / 1000) * rate));
  for (; i < due; i++) {
    pipeline.handle(timed[i]);
    // The derive tick (25 ms) every 500 events at 20,000 a second; the minute rows and the tick once a second.
    if (++sinceDerive === 500) {
      sinceDerive = 0;
      pipeline.derive(END);
    }
    if (++sinceSecond === rate) {
      sinceSecond = 0;
      pipeline.drainActivity(END);
      pipeline.tick(END);
    }
  }
  await new Promise((r) => setTimeout(r, 5));
}
await sink.flush();
const cpu = process.cpuUsage(cpu0);
const wallMs = performance.now() - start;
await new Promise((r) => setTimeout(r, 50)); // the last GC entries
observer.disconnect();
const r1 = (v: number) => Math.round(v * 10) / 10;
console.log(JSON.stringify({
  customers, events: timed.length, rate, wallS: r1(wallMs / 1000), cpuUsPerEvent: r1((cpu.user + cpu.system) / timed.length),
  gc: Object.fromEntries(Object.entries(gc).map(([k, v]) => [k, { n: v.n, ms: Math.round(v.ms), maxMs: r1(v.maxMs) }])),
}));
process.exit(0);
