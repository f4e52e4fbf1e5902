// The cost of a BG/NBD fit on 1,000,000 customers' summaries (issue 17: a refit within one minute), simulated from the
// CDNOW process in days: once with times at minute resolution as the live windows keep them (nearly every row
// distinct) and once rounded to whole days (identical rows grouped). Prints JSON with the machine's facts.
// node --import tsx bench/modelFit.ts [customers]
import { fitBgNbd } from '../src/signals/models/bgnbd.js';
import { groupSummaries } from '../src/signals/models/mle.js';
import { simulateCustomers } from '../src/signals/models/simulate.js';
import { machineFacts } from './machine.js';

const customers = Number(process.argv[2] ?? 1_000_000);
const simulated = simulateCustomers({ customers, bgNbd: { r: 0.24, alpha: 4.41 * 7, a: 0.79, b: 2.43 }, observationEnd: 546, acquisition: [0, 365], seed: 17 });
const byMinute = simulated.map(({ x, tx, T }) => ({ x, tx: Math.round(tx * 1440) / 1440, T: Math.round(T * 1440) / 1440 }));
const byDay = simulated.map(({ x, tx, T }) => ({ x, tx: Math.round(tx), T: Math.round(T) }));

function measure(label: string, data: typeof byDay) {
  const start = process.hrtime.bigint();
  const fit = fitBgNbd(data);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { label, customers: data.length, distinctRows: groupSummaries(data).x.length, seconds: Number(seconds.toFixed(2)), iterations: fit.iterations, converged: fit.converged, params: fit.params };
}

const results = [measure('minute resolution', byMinute), measure('whole days', byDay)];
console.log(JSON.stringify({ bench: 'bgnbd-fit', machine: machineFacts(process.cwd(), 'tsx'), results }, null, 2));
