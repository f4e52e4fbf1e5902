// The pieces of `npm run bench` that other benches run the processor with too (bench/run.ts, bench/refitCost.ts): the
// benchmark's isolated names and processor config, the processor in a child process driven over IPC, the publishing
// workers and the backlog, the stream's last sequence, and the clean-up of everything a run created.
import { fork, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { NatsConnection } from 'nats';
import { Redis } from 'ioredis';
import type { ChildRequest } from './processorChild.js';
import type { PublisherJob, PublisherReport } from './publisher.worker.js';
import type { WorkloadOptions } from './workload.js';

export const root = new URL('../', import.meta.url).pathname;
export const NATS = process.env.VIGIL_NATS__SERVERS ?? 'nats://127.0.0.1:4222';
export const REDIS = process.env.VIGIL_REDIS__URL ?? 'redis://127.0.0.1:6379';
export const CLICKHOUSE = process.env.VIGIL_CLICKHOUSE__URL ?? 'http://127.0.0.1:8123';

export const say = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const round = (v: number, digits = 0) => Math.round(v * 10 ** digits) / 10 ** digits;

/** Everything one run creates carries its tag: stream, consumers, database, keys, buckets, spill directory. */
export function benchNames(tag: string) {
  return {
    stream: `BENCH_${tag}`,
    subjectPrefix: `bench${tag}.events`,
    consumer: `vigil_bench_${tag}`,
    database: `vigil_bench_${tag}`,
    redisPrefix: `vigil_bench_${tag}:`,
    baselinePrefix: `vigil_bench_${tag}_zset:`,
    checkpointBucket: `vigil_bench_${tag}`,
    spillDir: `bench/results/tmp/spill/${tag}`,
    budgetBucket: `vigil_bench_${tag}_suppressed`,
  };
}
export type BenchNames = ReturnType<typeof benchNames>;

/** The processor's config under test: the defaults, on the run's own names. */
export function processorConfigFor(names: BenchNames, tag: string) {
  return {
    log: { level: 'warn' },
    nats: { servers: NATS, stream: names.stream, subjectPrefix: names.subjectPrefix, consumer: names.consumer, deadLetterSubject: `bench${tag}.deadletter`, alertSubjectPrefix: `bench${tag}.alerts` },
    clickhouse: { url: CLICKHOUSE, database: names.database, spill: { dir: `${root}${names.spillDir}` } },
    redis: { url: REDIS, keyPrefix: names.redisPrefix },
    wall: { port: 0, host: '127.0.0.1' },
    processor: { checkpointBucket: names.checkpointBucket },
    // A port of the budget's own (budget.httpPort), beside the wall's forwarded route: the budget phase asks both.
    budget: { bucket: names.budgetBucket, subject: `bench${tag}.pressure`, httpPort: 0 } as { bucket: string; subject: string; httpPort?: number; thread?: boolean },
  };
}

/** `--set a.b=value`: one config key changed for this run (numbers and booleans as JSON, anything else as text). */
export function applySetting(config: object, assignment: string): void {
  const eq = assignment.indexOf('=');
  if (eq < 1) throw new Error(`--set ${assignment}: expected key=value`);
  const path = assignment.slice(0, eq).split('.');
  const text = assignment.slice(eq + 1);
  let value: unknown = text;
  try {
    value = JSON.parse(text);
  } catch {
    // plain text
  }
  let at = config as Record<string, unknown>;
  for (const key of path.slice(0, -1)) at = (at[key] ??= {}) as Record<string, unknown>;
  at[path[path.length - 1]] = value;
}

/** A request without its id, for each kind of request (Omit over the union, member by member). */
export type Request = ChildRequest extends infer R ? (R extends ChildRequest ? Omit<R, 'id'> : never) : never;

/** The processor child's clock, handled count and CPU at one moment (its 'sample' answer). */
export interface Sample {
  t: number;
  handled: number;
  cpuUs: number;
}

// ---- the processor child -------------------------------------------------------------------------------------------

export class ProcessorProcess {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly ready: Promise<void>;
  readonly stderr: string[] = [];

  constructor(
    readonly proc: ChildProcess,
    readonly config: object,
  ) {
    let markReady!: () => void;
    let failStart!: (e: Error) => void;
    this.ready = new Promise((resolve, reject) => {
      markReady = resolve;
      failStart = reject;
    });
    proc.on('message', (m: { id: number; ok: boolean; result?: unknown; error?: string }) => {
      if (m.id === 0) return markReady();
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.ok) w?.resolve(m.result);
      else w?.reject(new Error(`processor child: ${m.error}`));
    });
    proc.stderr!.on('data', (d: Buffer) => {
      this.stderr.push(d.toString('utf8'));
      if (this.stderr.length > 200) this.stderr.shift();
    });
    proc.on('exit', (code, signal) => {
      // A child that dies while loading (a module not found) would otherwise leave the bench waiting forever.
      failStart(new Error(`processor child exited (${code ?? signal}) before it was ready: ${this.stderr.slice(-5).join('')}`));
      for (const w of this.waiting.values()) w.reject(new Error(`processor child exited (${code ?? signal}): ${this.stderr.slice(-5).join('')}`));
      this.waiting.clear();
    });
  }

  static start(config: object): ProcessorProcess {
    // VIGIL_BENCH_NODE_FLAGS: more of node's own flags for the processor (e.g. a V8 heap setting), to measure them.
    const extra = (process.env.VIGIL_BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
    const execArgv = ['--import', 'tsx', '--expose-gc', '--max-old-space-size=8192', ...extra];
    const proc = fork(`${root}bench/processorChild.ts`, [], {
      cwd: root,
      execArgv,
      env: { ...process.env, VIGIL_BENCH_CONFIG: JSON.stringify(config) },
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    return new ProcessorProcess(proc, config);
  }

  /** Ends a stopped processor's process. */
  static async exit(p: ProcessorProcess): Promise<void> {
    const exited = new Promise((r) => p.proc.once('exit', r));
    await p.call({ cmd: 'exit' }).catch(() => undefined);
    await exited;
  }

  /** A new process in place of a stopped one, on the same config. */
  static async restart(p: ProcessorProcess): Promise<ProcessorProcess> {
    await ProcessorProcess.exit(p);
    const next = ProcessorProcess.start(p.config);
    await next.ready;
    return next;
  }

  call<T>(req: Request): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.send({ ...req, id });
    });
  }
}

// ---- publishing ----------------------------------------------------------------------------------------------------

export function runWorker(job: PublisherJob, onReport: (r: PublisherReport) => void): Promise<Extract<PublisherReport, { kind: 'done' }>> {
  return new Promise((resolve, reject) => {
    const entry = new URL('./publisher.worker.ts', import.meta.url).href;
    const w = new Worker(new URL('./tsWorker.mjs', import.meta.url), { workerData: { ...job, entry } });
    w.on('message', (r: PublisherReport) => {
      onReport(r);
      if (r.kind === 'done') resolve(r);
    });
    w.on('error', reject);
    w.on('exit', (code) => code !== 0 && reject(new Error(`publisher exited with ${code}`)));
  });
}

/**
 * The whole workload (the first day, when every customer arrives, then the body) published as fast as NATS takes it,
 * by `workers` publishing workers in event-time lockstep; `workload(w, workers, endTs)` is worker w's share.
 */
export async function publishBacklog(o: {
  subjectPrefix: string;
  workers: number;
  workload: (worker: number, workers: number, endTs: number) => WorkloadOptions;
}): Promise<{ total: number; firstDay: number; ms: number; byType: Record<string, number> }> {
  const progress = new SharedArrayBuffer(4 * o.workers);
  const endTs = Date.now();
  const t0 = performance.now();
  let lastSaid = 0;
  const reports = await Promise.all(
    Array.from({ length: o.workers }, (_, w) =>
      runWorker({ mode: 'backlog', servers: NATS, subjectPrefix: o.subjectPrefix, workload: o.workload(w, o.workers, endTs), progress }, (r) => {
        if (r.kind === 'progress' && r.worker === 0 && performance.now() - lastSaid > 10_000) {
          lastSaid = performance.now();
          say(`  publishing: event-time day ${(r.minute / 1440).toFixed(1)} of 8`);
        }
      }),
    ),
  );
  const byType: Record<string, number> = {};
  for (const r of reports) for (const [k, v] of Object.entries(r.byType)) byType[k] = (byType[k] ?? 0) + v;
  return { total: reports.reduce((n, r) => n + r.published, 0), firstDay: reports.reduce((n, r) => n + r.firstDayEvents, 0), ms: performance.now() - t0, byType };
}

export async function streamLastSeq(nc: NatsConnection, stream: string): Promise<number> {
  const info = await (await nc.jetstreamManager()).streams.info(stream);
  return info.state.last_seq;
}

export async function waitForStream(nc: NatsConnection, stream: string, expected: number): Promise<number> {
  for (let i = 0; i < 600; i++) {
    const last = await streamLastSeq(nc, stream);
    if (last >= expected) return last;
    await sleep(100);
  }
  throw new Error(`stream holds ${await streamLastSeq(nc, stream)} of ${expected} published messages`);
}

// ---- clean-up ------------------------------------------------------------------------------------------------------

/** Removes what a run created: stream, buckets, database, spill directory and Redis keys. */
export async function cleanUp(nc: NatsConnection, names: BenchNames): Promise<void> {
  const jsm = await nc.jetstreamManager();
  await jsm.streams.delete(names.stream).catch(() => undefined);
  await jsm.streams.delete(`OBJ_${names.checkpointBucket}`).catch(() => undefined);
  await jsm.streams.delete(`KV_${names.budgetBucket}`).catch(() => undefined);
  await fetch(`${CLICKHOUSE}/`, { method: 'POST', body: `DROP DATABASE IF EXISTS ${names.database}` }).catch(() => undefined);
  rmSync(`${root}${names.spillDir}`, { recursive: true, force: true });
  const redis = new Redis(REDIS);
  for (const prefix of [names.redisPrefix, names.baselinePrefix]) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 20_000);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
  }
  redis.disconnect();
}
