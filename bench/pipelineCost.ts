// The pipeline's own CPU cost per event, with no I/O, for comparing two versions of the hot path on a noisy machine:
// the benchmark workload is generated once (its first day puts every customer in state, the next two days are timed), then
// fed to a fresh Pipeline several times; the fastest and the median run are printed. CPU time, not wall time.
//
//   node --import tsx bench/pipelineCost.ts [customers=100000] [runs=5]
//   VIGIL_BENCH_DIST=<a tsc build of src> node --import tsx bench/pipelineCost.ts      (a compiled version)
import type { InboundMessage } from '../src/contract/pipeline.js';
import { WorkloadGenerator } from './workload.js';
import { loadSource } from './source.js';

const customers = Number(process.argv[2] ?? 100_000);
const runs = Number(process.argv[3] ?? 5);
const { parseConfig, quietPipeline } = await loadSource();
const enc = new TextEncoder();

// Fixed event times and a fixed clock, so every run (and every version) sees the same stream.
const END = Date.parse('2026-11-23T12:00:00Z');
const gen = new WorkloadGenerator({ customers, bodyEvents: customers * 4, days: 7, endTs: END, seed: 5, worker: 0, workers: 1 });
const warm: InboundMessage[] = [];
const timed: InboundMessage[][] = [];
let seq = 0;
for (let k = 0; k < 3 * 1440; k++) {
  const msgs = gen.minute(gen.firstMin + k).map((ev) => ({ subject: `events.${ev.type}`, data: enc.encode(JSON.stringify(ev)), streamSeq: ++seq, receivedAt: END }));
  if (k < 1440) warm.push(...msgs);
  else timed.push(msgs);
}
const timedCount = timed.reduce((n, m) => n + m.length, 0);

const config = parseConfig({ log: { level: 'silent' } });
const clock = { now: () => END };
const results: number[] = [];
for (let r = 0; r < runs; r++) {
  const pipeline = quietPipeline(config, clock);
  for (const m of warm) pipeline.handle(m);
  let us = 0;
  let sinceTick = 0;
  let sinceDerive = 0;
  for (let k = 0; k < timed.length; k++) {
    const t0 = process.cpuUsage();
    for (const m of timed[k]) {
      pipeline.handle(m);
      // The derive tick (signals.deriveIntervalMs, 25 ms): every 500 events at 20,000 a second. Versions before it have none.
      if (++sinceDerive === 500) {
        sinceDerive = 0;
        pipeline.derive?.(END);
      }
    }
    // What the processor does on its own about once a second, timed with the events: at 20,000 events a second, one
    // drain of minute activity and one tick per 20,000 events.
    sinceTick += timed[k].length;
    if (sinceTick >= 20_000) {
      sinceTick = 0;
      pipeline.drainActivity(END);
      pipeline.tick(END);
    }
    const d = process.cpuUsage(t0);
    us += d.user + d.system;
  }
  results.push(us / timedCount);
}
const sorted = [...results].sort((a, b) => a - b);
const r2 = (v: number) => Math.round(v * 100) / 100;
console.log(JSON.stringify({ customers, events: timedCount, usPerEventMin: r2(sorted[0]), usPerEventMedian: r2(sorted[Math.floor(runs / 2)]), runs: results.map(r2) }));
