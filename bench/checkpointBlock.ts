// How long a checkpoint holds the event loop: the synchronous part (derive, owed rows, the state into one blob) that
// runs between two batches of events, with the blob written into fresh memory against into a reused buffer
// (BlobBuffer), alternately in one run, so the ratio stands on a noisy machine. Wall time, as the event loop feels it.
//
//   node --expose-gc --import tsx bench/checkpointBlock.ts [customers=1000000] [rounds=6]
import type { InboundMessage } from '../src/contract/pipeline.js';
import { BlobBuffer } from '../src/shared/snapshotCodec.js';
import { WorkloadGenerator } from './workload.js';
import { loadSource } from './source.js';

const customers = Number(process.argv[2] ?? 1_000_000);
const rounds = Number(process.argv[3] ?? 6);
const { parseConfig, quietPipeline } = await loadSource();
const enc = new TextEncoder();

const END = Date.parse('2026-11-23T12:00:00Z');
const gen = new WorkloadGenerator({ customers, bodyEvents: customers * 2, days: 2, endTs: END, seed: 5, worker: 0, workers: 1 });
const config = parseConfig({ log: { level: 'silent' }, windows: { maxCustomers: Math.max(customers, 10) } });
const pipeline = quietPipeline(config, { now: () => END });
let seq = 0;
const feed = (minute: number): void => {
  for (const ev of gen.minute(minute)) {
    const m: InboundMessage = { subject: `events.${ev.type}`, data: enc.encode(JSON.stringify(ev)), streamSeq: ++seq, receivedAt: END };
    pipeline.handle(m);
    if (seq % 500 === 0) pipeline.derive(END);
  }
};
// The first day puts every customer in state; each round then handles a few minutes of the next before its checkpoint.
let minute = gen.firstMin;
for (; minute < gen.firstMin + 1440; minute++) feed(minute);
pipeline.drainActivity(END);
const gc = (globalThis as { gc?: () => void }).gc;
const buffer = new BlobBuffer();
const times: Record<'fresh' | 'reused', number[]> = { fresh: [], reused: [] };
let bytes = 0;
for (let r = 0; r < rounds * 2; r++) {
  for (let k = 0; k < 10; k++) feed(minute++);
  pipeline.drainActivity(END);
  gc?.();
  const kind = r % 2 === 0 ? 'fresh' : 'reused';
  const t0 = performance.now();
  const blob = kind === 'reused' ? pipeline.checkpoint(seq, buffer) : pipeline.checkpoint(seq);
  times[kind].push(performance.now() - t0);
  bytes = blob.byteLength;
  if (kind === 'reused') buffer.release(blob);
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const r1 = (v: number) => Math.round(v * 10) / 10;
console.log(JSON.stringify({ customers: pipeline.windows.size, blobMB: r1(bytes / 1e6), freshMsMedian: r1(median(times.fresh)), reusedMsMedian: r1(median(times.reused)), ratio: r1(median(times.fresh) / median(times.reused)), fresh: times.fresh.map(r1), reused: times.reused.map(r1) }));
