// `npm run bench:refit`: what the processor's scheduled refit costs (issue 17: 1,000,000 customers refit within a
// minute, while the processor keeps its throughput within 10 % of without). Simulated purchase histories
// (bench/refitData.ts) go into a scratch database migrated as the processor migrates its own; the refit then runs
// alone, in its worker thread as the schedule starts it (src/sources/modelRefit.ts runRefitWorker: fitFromClickHouse
// with holdout comparison and segments as configured by default), with the time of each step; then the processor of
// `npm run bench` takes a backlog in windows that alternate without and with refits beside it, W R W R … W, each R
// against the mean of its two neighbours (bench/refitThroughput.ts, whose header describes the method and the JSON).
// The scratch database, the stream and everything else the run made are removed at the end.
//
//   npm run bench:refit                                         1,000,000 customers refit; the processor with 250,000
//   npm run bench:refit -- --customers 10000 --processor-customers 50000 --window-s 15 --pairs 2   a small run
//   options: --customers N (refit)  --processor-customers N  --window-s S (every window; least of the first with)
//            --pairs N (3: windows W R W R W R W)  --max-events N (second backlog, 40,000,000)  --workers 2 (publishers)
//            --seed N  --refit-only (no processor)  --keep (the database)  --refit-threads 1|2  --busy-duty D (signals.model.refit.*)
// Results: bench/results/<date>-refit-cost.json and latest-refit-cost.json (with the machine's facts), and stdout.
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { parseConfig } from '../src/config/load.js';
import { runRefitWorker, type RefitJob, type RefitOutcome } from '../src/sources/modelRefit.js';
import { createClickHouseClient } from '../src/sinks/clickhouse/client.js';
import { migrate } from '../src/sinks/clickhouse/migrate.js';
import { CLICKHOUSE, root, round, say } from './harness.js';
import { machineFacts } from './machine.js';
import { loadPurchaseHistories } from './refitData.js';
import { measureThroughput, stepDurations, type ThroughputResult } from './refitThroughput.js';

const { values: args } = parseArgs({
  options: {
    customers: { type: 'string', default: '1000000' },
    'processor-customers': { type: 'string', default: '250000' },
    'window-s': { type: 'string', default: '60' },
    pairs: { type: 'string', default: '3' },
    // Enough for the default run: about 40,000 events/s × (6 windows × 60 s + a first refit sized at about 360 s,
    // see refitThroughput.ts) × 1.2 is about 35 million; publishing 26.6 million took 114 s on this machine.
    'max-events': { type: 'string', default: '40000000' },
    workers: { type: 'string', default: '2' },
    seed: { type: 'string', default: '17' },
    'refit-only': { type: 'boolean', default: false },
    /** signals.model.refit.threads for this run (default: the config's default). */
    'refit-threads': { type: 'string' },
    /** signals.model.refit.busyDuty for this run (default: the config's default). */
    'busy-duty': { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const customers = Number(args.customers);
// A pair needs a whole window each side: anything but a positive count of pairs and a positive length is a typo.
if (!Number.isInteger(Number(args.pairs)) || Number(args.pairs) < 1) throw new Error(`--pairs ${args.pairs}: expected a whole number from 1`);
if (!(Number(args['window-s']) > 0)) throw new Error(`--window-s ${args['window-s']}: expected a length in seconds above 0`);
const resultsDir = `${root}bench/results/`;

async function main(): Promise<void> {
  const facts = machineFacts(root, 'tsx');
  const database = `vigil_refitbench_${randomBytes(3).toString('hex')}`;
  // Defaults everywhere but the connection: the refit as the processor runs it (signals.model.refit).
  const refitOverrides = {
    ...(args['refit-threads'] === undefined ? {} : { threads: Number(args['refit-threads']) }),
    ...(args['busy-duty'] === undefined ? {} : { busyDuty: Number(args['busy-duty']) }),
  };
  const config = parseConfig({ clickhouse: { url: CLICKHOUSE, database, requestTimeoutMs: 0 }, signals: { model: { refit: refitOverrides } } });
  const refit = config.signals.model.refit;
  const ch = createClickHouseClient(config.clickhouse);
  try {
    say(`refit bench: ${customers.toLocaleString('en')} customers' purchase histories into ${database}`);
    await migrate(ch, { database });
    const loaded = await loadPurchaseHistories(ch, {
      customers,
      nowMs: Date.now(),
      seed: Number(args.seed),
      onBatch: (done) => done > 0 && done % 500_000 === 0 && say(`  ${done.toLocaleString('en')} customers in`),
    });
    say(`loaded ${loaded.purchases.toLocaleString('en')} purchases in ${(loaded.ms / 1000).toFixed(1)} s (${Math.round((loaded.purchases * 1000) / loaded.ms).toLocaleString('en')} rows/s)`);
    // Merged, as a table that has been written to for a while is: FINAL then reads few overlapping parts.
    const t0 = performance.now();
    await ch.command(`OPTIMIZE TABLE ${database}.events FINAL`);
    await ch.command(`OPTIMIZE TABLE ${database}.customer_segments FINAL`);
    const optimizeMs = Math.round(performance.now() - t0);
    say(`merged in ${(optimizeMs / 1000).toFixed(1)} s`);

    // The refit alone: nothing else of the bench runs.
    const job: RefitJob = { clickhouse: config.clickhouse, asOfMs: Date.now(), minCustomers: refit.minCustomers, minSegmentBuyers: refit.minSegmentBuyers, nice: refit.nice, threads: refit.threads, clickhouseThreads: refit.clickhouseThreads, busyDuty: refit.busyDuty, progress: true };
    const loadBefore = loadavg()[0];
    const steps: { step: string; ms: number }[] = [];
    const start = performance.now();
    const outcome: RefitOutcome = await runRefitWorker(job, (p) => {
      steps.push({ step: p.progress, ms: Math.round(p.ms) });
      say(`  ${(p.ms / 1000).toFixed(1)} s ${p.progress}`);
    }).outcome;
    const aloneMs = Math.round(performance.now() - start);
    if (!outcome.ok) throw new Error(`the refit failed: ${outcome.error}`);
    say(`refit alone: ${(aloneMs / 1000).toFixed(1)} s (${outcome.model}, chosen ${outcome.chosen ?? 'none'}, segments ${outcome.segments.join(', ') || 'none'})`);
    const alone = {
      ms: aloneMs,
      loadAverageBefore: round(loadBefore, 2),
      steps: stepDurations(steps),
      model: outcome.model,
      chosen: outcome.chosen,
      segments: outcome.segments,
      converged: outcome.next.converged,
      params: outcome.next.params,
      priority: outcome.priority,
    };

    let throughput: ThroughputResult | null = null;
    if (!args['refit-only']) {
      throughput = await measureThroughput({
        job,
        refitAloneMs: aloneMs,
        customers: Number(args['processor-customers']),
        windowS: Number(args['window-s']),
        pairs: Number(args.pairs),
        workers: Number(args.workers),
        maxEvents: Number(args['max-events']),
      });
      const t = throughput;
      say(
        `processor with refits against without, per pair: ${t.pairs.map((q) => q.ratio).join(', ')}; median ${t.ratio} (mean ${t.ratioMean}, ${t.ratioMin} to ${t.ratioMax}, ` +
          `${t.pairsInRatio} of ${t.pairs.length} pairs); the first refit beside it ${(t.concurrentRefitMs / 1000).toFixed(1)} s (nice ${t.refitThreadNice})` +
          (t.windows.some((w) => w.backlogRanOut) ? '; a backlog ran out within a window (see backlogRanOut): raise --max-events or shorten --window-s' : ''),
      );
    }
    const result = {
      bench: 'refit-cost',
      machine: facts,
      command: `npm run bench:refit -- ${process.argv.slice(2).join(' ')}`.trim(),
      refitConfig: { minCustomers: refit.minCustomers, minSegmentBuyers: refit.minSegmentBuyers, nice: refit.nice, threads: refit.threads, clickhouseThreads: refit.clickhouseThreads, busyDuty: refit.busyDuty },
      load: { ...loaded, rowsPerSec: Math.round((loaded.purchases * 1000) / loaded.ms), optimizeMs },
      alone,
      throughput,
    };
    mkdirSync(resultsDir, { recursive: true });
    const json = `${JSON.stringify(result, null, 2)}\n`;
    writeFileSync(`${resultsDir}${facts.date.slice(0, 16).replace(/[:T]/g, '-')}-refit-cost.json`, json);
    writeFileSync(`${resultsDir}latest-refit-cost.json`, json);
    process.stdout.write(json);
  } finally {
    if (args.keep) say(`kept ${database}`);
    else await ch.command(`DROP DATABASE IF EXISTS ${database}`).catch((err: unknown) => say(`could not drop ${database}: ${String(err)}`));
    await ch.close();
  }
}

await main();
process.exit(0);
