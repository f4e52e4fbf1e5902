// The processor under test, in a child process of its own (forked with IPC by bench/run.ts): startProcessor with every
// signal and rule on, production timings, and the benchmark's isolated names. The parent asks it, over IPC, to watch
// a range of stream sequences (events per second, CPU, event-loop use), for its memory, its ClickHouse counters, and to
// checkpoint, stop and start again (restart timings), and to run the scheduled refit's worker thread beside it
// (bench/refitCost.ts).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { startEcho, type EchoStats } from './echo.js';
import type { RunningProcessor } from '../src/runtime/processor.js';
import type { RefitJob, RefitOutcome } from '../src/sources/modelRefit.js';
import { runQueueMeter } from './machine.js';
import { loadSource } from './source.js';

export type ChildRequest =
  | { id: number; cmd: 'start' }
  | { id: number; cmd: 'window'; from: number; to: number }
  | { id: number; cmd: 'sample' }
  | { id: number; cmd: 'status' }
  | { id: number; cmd: 'memory' }
  | { id: number; cmd: 'metrics' }
  | { id: number; cmd: 'checkpoint' }
  | { id: number; cmd: 'stop' }
  | { id: number; cmd: 'profile'; action: 'start' | 'stop'; file?: string }
  | { id: number; cmd: 'loopDelay'; action: 'start' | 'stop' }
  | { id: number; cmd: 'echo'; action: 'main' | 'worker'; servers: string; subject: string }
  | { id: number; cmd: 'echo'; action: 'stop' }
  | { id: number; cmd: 'refit'; job: RefitJob }
  | { id: number; cmd: 'refitStop' }
  | { id: number; cmd: 'exit' };

/** One refit in its worker thread beside the processor: its steps (ms since the thread started) and outcome. */
export interface RefitRun {
  ms: number;
  outcome: RefitOutcome;
  steps: { step: string; ms: number }[];
  /** Every thread of this process with its nice value, read as the refit's last step before 'done' began (Linux; else []). */
  threads: { tid: number; name: string; nice: number | null }[];
}

/** How late the main thread's event loop ran over a phase (perf_hooks.monitorEventLoopDelay, 1 ms resolution), in ms. */
export interface LoopDelay {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /**
   * Of each second, how long the main thread was ready to run and waited for a core (Linux's schedstat run delay;
   * null elsewhere): on a machine whose cores also run NATS, ClickHouse and the load, part of the delay is not ours.
   */
  runQueueMsPerS: number | null;
}

export interface WindowResult {
  from: number;
  to: number;
  events: number;
  ms: number;
  eventsPerSec: number;
  /** Share of one core the process used over the window (user + system, every thread). */
  cpu: number;
  /** Event-loop utilisation of the main thread over the window. */
  elu: number;
  customersAtEnd: number;
}

const { parseConfig, startProcessor, createLogger, runRefitWorker, niceFromStat } = await loadSource();
const config = parseConfig(JSON.parse(process.env.VIGIL_BENCH_CONFIG!));
const log = createLogger(process.env.VIGIL_BENCH_LOG_LEVEL ?? 'warn');
let running: RunningProcessor | null = null;
let loopDelay: { h: IntervalHistogram; waiting: ReturnType<typeof runQueueMeter> } | null = null;
let inspector: Session | null = null;
/** The echo responder running (bench/echo.ts), on this thread or a worker: stop() returns its stats. */
let echo: (() => Promise<EchoStats>) | null = null;

/** The echo responder on a worker thread of this process, started through tsx as the publisher is. */
async function echoWorker(servers: string, subject: string): Promise<() => Promise<EchoStats>> {
  const entry = new URL('./echo.worker.ts', import.meta.url).href;
  const w = new Worker(new URL('./tsWorker.mjs', import.meta.url), { workerData: { entry, servers, subject } });
  await new Promise<void>((resolve, reject) => {
    w.once('message', () => resolve());
    w.once('error', reject);
  });
  return async () => {
    // Its stats, or the reason it has none: a worker that died meanwhile fails the phase instead of hanging it.
    const stats = new Promise<EchoStats>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
      w.once('exit', (code) => reject(new Error(`the echo worker exited (${code}) before its stats`)));
    });
    w.postMessage('stop');
    const result = await stats;
    await w.terminate();
    return result;
  };
}

/** Messages handled so far by this process's pipeline: every outcome counts, as each is one stream message. */
function handled(): number {
  if (!running) return 0;
  const c = running.pipeline.counts;
  return c.processed + c.duplicate + c.late + c.rejected + c.dropped_consent;
}

// A timeline sampled every 5 ms: time, messages handled, CPU and event-loop time. Windows are read from it afterwards,
// so a window is measured from the sample where it starts, whenever the parent asks. The loop turns between pulled
// batches, so either end of a window is off by at most one batch.
const timeline = { t: [] as number[], n: [] as number[], cpu: [] as number[], active: [] as number[], idle: [] as number[] };
const customersAt: { n: number; customers: number }[] = [];
setInterval(() => {
  const elu = performance.eventLoopUtilization();
  const cpu = process.cpuUsage();
  timeline.t.push(performance.now());
  timeline.n.push(handled());
  timeline.cpu.push(cpu.user + cpu.system);
  timeline.active.push(elu.active);
  timeline.idle.push(elu.idle);
  if (running && timeline.t.length % 200 === 0) customersAt.push({ n: handled(), customers: running.pipeline.windows.size });
}, 5).unref();

function windowOf(from: number, to: number): WindowResult {
  const { t, n, cpu, active, idle } = timeline;
  const i = n.findIndex((v) => v >= from);
  const j = n.findIndex((v) => v >= to);
  if (i < 0 || j < 0 || j <= i) throw new Error(`no window ${from}..${to} in the timeline (handled ${handled()})`);
  const ms = t[j] - t[i];
  const events = n[j] - n[i];
  const da = active[j] - active[i];
  const di = idle[j] - idle[i];
  const customers = customersAt.filter((c) => c.n <= n[j]).pop()?.customers ?? running?.pipeline.windows.size ?? 0;
  return {
    from: n[i],
    to: n[j],
    events,
    ms: Math.round(ms),
    eventsPerSec: Math.round((events * 1000) / Math.max(1, ms)),
    cpu: Math.round(((cpu[j] - cpu[i]) / 1000 / Math.max(1, ms)) * 100) / 100,
    elu: Math.round((da / Math.max(1e-9, da + di)) * 100) / 100,
    customersAtEnd: customers,
  };
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${running!.wallPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : Number.NaN;
}

function memory() {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  const p = running!.pipeline;
  return { heapUsed: m.heapUsed, rss: m.rss, external: m.external, arrayBuffers: m.arrayBuffers, customers: p.windows.size, bytesPerSlot: p.windows.bytesPerSlot };
}

/** This process's threads and their nice values, from /proc/self/task (empty where there is none). */
function threads(): RefitRun['threads'] {
  try {
    return readdirSync('/proc/self/task').map((tid) => {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      return { tid: Number(tid), name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), nice: niceFromStat(stat) };
    });
  } catch {
    return [];
  }
}

let refitRunning: { terminate(): Promise<number> } | null = null;

async function refit(job: RefitJob): Promise<RefitRun> {
  const t0 = performance.now();
  const steps: RefitRun['steps'] = [];
  let seen: RefitRun['threads'] = [];
  const run = runRefitWorker({ ...job, progress: true }, (p) => {
    // At each step before the last: the second fitting thread exists from the fits on, and is gone at 'done'.
    if (p.progress !== 'done') seen = threads();
    steps.push({ step: p.progress, ms: Math.round(p.ms) });
  });
  refitRunning = run;
  const outcome = await run.outcome.finally(() => (refitRunning = null));
  return { ms: Math.round(performance.now() - t0), outcome, steps, threads: seen };
}

async function answer(req: ChildRequest): Promise<unknown> {
  switch (req.cmd) {
    case 'start': {
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      const waiting = runQueueMeter();
      running = await startProcessor({ config, logger: log });
      const cpu = process.cpuUsage(cpu0);
      const runQueueMs = waiting.ms();
      // What the start cost the process in CPU (every thread: zlib's inflate runs on the pool) and how long its main
      // thread was ready but waited for a core (null off Linux): on 2 cores after a long run, ClickHouse's merges compete.
      const startCost = { cpuMs: Math.round((cpu.user + cpu.system) / 1000), runQueueMs };
      return { wallPort: running.wallPort, budgetHttpPort: running.budgetHttpPort(), startMs: Math.round(performance.now() - t0), ...startCost, restart: running.restart(), customers: running.pipeline.windows.size, handled: handled() };
    }
    case 'window':
      return windowOf(req.from, req.to);
    case 'sample': {
      const cpu = process.cpuUsage();
      return { t: performance.now(), handled: handled(), cpuUs: cpu.user + cpu.system };
    }
    case 'status':
      return { handled: handled(), counts: running?.pipeline.counts, customers: running?.pipeline.windows.size, stats: running?.pipeline.stats, rejectReasons: running ? Object.fromEntries(running.pipeline.rejectReasons) : {} };
    case 'memory':
      return memory();
    case 'metrics':
      return {
        rowsWritten: await metric('vigil_clickhouse_rows_written_total'),
        batchesWritten: await metric('vigil_clickhouse_batches_written_total'),
        bytesWritten: await metric('vigil_clickhouse_bytes_written_total'),
        bufferedRows: await metric('vigil_clickhouse_buffered_rows'),
        alertsActive: await metric('vigil_alerts_active'),
        alertNotifications: await metric('vigil_alert_notifications_published_total'),
        rowsWrittenByTable: { ...running!.sinkCounters().rowsWrittenByTable },
      };
    case 'checkpoint': {
      const t0 = performance.now();
      await running!.checkpointNow();
      return { ms: Math.round(performance.now() - t0) };
    }
    case 'stop': {
      const t0 = performance.now();
      await running!.stop();
      running = null;
      return { ms: Math.round(performance.now() - t0) };
    }
    case 'profile': {
      // A CPU profile of one phase only (node --cpu-prof would cover the whole life of the process).
      if (req.action === 'start') {
        inspector ??= new Session();
        inspector.connect();
        await inspector.post('Profiler.enable');
        await inspector.post('Profiler.setSamplingInterval', { interval: 200 });
        await inspector.post('Profiler.start');
        // And where the phase allocates (what the collector's share comes from), beside it as a .heapprofile.
        await inspector.post('HeapProfiler.enable');
        // Every sampled allocation, not only those still alive when the phase ends (the short-lived are the collector's work).
        await inspector.post('HeapProfiler.startSampling', { samplingInterval: 64 * 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
        return {};
      }
      const { profile } = await inspector!.post('Profiler.stop');
      writeFileSync(req.file!, JSON.stringify(profile));
      const { profile: heap } = await inspector!.post('HeapProfiler.stopSampling');
      writeFileSync(req.file!.replace(/\.cpuprofile$/, '.heapprofile'), JSON.stringify(heap));
      inspector!.disconnect();
      return { file: req.file };
    }
    case 'loopDelay': {
      // What a budget check arriving at a random moment waits before its socket is read: the loop's delay.
      if (req.action === 'start') {
        loopDelay?.h.disable();
        loopDelay = { h: monitorEventLoopDelay({ resolution: 1 }), waiting: runQueueMeter() };
        loopDelay.h.enable();
        return {};
      }
      const { h, waiting } = loopDelay!;
      h.disable();
      loopDelay = null;
      const ms = (ns: number) => Math.round(ns / 1e4) / 100;
      return { p50Ms: ms(h.percentile(50)), p99Ms: ms(h.percentile(99)), maxMs: ms(h.max), runQueueMsPerS: waiting.msPerS() } satisfies LoopDelay;
    }
    case 'echo': {
      if (req.action === 'stop') {
        const stats = await echo!();
        echo = null;
        return stats;
      }
      echo = req.action === 'main' ? await startEcho(req.servers, req.subject, 'vigil-bench-echo-main') : await echoWorker(req.servers, req.subject);
      return {};
    }
    case 'refit':
      return refit(req.job);
    case 'refitStop':
      await refitRunning?.terminate();
      return {};
    case 'exit':
      setImmediate(() => process.exit(0));
      return {};
  }
}

process.on('message', (req: ChildRequest) => {
  answer(req).then(
    (result) => process.send!({ id: req.id, ok: true, result }),
    (err: unknown) => process.send!({ id: req.id, ok: false, error: err instanceof Error ? err.stack ?? err.message : String(err) }),
  );
});
process.send!({ id: 0, ok: true, result: 'ready' });
