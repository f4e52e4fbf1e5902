// A publishing worker thread. `backlog`: this worker's customers' events for the whole span, as fast as NATS takes
// them, in lockstep with the other workers (no worker more than a minute of event time ahead of the slowest), so the
// stream stays in event-time order up to the generator's own jitter. `paced`: a fixed rate in real time, events
// restamped to now, plus, every `triggerEveryMs`, three emails to each of `triggersPerBurst` fresh customers (contact fatigue fires on
// the third); the publish time of every trigger candidate goes back to the main thread to match the wall's frames.
import { parentPort, workerData } from 'node:worker_threads';
import { connect } from 'nats';
import { WorkloadGenerator, type GenEvent, type WorkloadOptions } from './workload.js';

export type PublisherJob =
  | { mode: 'backlog'; servers: string; subjectPrefix: string; workload: WorkloadOptions; progress: SharedArrayBuffer }
  | { mode: 'paced'; servers: string; subjectPrefix: string; workload: WorkloadOptions; ratePerSec: number; durationMs: number; triggerEveryMs: number; triggersPerBurst: number; tag: string }
  | { mode: 'count'; servers: string; subjectPrefix: string; workload: WorkloadOptions; events: number; tag: string };

export type PublisherReport =
  | { kind: 'progress'; worker: number; published: number; minute: number; of: number }
  | { kind: 'triggers'; sent: [string, number][] }
  | { kind: 'done'; worker: number; published: number; firstDayEvents: number; byType: Record<string, number>; ms: number };

const job = workerData as PublisherJob;
const enc = new TextEncoder();
// Microseconds since the epoch (timeOrigin and now() are milliseconds); the main thread matches it with its own.
const nowUs = () => (performance.timeOrigin + performance.now()) * 1000;
const post = (r: PublisherReport) => parentPort!.postMessage(r);

const nc = await connect({ servers: job.servers, name: `vigil-bench-publisher-${job.workload.worker}` });
const byType: Record<string, number> = {};
let published = 0;
const started = performance.now();

function publish(ev: GenEvent): void {
  nc.publish(`${job.subjectPrefix}.${ev.type}`, enc.encode(JSON.stringify(ev)));
  byType[ev.type] = (byType[ev.type] ?? 0) + 1;
  published++;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// Atomics.waitAsync (Node 16+; typed in lib ES2024, which this project's tsconfig does not load).
const waitAsync = (a: Int32Array, i: number, v: number, ms: number): Promise<unknown> =>
  (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, ms: number): { value: unknown } }).waitAsync(a, i, v, ms).value as Promise<unknown>;

if (job.mode === 'backlog') {
  const gen = new WorkloadGenerator(job.workload);
  const progress = new Int32Array(job.progress);
  const { worker, workers } = job.workload;
  let firstDayEvents = 0;
  for (let k = 0; k < gen.minutes; k++) {
    // Lockstep: wait while another worker is more than two minutes of event time behind this one (with the
    // generator's 60 s jitter, events stay within the processor's 5 min allowed lateness).
    for (let w = 0; w < workers; w++) {
      let seen: number;
      while ((seen = Atomics.load(progress, w)) < k - 2) await waitAsync(progress, w, seen, 100);
    }
    const events = gen.minute(gen.firstMin + k);
    for (const ev of events) publish(ev);
    if (k < 1440) firstDayEvents += events.length;
    // flush() round-trips to the server: this minute is in before the others may go past the next one.
    await nc.flush();
    Atomics.store(progress, worker, k + 1);
    Atomics.notify(progress, worker);
    if (k % 240 === 0) post({ kind: 'progress', worker, published, minute: k, of: gen.minutes });
  }
  await nc.flush();
  post({ kind: 'done', worker, published, firstDayEvents, byType, ms: performance.now() - started });
} else if (job.mode === 'count') {
  // A fixed number of body events as fast as possible (the backlog a restart has to replay).
  const gen = new WorkloadGenerator(job.workload);
  let k = 1440;
  let queue: GenEvent[] = [];
  while (published < job.events) {
    while (queue.length === 0) queue = gen.minute(gen.firstMin + (k++ % gen.minutes));
    const ev = queue.shift()!;
    publish({ ...ev, id: `${job.tag}-${ev.id}`, ts: Date.now() - Math.floor(Math.random() * 30_000) });
    if (published % 2_000 === 0) await nc.flush();
  }
  await nc.flush();
  post({ kind: 'done', worker: job.workload.worker, published, firstDayEvents: 0, byType, ms: performance.now() - started });
} else {
  const gen = new WorkloadGenerator(job.workload);
  let k = 1440;
  let queue: GenEvent[] = [];
  let qi = 0;
  const next = (): GenEvent => {
    while (qi >= queue.length) {
      queue = gen.minute(gen.firstMin + (k++ % gen.minutes));
      qi = 0;
    }
    return queue[qi++];
  };
  const tickMs = 5;
  let due = 0;
  let triggers = 0;
  let nextTriggerAt = performance.now() + job.triggerEveryMs;
  const sent: [string, number][] = [];
  const endAt = performance.now() + job.durationMs;
  const t0 = performance.now();
  while (performance.now() < endAt) {
    const now = performance.now();
    // The events due by now at the fixed rate, restamped to the present (a third trail by up to 30 s).
    due = Math.floor(((now - t0) / 1000) * job.ratePerSec);
    const wall = Date.now();
    while (published < due) {
      const ev = next();
      publish({ ...ev, id: `${job.tag}-${ev.id}`, ts: Math.random() < 0.3 ? wall - Math.floor(Math.random() * 30_000) : wall });
    }
    if (now >= nextTriggerAt) {
      nextTriggerAt += job.triggerEveryMs;
      // Several customers per burst: enough alerts for a p99 (≥ 1,000 a phase) in one urgent wall flush each burst,
      // rather than one alert every few milliseconds, which the wall coalesces as a storm (wall.frameIntervalMs).
      for (let b = 0; b < job.triggersPerBurst; b++) {
        const customerId = `lat-${job.tag}-${job.workload.worker}-${++triggers}`;
        for (let e = 0; e < 3; e++) {
          const id = `${job.tag}-trigger-${triggers}-${e}`;
          sent.push([id, nowUs()]);
          publish({ id, customerId, type: 'email_sent', ts: Date.now(), channel: 'email', segment: 'regular' });
        }
      }
    }
    // Trigger bursts go out at once; the rest rides the next flush.
    await nc.flush();
    if (sent.length > 0) post({ kind: 'triggers', sent: sent.splice(0) });
    const wait = tickMs - (performance.now() - now);
    if (wait > 0) await sleep(wait);
  }
  await nc.flush();
  post({ kind: 'done', worker: job.workload.worker, published, firstDayEvents: 0, byType, ms: performance.now() - started });
}
await nc.close();
