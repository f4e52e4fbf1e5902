// The two baselines, each a bare durable consumer of the benchmark stream with the processor's own settings
// (AckPolicy.All, fetch batch, max ack pending), run as a child process: `ceiling` only decodes and parses every
// event and acknowledges each batch; `redis` is the sliding window most teams write first, one sorted set per
// customer and window (5 min, 1 h, 24 h, 7 days) kept with ZADD + ZREMRANGEBYSCORE + ZCARD, pipelined per batch.
//
//   node --import tsx bench/baselineConsumer.ts ceiling|redis   (settings in VIGIL_BENCH_BASELINE as JSON)
// Prints one JSON line: events, ms, events per second, CPU share of this process.
import { AckPolicy, DeliverPolicy, connect, nanos, type ConsumerMessages, type JsMsg } from 'nats';
import { Redis } from 'ioredis';

export interface BaselineSettings {
  servers: string;
  stream: string;
  subjectPrefix: string;
  consumer: string;
  fetchBatch: number;
  maxAckPending: number;
  ackWaitMs: number;
  /** First and last stream sequence to consume. */
  from: number;
  to: number;
  /** Stop earlier after this long (the Redis baseline is slow enough to be sampled). */
  maxMs: number;
  redisUrl?: string;
  redisPrefix?: string;
}

const WINDOWS: [string, number][] = [
  ['5m', 5 * 60_000],
  ['1h', 3_600_000],
  ['24h', 86_400_000],
  ['7d', 7 * 86_400_000],
];

const mode = process.argv[2];
const s = JSON.parse(process.env.VIGIL_BENCH_BASELINE!) as BaselineSettings;
const utf8 = new TextDecoder('utf-8', { fatal: true });
const nc = await connect({ servers: s.servers, name: `vigil-bench-${mode}` });
const jsm = await nc.jetstreamManager();
await jsm.consumers.add(s.stream, {
  durable_name: s.consumer,
  ack_policy: AckPolicy.All,
  deliver_policy: DeliverPolicy.StartSequence,
  opt_start_seq: s.from,
  ack_wait: nanos(s.ackWaitMs),
  max_ack_pending: s.maxAckPending,
  filter_subject: `${s.subjectPrefix}.>`,
});
const consumer = await nc.jetstream().consumers.get(s.stream, s.consumer);
const redis = mode === 'redis' ? new Redis(s.redisUrl!) : null;
let pipeline = redis?.pipeline() ?? null;
let inBatch = 0;

let n = 0;
let t0 = 0;
let cpu0 = process.cpuUsage();
let last = 0;
/** One message decoded, parsed and (redis) queued; true when it is the last one to take. */
const take = (m: JsMsg): { ev: { id: string; customerId: string; ts: number }; done: boolean } => {
  if (n === 0) {
    t0 = performance.now();
    cpu0 = process.cpuUsage();
  }
  const ev = JSON.parse(utf8.decode(m.data)) as { id: string; customerId: string; ts: number };
  n++;
  last = m.seq;
  return { ev, done: m.seq >= s.to || performance.now() - t0 > s.maxMs };
};
let messages: ConsumerMessages;
if (!redis) {
  // The ceiling takes messages from nats.js's callback, as the processor's consumer does (src/sources/intake.ts): the
  // async iterator costs a few promises per message that neither needs.
  let finish!: () => void;
  let over = false;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  messages = await consumer.consume({
    max_messages: s.fetchBatch,
    callback: (m) => {
      if (over) return;
      const { done } = take(m);
      // One acknowledgement per batch (AckPolicy.All).
      if (++inBatch >= s.fetchBatch || done) {
        m.ack();
        inBatch = 0;
      }
      if (done) {
        over = true;
        finish();
      }
    },
  });
  await finished;
} else {
  messages = await consumer.consume({ max_messages: s.fetchBatch });
  for await (const m of messages) {
    const { ev, done } = take(m);
    for (const [name, width] of WINDOWS) {
      const key = `${s.redisPrefix}${ev.customerId}:${name}`;
      pipeline!.zadd(key, ev.ts, ev.id);
      pipeline!.zremrangebyscore(key, '-inf', ev.ts - width);
      pipeline!.zcard(key);
    }
    if (++inBatch >= s.fetchBatch || done) {
      // One round trip for the batch's commands, then one acknowledgement for the whole batch (AckPolicy.All).
      await pipeline!.exec();
      pipeline = redis.pipeline();
      m.ack();
      inBatch = 0;
    }
    if (done) break;
  }
}
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
messages.stop();
await jsm.consumers.delete(s.stream, s.consumer).catch(() => undefined);
redis?.disconnect();
await nc.close();
console.log(
  JSON.stringify({
    mode,
    from: s.from,
    last,
    events: n,
    ms: Math.round(ms),
    eventsPerSec: Math.round((n * 1000) / ms),
    cpu: Math.round(((cpu.user + cpu.system) / 1000 / ms) * 100) / 100,
  }),
);
