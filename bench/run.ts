// `npm run bench`: the processor against its ceiling and the usual alternative, in one run on one stream, then its
// event-to-wall latency at fixed fractions of its own maximum rate, its memory per customer, its restart, and its
// ClickHouse writes. Every figure is compared with a baseline measured in the same run; results go to bench/results/.
//
//   npm run bench                     ~10 min: 250,000 customers
//   npm run bench -- --quick          a smoke run (~3 min): 20,000 customers
//   npm run bench -- --full           1,000,000 customers (VIGIL_BENCH_CUSTOMERS / --customers to choose another size)
//   options: --customers N  --body-events N  --latency-s S  --rates 0.25,0.5  --workers 2  --profile  --keep
//            --update-readme (rewrites the README's table between its bench markers)
//            --set key=value (a processor config key, e.g. --set processor.checkpointIntervalMs=60000; repeatable)
//            --throughput-only (stops after the ceiling and processor runs; prints them, writes no results)
//            --budget-only (the processor's maximum, then only the contact budget under load; prints it, writes no results)
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Histogram } from 'hdr-histogram-js';
import { connect, type NatsConnection } from 'nats';
import WebSocket from 'ws';
import type { BaselineSettings } from './baselineConsumer.js';
import {
  applySetting,
  benchNames,
  cleanUp as cleanUpRun,
  NATS,
  processorConfigFor,
  ProcessorProcess,
  publishBacklog as publishWorkload,
  REDIS,
  root,
  round,
  runWorker,
  say,
  sleep,
  streamLastSeq as lastSeqOf,
  waitForStream as waitForStreamOf,
  type Sample,
} from './harness.js';
import { machineFacts } from './machine.js';
import { costSvg } from './plot.js';
import { histogram, pressureLoad } from './pressure.js';
import type { LoopDelay } from './processorChild.js';
import { resultsMarkdown, type BenchResults, type BudgetResult, type EchoFloor, type LatencyResult } from './report.js';
import type { EchoStats } from './echo.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    full: { type: 'boolean', default: false },
    customers: { type: 'string' },
    'body-events': { type: 'string' },
    'latency-s': { type: 'string' },
    rates: { type: 'string' },
    workers: { type: 'string', default: '2' },
    profile: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    'update-readme': { type: 'boolean', default: false },
    set: { type: 'string', multiple: true, default: [] },
    'throughput-only': { type: 'boolean', default: false },
    'budget-only': { type: 'boolean', default: false },
  },
});

const mode = args.quick ? 'quick' : args.full ? 'full' : 'default';
const preset = {
  quick: { customers: 20_000, bodyEvents: 200_000, latencyS: 10, rates: [0.5], redisMs: 10_000, restartEvents: 20_000, memory: [10_000, 100_000], budgetS: 10 },
  default: { customers: 250_000, bodyEvents: 1_500_000, latencyS: 20, rates: [0.25, 0.5], redisMs: 20_000, restartEvents: 100_000, memory: [100_000, 1_000_000], budgetS: 20 },
  full: { customers: 1_000_000, bodyEvents: 4_000_000, latencyS: 30, rates: [0.25, 0.5, 0.75], redisMs: 30_000, restartEvents: 300_000, memory: [100_000, 1_000_000], budgetS: 30 },
}[mode];
const customers = Number(args.customers ?? process.env.VIGIL_BENCH_CUSTOMERS ?? preset.customers);
const bodyEvents = Number(args['body-events'] ?? process.env.VIGIL_BENCH_BODY_EVENTS ?? Math.max(preset.bodyEvents, customers * 4));
const latencyS = Number(args['latency-s'] ?? preset.latencyS);
const rates = args.rates ? args.rates.split(',').map(Number) : preset.rates;
const workers = Number(args.workers);
const resultsDir = `${root}bench/results/`;

const tag = randomBytes(3).toString('hex');
const names = benchNames(tag);
const processorConfig = processorConfigFor(names, tag);
for (const assignment of args.set ?? []) applySetting(processorConfig, assignment);
// The budget's own port is its thread's: a run with the budget on the event loop (--set budget.thread=false) has none.
if (processorConfig.budget.thread === false) delete processorConfig.budget.httpPort;
// The defaults the processor runs with (src/config/schema.ts); the baselines take the same.
const consumerSettings = { fetchBatch: 1_000, maxAckPending: 100_000, ackWaitMs: 60_000 };

function workload(worker: number, count: number, endTs: number, seed = 1) {
  return { customers, bodyEvents, days: 7, endTs, seed, worker, workers: count };
}

const publishBacklog = () => publishWorkload({ subjectPrefix: names.subjectPrefix, workers, workload });
const streamLastSeq = (nc: NatsConnection) => lastSeqOf(nc, names.stream);
const waitForStream = (nc: NatsConnection, expected: number) => waitForStreamOf(nc, names.stream, expected);
const cleanUp = (nc: NatsConnection) => cleanUpRun(nc, names);

// ---- baselines -----------------------------------------------------------------------------------------------------

interface BaselineResult {
  mode: string;
  events: number;
  ms: number;
  eventsPerSec: number;
  cpu: number;
}

function runBaseline(kind: 'ceiling' | 'redis', from: number, to: number, maxMs: number): Promise<BaselineResult> {
  const settings: BaselineSettings = {
    servers: NATS,
    stream: names.stream,
    subjectPrefix: names.subjectPrefix,
    consumer: `${kind}_${tag}_${Math.floor(Math.random() * 1e6)}`,
    ...consumerSettings,
    from,
    to,
    maxMs,
    redisUrl: REDIS,
    redisPrefix: names.baselinePrefix,
  };
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', `${root}bench/baselineConsumer.ts`, kind], {
      cwd: root,
      env: { ...process.env, VIGIL_BENCH_BASELINE: JSON.stringify(settings) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    proc.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    proc.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!) as BaselineResult) : reject(new Error(`${kind} baseline failed: ${err}`))));
  });
}

// ---- latency -------------------------------------------------------------------------------------------------------

/** A burst of triggering customers every half second, as many as make at least 1,000 alerts a phase (a p99 on 1,000). */
const TRIGGER_EVERY_MS = 500;
const MIN_TRIGGERS_PER_PHASE = 1_000;

/** A histogram of µs as the report's ms. */
function percentiles(h: Histogram): { p50Ms: number; p99Ms: number; maxMs: number } {
  return { p50Ms: round(h.getValueAtPercentile(50) / 1000, 1), p99Ms: round(h.getValueAtPercentile(99) / 1000, 1), maxMs: round(h.maxValue / 1000, 1) };
}

async function latencyPhase(proc: ProcessorProcess, wallPort: number, fraction: number, maxRate: number): Promise<LatencyResult> {
  const rate = Math.round(maxRate * fraction);
  // Microseconds, as the publishing worker stamps them: the histogram holds µs, the report ms.
  const nowUs = () => (performance.timeOrigin + performance.now()) * 1000;
  const published = new Map<string, number>();
  const received = new Map<string, number>();
  // Where each trigger's alert came from in the processor: when it received the event and evaluated the rule (epoch ms).
  const seen = new Map<string, { receivedAt: number; evaluatedAt: number }>();
  const hist = histogram();
  const stageHists = { toReceipt: histogram(), toEvaluation: histogram(), toWall: histogram() };
  const recordUs = (h: Histogram, us: number) => h.recordValue(Math.max(1, Math.round(us)));
  const record = (id: string) => {
    const p = published.get(id);
    const r = received.get(id);
    if (p === undefined || r === undefined) return;
    recordUs(hist, r - p);
    const at = seen.get(id);
    if (at) {
      recordUs(stageHists.toReceipt, at.receivedAt * 1000 - p);
      recordUs(stageHists.toEvaluation, (at.evaluatedAt - at.receivedAt) * 1000);
      recordUs(stageHists.toWall, r - at.evaluatedAt * 1000);
    }
    published.delete(id);
  };
  const ws = new WebSocket(`ws://127.0.0.1:${wallPort}/ws`);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const phaseTag = `lat${Math.round(fraction * 100)}${tag}`;
  ws.on('message', (data: Buffer) => {
    const at = nowUs();
    const parsed = JSON.parse(data.toString('utf8')) as unknown;
    for (const f of (Array.isArray(parsed) ? parsed : [parsed]) as { type: string; alert?: { updatedAt: number; trigger?: { eventId: string; receivedAt: number } | null } }[]) {
      const id = f.type === 'alert' ? f.alert?.trigger?.eventId : undefined;
      if (id && id.startsWith(phaseTag) && !received.has(id)) {
        received.set(id, at);
        seen.set(id, { receivedAt: f.alert!.trigger!.receivedAt, evaluatedAt: f.alert!.updatedAt });
        record(id);
      }
    }
  });
  const before = await proc.call<Sample>({ cmd: 'sample' });
  let triggersSent = 0;
  const done = await runWorker(
    {
      mode: 'paced',
      servers: NATS,
      subjectPrefix: names.subjectPrefix,
      workload: { ...workload(0, 1, Date.now(), 99) },
      ratePerSec: rate,
      durationMs: latencyS * 1000,
      triggerEveryMs: TRIGGER_EVERY_MS,
      // The first burst leaves one interval in, the last before the phase ends.
      triggersPerBurst: Math.ceil(MIN_TRIGGERS_PER_PHASE / Math.max(1, Math.floor((latencyS * 1000) / TRIGGER_EVERY_MS) - 1)),
      tag: phaseTag,
    },
    (r) => {
      if (r.kind !== 'triggers') return;
      for (const [id, t] of r.sent) {
        published.set(id, t);
        triggersSent++;
        record(id);
      }
    },
  );
  // Alerts already on their way are given a moment; anything later than that counts as not delivered.
  await sleep(2_000);
  const after = await proc.call<Sample>({ cmd: 'sample' });
  ws.close();
  const events = after.handled - before.handled;
  const secs = (after.t - before.t) / 1000;
  const cpu = (after.cpuUs - before.cpuUs) / 1e6 / secs;
  return {
    fraction,
    ratePerSec: rate,
    publishedPerSec: Math.round(done.published / (latencyS + 0.0)),
    alerts: hist.totalCount,
    triggersSent: triggersSent / 3,
    ...percentiles(hist),
    processorCpu: round(cpu, 2),
    processorEventsPerSec: Math.round(events / secs),
    // The samples span the phase and the 2 s after it: what was published and not handled by then, it fell behind by.
    behind: Math.max(0, done.published - events),
    cpuUsPerEvent: round((cpu * 1e6) / Math.max(1, events / secs), 1),
    stages: {
      toReceipt: percentiles(stageHists.toReceipt),
      toEvaluation: percentiles(stageHists.toEvaluation),
      toWall: percentiles(stageHists.toWall),
    },
  };
}

// ---- the contact budget under load --------------------------------------------------------------------------------

/** What the processor took while a paced publisher fed it, with or without the budget's senders beside it. */
async function pacedPhase(proc: ProcessorProcess, rate: number, durationS: number, phaseTag: string, load: (() => Promise<BudgetResult['load']>) | null) {
  await proc.call({ cmd: 'loopDelay', action: 'start' });
  const before = await proc.call<Sample>({ cmd: 'sample' });
  const publishing = runWorker(
    { mode: 'paced', servers: NATS, subjectPrefix: names.subjectPrefix, workload: workload(0, 1, Date.now(), 98), ratePerSec: rate, durationMs: durationS * 1000, triggerEveryMs: durationS * 1000 + 1, triggersPerBurst: 0, tag: phaseTag },
    () => undefined,
  );
  const loading = load?.() ?? Promise.resolve(null);
  // Sampled when the publisher stops, not after the last answers: the events taken over the same seconds.
  const done = await publishing;
  const after = await proc.call<Sample>({ cmd: 'sample' });
  const loopDelay = await proc.call<LoopDelay>({ cmd: 'loopDelay', action: 'stop' });
  const result = await loading;
  const secs = (after.t - before.t) / 1000;
  const events = after.handled - before.handled;
  // What the processor had not taken when the publisher stopped: it fell behind by that much.
  return { published: done.published, eventsPerSec: Math.round(events / secs), behind: Math.max(0, done.published - events), cpuUsPerEvent: round((after.cpuUs - before.cpuUs) / Math.max(1, events), 1), loopDelay, load: result };
}

/**
 * Issue 15's budget target: the processor fed at half its measured maximum, first alone, then while senders ask
 * 1,000 single checks/s over NATS (and 100/s over HTTP: half on the wall's port, half on the budget's own) and a
 * batch of 10,000 ids five times; how fast the answers come and how much of its speed the stream keeps.
 */
async function budgetPhase(proc: ProcessorProcess, ports: { wallPort: number; budgetHttpPort: number | null }, maxRate: number, profileFile: string | null): Promise<BudgetResult> {
  const { wallPort, budgetHttpPort } = ports;
  const fraction = 0.5;
  const rate = Math.round(maxRate * fraction);
  const durationS = preset.budgetS;
  const checksPerSec = 1_000;
  const without = await pacedPhase(proc, rate, durationS, `bud0${tag}`, null);
  await sleep(1_000);
  if (profileFile) await proc.call({ cmd: 'profile', action: 'start' });
  const loaded = await pacedPhase(proc, rate, durationS, `bud1${tag}`, () =>
    pressureLoad({ servers: NATS, subject: processorConfig.budget.subject, wallPort, customers, durationMs: durationS * 1000, checksPerSec, httpChecksPerSec: budgetHttpPort === null ? 100 : 50, budgetHttpPort, ownHttpChecksPerSec: 50, batchSize: 10_000, batches: 5 }),
  );
  if (profileFile) await proc.call({ cmd: 'profile', action: 'stop', file: profileFile });
  // The floor under those answers: the same single requests answered with no decision (bench/echo.ts), on the
  // processor's main thread, then on a worker thread of its own, the stream at the same rate. What they wait is what
  // any design on that thread waits before deciding: the evidence for where the budget's answers belong.
  const echoPhase = async (thread: 'main' | 'worker', phaseTag: string): Promise<EchoFloor> => {
    const subject = `vigil.bench.echo.${thread}`;
    await sleep(1_000);
    await proc.call({ cmd: 'echo', action: thread, servers: NATS, subject });
    const phase = await pacedPhase(proc, rate, durationS, phaseTag, () =>
      pressureLoad({ servers: NATS, subject: processorConfig.budget.subject, checkSubject: subject, wallPort, customers, durationMs: durationS * 1000, checksPerSec, httpChecksPerSec: 0, budgetHttpPort: null, ownHttpChecksPerSec: 0, batchSize: 0, batches: 0 }),
    );
    const answering = await proc.call<EchoStats>({ cmd: 'echo', action: 'stop' });
    return { answers: phase.load!.nats, eventsPerSec: phase.eventsPerSec, loopDelay: phase.loopDelay, runQueueMsPerS: answering.runQueueMsPerS };
  };
  const floor = { main: await echoPhase('main', `bud2${tag}`), worker: await echoPhase('worker', `bud3${tag}`) };
  return {
    fraction,
    ratePerSec: rate,
    checksPerSec,
    floor,
    without: { eventsPerSec: without.eventsPerSec, behind: without.behind, cpuUsPerEvent: without.cpuUsPerEvent, loopDelay: without.loopDelay },
    with: { eventsPerSec: loaded.eventsPerSec, behind: loaded.behind, cpuUsPerEvent: loaded.cpuUsPerEvent, loopDelay: loaded.loopDelay },
    streamRatio: round(loaded.eventsPerSec / Math.max(1, without.eventsPerSec), 2),
    load: loaded.load!,
  };
}

function sayBudget(b: BudgetResult): void {
  const l = b.load;
  say(`budget at ${b.fraction * 100}% (${b.ratePerSec.toLocaleString('en')} events/s): ${l.nats.sentPerSec} NATS checks/s p50 ${l.nats.p50Ms} ms, p99 ${l.nats.p99Ms} ms, max ${l.nats.maxMs} ms (${l.nats.errors} errors); HTTP on the wall's port p50 ${l.http.p50Ms} ms, p99 ${l.http.p99Ms} ms${l.httpOwn ? `, on the budget's own p50 ${l.httpOwn.p50Ms} ms, p99 ${l.httpOwn.p99Ms} ms (${l.httpOwn.errors} errors)` : ''}; batch of ${l.batch.size}: ${l.batch.samplesMs.join(', ')} ms; stream ${b.with.eventsPerSec.toLocaleString('en')}/s against ${b.without.eventsPerSec.toLocaleString('en')}/s without checks (${b.streamRatio}); the event loop's delay p99 ${b.with.loopDelay?.p99Ms} ms, max ${b.with.loopDelay?.maxMs} ms (without checks ${b.without.loopDelay?.p99Ms}, ${b.without.loopDelay?.maxMs} ms); the main thread waited for a core ${b.with.loopDelay?.runQueueMsPerS} ms of each second (without checks ${b.without.loopDelay?.runQueueMsPerS})`);
  for (const [thread, f] of Object.entries(b.floor ?? {})) {
    say(`  no decision, answered on the ${thread} thread: p50 ${f.answers.p50Ms} ms, p99 ${f.answers.p99Ms} ms, max ${f.answers.maxMs} ms (${f.answers.count} answers, ${f.answers.errors} errors); stream ${f.eventsPerSec.toLocaleString('en')}/s; the answering thread waited for a core ${f.runQueueMsPerS} ms of each second`);
  }
}

// ---- memory --------------------------------------------------------------------------------------------------------

function memoryChild(n: number): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--expose-gc', '--max-old-space-size=8192', '--import', 'tsx', `${root}bench/memoryChild.ts`, String(n)], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    proc.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    proc.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>) : reject(new Error(`memory child failed: ${err}`))));
  });
}

// ---- machine -------------------------------------------------------------------------------------------------------

// ---- the run -------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const facts = machineFacts(root, process.env.VIGIL_BENCH_DIST ? 'tsc' : 'tsx');
  say(`vigil bench (${mode}): ${customers.toLocaleString('en')} customers, ~${bodyEvents.toLocaleString('en')} events after the first day; stream ${names.stream}`);
  const nc = await connect({ servers: NATS, name: 'vigil-bench' });
  const profileDir = args.profile ? `${resultsDir}tmp/profiles/` : null;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  let proc: ProcessorProcess | null = null;
  const interrupted = () => {
    say('interrupted: cleaning up');
    proc?.proc.kill('SIGKILL');
    void cleanUp(nc).finally(() => process.exit(130));
  };
  process.on('SIGINT', interrupted);
  try {
    // 1. The processor starts on the empty stream, and is frozen while the backlog is published and the baselines
    //    read it: it then takes the whole backlog live (consumer, signals, alerts), not as a restart's replay.
    proc = ProcessorProcess.start(processorConfig);
    await proc.ready;
    const started = await proc.call<{ wallPort: number; budgetHttpPort: number | null }>({ cmd: 'start' });
    const wallPort = started.wallPort;
    const ports = { wallPort, budgetHttpPort: started.budgetHttpPort };
    proc.proc.kill('SIGSTOP');
    say('processor started and paused; publishing the backlog');

    const pub = await publishBacklog();
    const last = await waitForStream(nc, pub.total);
    const bodyFrom = pub.firstDay + 1;
    say(`published ${pub.total.toLocaleString('en')} events in ${(pub.ms / 1000).toFixed(1)} s (${Math.round((pub.total * 1000) / pub.ms).toLocaleString('en')}/s); the first day (every customer) is seq 1..${pub.firstDay}`);

    // 2. The ceiling: a bare consumer over the same range the processor is measured on (after the first day).
    const ceiling1 = await runBaseline('ceiling', bodyFrom, last, 600_000);
    say(`ceiling: ${ceiling1.eventsPerSec.toLocaleString('en')} events/s`);

    // 3. The sorted-set sliding window, sampled over the same range.
    const redis = args['throughput-only'] || args['budget-only'] ? null : await runBaseline('redis', bodyFrom, last, preset.redisMs);
    if (redis) say(`redis sorted sets: ${redis.eventsPerSec.toLocaleString('en')} events/s (${redis.events.toLocaleString('en')} events sampled)`);

    // 4. The processor takes the backlog: the first day puts every customer in state, the rest is measured.
    if (profileDir) await Promise.race([proc.call({ cmd: 'profile', action: 'start' }), sleep(0)]);
    proc.proc.kill('SIGCONT');
    say('processor resumed: consuming the backlog');
    for (;;) {
      const s = await proc.call<{ handled: number }>({ cmd: 'status' });
      if (s.handled >= last) break;
      await sleep(1_000);
    }
    if (profileDir) await proc.call({ cmd: 'profile', action: 'stop', file: `${profileDir}processor-backlog-${mode}.cpuprofile` });
    const firstDay = await proc.call<WindowResult>({ cmd: 'window', from: 1, to: pub.firstDay });
    const body = await proc.call<WindowResult>({ cmd: 'window', from: bodyFrom, to: last });
    say(`processor: ${body.eventsPerSec.toLocaleString('en')} events/s with ${body.customersAtEnd.toLocaleString('en')} customers (${round(body.eventsPerSec / ceiling1.eventsPerSec, 3)} of the ceiling)`);

    // 5. The ceiling again: the machine is shared and noisy, so the spread of the two says how far to trust a ratio.
    const ceiling2 = await runBaseline('ceiling', bodyFrom, last, 600_000);
    const ceilingRate = Math.round((ceiling1.eventsPerSec + ceiling2.eventsPerSec) / 2);
    say(`ceiling again: ${ceiling2.eventsPerSec.toLocaleString('en')} events/s`);
    if (args['budget-only']) {
      const budget = await budgetPhase(proc, ports, body.eventsPerSec, profileDir ? `${profileDir}processor-budget-${mode}.cpuprofile` : null);
      sayBudget(budget);
      process.stdout.write(JSON.stringify({ mode, customers, set: args.set, ceiling: [ceiling1.eventsPerSec, ceiling2.eventsPerSec], processor: body, budget }) + '\n');
      return;
    }
    if (args['throughput-only']) {
      const cpu = body.cpu > 0 ? Math.round((body.cpu * 1e6) / body.eventsPerSec) : null;
      process.stdout.write(JSON.stringify({ mode, customers, set: args.set, ceiling: [ceiling1.eventsPerSec, ceiling2.eventsPerSec], processor: body, firstDay, ratioToCeiling: round(body.eventsPerSec / ceilingRate, 3), cpuUsPerEvent: cpu }) + '\n');
      return;
    }

    // 6. State and ClickHouse writes after the backlog (two commit intervals for the last rows to land).
    await sleep(2_500);
    const status = await proc.call<{ handled: number; counts: Record<string, number>; rejectReasons: Record<string, number> }>({ cmd: 'status' });
    const mem = await proc.call<Record<string, number>>({ cmd: 'memory' });
    const chm = await proc.call<Record<string, number> & { rowsWrittenByTable: Record<string, number> }>({ cmd: 'metrics' });

    // 7. Event to wall at fractions of the processor's measured maximum.
    const latency: LatencyResult[] = [];
    for (const f of rates) {
      if (profileDir) await proc.call({ cmd: 'profile', action: 'start' });
      const r = await latencyPhase(proc, wallPort, f, body.eventsPerSec);
      if (profileDir) await proc.call({ cmd: 'profile', action: 'stop', file: `${profileDir}processor-live${Math.round(f * 100)}-${mode}.cpuprofile` });
      latency.push(r);
      say(`latency at ${f * 100}% (${r.ratePerSec.toLocaleString('en')}/s): p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, max ${r.maxMs} ms over ${r.alerts} of ${r.triggersSent} alerts; processor took ${r.processorEventsPerSec.toLocaleString('en')}/s (${(r.behind ?? 0).toLocaleString('en')} behind 2 s after), cpu ${r.processorCpu}`);
      const st = r.stages!;
      say(`  publish to receipt p50 ${st.toReceipt.p50Ms}, p99 ${st.toReceipt.p99Ms} ms; to evaluation p50 ${st.toEvaluation.p50Ms}, p99 ${st.toEvaluation.p99Ms} ms; to the wall p50 ${st.toWall.p50Ms}, p99 ${st.toWall.p99Ms} ms`);
    }
    await sleep(2_000);

    // 7b. The contact budget while the processor takes half its maximum.
    const budget = await budgetPhase(proc, ports, body.eventsPerSec, profileDir ? `${profileDir}processor-budget-${mode}.cpuprofile` : null);
    sayBudget(budget);
    await sleep(1_000);

    // 8. Restart with every customer in state: checkpoint, stop, start (no backlog); then again with a backlog to replay.
    //    The processor first takes what the latency phases published (at 75% of its maximum it may trail): else the
    //    first restart would replay that tail and count it as restoring.
    const published = await streamLastSeq(nc);
    while ((await proc.call<{ handled: number }>({ cmd: 'status' })).handled < published) await sleep(500);
    const cp = await proc.call<{ ms: number }>({ cmd: 'checkpoint' });
    const stop1 = await proc.call<{ ms: number }>({ cmd: 'stop' });
    // Each start is a new process, as after a deploy or a crash: the stopped processor's garbage (a million customers'
    // maps and ids) left in the same heap cost the restore seconds of collection that a real restart never pays.
    proc = await ProcessorProcess.restart(proc);
    if (profileDir) await proc.call({ cmd: 'profile', action: 'start' });
    const start1 = await proc.call<{ startMs: number; cpuMs: number; runQueueMs: number | null; restart: { replayed: number; ms: number }; customers: number }>({ cmd: 'start' });
    if (profileDir) await proc.call({ cmd: 'profile', action: 'stop', file: `${profileDir}processor-restart-${mode}.cpuprofile` });
    say(`restart with ${start1.customers.toLocaleString('en')} customers: ${start1.restart.ms} ms to caught up (replayed ${start1.restart.replayed}); start ${start1.startMs} ms, cpu ${start1.cpuMs} ms, waiting for a core ${start1.runQueueMs} ms`);
    await proc.call({ cmd: 'stop' });
    const backlog = await runWorker({ mode: 'count', servers: NATS, subjectPrefix: names.subjectPrefix, workload: workload(0, 1, Date.now(), 7), events: preset.restartEvents, tag: `rs${tag}` }, () => undefined);
    proc = await ProcessorProcess.restart(proc);
    const start2 = await proc.call<{ startMs: number; restart: { replayed: number; ms: number }; customers: number }>({ cmd: 'start' });
    const replayMs = Math.max(0, start2.restart.ms - start1.restart.ms);
    say(`restart with ${backlog.published.toLocaleString('en')} events to replay: ${start2.restart.ms} ms (replay ~${replayMs} ms)`);
    await proc.call({ cmd: 'stop' });
    await ProcessorProcess.exit(proc);
    proc = null;

    // 9. Memory and per-event cost by customers, each size in a fresh process with no I/O.
    const memory: Record<string, number>[] = [];
    for (const n of preset.memory) {
      const m = await memoryChild(n);
      memory.push(m);
      say(`state at ${n.toLocaleString('en')} customers: ${m.stateBytesPerCustomer} bytes/customer (heap ${m.heapBytesPerCustomer} + typed arrays ${m.arrayBufferBytesPerCustomer}), rss ${m.rssBytesPerCustomer}; ${m.usPerEvent} µs/event`);
    }

    const results: BenchResults = {
      mode,
      machine: facts,
      workload: { customers, events: pub.total, firstDayEvents: pub.firstDay, publishedPerSec: Math.round((pub.total * 1000) / pub.ms), byType: pub.byType, workers },
      consumerSettings,
      throughput: {
        ceiling: { runs: [ceiling1, ceiling2], eventsPerSec: ceilingRate },
        processor: { body, firstDay, ratioToCeiling: round(body.eventsPerSec / ceilingRate, 3) },
        redisSortedSets: { ...redis!, processorSpeedup: round(body.eventsPerSec / redis!.eventsPerSec, 1) },
      },
      outcomes: { counts: status.counts, rejectReasons: status.rejectReasons },
      latency,
      budget,
      memory: { processorAtEnd: { ...mem, heapPerCustomer: Math.round(mem.heapUsed / mem.customers), rssPerCustomer: Math.round(mem.rss / mem.customers) }, bySize: memory },
      restart: { checkpointMs: cp.ms, stopMs: stop1.ms, customers: start1.customers, restoreMs: start1.restart.ms, startMs: start1.startMs, startCpuMs: start1.cpuMs, startRunQueueMs: start1.runQueueMs, replayed: start2.restart.replayed, withReplayMs: start2.restart.ms, replayMs, replayEventsPerSec: replayMs > 0 ? Math.round((start2.restart.replayed * 1000) / replayMs) : null },
      clickhouse: {
        rowsWritten: chm.rowsWritten,
        batchesWritten: chm.batchesWritten,
        rowsPerMillionEvents: Math.round((chm.rowsWritten / status.handled) * 1e6),
        batchesPerMillionEvents: Math.round((chm.batchesWritten / status.handled) * 1e6),
        rowsPerBatch: Math.round(chm.rowsWritten / Math.max(1, chm.batchesWritten)),
        rowsPerMillionEventsByTable: Object.fromEntries(Object.entries(chm.rowsWrittenByTable).map(([t, n]) => [t, Math.round((n / status.handled) * 1e6)])),
      },
    };
    writeResults(results);
  } finally {
    process.off('SIGINT', interrupted);
    proc?.proc.kill('SIGKILL');
    if (!args.keep) await cleanUp(nc).catch((err: unknown) => say(`clean-up failed: ${String(err)}`));
    await nc.close();
  }
}

interface WindowResult {
  events: number;
  ms: number;
  eventsPerSec: number;
  cpu: number;
  elu: number;
  customersAtEnd: number;
}

function writeResults(r: BenchResults): void {
  mkdirSync(resultsDir, { recursive: true });
  const stamp = r.machine.date.slice(0, 16).replace(/[:T]/g, '-');
  const json = JSON.stringify(r, null, 2);
  writeFileSync(`${resultsDir}${stamp}-${r.mode}.json`, json + '\n');
  writeFileSync(`${resultsDir}latest-${r.mode}.json`, json + '\n');
  const md = resultsMarkdown(r);
  writeFileSync(`${resultsDir}latest-${r.mode}.md`, md);
  writeFileSync(`${resultsDir}cost-${r.mode}.svg`, costSvg(r));
  if (args['update-readme']) {
    const readme = readFileSync(`${root}README.md`, 'utf8');
    const start = '<!-- bench:start -->';
    const end = '<!-- bench:end -->';
    const a = readme.indexOf(start);
    const b = readme.indexOf(end);
    if (a >= 0 && b > a) writeFileSync(`${root}README.md`, readme.slice(0, a + start.length) + '\n' + md + readme.slice(b));
  }
  process.stdout.write(md);
  say(`results: bench/results/latest-${r.mode}.json, .md, cost-${r.mode}.svg`);
}

await main();
process.exit(0);
