// The benchmark's results: their shape (kept as JSON under bench/results/) and the short markdown table the README shows.
import type { MachineFacts } from './machine.js';
import type { LatencySummary, PressureLoadResult } from './pressure.js';
import type { LoopDelay } from './processorChild.js';

/** One latency phase: the processor fed at `fraction` of its measured maximum, event publish to alert frame. */
export interface LatencyResult {
  fraction: number;
  ratePerSec: number;
  publishedPerSec: number;
  alerts: number;
  triggersSent: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  processorCpu: number;
  /** Events handled per second from the phase's start to 2 s after its end (a processor that kept up: ~30/32 of the rate). */
  processorEventsPerSec: number;
  /** Events published in the phase and not handled 2 s after its end (0: it kept up). */
  behind?: number;
  cpuUsPerEvent: number;
  /**
   * Where the delay went, p50/p99/max in ms of each triggering alert's: publish to the processor's receipt (NATS and
   * the intake), receipt to the rule's evaluation (the derive tick and anything queued before it), evaluation to the
   * frame's arrival (the wall's flush, the socket and this process's loop). Absent in older results.
   */
  stages?: Record<'toReceipt' | 'toEvaluation' | 'toWall', { p50Ms: number; p99Ms: number; maxMs: number }>;
}

/** The contact budget while the processor is fed at `fraction` of its maximum (bench/pressure.ts). */
export interface BudgetResult {
  fraction: number;
  ratePerSec: number;
  checksPerSec: number;
  /** What the processor took per second over the paced phase without senders, and with them. */
  /** loopDelay: how late the main thread's event loop ran over the phase (absent in results from before it). */
  without: { eventsPerSec: number; behind: number; cpuUsPerEvent: number; loopDelay?: LoopDelay };
  with: { eventsPerSec: number; behind: number; cpuUsPerEvent: number; loopDelay?: LoopDelay };
  streamRatio: number;
  load: PressureLoadResult;
  /** The same single requests answered with no decision, on each thread (bench/echo.ts); absent before it. */
  floor?: { main: EchoFloor; worker: EchoFloor };
}

/** Requests answered with no decision while the processor takes the budget phase's stream (bench/echo.ts). */
export interface EchoFloor {
  answers: LatencySummary & { sentPerSec: number };
  /** What the processor took per second meanwhile. */
  eventsPerSec: number;
  loopDelay: LoopDelay;
  /** Of each second, how long the answering thread waited for a core (Linux; else null). */
  runQueueMsPerS: number | null;
}

export interface BenchResults {
  mode: string;
  machine: Omit<MachineFacts, 'natsServer'> & { natsServer?: string };
  workload: { customers: number; events: number; firstDayEvents: number; publishedPerSec: number; byType: Record<string, number>; workers: number };
  consumerSettings: { fetchBatch: number; maxAckPending: number; ackWaitMs: number };
  throughput: {
    ceiling: { runs: { eventsPerSec: number; events: number; ms: number; cpu: number }[]; eventsPerSec: number };
    processor: {
      body: { events: number; ms: number; eventsPerSec: number; cpu: number; elu: number; customersAtEnd: number };
      firstDay: { events: number; ms: number; eventsPerSec: number; cpu: number; elu: number; customersAtEnd: number };
      ratioToCeiling: number;
    };
    redisSortedSets: { events: number; ms: number; eventsPerSec: number; cpu: number; processorSpeedup: number };
  };
  outcomes: { counts: Record<string, number>; rejectReasons: Record<string, number> };
  latency: LatencyResult[];
  /** Absent in results from before the budget phase. */
  budget?: BudgetResult;
  memory: {
    processorAtEnd: Record<string, number>;
    bySize: Record<string, number>[];
  };
  restart: {
    checkpointMs: number;
    stopMs: number;
    customers: number;
    restoreMs: number;
    startMs: number;
    replayed: number;
    withReplayMs: number;
    replayMs: number;
    replayEventsPerSec: number | null;
    /** The first start's CPU (every thread) and its main thread's wait for a core; absent in older results. */
    startCpuMs?: number;
    startRunQueueMs?: number | null;
  };
  clickhouse: { rowsWritten: number; batchesWritten: number; rowsPerMillionEvents: number; batchesPerMillionEvents: number; rowsPerBatch: number; rowsPerMillionEventsByTable: Record<string, number> };
}

const n = (v: number) => Math.round(v).toLocaleString('en');

/** The first start's own cost beside its wall time: its CPU, and how long its main thread waited for a core. */
function restartCost(r: BenchResults['restart']): string {
  if (r.startCpuMs === undefined) return '';
  const waited = r.startRunQueueMs === null || r.startRunQueueMs === undefined ? '' : `, the main thread waiting for a core ${(r.startRunQueueMs / 1000).toFixed(1)} s`;
  return `; the start took ${(r.startCpuMs / 1000).toFixed(1)} s of CPU${waited}`;
}
const pass = (ok: boolean) => (ok ? 'met' : '**not met**');

/** A latency phase's delay split by stage (LatencyResult.stages), for its table row. */
function stagesText(l: LatencyResult): string {
  const st = l.stages;
  if (!st) return '';
  const one = (x: { p50Ms: number; p99Ms: number; maxMs: number }) => `p50 ${x.p50Ms}, p99 ${x.p99Ms}, max ${x.maxMs} ms`;
  return `; of it, publish to receipt ${one(st.toReceipt)}; receipt to evaluation ${one(st.toEvaluation)}; evaluation to the wall ${one(st.toWall)}`;
}

export function resultsMarkdown(r: BenchResults): string {
  const t = r.throughput;
  const half = r.latency.find((l) => l.fraction === 0.5) ?? r.latency[r.latency.length - 1];
  const biggest = r.memory.bySize[r.memory.bySize.length - 1];
  const m = r.machine;
  const lines = [
    `Vigil benchmark (\`${r.mode}\`), ${m.date.slice(0, 10)}, commit ${m.gitCommit}${m.gitDirty ? ' (with uncommitted changes)' : ''}: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}.`,
    `${n(r.workload.customers)} customers, ${n(r.workload.events)} events (${n(r.workload.firstDayEvents)} on the first day put every customer in state; throughput is measured on the rest).`,
    '',
    '| what | measured | aim |',
    '| --- | --- | --- |',
    `| bare consumer, parse + ack (the ceiling) | ${n(t.ceiling.eventsPerSec)} events/s (runs: ${t.ceiling.runs.map((c) => n(c.eventsPerSec)).join(', ')}) | |`,
    `| processor, every signal and rule on, ${n(t.processor.body.customersAtEnd)} customers | ${n(t.processor.body.eventsPerSec)} events/s = **${(t.processor.ratioToCeiling * 100).toFixed(0)}% of the ceiling** | ≥ 80%: ${pass(t.processor.ratioToCeiling >= 0.8)} |`,
    `| Redis sorted set per customer and window (4 windows) | ${n(t.redisSortedSets.eventsPerSec)} events/s; the processor is **${t.redisSortedSets.processorSpeedup}×** faster | many times |`,
    ...r.latency.map(
      (l) =>
        `| event to wall at ${l.fraction * 100}% of the maximum (${n(l.ratePerSec)}/s) | p50 ${l.p50Ms} ms, **p99 ${l.p99Ms} ms**, max ${l.maxMs} ms (${l.alerts} of ${l.triggersSent} alerts${l.alerts < l.triggersSent ? ' within 2 s after the phase' : ''}; the processor took ${n(l.processorEventsPerSec)}/s over the phase and 2 s after it${l.behind === undefined ? '' : l.behind === 0 ? ', every published event handled' : `, ${n(l.behind)} events still behind`})${stagesText(l)} | ${l === half ? `p99 < 100 ms: ${pass(l.p99Ms < 100 && l.alerts === l.triggersSent)}` : ''} |`,
    ),
    ...(r.budget ? budgetLines(r.budget) : []),
    ...r.memory.bySize.map(
      (s) =>
        `| live state at ${n(s.customers)} customers | **${n(s.stateBytesPerCustomer)} bytes/customer** (JS heap ${n(s.heapBytesPerCustomer)} + typed arrays ${n(s.arrayBufferBytesPerCustomer)}; rss ${n(s.rssBytesPerCustomer)}) | ${s === biggest ? `< 250: ${pass(s.stateBytesPerCustomer < 250)}` : ''} |`,
    ),
    `| whole processor after the run | heap ${n(r.memory.processorAtEnd.heapPerCustomer)} bytes/customer, rss ${n(r.memory.processorAtEnd.rssPerCustomer)} bytes/customer | |`,
    `| restart to caught up, ${n(r.restart.customers)} customers in state | **${(r.restart.restoreMs / 1000).toFixed(1)} s** + replay (${n(r.restart.replayed)} events in ${(r.restart.replayMs / 1000).toFixed(1)} s)${restartCost(r.restart)} | < 5 s + replay: ${pass(r.restart.restoreMs < 5_000)} |`,
    `| ClickHouse writes per million events | ${n(r.clickhouse.rowsPerMillionEvents)} rows in ${n(r.clickhouse.batchesPerMillionEvents)} batches (${n(r.clickhouse.rowsPerBatch)} rows per batch): ${Object.entries(r.clickhouse.rowsPerMillionEventsByTable).sort((a, b) => b[1] - a[1]).map(([t, v]) => `${t} ${n(v)}`).join(', ')} | far fewer rows than events, large batches |`,
    '',
  ];
  return lines.join('\n');
}

function budgetLines(b: BudgetResult): string[] {
  const l = b.load;
  const ok = (s: { errors: number }) => (s.errors > 0 ? `; **${n(s.errors)} unanswered or errors**` : '');
  const batchP50 = [...l.batch.samplesMs].sort((x, y) => x - y)[Math.floor(l.batch.samplesMs.length / 2)] ?? 0;
  return [
    `| budget: single checks over NATS at ${n(l.nats.sentPerSec)}/s, the processor fed ${(b.fraction * 100).toFixed(0)}% of its maximum (${n(b.ratePerSec)} events/s) | p50 ${l.nats.p50Ms} ms, **p99 ${l.nats.p99Ms} ms**, max ${l.nats.maxMs} ms (${n(l.nats.count)} answers${ok(l.nats)}); over HTTP at ${n(l.http.sentPerSec)}/s beside them on the wall's port (forwarded by the event loop): p50 ${l.http.p50Ms} ms, p99 ${l.http.p99Ms} ms${ok(l.http)}${l.httpOwn ? `; on the budget's own port (budget.httpPort, its thread) at ${n(l.httpOwn.sentPerSec)}/s: p50 ${l.httpOwn.p50Ms} ms, **p99 ${l.httpOwn.p99Ms} ms**${ok(l.httpOwn)}` : ''} | p99 < 10 ms: ${pass(l.nats.p99Ms < 10 && l.nats.errors === 0)} |`,
    `| the stream's speed while those checks are answered | ${n(b.with.eventsPerSec)} events/s against ${n(b.without.eventsPerSec)} without checks: **${b.streamRatio}** (${b.with.cpuUsPerEvent} against ${b.without.cpuUsPerEvent} µs of CPU per event, checks included) | ≥ 0.9: ${pass(b.streamRatio >= 0.9)} |`,
    ...(b.with.loopDelay && b.without.loopDelay
      ? [`| how late the processor's event loop ran meanwhile (what a check waits before it is read) | p99 **${b.with.loopDelay.p99Ms} ms**, max ${b.with.loopDelay.maxMs} ms (without checks: p99 ${b.without.loopDelay.p99Ms} ms, max ${b.without.loopDelay.maxMs} ms); the main thread ready but waiting for a core ${b.with.loopDelay.runQueueMsPerS ?? '?'} ms of each second (without checks ${b.without.loopDelay.runQueueMsPerS ?? '?'}) | |`]
      : []),
    ...(b.floor
      ? (['main', 'worker'] as const).map((thread) => {
          const f = b.floor![thread];
          const where = thread === 'main' ? "on the processor's main thread, as the budget is" : 'on a worker thread of the processor';
          return `| the floor: the same ${n(f.answers.sentPerSec)} requests/s answered with no decision, ${where} | p50 ${f.answers.p50Ms} ms, **p99 ${f.answers.p99Ms} ms**, max ${f.answers.maxMs} ms (${n(f.answers.count)} answers${ok(f.answers)}); the stream ${n(f.eventsPerSec)} events/s; the answering thread waiting for a core ${f.runQueueMsPerS ?? '?'} ms of each second | |`;
        })
      : []),
    `| budget: a batch of ${n(l.batch.size)} ids over NATS, meanwhile | p50 **${batchP50} ms**, max ${l.batch.maxMs} ms (${l.batch.samplesMs.join(', ')} ms${ok(l.batch)}) | < 50 ms: ${pass(l.batch.count > 0 && l.batch.maxMs < 50 && l.batch.errors === 0)} |`,
  ];
}
