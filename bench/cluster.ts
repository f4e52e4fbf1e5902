// `npm run bench:cluster`: the same backlog taken by layouts of processor processes × worker threads sharing the
// customer partitions (docs/scale-out.md), as events per second, ratio to one process of one thread, events per
// CPU-second of the processors, and their memory.
//
//   node --import tsx bench/cluster.ts [--events 300000] [--customers 50000] [--partitions 6] [--layouts 1x1,2x1,3x1]
//                                      [--rounds 2] [--lease-ms 30000] [--update-docs] [--keep]
//   node --import tsx bench/cluster.ts --layouts 1x1,1x2,2x1 --update-docs     (processes against worker threads)
//   node --import tsx bench/cluster.ts --render bench/results/<date>-cluster.json [--update-docs]   (no run: the table again)
//
// A layout PxT is P processor processes of `cluster.threads: T` each (src/threads.ts): P × T cluster members.
// `--processors 1,2,3` is the same as `--layouts 1x1,2x1,3x1`. `--update-docs` rewrites the table under
// `<!-- bench:cluster-threads -->` in docs/scale-out.md when a layout has more than one thread, else under
// `<!-- bench:cluster -->`.
//
// The machine is shared and noisy, and noise only slows a run: the runs go in rounds (every layout, then again), and
// the table gives, for each layout, its fastest round. Every run is kept in the JSON.
//
// A private nats-server carries the partition mapping (tests/helpers/ownServices.ts). The bench's workload generator
// (bench/workload.ts: Zipf-like sessions ending in purchases, campaigns that hammer some people, complaints, churners,
// out-of-order and late events, producer retries) makes one event set, published for each run on
// `events.<type>.<customerToken>` into a fresh stream; each run has its own consumers, ClickHouse database, Redis
// prefix, checkpoint bucket, lease bucket and partials stream, all removed after it.
//
// Each run, as bench/run.ts does for one processor, has the processors take the backlog live (consumer, signals,
// alerts), not as a replay (processors started on a stream that already holds the backlog would restore each partition
// by replaying it, alerts not evaluated): they start on the empty stream and share the partitions, are paused (SIGSTOP,
// which stops every thread of a process) while the backlog is published, and resumed together. No partition moves
// during a run: before the processors start, the bench holds every `partition.<k>` key of the run's lease bucket
// itself; once all P × T members are in it deletes them and each member claims its own share (the assignment is a
// function of the members). The clock starts at the
// resume, every partition held and consuming, and stops when the processors' /metrics together count every message
// of the stream (vigil_events_total over all outcomes: processed, duplicate, late, rejected, dropped_consent; each thread
// has its own /metrics, on wall.port + i). CPU time is utime + stime of each child from /proc/<pid>/stat (every thread
// of the process) over the same interval; RSS is each child's VmRSS at the end of the run. The lease is long (30 s) so that the
// pause, a few seconds, costs no lease.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connect, RetentionPolicy, StorageType, type KV, type NatsConnection } from 'nats';
import { Redis } from 'ioredis';
import { customerToken, natsMapping, partitionOf } from '../src/cluster/partitioning.js';
import { parseConfig } from '../src/config/load.js';
import { envFor } from '../tests/helpers/child.js';
import { freePortRun, OwnServer } from '../tests/helpers/ownServices.js';
import { machineFacts, type MachineFacts } from './machine.js';
import { WorkloadGenerator } from './workload.js';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '300000' },
    customers: { type: 'string', default: '50000' },
    partitions: { type: 'string', default: '6' },
    layouts: { type: 'string' },
    processors: { type: 'string' },
    'lease-ms': { type: 'string', default: '30000' },
    rounds: { type: 'string', default: '2' },
    'timeout-s': { type: 'string', default: '240' },
    'update-docs': { type: 'boolean', default: false },
    render: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});

const EVENTS = Number(args.events);
const CUSTOMERS = Number(args.customers);
const PARTITIONS = Number(args.partitions);
interface Layout {
  processes: number;
  threads: number;
}
const layoutName = (l: Layout) => `${l.processes}x${l.threads}`;
const LAYOUTS: Layout[] = (args.layouts ?? (args.processors ? args.processors.split(',').map((k) => `${k}x1`).join(',') : '1x1,2x1,3x1')).split(',').map((text) => {
  const [processes, threads] = text.trim().split('x').map(Number);
  return { processes, threads };
});
const ROUNDS = Number(args.rounds);
const LEASE_MS = Number(args['lease-ms']);
const TIMEOUT_MS = Number(args['timeout-s']) * 1000;
if (!(EVENTS > 0 && CUSTOMERS > 0 && PARTITIONS >= 1 && LEASE_MS >= 1000 && ROUNDS >= 1) || LAYOUTS.some((l) => !(Number.isInteger(l.processes) && l.processes >= 1 && Number.isInteger(l.threads) && l.threads >= 1 && l.threads <= PARTITIONS))) throw new Error('bench:cluster: bad arguments');

const root = fileURLToPath(new URL('../', import.meta.url));
const resultsDir = join(root, 'bench/results');
const MAIN = join(root, 'src/main.ts');
const CLICKHOUSE = process.env.VIGIL_CLICKHOUSE__URL ?? 'http://127.0.0.1:8123';
const REDIS = process.env.VIGIL_REDIS__URL ?? 'redis://127.0.0.1:6379';
const PREFIX = 'events';
const tag = randomBytes(3).toString('hex');
const GATE_OWNER = 'bench-gate';
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

const say = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (v: number, digits = 0) => Math.round(v * 10 ** digits) / 10 ** digits;
const fmt = (v: number, digits = 0) => v.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits });

// ---- /proc -----------------------------------------------------------------------------------------------------------

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat; NaN when it is gone. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at field 3: utime is field 14, stime field 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

/** The whole machine's busy and total CPU seconds since boot (/proc/stat, first line). */
function machineCpu(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = f;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy: busy / CLK_TCK, total: (busy + idle + iowait) / CLK_TCK };
}

/** The pid of the nats-server listening on `port` (OwnServer keeps its process to itself). */
function natsServerPid(port: number): number | null {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (cmd[0].endsWith('nats-server') && cmd.includes(String(port))) return Number(d);
    } catch {
      /* gone */
    }
  }
  return null;
}

// ---- the event set ---------------------------------------------------------------------------------------------------

interface EventSet {
  subjects: string[];
  payloads: Uint8Array[];
  firstDay: number;
  byType: Record<string, number>;
  byPartition: number[];
}

/** The bench's workload (one generator over every customer), each event on `events.<type>.<customerToken>`. */
function generateEvents(): EventSet {
  const firstDayGuess = Math.round(CUSTOMERS * 2.25);
  const bodyEvents = Math.max(CUSTOMERS, EVENTS - firstDayGuess);
  const gen = new WorkloadGenerator({ customers: CUSTOMERS, bodyEvents, days: 7, endTs: Date.now(), seed: 1, worker: 0, workers: 1 });
  const enc = new TextEncoder();
  const out: EventSet = { subjects: [], payloads: [], firstDay: 0, byType: {}, byPartition: new Array<number>(PARTITIONS).fill(0) };
  for (let k = 0; k < gen.minutes; k++) {
    for (const ev of gen.minute(gen.firstMin + k)) {
      const token = customerToken(ev.customerId);
      out.subjects.push(`${PREFIX}.${ev.type}.${token}`);
      out.payloads.push(enc.encode(JSON.stringify(ev)));
      out.byType[ev.type] = (out.byType[ev.type] ?? 0) + 1;
      out.byPartition[partitionOf(token, PARTITIONS)]++;
      if (k < 1440) out.firstDay++;
    }
  }
  return out;
}

/** Publishes the event set into `stream` and waits until the stream holds all of it; returns the milliseconds taken. */
async function publishEvents(nc: NatsConnection, stream: string, set: EventSet): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < set.subjects.length; i++) {
    nc.publish(set.subjects[i], set.payloads[i]);
    if (i % 5_000 === 4_999) await nc.flush();
  }
  await nc.flush();
  const jsm = await nc.jetstreamManager();
  for (let i = 0; ; i++) {
    const { state } = await jsm.streams.info(stream);
    if (state.messages >= set.subjects.length) break;
    if (i > 600) throw new Error(`stream holds ${state.messages} of ${set.subjects.length} published events`);
    await sleep(100);
  }
  return performance.now() - t0;
}

// ---- a processor child -----------------------------------------------------------------------------------------------

class Child {
  readonly log: string[] = [];
  readonly exited: Promise<void>;

  constructor(
    readonly id: string,
    /** Thread i's wall (health, /metrics) is on port + i. */
    readonly port: number,
    readonly threads: number,
    readonly proc: ChildProcess,
  ) {
    this.exited = new Promise((r) => proc.once('exit', () => r()));
    const keep = (d: Buffer) => {
      this.log.push(d.toString('utf8'));
      if (this.log.length > 100) this.log.shift();
    };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
  }

  get pid(): number {
    return this.proc.pid!;
  }

  alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** The cluster members this process runs: itself, or one per thread (src/threads.ts names them). */
  get members(): string[] {
    return this.threads === 1 ? [this.id] : Array.from({ length: this.threads }, (_, i) => `${this.id}-t${i}`);
  }

  get ports(): number[] {
    return Array.from({ length: this.threads }, (_, i) => this.port + i);
  }

  /** Every thread's wall answers /readyz. */
  async ready(): Promise<boolean> {
    const ok = await Promise.all(this.ports.map((port) => fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false)));
    return ok.every(Boolean);
  }

  /** Messages handled, every outcome (processed, duplicate, late, rejected, dropped_consent), by outcome, over its threads. */
  async counts(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const port of this.ports) {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      for (const m of text.matchAll(/^vigil_events_total\{outcome="([^"]+)"\} (\S+)$/gm)) out[m[1]] = (out[m[1]] ?? 0) + Number(m[2]);
    }
    return out;
  }

  async stop(): Promise<void> {
    if (!this.alive()) return;
    this.proc.kill('SIGTERM');
    const killed = await Promise.race([this.exited.then(() => false), sleep(60_000).then(() => true)]);
    if (killed) {
      say(`  ${this.id} did not stop in 60 s: SIGKILL`);
      this.proc.kill('SIGKILL');
      await this.exited;
    }
  }
}

interface RunNames {
  stream: string;
  consumer: string;
  database: string;
  redisPrefix: string;
  checkpointBucket: string;
  leaseBucket: string;
  partialsStream: string;
  spillDir: string;
}

function namesFor(k: string, r: number): RunNames {
  const base = `vigil_benchc_${tag}_r${r}k${k}`;
  return {
    stream: `BENCHC_EVENTS_${tag}_R${r}K${k}`,
    consumer: base,
    database: base,
    redisPrefix: `${base}:`,
    checkpointBucket: `${base}_cp`,
    leaseBucket: `${base}_leases`,
    partialsStream: `BENCHC_PARTIALS_${tag}_R${r}K${k}`,
    spillDir: mkdtempSync(join(tmpdir(), `vigil-benchc-k${k}-`)),
  };
}

async function startChild(natsUrl: string, k: string, threads: number, n: RunNames, id: string): Promise<Child> {
  const config = parseConfig({
    nats: { servers: natsUrl, stream: n.stream, subjectPrefix: PREFIX, consumer: n.consumer, deadLetterSubject: `benchc.${tag}.deadletter`, alertSubjectPrefix: `benchc.${tag}.k${k}.alerts` },
    clickhouse: { url: CLICKHOUSE, database: n.database },
    redis: { url: REDIS, keyPrefix: n.redisPrefix },
  });
  const port = await freePortRun(threads);
  const env = envFor(config, {
    VIGIL_CLUSTER__PARTITIONS: String(PARTITIONS),
    VIGIL_CLUSTER__THREADS: String(threads),
    VIGIL_CLUSTER__PROCESSOR_ID: id,
    VIGIL_CLUSTER__LEASE_MS: String(LEASE_MS),
    VIGIL_CLUSTER__LEASE_BUCKET: n.leaseBucket,
    VIGIL_CLUSTER__PARTIALS_STREAM: n.partialsStream,
    VIGIL_CLUSTER__PARTIALS_SUBJECT_PREFIX: `benchc.${tag}.k${k}.partials`,
    VIGIL_CLUSTER__SUBJECT_PREFIX: `benchc.${tag}.k${k}.cluster`,
    VIGIL_PROCESSOR__CHECKPOINT_BUCKET: n.checkpointBucket,
    VIGIL_CLICKHOUSE__SPILL__DIR: join(n.spillDir, id),
    VIGIL_WALL__PORT: String(port),
    VIGIL_LOG__LEVEL: 'warn',
  });
  // The bench's own VIGIL_* settings (a config file, another stream) must not reach the children.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('VIGIL_')));
  const proc = spawn(process.execPath, ['--import', 'tsx', MAIN], { cwd: root, env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const child = new Child(id, port, threads, proc);
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (!child.alive()) throw new Error(`processor ${id} exited at start:\n${child.log.join('')}`);
    if (await child.ready()) return child;
    await sleep(100);
  }
  proc.kill('SIGKILL');
  throw new Error(`processor ${id} not ready in 90 s:\n${child.log.join('')}`);
}

// ---- the gate: the bench holds every partition until all processors are members -------------------------------------

class Gate {
  private readonly revisions = new Map<number, number>();
  private timer: NodeJS.Timeout | null = null;
  private renewing: Promise<void> = Promise.resolve();

  private constructor(readonly kv: KV) {}

  static async close(nc: NatsConnection, bucket: string): Promise<Gate> {
    // The bucket as the processors open it (src/cluster/leases.ts): history 1, max_age = the lease.
    const kv = await nc.jetstream().views.kv(bucket, { history: 1, ttl: LEASE_MS, storage: StorageType.File });
    const gate = new Gate(kv);
    for (let p = 0; p < PARTITIONS; p++) gate.revisions.set(p, await kv.create(`partition.${p}`, gate.value()));
    gate.timer = setInterval(() => gate.renew(), Math.floor(LEASE_MS / 4));
    return gate;
  }

  private value(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify({ owner: GATE_OWNER, instance: tag, at: new Date().toISOString() }));
  }

  private renew(): void {
    this.renewing = this.renewing.then(async () => {
      for (const [p, rev] of this.revisions) this.revisions.set(p, await this.kv.update(`partition.${p}`, this.value(), rev));
    }).catch((err: unknown) => void say(`  renewing the gate failed: ${String(err)}`));
  }

  async open(): Promise<void> {
    clearInterval(this.timer!);
    await this.renewing;
    await Promise.all([...this.revisions].map(([p, rev]) => this.kv.delete(`partition.${p}`, { previousSeq: rev })));
  }

  async members(): Promise<string[]> {
    const out: string[] = [];
    for await (const key of await this.kv.keys('member.>')) out.push(key.slice('member.'.length));
    return out.sort();
  }

  /** partition → owner, for the partitions held now. */
  async owners(): Promise<Map<number, string>> {
    const out = new Map<number, string>();
    for (let p = 0; p < PARTITIONS; p++) {
      const e = await this.kv.get(`partition.${p}`);
      if (e && e.operation === 'PUT' && e.length > 0) out.set(p, (e.json() as { owner: string }).owner);
    }
    return out;
  }
}

// ---- one run ---------------------------------------------------------------------------------------------------------

interface CpuSample {
  at: number;
  cpu: number[];
  natsCpu: number;
  machine: { busy: number; total: number };
}

/** CPU times from /proc: readable while the children are paused. */
function cpuSample(children: Child[], natsPid: number | null): CpuSample {
  return { at: performance.now(), cpu: children.map((c) => cpuSeconds(c.pid)), natsCpu: natsPid ? cpuSeconds(natsPid) : Number.NaN, machine: machineCpu() };
}

/** Messages handled by all the children together, by outcome, from their /metrics. */
async function handled(children: Child[]): Promise<{ total: number; byOutcome: Record<string, number> }> {
  const counts = await Promise.all(children.map((c) => c.counts()));
  const byOutcome: Record<string, number> = {};
  for (const c of counts) for (const [o, n] of Object.entries(c)) byOutcome[o] = (byOutcome[o] ?? 0) + n;
  return { total: Object.values(byOutcome).reduce((a, b) => a + b, 0), byOutcome };
}

interface RunResult {
  /** Processor processes (named so since the runs before worker threads: their JSON reads the same). */
  processors: number;
  /** Worker threads per process (cluster.threads); absent in runs before worker threads: 1. */
  threads?: number;
  round: number;
  events: number;
  seconds: number;
  eventsPerSec: number;
  ratioToOne: number | null;
  cpuSeconds: number;
  cpuSecondsByProcessor: number[];
  eventsPerCpuSecond: number;
  /** CPU-seconds of the processors per second of the run: cores they kept busy. */
  processorCoresBusy: number;
  natsServerCpuSeconds: number;
  /** Busy cores of the whole machine (every process, the shared services and other users included). */
  machineCoresBusy: number;
  /** From the gate's opening to every partition held and consuming. */
  claimMs: number;
  /** How long the processors were paused while the backlog was published. */
  pausedMs: number;
  publishedPerSec: number;
  partitionsByProcessor: Record<string, number[]>;
  outcomes: Record<string, number>;
  /** VmRSS of each process at the end of the run. */
  rssMiB: number[];
}

const threadsOf = (x: RunResult) => x.threads ?? 1;
const layoutOf = (x: RunResult): Layout => ({ processes: x.processors, threads: threadsOf(x) });
/** `2 × 1`: processes × threads, as the tables print it. */
const layoutLabel = (x: RunResult) => `${x.processors} × ${threadsOf(x)}`;
const sameLayout = (a: RunResult, b: RunResult) => layoutName(layoutOf(a)) === layoutName(layoutOf(b));

function rssMiB(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? round(Number(m[1]) / 1024) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

async function runWith(nc: NatsConnection, natsUrl: string, natsPid: number | null, layout: Layout, roundNo: number, set: EventSet, live: Set<Child>): Promise<RunResult> {
  const k = layoutName(layout);
  const n = namesFor(k, roundNo);
  const total = set.subjects.length;
  const children: Child[] = [];
  const exitedCheck = () => {
    if (children.some((c) => !c.alive())) throw new Error(`a processor exited:\n${children.map((c) => `${c.id}:\n${c.log.join('')}`).join('\n')}`);
  };
  try {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: n.stream, subjects: [`${PREFIX}.>`], retention: RetentionPolicy.Limits, storage: StorageType.File });
    const gate = await Gate.close(nc, n.leaseBucket);
    const started = await Promise.allSettled(Array.from({ length: layout.processes }, (_, i) => startChild(natsUrl, k, layout.threads, n, `bench-p${i + 1}`)));
    for (const s of started) if (s.status === 'fulfilled') (children.push(s.value), live.add(s.value));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    for (let i = 0; ; i++) {
      const members = await gate.members();
      if (children.flatMap((c) => c.members).every((id) => members.includes(id))) break;
      if (i > 300) throw new Error(`members after 30 s: ${members.join(', ')}`);
      await sleep(100);
    }
    // Every partition claimed by its processor, its durable consumer made and every processor ready (consuming).
    const opened = performance.now();
    await gate.open();
    let owners = new Map<number, string>();
    for (;;) {
      exitedCheck();
      owners = await gate.owners();
      if (owners.size === PARTITIONS && ![...owners.values()].includes(GATE_OWNER)) {
        const consumers = await Promise.all(Array.from({ length: PARTITIONS }, (_, p) => jsm.consumers.info(n.stream, `${n.consumer}-p${p}`).then(() => true, () => false)));
        const ready = await Promise.all(children.map((c) => c.ready()));
        if (consumers.every(Boolean) && ready.every(Boolean)) break;
      }
      if (performance.now() - opened > LEASE_MS * 2) throw new Error(`partitions not all held and consuming ${LEASE_MS * 2} ms after the gate opened: ${JSON.stringify([...owners])}`);
      await sleep(50);
    }
    const claimMs = Math.round(performance.now() - opened);
    await sleep(500);
    const before = await handled(children);
    if (before.total !== 0) throw new Error(`the processors handled ${before.total} messages of an empty stream`);
    say(`  ${k} (processes x threads): every partition held and consuming ${claimMs} ms after the gate opened; pausing them to publish`);

    // The backlog, while the processors are paused; then the clock starts with all of them resumed.
    for (const c of children) c.proc.kill('SIGSTOP');
    const pausedAt = performance.now();
    const publishMs = await publishEvents(nc, n.stream, set);
    const start = cpuSample(children, natsPid);
    const pausedMs = Math.round(start.at - pausedAt);
    for (const c of children) c.proc.kill('SIGCONT');
    if (pausedMs > LEASE_MS / 2) say(`  warning: paused ${pausedMs} ms, over half the lease (${LEASE_MS} ms)`);
    say(`  published ${fmt(total)} events in ${(publishMs / 1000).toFixed(1)} s; processors resumed`);

    let end = start;
    let done = before;
    let lastSaid = performance.now();
    for (;;) {
      await sleep(100);
      exitedCheck();
      done = await handled(children);
      end = cpuSample(children, natsPid);
      if (done.total >= total) break;
      if (end.at - start.at > TIMEOUT_MS) {
        for (let p = 0; p < PARTITIONS; p++) {
          const ci = await jsm.consumers.info(n.stream, `${n.consumer}-p${p}`).catch((e: unknown) => String(e));
          say(`  consumer p${p}: ${typeof ci === 'string' ? ci : JSON.stringify({ delivered: ci.delivered, ack_floor: ci.ack_floor, num_pending: ci.num_pending, num_ack_pending: ci.num_ack_pending })}`);
        }
        const ready = await Promise.all(children.map((c) => Promise.all(c.ports.map((port) => fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.text(), (e: unknown) => String(e)))).then((t) => t.join('\n'))));
        throw new Error(`not done after ${TIMEOUT_MS / 1000} s: ${fmt(done.total)} of ${fmt(total)} handled (${JSON.stringify(done.byOutcome)})\n${children.map((c, i) => `${c.id}: ${ready[i]}\n${c.log.join('').slice(-3000)}`).join('\n')}`);
      }
      if (end.at - lastSaid > 10_000) {
        lastSaid = end.at;
        say(`    ${fmt(done.total)} of ${fmt(total)} handled`);
      }
    }
    const after = await gate.owners();
    const byProc: Record<string, number[]> = {};
    for (const [p, o] of [...after].sort((x, y) => x[0] - y[0])) (byProc[o] ??= []).push(p);
    if ([...after].some(([p, o]) => owners.get(p) !== o)) say(`  warning: a partition changed owner during the run: ${JSON.stringify([...owners])} → ${JSON.stringify([...after])}`);
    const seconds = (end.at - start.at) / 1000;
    const cpuBy = end.cpu.map((c, i) => round(c - start.cpu[i], 2));
    const cpuSecs = cpuBy.reduce((x, y) => x + y, 0);
    const result: RunResult = {
      processors: layout.processes,
      threads: layout.threads,
      round: roundNo,
      events: done.total,
      seconds: round(seconds, 2),
      eventsPerSec: Math.round(done.total / seconds),
      ratioToOne: null,
      cpuSeconds: round(cpuSecs, 2),
      cpuSecondsByProcessor: cpuBy,
      eventsPerCpuSecond: Math.round(done.total / cpuSecs),
      processorCoresBusy: round(cpuSecs / seconds, 2),
      natsServerCpuSeconds: round(end.natsCpu - start.natsCpu, 2),
      machineCoresBusy: round(((end.machine.busy - start.machine.busy) / (end.machine.total - start.machine.total)) * cpus().length, 2),
      claimMs,
      pausedMs,
      publishedPerSec: Math.round((total * 1000) / publishMs),
      partitionsByProcessor: byProc,
      outcomes: done.byOutcome,
      rssMiB: children.map((c) => rssMiB(c.pid)),
    };
    say(`  ${k}: ${fmt(done.total)} events in ${seconds.toFixed(1)} s = ${fmt(result.eventsPerSec)} events/s; ${result.cpuSeconds} CPU-s (${result.processorCoresBusy.toFixed(2)} cores busy) = ${fmt(result.eventsPerCpuSecond)} events per CPU-second; RSS ${result.rssMiB.join(' + ')} MiB`);
    return result;
  } finally {
    // A paused child cannot take SIGTERM's hand-over: resume it first.
    for (const c of children) if (c.alive()) c.proc.kill('SIGCONT');
    await Promise.all(children.map((c) => c.stop()));
    for (const c of children) live.delete(c);
    if (!args.keep) await cleanUpRun(nc, n).catch((err: unknown) => say(`  clean-up of run k=${k} failed: ${String(err)}`));
  }
}

async function cleanUpRun(nc: NatsConnection, n: RunNames): Promise<void> {
  const jsm = await nc.jetstreamManager();
  for (const s of [n.stream, `OBJ_${n.checkpointBucket}`, `KV_${n.leaseBucket}`, n.partialsStream]) await jsm.streams.delete(s).catch(() => undefined);
  await fetch(`${CLICKHOUSE}/`, { method: 'POST', body: `DROP DATABASE IF EXISTS ${n.database}` }).catch(() => undefined);
  rmSync(n.spillDir, { recursive: true, force: true });
  const redis = new Redis(REDIS);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${n.redisPrefix}*`, 'COUNT', 10_000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
  redis.disconnect();
}

// ---- results ---------------------------------------------------------------------------------------------------------

interface ClusterResults {
  kind: 'cluster';
  machine: MachineFacts;
  workload: { customers: number; events: number; firstDayEvents: number; byType: Record<string, number>; byPartition: number[]; partitions: number; leaseMs: number };
  rounds: number;
  /** The fastest run of each processor count, the ratios against the fastest with one: the table. */
  best: RunResult[];
  runs: RunResult[];
}

/** The processors' events per CPU-second drop by more than a tenth from the fewest processors to the most. */
function perCoreFalls(r: ClusterResults): boolean {
  const sorted = [...r.best].sort((a, b) => a.processors - b.processors);
  const first = sorted[0];
  const last = sorted[sorted.length - 1];
  return sorted.length > 1 && last.processors > first.processors && last.eventsPerCpuSecond < 0.9 * first.eventsPerCpuSecond;
}

/** Cores busy outside the processors and the bench's nats-server during a run: ClickHouse, Redis, anything else. */
function otherCores(x: RunResult): number {
  return Math.max(0, x.machineCoresBusy - x.processorCoresBusy - x.natsServerCpuSeconds / x.seconds);
}

/** Busy cores per row: the whole machine, the processors, nats-server and the rest. */
function busyCores(r: ClusterResults, label: (x: RunResult) => string): string {
  return `Busy cores during those runs (of ${r.machine.cores}): ${r.best.map((x) => `with ${label(x)}, the whole machine ${x.machineCoresBusy.toFixed(2)}: the processors ${x.processorCoresBusy.toFixed(2)}, nats-server ${(x.natsServerCpuSeconds / x.seconds).toFixed(2)}, everything else (ClickHouse, Redis, other users of the machine) ${otherCores(x).toFixed(2)}`).join('; ')}. `;
}

/** A warning when the rest of the machine's load moved between rows by more than 0.3 cores; else nothing. */
function spreadNote(r: ClusterResults): string {
  const others = r.best.map(otherCores);
  const spread = Math.max(...others) - Math.min(...others);
  return spread > 0.3
    ? `**The rest of the machine's load differed by ${spread.toFixed(2)} cores between these rows, so the events/s and their ratios measure that as much as the processors; events per CPU-second does not depend on it.** `
    : '';
}

/** With several rounds: their order and every run's events/s per row; `rowKind` names what a row is the fastest of. */
function roundsNote(r: ClusterResults, label: (x: RunResult) => string, order: string, rowKind: string): string {
  if (r.rounds <= 1) return '';
  const runsOf = (x: RunResult) => r.runs.filter((y) => sameLayout(x, y)).map((y) => fmt(y.eventsPerSec)).join(' and ');
  return `The runs went in ${r.rounds} rounds (${order}, then again); each row is the fastest of its ${rowKind}, and every run is in the JSON (${r.best.map((x) => `${label(x)}: ${runsOf(x)} events/s`).join('; ')}). `;
}

const header = (r: ClusterResults, title: string) => {
  const m = r.machine;
  return `${title}, ${m.date.slice(0, 10)}, commit ${m.gitCommit}${m.gitDirty ? ' (uncommitted changes)' : ''}: ${m.cpu}, **${m.cores} cores**, ${m.memoryGiB} GiB, Node ${m.node}, ${m.natsServer}.`;
};
const ratio = (x: RunResult) => (x.ratioToOne === null ? '–' : `${x.ratioToOne.toFixed(2)}×`);

/** The table of a run with worker threads: layouts of processes × threads, with their memory. */
function layoutsMarkdown(r: ClusterResults): string {
  const w = r.workload;
  const sum = (list: number[]) => list.reduce((a, b) => a + b, 0);
  const lines = [
    header(r, 'Vigil cluster benchmark with worker threads'),
    `${fmt(w.events)} events over ${fmt(w.customers)} customers (the bench's workload; ${fmt(w.firstDayEvents)} on the first day put every customer in state), ${w.partitions} partitions, one private nats-server; every processor process is \`node --import tsx src/main.ts\` (with \`cluster.threads: T\`) on the same machine as NATS, ClickHouse and Redis.`,
    '',
    '| processes × threads | events/s | ratio to 1 × 1 | CPU-seconds | events per CPU-second | RSS after the run (all processes) |',
    '| --- | --- | --- | --- | --- | --- |',
    ...r.best.map(
      (x) =>
        `| ${layoutLabel(x)} | ${fmt(x.eventsPerSec)} | ${ratio(x)} | ${x.cpuSeconds.toFixed(1)} | ${fmt(x.eventsPerCpuSecond)} | ${fmt(sum(x.rssMiB))} MiB${x.rssMiB.length > 1 ? ` (${x.rssMiB.map((v) => fmt(v)).join(' + ')})` : ''} |`,
    ),
    '',
    busyCores(r, layoutLabel) +
      spreadNote(r) +
      `CPU-seconds are every thread of the processor processes (\`/proc/<pid>/stat\`), so events per CPU-second is what one core gives the processors, threads or not. ` +
      `In each run the processors start on an empty stream and share the partitions (none moves during the run), are paused while the backlog is published into it, and the clock runs from their resume to the moment their \`vigil_events_total\` (every outcome, summed over every thread's /metrics) reaches the stream's ${fmt(w.events)} messages. ` +
      `${roundsNote(r, layoutLabel, r.best.map(layoutLabel).join(', '), 'layout')}The ratios are to the 1 × 1 run of the same invocation.`,
    '',
  ];
  return lines.join('\n');
}

function markdown(r: ClusterResults): string {
  if (r.runs.some((x) => threadsOf(x) > 1)) return layoutsMarkdown(r);
  const m = r.machine;
  const w = r.workload;
  const processors = (x: RunResult) => String(x.processors);
  const lines = [
    header(r, 'Vigil cluster benchmark'),
    `${fmt(w.events)} events over ${fmt(w.customers)} customers (the bench's workload; ${fmt(w.firstDayEvents)} on the first day put every customer in state), ${w.partitions} partitions, one private nats-server; every processor is \`node --import tsx src/main.ts\` on the same machine as NATS, ClickHouse and Redis.`,
    '',
    '| processors | events/s | ratio to one | CPU-seconds | events per CPU-second |',
    '| --- | --- | --- | --- | --- |',
    ...r.best.map((x) => `| ${x.processors} | ${fmt(x.eventsPerSec)} | ${ratio(x)} | ${x.cpuSeconds.toFixed(1)} | ${fmt(x.eventsPerCpuSecond)} |`),
    '',
    `This machine has ${m.cores} cores, shared by the processors, nats-server, ClickHouse and Redis: the gain from more processors is bounded by the cores, not by the partitioning. ` +
      busyCores(r, processors) +
      spreadNote(r) +
      `Events per CPU-second (the processors' CPU only) is the per-core figure: what one core gives the processors${perCoreFalls(r) ? '; it falls as processors are added: each processor has costs that do not shrink with its share of the partitions (the likely ones: it folds every partition\'s channel, segment and campaign partials, publishes its own summary, commits and checkpoints on its own, and warms up its own JIT)' : ''}. ` +
      `In each run the processors start on an empty stream and share the partitions (none moves during the run), are paused while the backlog is published into it, and the clock runs from their resume to the moment their \`vigil_events_total\` (every outcome) reaches the stream's ${fmt(w.events)} messages: the backlog is taken live, as in \`npm run bench\`. ${roundsNote(r, processors, `${r.best.map(processors).join(', ')} processors`, 'processor count')}The ratios are to the one-processor run of the same invocation.`,
    '',
  ];
  return lines.join('\n');
}

function writeResults(r: ClusterResults, json = true): string {
  mkdirSync(resultsDir, { recursive: true });
  const stamp = r.machine.date.slice(0, 16).replace(/[:T]/g, '-');
  if (json) writeFileSync(join(resultsDir, `${stamp}-cluster.json`), JSON.stringify(r, null, 2) + '\n');
  const md = markdown(r);
  writeFileSync(join(resultsDir, 'latest-cluster.md'), md);
  say(`results: ${json ? `bench/results/${stamp}-cluster.json, ` : ''}bench/results/latest-cluster.md`);
  if (args['update-docs']) {
    // docs/scale-out.md: what follows the marker line, up to the next heading (## or ###), is the table.
    const file = join(root, 'docs/scale-out.md');
    const doc = readFileSync(file, 'utf8');
    // Runs with worker threads have their own section (Worker threads), processes alone the capacity plan's.
    const marker = r.runs.some((x) => threadsOf(x) > 1) ? '<!-- bench:cluster-threads -->\n' : '<!-- bench:cluster -->\n';
    const a = doc.indexOf(marker);
    if (a < 0) say(`docs/scale-out.md has no ${marker.trim()} marker: not updated`);
    else {
      const from = a + marker.length;
      const next = doc.slice(from).search(/\n#{2,3} /);
      const to = next < 0 ? doc.length : from + next + 1;
      writeFileSync(file, `${doc.slice(0, from)}\n${md}\n${doc.slice(to)}`);
      say('docs/scale-out.md updated');
    }
  }
  return md;
}

// ---- main ------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const facts = machineFacts(root, 'tsx (node --import tsx src/main.ts)');
  const [source, destination] = natsMapping(PREFIX, PARTITIONS);
  const server = await OwnServer.natsWithConfig(`mappings = {\n  "${source}": "${destination}"\n}\n`);
  const natsUrl = `nats://127.0.0.1:${server.port}`;
  const natsPid = natsServerPid(server.port);
  const live = new Set<Child>();
  const nc = await connect({ servers: natsUrl, name: 'vigil-bench-cluster' });
  const interrupted = () => {
    say('interrupted: stopping');
    for (const c of live) c.proc.kill('SIGKILL');
    void server.stop().finally(() => {
      rmSync(server.dir, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.on('SIGINT', interrupted);
  try {
    say(`vigil bench:cluster: ${facts.cores} cores (${facts.cpu}); nats-server on ${server.port} with ${PARTITIONS} partitions; layouts (processes x threads) ${LAYOUTS.map(layoutName).join(', ')}`);
    const set = generateEvents();
    say(`${fmt(set.subjects.length)} events over ${fmt(CUSTOMERS)} customers; by partition ${set.byPartition.join(', ')}`);
    const runs: RunResult[] = [];
    for (let r = 1; r <= ROUNDS; r++) {
      for (const layout of LAYOUTS) {
        say(`round ${r} of ${ROUNDS}: ${layout.processes} process(es) x ${layout.threads} thread(s)`);
        runs.push(await runWith(nc, natsUrl, natsPid, layout, r, set, live));
      }
    }
    const names = [...new Set(LAYOUTS.map(layoutName))];
    const best = names.map((name) => runs.filter((x) => layoutName(layoutOf(x)) === name).reduce((a, b) => (b.eventsPerSec > a.eventsPerSec ? b : a)));
    const one = best.find((x) => x.processors === 1 && threadsOf(x) === 1);
    for (const x of runs) x.ratioToOne = one ? round(x.eventsPerSec / one.eventsPerSec, 2) : null;
    const results: ClusterResults = {
      kind: 'cluster',
      machine: facts,
      workload: { customers: CUSTOMERS, events: set.subjects.length, firstDayEvents: set.firstDay, byType: set.byType, byPartition: set.byPartition, partitions: PARTITIONS, leaseMs: LEASE_MS },
      rounds: ROUNDS,
      best,
      runs,
    };
    process.stdout.write(writeResults(results));
  } finally {
    process.off('SIGINT', interrupted);
    for (const c of live) c.proc.kill('SIGKILL');
    await nc.close().catch(() => undefined);
    await server.stop();
    rmSync(server.dir, { recursive: true, force: true });
  }
}

if (args.render) process.stdout.write(writeResults(JSON.parse(readFileSync(args.render, 'utf8')) as ClusterResults, false));
else await main();
process.exit(0);
