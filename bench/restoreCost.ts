// What a restart's restore costs, without the processor around it: a checkpoint of the bench's workload (7 days,
// every minute's activity drained as the commits drain it), stored packed as the processor stores it; then, in a
// fresh process each time (a restore's cost depends on the heap it lands in), inflate and Pipeline.restore timed.
// Run `make` once, then `load` from each tree compared (alternately: the machine is shared). `pack` is the other end,
// what each checkpoint costs while the processor runs: the same blob deflated as a checkpoint is stored, its CPU on
// every thread (the deflate runs on libuv's thread pool) and its wall time.
//
//   node --max-old-space-size=8000 --import tsx bench/restoreCost.ts make [customers=1000000]
//   node --max-old-space-size=8000 --import tsx bench/restoreCost.ts load [rounds=1]
//   node --max-old-space-size=8000 --import tsx bench/restoreCost.ts pack [rounds=3]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { InboundMessage } from '../src/contract/pipeline.js';
import { packSnapshot, unpackSnapshot } from '../src/shared/snapshotCodec.js';
import { loadSource } from './source.js';
import { WorkloadGenerator } from './workload.js';

const dir = new URL('./results/tmp/', import.meta.url);
const file = new URL('restore-checkpoint.bin', dir);
const [mode, arg] = process.argv.slice(2);
const { parseConfig, quietPipeline } = await loadSource();
const END = Date.parse('2026-11-23T12:00:00Z');
const config = parseConfig({ log: { level: 'silent' }, windows: { maxCustomers: 1_100_000 } });

if (mode === 'make') {
  const customers = Number(arg ?? 1_000_000);
  const pipeline = quietPipeline(config, { now: () => END });
  const enc = new TextEncoder();
  const gen = new WorkloadGenerator({ customers, bodyEvents: customers * 4, days: 7, endTs: END, seed: 5, worker: 0, workers: 1 });
  let seq = 0;
  for (let minute = gen.firstMin; minute <= gen.lastMin; minute++) {
    for (const ev of gen.minute(minute)) {
      const m: InboundMessage = { subject: `events.${ev.type}`, data: enc.encode(JSON.stringify(ev)), streamSeq: ++seq, receivedAt: END };
      pipeline.handle(m);
      if (seq % 500 === 0) pipeline.derive(END);
      if (seq % 20_000 === 0) pipeline.drainActivity(END);
    }
  }
  pipeline.drainActivity(END);
  const blob = pipeline.checkpoint(seq);
  const packed = await packSnapshot(blob);
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, packed.bytes);
  console.log(JSON.stringify({ customers: pipeline.windows.size, events: seq, plainMB: Math.round(blob.byteLength / 1e6), packedMB: Math.round(packed.bytes.byteLength / 1e6), file: file.pathname }));
} else if (mode === 'load') {
  const stored = new Uint8Array(readFileSync(file));
  for (let round = 0; round < Number(arg ?? 1); round++) {
    const pipeline = quietPipeline(config, { now: () => END });
    const t0 = performance.now();
    const blob = unpackSnapshot(stored);
    const t1 = performance.now();
    pipeline.restore(blob);
    const t2 = performance.now();
    console.log(JSON.stringify({ round, inflateMs: Math.round(t1 - t0), restoreMs: Math.round(t2 - t1), totalMs: Math.round(t2 - t0), customers: pipeline.windows.size }));
  }
} else if (mode === 'pack') {
  const blob = unpackSnapshot(new Uint8Array(readFileSync(file)));
  for (let round = 0; round < Number(arg ?? 3); round++) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const packed = await packSnapshot(blob);
    const cpu = process.cpuUsage(cpu0);
    console.log(JSON.stringify({ round, plainMB: Math.round(blob.byteLength / 1e6), packedMB: Math.round(packed.bytes.byteLength / 1e6), wallMs: Math.round(performance.now() - t0), cpuMs: Math.round((cpu.user + cpu.system) / 1000) }));
  }
} else {
  console.error('usage: restoreCost.ts make [customers] | load [rounds] | pack [rounds]');
  process.exit(2);
}
