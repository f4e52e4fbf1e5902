// A worker thread that reads customers from windows another thread writes (src/windows/windowsReader.test.ts):
// reads until the stop word is set, then once more every customer, and reports what it saw.
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import type { SharedWindows } from '../../src/windows/customerWindows.js';
import { WindowsReader } from '../../src/windows/windowsReader.js';
import { customerId, NOW, problemWith } from './windowsWorkload.js';

const { first, port, control, customers } = workerData as { first: SharedWindows; port: MessagePort; control: Int32Array; customers: number };
const reader = new WindowsReader(first, () => receiveMessageOnPort(port)?.message as SharedWindows | undefined);
const problems: string[] = [];
let reads = 0;
let found = 0;
const readOne = (k: number) => {
  const r = reader.read(customerId(k), NOW);
  reads++;
  if (r !== null) found++;
  const p = problemWith(k, r);
  if (p !== null && problems.length < 20) problems.push(p);
  return r;
};

// control[0]: set by this thread once it reads; control[1]: set by the writer once it has written everything.
Atomics.store(control, 0, 1);
Atomics.notify(control, 0);
for (let k = 0; Atomics.load(control, 1) === 0; k = (k + 1) % customers) readOne(k);
const final: Record<string, { slot: number; h24: number; zone: string | null } | null> = {};
for (let k = 0; k < customers; k++) {
  const r = readOne(k);
  final[customerId(k)] = r && { slot: r.slot, h24: Object.values(r.touches.buckets).reduce((n, b) => n + b.h24.reduce((a, x) => a + x, 0), 0), zone: r.touches.zone };
}
parentPort!.postMessage({ reads, found, problems, retries: reader.retries, final });
