// The contact budget's own CPU cost for a batch of ids, with no I/O: a pipeline is filled with the benchmark workload's
// first day (every customer in state), then seeded batches of known ids are decided by answerBatch in one stretch, one
// after another (the later batches meet the earlier ones' reservations, as a sender's campaigns do). CPU time per
// batch, fastest and median. Compare two versions by running it from each tree. The same batches are then decided by
// a WorkerBudget (what a worker thread would run: each customer read through WindowsReader from the windows' shared
// arrays, the lock words checked, its own reservations, a report per id kept as the thread would gather them), here
// on this thread: `worker` is its CPU per batch.
//
//   node --import tsx bench/batchCost.ts [customers=250000] [batches=8] [ids=10000]
import { answerBatch, type BudgetDecider } from '../src/budget/requests.js';
import type { BudgetReport } from '../src/budget/reservations.js';
import { WorkerBudget } from '../src/budget/workerBudget.js';
import { WindowsReader } from '../src/windows/windowsReader.js';
import { customerId, WorkloadGenerator } from './workload.js';
import { loadSource } from './source.js';

const customers = Number(process.argv[2] ?? 250_000);
const batches = Number(process.argv[3] ?? 8);
const size = Number(process.argv[4] ?? 10_000);
const { parseConfig, quietPipeline } = await loadSource();
const enc = new TextEncoder();

const END = Date.parse('2026-11-23T12:00:00Z');
const gen = new WorkloadGenerator({ customers, bodyEvents: customers * 2, days: 7, endTs: END, seed: 5, worker: 0, workers: 1 });
const config = parseConfig({ log: { level: 'silent' } });
const pipeline = quietPipeline(config, { now: () => END });
let seq = 0;
for (let k = 0; k < 1440; k++) {
  for (const ev of gen.minute(gen.firstMin + k)) pipeline.handle({ subject: `events.${ev.type}`, data: enc.encode(JSON.stringify(ev)), streamSeq: ++seq, receivedAt: END });
}

// A seeded choice of ids, so that two versions (and the two deciders) decide the same batches.
let seed = 7;
/** mulberry32: 32-bit integer steps (an LCG in doubles loses its low bits past 2^53 and falls into a short cycle). */
const rand = (n: number) => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return Math.floor((((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * n);
};
const r1 = (v: number) => Math.round(v * 10) / 10;

async function batchesOf(budget: BudgetDecider) {
  seed = 7;
  const ms: number[] = [];
  let allowed = 0;
  for (let b = 0; b < batches; b++) {
    const req = { customerIds: Array.from({ length: size }, () => customerId(rand(customers))), channel: 'push' as const, campaignId: `bench-${b}`, priority: 'marketing' as const };
    const t0 = process.cpuUsage();
    const answer = await answerBatch(budget, req, (id) => id, Number.POSITIVE_INFINITY);
    const d = process.cpuUsage(t0);
    ms.push((d.user + d.system) / 1000);
    allowed += (answer.allowed as string[]).length;
  }
  const sorted = [...ms].sort((a, b) => a - b);
  return { msMin: r1(sorted[0]), msMedian: r1(sorted[Math.floor(batches / 2)]), runs: ms.map(r1), allowed };
}

const main = await batchesOf(pipeline.budget);
const reports: BudgetReport[] = [];
const reader = new WindowsReader(
  pipeline.windows.share(() => undefined),
  () => undefined,
);
const worker = await batchesOf(new WorkerBudget({ reader, config, clock: { now: () => END }, report: (r) => reports.push(r) }));
console.log(JSON.stringify({ customers, events: seq, ids: size, ...main, worker }));
