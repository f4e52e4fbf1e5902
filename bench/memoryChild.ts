// Live state per customer and the pipeline's own cost per event at a given number of customers, with no I/O: one
// Pipeline in a fresh process (run with --expose-gc) takes the benchmark workload's first day (every customer once)
// and its next day; the heap, array buffers and RSS it holds after a full GC, divided by the customers in state.
//
//   node --expose-gc --import tsx bench/memoryChild.ts <customers>     prints one JSON line
import { WorkloadGenerator } from './workload.js';
import { loadSource } from './source.js';

const customers = Number(process.argv[2]);
const { parseConfig, systemClock, quietPipeline } = await loadSource();
const gc = (globalThis as { gc?: () => void }).gc!;
const enc = new TextEncoder();

function measure() {
  gc();
  gc();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers, rss: m.rss };
}

const config = parseConfig({ log: { level: 'silent' } });
const gen = new WorkloadGenerator({ customers, bodyEvents: customers * 4, days: 7, endTs: Date.now(), seed: 11, worker: 0, workers: 1 });
const before = measure();
const pipeline = quietPipeline(config, systemClock);

let seq = 0;
// CPU time, not wall time: on a shared machine another process's burst does not land in this figure.
let handleUs = 0;
let bodyEvents = 0;
// Day 0 puts every customer in state; day 1 (sessions, campaigns, reactions) is timed event by event.
for (let k = 0; k < 2 * 1440; k++) {
  const events = gen.minute(gen.firstMin + k);
  const msgs = events.map((ev) => ({ subject: `events.${ev.type}`, data: enc.encode(JSON.stringify(ev)), streamSeq: ++seq, receivedAt: Date.now() }));
  const t0 = process.cpuUsage();
  for (const m of msgs) pipeline.handle(m);
  if (k >= 1440) {
    const d = process.cpuUsage(t0);
    handleUs += d.user + d.system;
    bodyEvents += msgs.length;
  }
  // What the processor does every second: drain minute activity (its rows go nowhere here) and tick.
  if (k % 10 === 0) {
    pipeline.drainActivity();
    pipeline.tick();
  }
}
pipeline.drainActivity();
const after = measure();
const n = pipeline.windows.size;
const per = (a: number, b: number) => Math.round((a - b) / n);
console.log(
  JSON.stringify({
    customers: n,
    events: seq,
    usPerEvent: Math.round((handleUs / bodyEvents) * 100) / 100,
    typedArrayBytesPerSlot: pipeline.windows.bytesPerSlot,
    heapBytesPerCustomer: per(after.heapUsed, before.heapUsed),
    arrayBufferBytesPerCustomer: per(after.arrayBuffers, before.arrayBuffers),
    stateBytesPerCustomer: per(after.heapUsed + after.arrayBuffers, before.heapUsed + before.arrayBuffers),
    rssBytesPerCustomer: per(after.rss, before.rss),
  }),
);
