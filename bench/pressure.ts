// Contact-budget benchmark: the processor's throughput on a stream without checks, then the same stream while a
// sender asks `vigil.pressure.check` one customer at a time over NATS; checks per second and their p99, one run.
//   npx tsx bench/pressure.ts [--events 200000] [--customers 20000] [--concurrency 32]
// Needs NATS, Redis and ClickHouse on 127.0.0.1 (bash scripts/services.sh). The sender runs in this process too.
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { connect, type NatsConnection } from 'nats';
import { parseConfig } from '../src/config/load.js';
import { startProcessor } from '../src/runtime/processor.js';
import { silentLogger } from '../src/shared/logger.js';
import { Population, type SimEvent } from '../src/simulate/population.js';

const { values } = parseArgs({ options: { events: { type: 'string', default: '200000' }, customers: { type: 'string', default: '20000' }, concurrency: { type: 'string', default: '32' } } });
const EVENTS = Number(values.events);
const CUSTOMERS = Number(values.customers);
const CONCURRENCY = Number(values.concurrency);
const enc = new TextEncoder();
const tag = randomBytes(3).toString('hex');
const config = parseConfig({
  nats: { stream: `BENCH_P${tag}`, subjectPrefix: `bp${tag}.events`, consumer: `bench_p${tag}` },
  clickhouse: { database: `vigil_bench_${tag}` },
  redis: { keyPrefix: `vigil_bp${tag}:` },
  budget: { subject: `bp${tag}.pressure`, bucket: `bench_supp_${tag}` },
  wall: { port: 0, host: '127.0.0.1' },
  log: { level: 'silent' },
});

function stream(n: number): SimEvent[] {
  const pop = new Population({ customers: CUSTOMERS, seed: 7, faderShare: 0.2 });
  const out: SimEvent[] = [];
  while (out.length < n) for (const e of pop.day(Date.now() - 86_400_000)) out.push(e);
  return out.slice(0, n);
}

async function publish(nc: NatsConnection, events: SimEvent[], offset: number): Promise<void> {
  const now = Date.now();
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    nc.publish(`${config.nats.subjectPrefix}.${e.type}`, enc.encode(JSON.stringify({ ...e, id: `${e.id}-${offset}`, ts: now })));
    if (i % 5_000 === 0) await nc.flush();
  }
  await nc.flush();
}

const nc = await connect({ servers: config.nats.servers });
const proc = await startProcessor({ config, logger: silentLogger });
const events = stream(EVENTS);
const ids = [...new Set(events.map((e) => e.customerId))];

async function phase(offset: number, withChecks: boolean) {
  const base = proc.pipeline.counts.processed;
  let stop = false;
  const latencies: number[] = [];
  const checker = async () => {
    let i = Math.floor(Math.random() * ids.length);
    while (!stop) {
      const body = enc.encode(JSON.stringify({ customerId: ids[i++ % ids.length], channel: 'email', campaignId: 'bench' }));
      const t = performance.now();
      await nc.request(`${config.budget.subject}.check`, body, { timeout: 10_000 });
      latencies.push(performance.now() - t);
    }
  };
  const started = performance.now();
  const checkers = withChecks ? Array.from({ length: CONCURRENCY }, checker) : [];
  await publish(nc, events, offset);
  while (proc.pipeline.counts.processed + proc.pipeline.counts.duplicate - base < events.length) await new Promise((r) => setTimeout(r, 20));
  const seconds = (performance.now() - started) / 1000;
  stop = true;
  await Promise.all(checkers);
  latencies.sort((a, b) => a - b);
  const q = (p: number) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] : 0);
  return { eventsPerSec: Math.round(events.length / seconds), checksPerSec: Math.round(latencies.length / seconds), checks: latencies.length, p50Ms: +q(0.5).toFixed(2), p99Ms: +q(0.99).toFixed(2) };
}

// A warm-up pass fills live state, so both measured phases see the same customers.
await phase(0, false);
const without = await phase(1, false);
const withChecks = await phase(2, true);
const result = {
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version },
  events: EVENTS,
  customers: ids.length,
  concurrency: CONCURRENCY,
  withoutChecks: { eventsPerSec: without.eventsPerSec },
  withChecks,
  throughputRatio: +(withChecks.eventsPerSec / without.eventsPerSec).toFixed(2),
};
console.log(JSON.stringify(result, null, 2));
await proc.stop();
const jsm = await nc.jetstreamManager();
await jsm.streams.delete(config.nats.stream).catch(() => undefined);
await jsm.streams.delete(`KV_${config.budget.bucket}`).catch(() => undefined);
await fetch('http://127.0.0.1:8123/', { method: 'POST', body: `DROP DATABASE IF EXISTS ${config.clickhouse.database}` });
await nc.close();
process.exit(0);
