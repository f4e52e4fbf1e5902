// The processor's throughput with and without wall clients, in one run: a real processor (this process) on its own
// stream, database and Redis keys, fed a steady event stream by the simulator (a child process). Each round measures a
// phase with no wall client, then N clients (load-tests/wallClients.ts, a child process) opening and taking their
// snapshots (reported apart), then a phase with all N connected and receiving; alternating cancels slow drift.
//
// Per phase: events processed per second (the throughput), whether it kept up with the stream (the backlog at the
// end), the processor's CPU time per 1,000 events and, from it, its capacity: events per second of CPU. On a shared
// machine the capacity is the steadier comparison, because CPU time is not counted while other processes hold the
// cores. With --rate above what the processor can take, the throughput itself is the capacity, but ClickHouse then
// has to absorb a growing backlog and becomes the bottleneck (see docs/wall.md).
//
// Usage: npx tsx load-tests/processorThroughput.ts [--clients 300] [--phase-s 30] [--rounds 3] [--warmup-s 20]
//          [--rate 2000] (events/s the simulator publishes) [--customers 20000] [--transport auto|uws|ws] [--keep]
// Prints one line per phase and a JSON summary: throughput and capacity with 0 and with N clients, and their ratios.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { connect } from 'nats';
import { parseConfig } from '../src/config/load.js';
import type { VigilConfig } from '../src/config/schema.js';
import { startProcessor, type RunningProcessor } from '../src/runtime/processor.js';
import { silentLogger } from '../src/shared/logger.js';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '300' },
    'phase-s': { type: 'string', default: '30' },
    rounds: { type: 'string', default: '3' },
    'warmup-s': { type: 'string', default: '20' },
    rate: { type: 'string', default: '2000' },
    customers: { type: 'string', default: '20000' },
    transport: { type: 'string', default: 'auto' },
    keep: { type: 'boolean', default: false },
  },
});
const clients = Number(values.clients);
const phaseS = Number(values['phase-s']);
const rounds = Number(values.rounds);
const warmupS = Number(values['warmup-s']);
const rate = Number(values.rate);
const root = new URL('../', import.meta.url).pathname;

// Its own stream, subjects, consumer, database and Redis keys (removed at the end unless --keep), production timings.
const tag = `load${randomBytes(3).toString('hex')}`;
const config: VigilConfig = parseConfig({
  nats: {
    servers: process.env.VIGIL_NATS__SERVERS ?? 'nats://127.0.0.1:4222',
    stream: `EVENTS_${tag.toUpperCase()}`,
    subjectPrefix: `${tag}.events`,
    consumer: tag,
    deadLetterSubject: `${tag}.deadletter`,
    alertSubjectPrefix: `${tag}.alerts`,
  },
  clickhouse: { url: process.env.VIGIL_CLICKHOUSE__URL ?? 'http://127.0.0.1:8123', database: `vigil_${tag}` },
  redis: { url: process.env.VIGIL_REDIS__URL ?? 'redis://127.0.0.1:6379', keyPrefix: `${tag}:` },
  wall: { port: 0, host: '127.0.0.1', transport: values.transport },
  log: { level: 'silent' },
});
const nc = await connect({ servers: config.nats.servers.split(','), name: 'vigil-load' });
const children = new Set<ChildProcess>();
let processor: RunningProcessor | null = null;

function child(args: string[], env: Record<string, string> = {}): ChildProcess {
  const proc = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  proc.on('exit', () => children.delete(proc));
  return proc;
}

function output(proc: ChildProcess): Promise<string> {
  let out = '';
  proc.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  proc.stderr!.resume();
  return new Promise((resolve) => proc.on('exit', () => resolve(out)));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Phase {
  name: string;
  /** none: no wall client; connecting: clients opening and taking their snapshots; connected: all of them receiving. */
  kind: 'none' | 'connecting' | 'connected';
  clients: number;
  seconds: number;
  events: number;
  eventsPerSec: number;
  /** Cores the processor process used on average (user + system CPU seconds per second). */
  cpu: number;
  /** Processor CPU milliseconds per 1,000 events processed. */
  cpuMsPer1000: number;
  /** Events per second of processor CPU: what one fully available core would process. */
  capacity: number;
  /** Median of the per-second p50 lag (event time to processing), ms. */
  lagMs: number;
  /** Event-loop utilization of the processor's thread. */
  elu: number;
  /** Events the simulator got into the stream per second over the phase. */
  publishedPerSec: number;
  /** Messages in the stream not yet processed at the end of the phase (a few seconds of the stream at most: it kept up). */
  backlogAtEnd: number;
  wall?: { messagesPerClientPerSec: number; kibPerSec: number; snapshotP99Ms: number };
}

/** Measures the processor over `seconds`: processed events, CPU and event-loop use. */
async function measure(name: string, kind: Phase['kind'], clientCount: number, seconds: number): Promise<Phase> {
  const p = processor!;
  const startStream = await streamState();
  const startEvents = p.pipeline.counts.processed;
  const startCpu = process.cpuUsage();
  const startElu = performance.eventLoopUtilization();
  const startedAt = performance.now();
  const lags: number[] = [];
  const lagSampler = setInterval(() => lags.push(p.pipeline.stats.lagMs), 1_000);
  await sleep(seconds * 1_000);
  clearInterval(lagSampler);
  lags.sort((a, b) => a - b);
  const elapsedS = (performance.now() - startedAt) / 1_000;
  const cpu = process.cpuUsage(startCpu);
  const events = p.pipeline.counts.processed - startEvents;
  const endStream = await streamState();
  const phase: Phase = {
    name,
    kind,
    clients: clientCount,
    seconds: Math.round(elapsedS * 10) / 10,
    events,
    eventsPerSec: Math.round(events / elapsedS),
    cpu: Math.round(((cpu.user + cpu.system) / 1e6 / elapsedS) * 100) / 100,
    cpuMsPer1000: events > 0 ? Math.round(((cpu.user + cpu.system) / 1e3 / (events / 1_000)) * 10) / 10 : Number.NaN,
    capacity: cpu.user + cpu.system > 0 ? Math.round(events / ((cpu.user + cpu.system) / 1e6)) : Number.NaN,
    lagMs: lags.length ? Math.round(lags[Math.floor(lags.length / 2)]) : Number.NaN,
    elu: Math.round(performance.eventLoopUtilization(startElu).utilization * 100) / 100,
    publishedPerSec: Math.round((endStream.lastSeq - startStream.lastSeq) / elapsedS),
    backlogAtEnd: endStream.backlog,
  };
  return phase;
}

/** The stream's last sequence and the consumer's backlog, straight from JetStream. */
async function streamState(): Promise<{ lastSeq: number; backlog: number }> {
  const jsm = await nc.jetstreamManager();
  const [stream, consumer] = await Promise.all([jsm.streams.info(config.nats.stream), jsm.consumers.info(config.nats.stream, config.nats.consumer)]);
  // num_pending: not yet delivered. Delivered but unacknowledged messages (up to a checkpoint interval's worth) are
  // processed already: acknowledgements go out with each checkpoint.
  return { lastSeq: stream.state.last_seq, backlog: consumer.num_pending };
}

function report(phase: Phase): void {
  const wall = phase.wall ? `  wall: ${phase.wall.messagesPerClientPerSec.toFixed(1)} msg/client/s, ${phase.wall.kibPerSec.toFixed(0)} KiB/s in all` : '';
  console.error(
    `${phase.name.padEnd(15)} clients ${String(phase.clients).padStart(3)}  ${String(phase.eventsPerSec).padStart(6)} events/s  published ${String(phase.publishedPerSec).padStart(6)}/s  backlog ${String(phase.backlogAtEnd).padStart(7)}  lag ${phase.lagMs} ms  cpu ${phase.cpu.toFixed(2)} cores, ${phase.cpuMsPer1000} ms/1000 events, capacity ${phase.capacity} events/cpu-s  elu ${phase.elu.toFixed(2)}${wall}`,
  );
}

const loadAtStart = loadavg().map((l) => Math.round(l * 100) / 100);

async function main(): Promise<void> {
  processor = await startProcessor({ config, logger: silentLogger });
  const wsUrl = `ws://127.0.0.1:${processor.wallPort}/ws`;
  console.error(`processor up: wall ${wsUrl} (${processor.wallTransport}), stream ${config.nats.stream}; simulator at ${rate} events/s over ${values.customers} customers`);
  const simulator = child(['src/cli/vigil.ts', 'simulate', '--customers', String(values.customers), '--rate', String(rate), '--history-days', '0'], {
    VIGIL_NATS__SUBJECT_PREFIX: config.nats.subjectPrefix,
    VIGIL_LOG__LEVEL: 'warn',
  });
  void output(simulator);

  console.error(`warming up for ${warmupS} s (customers appear, windows fill, a backlog builds)`);
  await sleep(warmupS * 1_000);

  const phases: Phase[] = [];
  for (let round = 1; round <= rounds; round++) {
    const none = await measure(`round ${round} none`, 'none', 0, phaseS);
    phases.push(none);
    report(none);

    // Clients connect over 3 s and are measured once all of them hold a snapshot; they stay a little past the phase.
    const rampS = 3;
    const settleS = 2;
    const wall = child(['load-tests/wallClients.ts', '--url', wsUrl, '--clients', String(clients), '--ramp', String(rampS), '--duration', String(settleS + phaseS + 2)]);
    const wallReport = output(wall);
    const connecting = await measure(`round ${round} connect`, 'connecting', clients, rampS + settleS);
    phases.push(connecting);
    report(connecting);
    if (clients > 0) {
      const connected = await connectedClients();
      if (connected < clients) console.error(`warning: only ${connected} of ${clients} wall clients connected`);
    }
    const withClients = await measure(`round ${round} ${clients}`, 'connected', clients, phaseS);
    const parsed = JSON.parse((await wallReport).trim()) as { snapshotMs: { p99: number }; steadyPerSecond: { messagesPerClient: number; bytes: number } };
    withClients.wall = { messagesPerClientPerSec: parsed.steadyPerSecond.messagesPerClient, kibPerSec: parsed.steadyPerSecond.bytes / 1_024, snapshotP99Ms: Math.round(parsed.snapshotMs.p99) };
    phases.push(withClients);
    report(withClients);
    await sleep(1_000);
  }
  // A last phase without clients, so every phase with clients sits between two without: drift (state grows as the
  // run goes on) then cancels out of the paired ratios.
  const last = await measure(`round ${rounds + 1} none`, 'none', 0, phaseS);
  phases.push(last);
  report(last);

  const mean = (list: Phase[], key: 'eventsPerSec' | 'capacity' | 'cpuMsPer1000' = 'eventsPerSec') =>
    Math.round((list.reduce((sum, p) => sum + p[key], 0) / Math.max(1, list.length)) * 10) / 10;
  const none = phases.filter((p) => p.kind === 'none');
  const connected = phases.filter((p) => p.kind === 'connected');
  const without = mean(none);
  const withN = mean(connected);
  const summary = {
    node: process.version,
    cpus: availableParallelism(),
    loadAverageAtStart: loadAtStart,
    transport: processor.wallTransport,
    frameIntervalMs: config.wall.frameIntervalMs,
    publishedRate: rate,
    customers: Number(values.customers),
    clients,
    phaseS,
    rounds,
    // Kept up: no phase of that kind ended with more than two seconds of the stream waiting.
    keptUp: {
      withoutClients: none.every((p) => p.backlogAtEnd <= 2 * rate),
      whileConnecting: phases.filter((p) => p.kind === 'connecting').every((p) => p.backlogAtEnd <= 2 * rate),
      withClients: connected.every((p) => p.backlogAtEnd <= 2 * rate),
    },
    loadAverageAtEnd: loadavg().map((l) => Math.round(l * 100) / 100),
    eventsPerSecWithoutClients: without,
    eventsPerSecWithClients: withN,
    ratio: Math.round((withN / without) * 1_000) / 1_000,
    eventsPerSecWhileConnecting: mean(phases.filter((p) => p.kind === 'connecting')),
    cpuMsPer1000WithoutClients: mean(none, 'cpuMsPer1000'),
    cpuMsPer1000WithClients: mean(connected, 'cpuMsPer1000'),
    capacityWithoutClients: mean(none, 'capacity'),
    capacityWithClients: mean(connected, 'capacity'),
    capacityRatio: Math.round((mean(connected, 'capacity') / mean(none, 'capacity')) * 1_000) / 1_000,
    /** Each phase with clients against the mean of the phases without clients just before and after it. */
    pairedRatios: connected.map((p) => {
      const i = phases.indexOf(p);
      const before = phases.slice(0, i).reverse().find((q) => q.kind === 'none')!;
      const after = phases.slice(i).find((q) => q.kind === 'none')!;
      const ratio = (key: 'eventsPerSec' | 'capacity') => Math.round((p[key] / ((before[key] + after[key]) / 2)) * 1_000) / 1_000;
      return { phase: p.name, throughput: ratio('eventsPerSec'), capacity: ratio('capacity') };
    }),
    phases,
  };
  console.error(
    `\nthroughput  without wall clients: ${without} events/s   with ${clients}: ${withN} events/s   ratio ${summary.ratio}   kept up: without ${summary.keptUp.withoutClients ? 'yes' : 'no'}, while connecting ${summary.keptUp.whileConnecting ? 'yes' : 'no'}, with ${summary.keptUp.withClients ? 'yes' : 'no'}` +
      `\ncapacity    without wall clients: ${summary.capacityWithoutClients} events/cpu-s   with ${clients}: ${summary.capacityWithClients} events/cpu-s   ratio ${summary.capacityRatio}` +
      `\npaired      ${summary.pairedRatios.map((r) => `${r.phase}: throughput ×${r.throughput}, capacity ×${r.capacity}`).join('   ')}`,
  );
  console.log(JSON.stringify(summary, null, 2));
}

/** The wall's own count, read from /metrics, so the phase starts with every client really connected. */
async function connectedClients(): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${processor!.wallPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('vigil_wall_clients '));
  return line ? Number(line.split(' ')[1]) : Number.NaN;
}

async function shutdown(): Promise<void> {
  for (const proc of children) proc.kill('SIGTERM');
  await processor?.stop().catch(() => undefined);
  if (!values.keep) await cleanUp().catch((err: unknown) => console.error(`clean-up failed: ${String(err)}`));
  await nc.close();
}

/** Deletes the run's stream, checkpoint, database and Redis keys. */
async function cleanUp(): Promise<void> {
  const redis = new Redis(config.redis.url);
  const keys = await redis.keys(`${config.redis.keyPrefix}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
  await (await nc.jetstreamManager()).streams.delete(config.nats.stream).catch(() => undefined);
  await (await nc.jetstream().views.os(config.processor.checkpointBucket)).delete(config.nats.consumer).catch(() => undefined);
  await fetch(`${config.clickhouse.url}/`, { method: 'POST', body: `DROP DATABASE IF EXISTS ${config.clickhouse.database}` });
  await rm(join(config.clickhouse.spill.dir, config.clickhouse.database), { recursive: true, force: true });
  console.error(`removed stream ${config.nats.stream}, database ${config.clickhouse.database}, keys ${config.redis.keyPrefix}*`);
}

process.on('SIGINT', () => void shutdown().then(() => process.exit(130)));
try {
  await main();
} finally {
  await shutdown();
}
process.exit(0);
