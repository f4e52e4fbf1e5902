// What telling the budget's thread of the stream's touches costs the main thread (budgetThread.ts): a message per
// touch against the touches of a turn in one message (TouchBuffer), to a port held by a worker that drains it on a
// timer, as the budget's thread does; and the ReportFence's record of each touch that found no slot (nearly all),
// let go as the thread reports what it applied. CPU of the posting thread per touch.
//
//   node --import tsx bench/touchPosts.ts [touches=100000] [perTurn=100]
import { MessageChannel, Worker } from 'node:worker_threads';
import { ReportFence, TouchBuffer } from '../src/budget/reportFence.js';

const n = Number(process.argv[2] ?? 100_000);
const perTurn = Number(process.argv[3] ?? 100);
const { port1, port2 } = new MessageChannel();
const drainer = `const { workerData, receiveMessageOnPort, parentPort } = require('node:worker_threads');
setInterval(() => { while (receiveMessageOnPort(workerData.port)); }, 100);
parentPort.postMessage('up');`;
const worker = new Worker(drainer, { eval: true, workerData: { port: port2 }, transferList: [port2] });
await new Promise((r) => worker.once('message', r));
const ids = Array.from({ length: n }, (_, i) => `customer-${i * 7919}`);
const AT = 1_790_000_000_000;

const usPerTouch = (fn: () => void): number => {
  const t0 = process.cpuUsage();
  fn();
  const d = process.cpuUsage(t0);
  return Math.round(((d.user + d.system) / n) * 100) / 100;
};
const rounds: { each: number; together: number; fence: number }[] = [];
for (let r = 0; r < 5; r++) {
  const each = usPerTouch(() => {
    for (let i = 0; i < n; i++) port1.postMessage({ t: 'consume', id: ids[i], channel: 'email', at: AT + i });
  });
  await new Promise((r) => setTimeout(r, 250));
  const buffer = new TouchBuffer();
  const together = usPerTouch(() => {
    for (let i = 0; i < n; i++) {
      buffer.add(ids[i], 'email', AT + i);
      if (buffer.size === perTurn) port1.postMessage(buffer.take());
    }
    if (buffer.size > 0) port1.postMessage(buffer.take());
  });
  await new Promise((r) => setTimeout(r, 250));
  // The thread 100 messages behind, a report of what it applied every 200 touches.
  const f = new ReportFence();
  const fence = usPerTouch(() => {
    for (let i = 1; i <= n; i++) {
      f.touch(ids[i - 1], 'email', false);
      if (i % 200 === 0) f.applied(i - 100);
    }
    f.applied(n);
  });
  rounds.push({ each, together, fence });
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(JSON.stringify({ touches: n, perTurn, usPerTouchEach: median(rounds.map((r) => r.each)), usPerTouchTogether: median(rounds.map((r) => r.together)), usPerTouchFence: median(rounds.map((r) => r.fence)), rounds }));
await worker.terminate();
