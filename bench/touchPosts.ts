// What telling the budget's thread of the stream's touches costs the main thread (budgetThread.ts): a message per
// touch (to a port held by a worker that drains it on a timer, as the budget's thread does) with the ReportFence's
// record of each, against the look at the customer's `holders` cell that tells only the touches of customers the
// thread may hold a slot of. The cells are filled as the thread would fill them for `holding` customers (none of them
// the touched ones, so every look finds what a real cell holds at that load and the touch is told where it is not 0).
// CPU of the posting thread per touch; the median of five rounds.
//
//   node --import tsx bench/touchPosts.ts [touches=100000] [holding=0,100000,1000000]
import { MessageChannel, Worker } from 'node:worker_threads';
import { BUDGET_CHANNELS } from '../src/budget/allowance.js';
import { HOLDER_CELLS, holderCell } from '../src/budget/budgetThreadProtocol.js';
import { ReportFence } from '../src/budget/reportFence.js';

const n = Number(process.argv[2] ?? 100_000);
const holdingCounts = (process.argv[3] ?? '0,100000,1000000').split(',').map(Number);
const { port1, port2 } = new MessageChannel();
const drainer = `const { workerData, receiveMessageOnPort, parentPort } = require('node:worker_threads');
setInterval(() => { while (receiveMessageOnPort(workerData.port)); }, 100);
parentPort.postMessage('up');`;
const worker = new Worker(drainer, { eval: true, workerData: { port: port2 }, transferList: [port2] });
await new Promise((r) => worker.once('message', r));
const ids = Array.from({ length: n }, (_, i) => `customer-${i * 7919}`);
const AT = 1_790_000_000_000;
const EMAIL = BUDGET_CHANNELS.indexOf('email');

const usPerTouch = (fn: () => void): number => {
  const t0 = process.cpuUsage();
  fn();
  const d = process.cpuUsage(t0);
  return Math.round(((d.user + d.system) / n) * 1000) / 1000;
};
const settle = () => new Promise((r) => setTimeout(r, 250));

/** Every touch told: the fence's record and a message (the thread 100 messages behind, a report every 200). */
async function tellEach(): Promise<number> {
  const f = new ReportFence();
  const us = usPerTouch(() => {
    for (let i = 1; i <= n; i++) {
      f.touch(ids[i - 1], 'email', false);
      port1.postMessage({ t: 'consume', id: ids[i - 1], channel: EMAIL, at: AT + i });
      if (i % 200 === 0) f.applied(i - 100);
    }
    f.applied(n);
  });
  await settle();
  return us;
}

/** The cells as the thread leaves them with `holding` other customers holding slots. */
function cellsHolding(holding: number): Int32Array {
  const cells = new Int32Array(new SharedArrayBuffer(HOLDER_CELLS * Int32Array.BYTES_PER_ELEMENT));
  for (let i = 0; i < holding; i++) Atomics.add(cells, holderCell(`holder-${i}`), 1);
  return cells;
}

/** A look at each touch's cell; the touch told (fence and message) only where it is not 0. */
async function tellHolders(cells: Int32Array): Promise<{ us: number; told: number }> {
  const f = new ReportFence();
  let told = 0;
  const us = usPerTouch(() => {
    for (let i = 1; i <= n; i++) {
      if (Atomics.load(cells, holderCell(ids[i - 1])) === 0) continue;
      told++;
      f.touch(ids[i - 1], 'email', false);
      port1.postMessage({ t: 'consume', id: ids[i - 1], channel: EMAIL, at: AT + i });
      if (told % 200 === 0) f.applied(told - 100);
    }
    f.applied(told);
  });
  await settle();
  return { us, told };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const cells = holdingCounts.map((h) => ({ holding: h, cells: cellsHolding(h) }));
const rounds: { each: number; holders: { holding: number; us: number; told: number }[] }[] = [];
for (let r = 0; r < 5; r++) {
  const each = await tellEach();
  const holders = [];
  for (const c of cells) holders.push({ holding: c.holding, ...(await tellHolders(c.cells)) });
  rounds.push({ each, holders });
}
const usEach = median(rounds.map((r) => r.each));
console.log(
  JSON.stringify({
    touches: n,
    usPerTouchEachTold: usEach,
    byHolding: cells.map((c, k) => {
      const us = median(rounds.map((r) => r.holders[k].us));
      return { holding: c.holding, usPerTouch: us, told: rounds[0].holders[k].told, ratioToEachTold: Math.round((us / usEach) * 1000) / 1000 };
    }),
  }),
);
await worker.terminate();
