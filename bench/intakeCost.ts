// What taking a consumer's messages costs per message, before the pipeline sees them: nats.js's async iterator
// (`for await`, the processor's consumer until 2026-12-07) against its consume callback feeding SlicedIntake
// (src/sources/intake.ts), each over the same messages of one stream, alternately, with a handler that does what the
// source does with a message besides the pipeline (its stream sequence, the inbound object). CPU of this process per
// message while a round runs; the median of the rounds for each.
//
//   node --import tsx bench/intakeCost.ts [messages=300000] [rounds=3]
import { randomBytes } from 'node:crypto';
import { AckPolicy, DeliverPolicy, connect, nanos, type JsMsg } from 'nats';
import type { InboundMessage } from '../src/contract/pipeline.js';
import { systemClock } from '../src/shared/clock.js';
import { SLICE_MS } from '../src/shared/slices.js';
import { streamSeqOf } from '../src/sources/ackSubject.js';
import { SlicedIntake } from '../src/sources/intake.js';
import { NATS } from './harness.js';

const total = Number(process.argv[2] ?? 300_000);
const rounds = Number(process.argv[3] ?? 3);
const tag = randomBytes(3).toString('hex');
const stream = `INTAKE_${tag}`;
const nc = await connect({ servers: NATS, name: 'vigil-bench-intake' });
const jsm = await nc.jetstreamManager();
await jsm.streams.add({ name: stream, subjects: [`intake${tag}.>`] });
const js = nc.jetstream();
// An event of the benchmark's size (~300 bytes), published in windows of 2,000 unawaited acks.
const body = new TextEncoder().encode(JSON.stringify({ id: 'e'.repeat(36), customerId: 'customer-123456', type: 'email_open', ts: 1_790_000_000_000, channel: 'email', campaignId: 'campaign-42', props: { subject: 'x'.repeat(120) } }));
for (let i = 0; i < total; i += 2_000) {
  const acks = [];
  for (let k = i; k < Math.min(total, i + 2_000); k++) acks.push(js.publish(`intake${tag}.email_open`, body));
  await Promise.all(acks);
}

let sink = 0;
const handle = (m: InboundMessage) => {
  sink += m.streamSeq + m.data.byteLength;
};

async function consumerFor(name: string) {
  await jsm.consumers.add(stream, { durable_name: name, ack_policy: AckPolicy.All, deliver_policy: DeliverPolicy.All, ack_wait: nanos(60_000), max_ack_pending: 20_000 });
  return js.consumers.get(stream, name);
}

/** CPU µs per message over one pass of the stream. */
async function round(kind: 'iterator' | 'callback', r: number): Promise<number> {
  const consumer = await consumerFor(`${kind}-${r}`);
  let n = 0;
  const t0 = process.cpuUsage();
  const take = (m: JsMsg) => {
    handle({ subject: m.subject, data: m.data, streamSeq: streamSeqOf(m), receivedAt: Date.now() });
    // One acknowledgement per 1,000 (AckPolicy.All), as a checkpoint would, so the window stays open.
    if (++n % 1_000 === 0) m.ack();
    return n < total;
  };
  if (kind === 'iterator') {
    const messages = await consumer.consume({ max_messages: 1_000 });
    let sliceStart = performance.now();
    for await (const m of messages) {
      if (performance.now() - sliceStart >= SLICE_MS) {
        await new Promise((r) => setImmediate(r));
        sliceStart = performance.now();
      }
      if (!take(m)) break;
    }
    messages.stop();
  } else {
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const intake = new SlicedIntake({
      take: (m) => take(m) || (finish(), false),
      backpressure: () => false,
      recheckMs: 50,
      clock: systemClock,
      sliceMs: SLICE_MS,
      onError: (err) => console.error(err),
    });
    const messages = await consumer.consume({ max_messages: 1_000, callback: intake.push });
    await finished;
    messages.stop();
  }
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / n;
}

const results: Record<'iterator' | 'callback', number[]> = { iterator: [], callback: [] };
for (let r = 0; r < rounds; r++) {
  for (const kind of ['iterator', 'callback'] as const) results[kind].push(await round(kind, r));
}
await jsm.streams.delete(stream);
await nc.close();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const it = median(results.iterator);
const cb = median(results.callback);
console.log(`${total.toLocaleString('en')} messages, ${rounds} rounds each, alternately (sink ${sink % 10})`);
console.log(`iterator (for await):       ${it.toFixed(2)} µs of CPU per message  (rounds ${results.iterator.map((x) => x.toFixed(2)).join(', ')})`);
console.log(`callback + SlicedIntake:    ${cb.toFixed(2)} µs of CPU per message  (rounds ${results.callback.map((x) => x.toFixed(2)).join(', ')})`);
console.log(`callback / iterator: ${(cb / it).toFixed(3)}`);
