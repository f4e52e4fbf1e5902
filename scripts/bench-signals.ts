// Per-event cost of the live signals with the real purchase model: `npx tsx scripts/bench-signals.ts`.
// Customers send engagement, touch and purchase events in event-time order through one Pipeline (in-memory outputs,
// no I/O); prints the mean time per handled event and how often each part of the model ran. Two workloads:
// `spread`, every customer's events far apart (almost every event writes a snapshot: the worst case), and
// `sessions`, visits of 3 to 12 events a few seconds apart (as traffic arrives). Deterministic (seeded), so runs
// before and after a change compare; BENCH_WORKLOAD=spread|sessions runs one.
import { parseConfig } from '../src/config/load.js';
import type { PipelineOutputs } from '../src/contract/outputs.js';
import { MemoryAlertStore } from '../src/alerts/alertStore.js';
import { ManualClock } from '../src/shared/clock.js';
import { Pipeline } from '../src/pipeline.js';
import { configuredPurchaseModel } from '../src/signals/purchaseModel.js';
import { liveEngagementTrend } from '../src/signals/models/trend.js';
import type { PurchaseModel } from '../src/signals/churn.js';

const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 20_000);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 300_000);
const DAYS = 60;
const NOW = Date.parse('2026-11-23T12:00:00Z');
const enc = new TextEncoder();

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TYPES: [string, number][] = [
  ['page_view', 0.45],
  ['click', 0.15],
  ['session_start', 0.1],
  ['email_sent', 0.1],
  ['email_open', 0.08],
  ['purchase', 0.1],
  ['add_to_cart', 0.02],
];

function pickType(random: () => number): string {
  let u = random();
  for (const [t, p] of TYPES) {
    if (u < p) return t;
    u -= p;
  }
  return TYPES[0][0];
}

/** Visits: a customer sends 3 to 12 events 2 to 30 s apart; visits start uniformly over DAYS days. */
function sessions(seed: number): { subject: string; data: Uint8Array }[] {
  const random = rng(seed);
  const start = NOW - DAYS * 86_400_000;
  const events: { ts: number; body: Record<string, unknown> }[] = [];
  let i = 0;
  while (events.length < EVENTS) {
    const customer = Math.floor(CUSTOMERS * random() ** 2);
    let ts = Math.round(start + random() * (DAYS * 86_400_000 - 3_600_000));
    const n = 3 + Math.floor(random() * 10);
    for (let k = 0; k < n && events.length < EVENTS; k++) {
      const type = k === n - 1 && random() < 0.3 ? 'purchase' : pickType(random);
      events.push({ ts, body: { id: `s${i++}`, customerId: `c${customer}`, type, ts, channel: 'web', value: type === 'purchase' ? Math.round(20 + 80 * random()) : undefined } });
      ts += 2_000 + Math.floor(random() * 28_000);
    }
  }
  events.sort((a, b) => a.ts - b.ts);
  return events.map((e) => ({ subject: `events.${e.body.type as string}`, data: enc.encode(JSON.stringify(e.body)) }));
}

/** Encoded messages in event-time order over the last DAYS days, one customer's events far apart. */
function spread(seed: number): { subject: string; data: Uint8Array }[] {
  const random = rng(seed);
  const start = NOW - DAYS * 86_400_000;
  const step = (DAYS * 86_400_000 - 60_000) / EVENTS;
  const out: { subject: string; data: Uint8Array }[] = [];
  for (let i = 0; i < EVENTS; i++) {
    const type = pickType(random);
    // a skewed population: some customers are far busier than others
    const customer = Math.floor(CUSTOMERS * random() ** 2);
    const ev = { id: `e${i}`, customerId: `c${customer}`, type, ts: Math.round(start + i * step), channel: 'web', value: type === 'purchase' ? Math.round(20 + 80 * random()) : undefined };
    out.push({ subject: `events.${type}`, data: enc.encode(JSON.stringify(ev)) });
  }
  return out;
}

class CountingOutputs implements PipelineOutputs {
  snapshots = 0;
  event(): void {}
  customerActivity(): void {}
  entityActivity(): void {}
  signals(): void {
    this.snapshots++;
  }
  alert(): void {}
  rejected(): void {}
}

/** Wraps the model to count how often each part runs and the time spent in it. */
function counted(model: PurchaseModel): PurchaseModel & { calls: { pAlive: number; expected: number; value: number }; ns: { value: bigint } } {
  const calls = { pAlive: 0, expected: 0, value: 0 };
  const ns = { value: 0n };
  const timed = <T>(f: () => T): T => {
    const t0 = process.hrtime.bigint();
    const r = f();
    ns.value += process.hrtime.bigint() - t0;
    return r;
  };
  return {
    name: model.name,
    calls,
    ns,
    pAlive: (x, tx, T) => (calls.pAlive++, timed(() => model.pAlive(x, tx, T))),
    expectedPurchases: (t, x, tx, T) => (calls.expected++, timed(() => model.expectedPurchases(t, x, tx, T))),
    customerValue: (x, tx, T, m) => (calls.value++, timed(() => model.customerValue(x, tx, T, m))),
  };
}

interface RunResult {
  /** Wall time per event. */
  usPerEvent: number;
  /** This process's CPU time (user + system) per event: less moved by other processes on a busy machine. */
  cpuUsPerEvent: number;
  /** Time inside the purchase model per event. */
  modelUsPerEvent: number;
  calls: Record<string, number>;
  snapshots: number;
}

function run(messages: { subject: string; data: Uint8Array }[]): RunResult {
  const config = parseConfig({ log: { level: 'silent' } });
  const outputs = new CountingOutputs();
  const model = counted(configuredPurchaseModel(config.signals.model));
  const pipeline = new Pipeline({ config, clock: new ManualClock(NOW), outputs, model, trend: liveEngagementTrend, alertStore: new MemoryAlertStore() });
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < messages.length; i++) {
    pipeline.handle({ subject: messages[i].subject, data: messages[i].data, streamSeq: i + 1, receivedAt: NOW });
    if (i % 20_000 === 0) pipeline.drainActivity(NOW);
  }
  const ns = Number(process.hrtime.bigint() - t0);
  const cpu = process.cpuUsage(cpu0);
  const n = messages.length;
  return {
    usPerEvent: ns / 1000 / n,
    cpuUsPerEvent: (cpu.user + cpu.system) / n,
    modelUsPerEvent: Number(model.ns.value) / 1000 / n,
    calls: model.calls,
    snapshots: outputs.snapshots,
  };
}

const which = process.env.BENCH_WORKLOAD;
for (const [name, make] of [['spread', spread], ['sessions', sessions]] as const) {
  if (which && which !== name) continue;
  const messages = make(7);
  run(messages.slice(0, 20_000)); // warm-up
  const runs = Array.from({ length: Number(process.env.BENCH_RUNS ?? 5) }, () => run(messages));
  const median = (pick: (r: RunResult) => number) => Number(runs.map(pick).sort((a, b) => a - b)[Math.floor(runs.length / 2)].toFixed(2));
  console.log(
    JSON.stringify({
      workload: name,
      customers: CUSTOMERS,
      events: messages.length,
      usPerEvent: median((r) => r.usPerEvent),
      cpuUsPerEvent: median((r) => r.cpuUsPerEvent),
      modelUsPerEvent: median((r) => r.modelUsPerEvent),
      modelCallsPerRun: runs[0].calls,
      snapshotsPerRun: runs[0].snapshots,
    }),
  );
}
