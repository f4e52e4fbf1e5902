// The processor's throughput without and with the scheduled refit beside it, in one run (bench/refitCost.ts): the
// processor of `npm run bench` (bench/harness.ts) takes its backlog, then a second one (the same workload over the
// next eight days of event time) sized to last three measured windows: without a refit, with refits running one after
// another in its own process (the real worker thread, started as the schedule starts it, at signals.model.refit.nice),
// and without again, so that a drift of the machine or of the processor's state over the run shows in the two windows
// without.
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { connect } from 'nats';
import { DAY_MS } from '../src/shared/clock.js';
import type { RefitJob } from '../src/sources/modelRefit.js';
import { benchNames, cleanUp, NATS, processorConfigFor, ProcessorProcess, publishBacklog, round, say, sleep, waitForStream, type Sample } from './harness.js';
import type { RefitRun, WindowResult } from './processorChild.js';

export interface ThroughputOptions {
  /** The refit each window "with" runs, on the scratch database. */
  job: RefitJob;
  /** How long the refit took alone: the window with a refit lasts until the first one ends, so the backlog must too. */
  refitAloneMs: number;
  /** The processor's customers (the workload of `npm run bench`). */
  customers: number;
  /** Length of each window without, and the least length of the window with (refits restarted to fill it). */
  windowS: number;
  workers: number;
  /** The most events the second backlog may hold (a publish takes the processor off the stream for that long). */
  maxEvents: number;
}

export interface PhaseResult {
  eventsPerSec: number;
  events: number;
  ms: number;
  /** Share of one core the processor's process used (every thread: the refit's too in the window with). */
  cpu: number;
  /** The backlog ran out before the window's end: the rate is over the part where the processor had events. */
  backlogRanOut: boolean;
  /** The machine's 1-minute load average at the window's end (other work on a shared machine shows here). */
  loadAverage: number;
}

export interface ThroughputResult {
  processorCustomers: number;
  /** The first backlog's body, as `npm run bench` measures the processor: what sized the second backlog. */
  warmUp: WindowResult;
  /** Events of each backlog; the second's first day (every customer again) is taken before the windows. */
  backlog: { firstEvents: number; secondEvents: number; secondFirstDay: number; secondPublishMs: number };
  without: PhaseResult;
  with: PhaseResult;
  withoutAgain: PhaseResult;
  /** The window with a refit against the mean of the windows without that had events (NaN when none had). */
  ratio: number;
  /** Each refit of the window with: the first ran from the window's start to its end (or past the least length). */
  refits: { ms: number; ok: boolean; error?: string; stoppedAtWindowEnd: boolean; steps: StepTime[] }[];
  /** The first refit's wall time beside the processor taking its backlog, and its thread's nice value. */
  concurrentRefitMs: number;
  refitThreadNice: number | null;
  /** The nice value of every thread of the processor's process while the first refit ran: count by value (Linux). */
  threadsByNice: Record<string, number>;
}

/** Runs the three windows and cleans up the processor's stream, database and keys. */
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

    // 2. The second backlog, the same workload over the next eight days: its body lasts the three windows at that
    //    rate, the window with as long as 3 refits alone (the nice refit gets the CPU the processor leaves), 20 % to
    //    spare, within maxEvents. Its first day (every customer again) is taken before the windows begin.
    const withS = Math.max(o.windowS, (3 * o.refitAloneMs) / 1000);
    const wanted = Math.ceil(warmUp.eventsPerSec * (2 * o.windowS + withS) * 1.2);
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

    // 3. Without, with, without again.
    const without = await phase(p, last, async () => void (await sleep(o.windowS * 1000)));
    say(`without a refit: ${without.eventsPerSec.toLocaleString('en')} events/s`);
    const refits: ThroughputResult['refits'] = [];
    let firstRun: RefitRun | null = null;
    const withRefit = await phase(p, last, async () => {
      const start = performance.now();
      const left = () => o.windowS * 1000 - (performance.now() - start);
      for (let k = 0; ; k++) {
        const running = p.call<RefitRun>({ cmd: 'refit', job: { ...o.job, asOfMs: Date.now() } });
        // The first refit runs to its end, however long: its wall time beside the processor is a result.
        const done = k === 0 ? await running : await Promise.race([running, sleep(Math.max(0, left())).then(() => null)]);
        if (done && !firstRun) firstRun = done;
        if (done) {
          refits.push(refitRecord(done, false));
          say(`  refit beside the processor: ${(done.ms / 1000).toFixed(1)} s${done.outcome.ok ? '' : ` (failed: ${done.outcome.error})`}`);
          if (left() > 0) continue;
          return;
        }
        // The window's least length is over while a refit that filled it runs: it is stopped after the window's end.
        return async () => {
          await p.call({ cmd: 'refitStop' });
          refits.push(refitRecord(await running, true));
        };
      }
    });
    say(`with a refit: ${withRefit.eventsPerSec.toLocaleString('en')} events/s`);
    const withoutAgain = await phase(p, last, async () => void (await sleep(o.windowS * 1000)));
    say(`without a refit again: ${withoutAgain.eventsPerSec.toLocaleString('en')} events/s`);
    await p.call({ cmd: 'stop' });
    await ProcessorProcess.exit(p);
    proc = null;

    const first = firstRun as RefitRun | null;
    const threadsByNice: Record<string, number> = {};
    for (const t of first?.threads ?? []) threadsByNice[String(t.nice)] = (threadsByNice[String(t.nice)] ?? 0) + 1;
    const priority = first?.outcome.priority;
    return {
      processorCustomers: o.customers,
      warmUp,
      backlog: { firstEvents: firstLast, secondEvents: last - firstLast, secondFirstDay: second.firstDay, secondPublishMs },
      without,
      with: withRefit,
      withoutAgain,
      ratio: ratio(withRefit, [without, withoutAgain]),
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

/** With against the mean of the windows without that had events to the end (else of those with any events). */
function ratio(withRefit: PhaseResult, withouts: PhaseResult[]): number {
  const full = withouts.filter((w) => !w.backlogRanOut);
  const usable = full.length > 0 ? full : withouts.filter((w) => w.events > 0);
  return round(withRefit.eventsPerSec / (usable.reduce((sum, w) => sum + w.eventsPerSec, 0) / usable.length), 3);
}

function refitRecord(r: RefitRun, stoppedAtWindowEnd: boolean): ThroughputResult['refits'][number] {
  return { ms: r.ms, ok: r.outcome.ok, ...(r.outcome.ok || stoppedAtWindowEnd ? {} : { error: r.outcome.error }), stoppedAtWindowEnd, steps: stepDurations(r.steps) };
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
