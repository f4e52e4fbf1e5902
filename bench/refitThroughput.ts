// The processor's throughput without and with the scheduled refit beside it, in one run (bench/refitCost.ts): the
// processor of `npm run bench` (bench/harness.ts) takes its backlog, then a second one (the same workload over the
// next eight days of event time) sized to last every measured window. The windows alternate, W R W R … W (2·pairs + 1
// of them): W without a refit, R with refits running one after another in the processor's own process (the real worker
// thread, started as the schedule starts it, at signals.model.refit.nice). Every window lasts --window-s but the first
// R, which lasts until the first refit ends (its wall time beside the processor is a result): a refit still running
// at an R window's end is stopped, and the ClickHouse queries it left running are killed before the next W begins.
//
// One window each side is not a fair comparison: the windows cover different days of event time (different event
// mixes) and the processor's state drifts, and two windows without once differed by 23 %, more than the effect. So
// each R window is set against the mean of its two neighbouring W windows, whose midpoints lie equally far before and
// after its own (also around the longer first R), so that a drift linear in time cancels; each pair (W, R, W) gives a
// ratio, and the run's ratio is their median (the mean, least and greatest beside it).
//
// The result (ThroughputResult, in the JSON's `throughput`):
//   warmUp            the first backlog's body, as `npm run bench` measures the processor: what sized the second one
//   backlog           events of each backlog; the second's first day (every customer again) is taken before the windows
//   windows           every window in order: kind ('without' | 'with'), startS (seconds after the first window began),
//                     eventsPerSec, events, ms, cpu (cores, every thread), backlogRanOut, loadAverage (1 min, at its end)
//   pairs             per R window: window (its index in windows; its neighbours are window - 1 and window + 1),
//                     withEventsPerSec, withoutEventsPerSec (the neighbours' mean), ratio (with / without),
//                     drift (the later neighbour against the earlier, minus one: what the mean cancels if linear),
//                     backlogRanOut (one of the three ran out: its rate covers only the part with events)
//   ratio             the median of the pairs' ratios (of the pairs whose backlog lasted, if any did; else of all
//                     with events); ratioMean, ratioMin, ratioMax over the same pairs; pairsInRatio how many
//   refits            every refit: window (index in windows), ms, ok, error, stoppedAtWindowEnd, queriesKilled (its
//                     ClickHouse queries still running when it was stopped), steps (which steps ran, and how long)
//   concurrentRefitMs the first refit's wall time beside the processor (run to its end); refitThreadNice its thread's
//                     nice value; threadsByNice the nice value of every thread of the processor's process meanwhile
//
// An R window after the first covers the first --window-s seconds of a refit (reading the histories, BG/NBD, part of
// the holdout comparison) more often than its last steps: its steps in `refits` say which ran. The first R window
// covers one whole refit; a --window-s as long as a refit beside the processor makes every R window do so.
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { connect } from 'nats';
import { DAY_MS } from '../src/shared/clock.js';
import type { RefitJob } from '../src/sources/modelRefit.js';
import { benchNames, cleanUp, CLICKHOUSE, NATS, processorConfigFor, ProcessorProcess, publishBacklog, round, say, sleep, waitForStream, type Sample } from './harness.js';
import type { RefitRun, WindowResult } from './processorChild.js';

export interface ThroughputOptions {
  /** The refit each window "with" runs, on the scratch database. */
  job: RefitJob;
  /** How long the refit took alone: the first window with a refit lasts until that refit ends, so the backlog must too. */
  refitAloneMs: number;
  /** The processor's customers (the workload of `npm run bench`). */
  customers: number;
  /** Length of every window, and the least length of the first with a refit (refits restarted to fill it). */
  windowS: number;
  /** Pairs of windows (without, with) before a last window without: 2·pairs + 1 windows. */
  pairs: number;
  workers: number;
  /** The most events the second backlog may hold (a publish takes the processor off the stream for that long). */
  maxEvents: number;
}

export interface PhaseResult {
  eventsPerSec: number;
  events: number;
  ms: number;
  /** Share of one core the processor's process used (every thread: the refit's too in a window with). */
  cpu: number;
  /** The backlog ran out before the window's end: the rate is over the part where the processor had events. */
  backlogRanOut: boolean;
  /** The machine's 1-minute load average at the window's end (other work on a shared machine shows here). */
  loadAverage: number;
}

export interface WindowRecord extends PhaseResult {
  kind: 'without' | 'with';
  /** When the window began, seconds after the first window began. */
  startS: number;
}

/** A window with refits against its two neighbours without (windows[window - 1] and windows[window + 1]). */
export interface PairResult {
  window: number;
  withEventsPerSec: number;
  /** The mean of the two neighbours' rates. */
  withoutEventsPerSec: number;
  ratio: number;
  /** The later neighbour's rate against the earlier one's, minus one: the drift their mean cancels if it is linear. */
  drift: number;
  /** One of the three windows ran out of backlog: its rate covers only the part with events. */
  backlogRanOut: boolean;
}

export interface RefitRecord {
  /** The window with refits it ran in (its index in windows). */
  window: number;
  ms: number;
  ok: boolean;
  error?: string;
  stoppedAtWindowEnd: boolean;
  /** Its ClickHouse queries still running when it was stopped, killed before the next window. */
  queriesKilled?: number;
  steps: StepTime[];
}

export interface ThroughputResult {
  processorCustomers: number;
  /** The first backlog's body, as `npm run bench` measures the processor: what sized the second backlog. */
  warmUp: WindowResult;
  /** Events of each backlog; the second's first day (every customer again) is taken before the windows. */
  backlog: { firstEvents: number; secondEvents: number; secondFirstDay: number; secondPublishMs: number };
  /** W R W R … W, in the order they ran. */
  windows: WindowRecord[];
  pairs: PairResult[];
  /** The median of the pairs' ratios (see pairsInRatio); NaN when no pair had events in all three windows. */
  ratio: number;
  ratioMean: number;
  ratioMin: number;
  ratioMax: number;
  /** The pairs the ratio is over: those whose backlog lasted, if any did, else those with events in all three. */
  pairsInRatio: number;
  refits: RefitRecord[];
  /** The first refit's wall time beside the processor taking its backlog, and its thread's nice value. */
  concurrentRefitMs: number;
  refitThreadNice: number | null;
  /** The nice value of every thread of the processor's process while the first refit ran: count by value (Linux). */
  threadsByNice: Record<string, number>;
}

/** Runs the windows and cleans up the processor's stream, database and keys. */
export async function measureThroughput(o: ThroughputOptions): Promise<ThroughputResult> {
  const tag = randomBytes(3).toString('hex');
  const names = benchNames(tag);
  const nc = await connect({ servers: NATS, name: 'vigil-bench-refit' });
  let proc: ProcessorProcess | null = null;
  try {
    proc = ProcessorProcess.start(processorConfigFor(names, tag));
    await proc.ready;
    await proc.call({ cmd: 'start' });
    const p = proc;
    // 1. The backlog of `npm run bench` (the first day brings every customer into state), taken as it measures it;
    //    its event time ends eight days ago, so that the second backlog's eight days follow it.
    p.proc.kill('SIGSTOP');
    const workloadOf = (bodyEvents: number, daysBack: number) => (worker: number, workers: number, endTs: number) =>
      ({ customers: o.customers, bodyEvents, days: 7, endTs: endTs - daysBack * DAY_MS, seed: 1 + daysBack, worker, workers });
    const pub = await publishBacklog({ subjectPrefix: names.subjectPrefix, workers: o.workers, workload: workloadOf(Math.max(1_000_000, o.customers * 4), 8) });
    const firstLast = await waitForStream(nc, names.stream, pub.total);
    say(`published ${pub.total.toLocaleString('en')} events for ${o.customers.toLocaleString('en')} processor customers; the processor takes them`);
    p.proc.kill('SIGCONT');
    await untilHandled(p, firstLast);
    const warmUp = await p.call<WindowResult>({ cmd: 'window', from: pub.firstDay + 1, to: firstLast });
    say(`processor alone over the backlog's body: ${warmUp.eventsPerSec.toLocaleString('en')} events/s`);

    // 2. The second backlog, the same workload over the next eight days: its body lasts every window at that rate
    //    (the first with a refit as long as a refit beside the processor, below), 20 % to
    //    spare, within maxEvents. Its first day (every customer again) is taken before the windows begin.
    // A refit backing off while the processor is busy takes busyDuty of one core, where alone its threads take up to
    // one core each: threads / busyDuty times as long beside it, and more (a thread waiting on the other still paces
    // at its part: 218–303 s against 20.6–24.5 s alone with 2 threads at 0.3 were measured), so 2.5 times that.
    const besideS = (2.5 * o.refitAloneMs * Math.max(1, o.job.threads)) / 1000 / Math.min(1, o.job.busyDuty);
    const measuredS = 2 * o.pairs * o.windowS + Math.max(o.windowS, besideS);
    const wanted = Math.ceil(warmUp.eventsPerSec * measuredS * 1.2);
    const body = Math.min(wanted, o.maxEvents);
    if (body < wanted) say(`the second backlog is capped at ${body.toLocaleString('en')} events (--max-events; ${wanted.toLocaleString('en')} wanted): a window may run out of events`);
    p.proc.kill('SIGSTOP');
    // The generator skips most sessions of fading and dormant customers: about 70 % of bodyEvents come out.
    const second = await publishBacklog({ subjectPrefix: names.subjectPrefix, workers: o.workers, workload: workloadOf(Math.ceil(body / 0.7), 0) });
    const last = await waitForStream(nc, names.stream, firstLast + second.total);
    const secondPublishMs = Math.round(second.ms);
    say(`published ${second.total.toLocaleString('en')} more events in ${(second.ms / 1000).toFixed(1)} s; the measured windows begin after their first day`);
    p.proc.kill('SIGCONT');
    await untilHandled(p, firstLast + second.firstDay);

    // 3. W R W R … W.
    const windows: WindowRecord[] = [];
    const refits: RefitRecord[] = [];
    let firstRun: RefitRun | null = null;
    const t0 = performance.now();
    for (let k = 0; k < 2 * o.pairs + 1; k++) {
      const startS = round((performance.now() - t0) / 1000, 1);
      const kind = k % 2 === 0 ? 'without' : 'with';
      const w =
        kind === 'without'
          ? await phase(p, last, async () => void (await sleep(o.windowS * 1000)))
          : await phase(p, last, () => refitsBackToBack(p, o, k, refits, (run) => (firstRun ??= run)));
      windows.push({ kind, startS, ...w });
      say(`window ${k + 1} of ${2 * o.pairs + 1}, ${kind} a refit: ${w.eventsPerSec.toLocaleString('en')} events/s over ${(w.ms / 1000).toFixed(1)} s${w.backlogRanOut ? ' (the backlog ran out)' : ''}`);
    }
    await p.call({ cmd: 'stop' });
    await ProcessorProcess.exit(p);
    proc = null;

    const pairs = pairsOf(windows);
    for (const q of pairs) say(`  window ${q.window + 1}: ${q.ratio} of its neighbours without (they differ by ${round(q.drift * 100, 1)} %)`);
    const first = firstRun as RefitRun | null;
    const threadsByNice: Record<string, number> = {};
    for (const t of first?.threads ?? []) threadsByNice[String(t.nice)] = (threadsByNice[String(t.nice)] ?? 0) + 1;
    const priority = first?.outcome.priority;
    return {
      processorCustomers: o.customers,
      warmUp,
      backlog: { firstEvents: firstLast, secondEvents: last - firstLast, secondFirstDay: second.firstDay, secondPublishMs },
      windows,
      pairs,
      ...summary(pairs),
      refits,
      concurrentRefitMs: first?.ms ?? Number.NaN,
      refitThreadNice: priority?.ok ? priority.nice : null,
      threadsByNice,
    };
  } finally {
    proc?.proc.kill('SIGKILL');
    await cleanUp(nc, names).catch((err: unknown) => say(`clean-up failed: ${String(err)}`));
    await nc.close();
  }
}

/**
 * A window with refits, one after another from its start: the first refit of the run (window 1) runs to its end,
 * however long, its wall time beside the processor being a result; then more until the window's length is over. The
 * refit running then is stopped after the window's closing sample (the last step handed to phase), and the ClickHouse
 * queries it left are killed, so that neither runs into the next window without.
 */
async function refitsBackToBack(p: ProcessorProcess, o: ThroughputOptions, window: number, refits: RefitRecord[], onRun: (run: RefitRun) => void): Promise<void | (() => Promise<void>)> {
  const start = performance.now();
  const left = () => o.windowS * 1000 - (performance.now() - start);
  for (let k = 0; ; k++) {
    const running = p.call<RefitRun>({ cmd: 'refit', job: { ...o.job, asOfMs: Date.now() } });
    const done = window === 1 && k === 0 ? await running : await Promise.race([running, sleep(Math.max(0, left())).then(() => null)]);
    if (done) {
      onRun(done);
      refits.push(refitRecord(done, window, false));
      say(`  refit beside the processor: ${(done.ms / 1000).toFixed(1)} s${done.outcome.ok ? '' : ` (failed: ${done.outcome.error})`}`);
      if (left() > 0) continue;
      return;
    }
    return async () => {
      await p.call({ cmd: 'refitStop' });
      const stopped = await running;
      const queriesKilled = await killQueriesOn(o.job.clickhouse.database);
      refits.push({ ...refitRecord(stopped, window, true), queriesKilled });
    };
  }
}

/**
 * Kills the queries still running on the refit's database and waits until they are gone: ClickHouse 18.16 goes on
 * with a read whose HTTP client went away (a stopped refit's worker), and such a read would take CPU from the next
 * window without. The query texts name the database (purchaseModels.ts, modelTracking.ts); the processor's is another.
 */
async function killQueriesOn(database: string): Promise<number> {
  const running = async () =>
    (await clickhouse(`SELECT query_id FROM system.processes WHERE query LIKE '%${database}.%' AND query NOT LIKE '%system.processes%' FORMAT TSV`)).split('\n').filter(Boolean);
  const ids = await running();
  if (ids.length === 0) return 0;
  await clickhouse(`KILL QUERY WHERE query_id IN (${ids.map((id) => `'${id.replace(/'/g, "\\'")}'`).join(', ')}) ASYNC`);
  for (let i = 0; i < 300; i++) {
    if ((await running()).length === 0) return ids.length;
    await sleep(100);
  }
  say(`  queries of the stopped refit still run in ClickHouse after 30 s: the next window without shares the machine with them`);
  return ids.length;
}

async function clickhouse(sql: string): Promise<string> {
  const res = await fetch(`${CLICKHOUSE}/`, { method: 'POST', body: sql });
  const text = await res.text();
  if (!res.ok) throw new Error(`ClickHouse: ${text.slice(0, 300)}`);
  return text;
}

/** A step of a refit: when it began (ms since the worker started) and how long it took, up to the next one. */
export interface StepTime {
  step: string;
  startMs: number;
  seconds: number;
}

/** The worker's progress marks (the last one 'done') as steps with their durations. */
export function stepDurations(steps: readonly { step: string; ms: number }[]): StepTime[] {
  return steps.slice(0, -1).map((s, k) => ({ step: s.step, startMs: s.ms, seconds: round((steps[k + 1].ms - s.ms) / 1000, 2) }));
}

/** Each window with against the mean of its two neighbours without. */
export function pairsOf(windows: readonly WindowRecord[]): PairResult[] {
  const pairs: PairResult[] = [];
  for (let k = 1; k + 1 < windows.length; k += 2) {
    const [before, during, after] = [windows[k - 1], windows[k], windows[k + 1]];
    const without = (before.eventsPerSec + after.eventsPerSec) / 2;
    pairs.push({
      window: k,
      withEventsPerSec: during.eventsPerSec,
      withoutEventsPerSec: Math.round(without),
      ratio: round(during.eventsPerSec / without, 3),
      drift: round(after.eventsPerSec / before.eventsPerSec - 1, 3),
      backlogRanOut: before.backlogRanOut || during.backlogRanOut || after.backlogRanOut,
    });
  }
  return pairs;
}

/**
 * The run's ratio: the median of the pairs' ratios, because one window disturbed by other work on a shared machine
 * moves the mean of three pairs but not their median; the mean, least and greatest show how far the pairs agree.
 * Over the pairs whose backlog lasted through all three windows if any did, else over those with events in all three.
 */
export function summary(pairs: readonly PairResult[]): Pick<ThroughputResult, 'ratio' | 'ratioMean' | 'ratioMin' | 'ratioMax' | 'pairsInRatio'> {
  const withEvents = pairs.filter((q) => Number.isFinite(q.ratio));
  const lasted = withEvents.filter((q) => !q.backlogRanOut);
  const r = (lasted.length > 0 ? lasted : withEvents).map((q) => q.ratio).sort((x, y) => x - y);
  const n = r.length;
  if (n === 0) return { ratio: Number.NaN, ratioMean: Number.NaN, ratioMin: Number.NaN, ratioMax: Number.NaN, pairsInRatio: 0 };
  const median = n % 2 === 1 ? r[(n - 1) / 2] : (r[n / 2 - 1] + r[n / 2]) / 2;
  return { ratio: round(median, 3), ratioMean: round(r.reduce((a, v) => a + v, 0) / n, 3), ratioMin: r[0], ratioMax: r[n - 1], pairsInRatio: n };
}

function refitRecord(r: RefitRun, window: number, stoppedAtWindowEnd: boolean): RefitRecord {
  return { window, ms: r.ms, ok: r.outcome.ok, ...(r.outcome.ok || stoppedAtWindowEnd ? {} : { error: r.outcome.error }), stoppedAtWindowEnd, steps: stepDurations(r.steps) };
}

async function untilHandled(p: ProcessorProcess, seq: number): Promise<void> {
  while ((await p.call<{ handled: number }>({ cmd: 'status' })).handled < seq) await sleep(500);
}

/**
 * One window: from a sample before `during` to a sample when it settles; `during` may hand back a last step that runs
 * after the closing sample. The rate is read from the processor's own timeline between the two handled counts (as
 * `npm run bench` reads it), so a backlog that runs out ends the window where the processor had its last event.
 */
async function phase(p: ProcessorProcess, last: number, during: () => Promise<void | (() => Promise<void>)>): Promise<PhaseResult> {
  const before = await p.call<Sample>({ cmd: 'sample' });
  const after$ = await during();
  const after = await p.call<Sample>({ cmd: 'sample' });
  if (typeof after$ === 'function') await after$();
  const loadAverage = round(loadavg()[0], 2);
  // No event at all in the window: the backlog had run out before it began.
  if (after.handled <= before.handled) return { eventsPerSec: Number.NaN, events: 0, ms: Math.round(after.t - before.t), cpu: Number.NaN, backlogRanOut: true, loadAverage };
  const w = await p.call<WindowResult>({ cmd: 'window', from: before.handled, to: after.handled });
  return { eventsPerSec: w.eventsPerSec, events: w.events, ms: w.ms, cpu: w.cpu, backlogRanOut: after.handled >= last, loadAverage };
}
