// The suppression bucket's rebuild at a start, on a real NATS: the checkpoint of bench/restoreCost.ts restored, every
// customer rechecked (the set a long run holds), the bucket written (`make`); then, in a fresh process, the
// checkpoint restored again and the bucket opened as the processor opens it after its replay, timed to the open's
// return and to the rebuild's end (`load`). Needs `restoreCost.ts make` first.
//
//   node --max-old-space-size=8000 --import tsx bench/bucketRebuild.ts make
//   node --max-old-space-size=8000 --import tsx bench/bucketRebuild.ts load
import { readFileSync } from 'node:fs';
import { connect } from 'nats';
import { openSuppressionBucket } from '../src/budget/suppressionBucket.js';
import { loadSource } from './source.js';

const BUCKET = 'vigil_bench_rebuild';
const { parseConfig, quietPipeline, createLogger } = await loadSource();
const END = Date.parse('2026-11-23T12:00:00Z');
const config = parseConfig({ log: { level: 'silent' }, windows: { maxCustomers: 1_100_000 }, budget: { bucket: BUCKET } });
const log = createLogger('warn');
const nc = await connect({ servers: process.env.NATS_URL ?? '127.0.0.1:4222' });
const stored = new Uint8Array(readFileSync(new URL('./results/tmp/restore-checkpoint.bin', import.meta.url)));
const pipeline = quietPipeline(config, { now: () => END });
pipeline.restore(stored);
const mode = process.argv[2];
if (mode === 'make') {
  await (await nc.jetstreamManager()).streams.delete(`KV_${BUCKET}`).catch(() => undefined);
  for (const [id] of pipeline.windows.entries()) pipeline.budget.recheck(id);
  const bucket = await openSuppressionBucket(nc, config.budget, pipeline.budget, log);
  await bucket.flush();
  await bucket.stop();
  const info = await (await nc.jetstreamManager()).streams.info(`KV_${BUCKET}`);
  console.log(JSON.stringify({ suppressed: pipeline.budget.suppressedCount, keys: info.state.messages }));
} else if (mode === 'load') {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const bucket = await openSuppressionBucket(nc, config.budget, pipeline.budget, log);
  const opened = performance.now();
  // Before this change the open did all of it and the bucket had no `rebuilt`: then flush is what is left.
  await (bucket as { rebuilt?: Promise<void> }).rebuilt;
  await bucket.flush();
  const cpu = process.cpuUsage(cpu0);
  console.log(JSON.stringify({ openMs: Math.round(opened - t0), doneMs: Math.round(performance.now() - t0), cpuMs: Math.round((cpu.user + cpu.system) / 1000), suppressed: pipeline.budget.suppressedCount }));
  await bucket.stop();
} else {
  console.error('usage: bucketRebuild.ts make | load');
  process.exit(2);
}
await nc.close();
