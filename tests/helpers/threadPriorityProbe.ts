// A worker thread for src/shared/threadPriority.test.ts: lowers its own priority as the refit worker does, and answers
// what that returned and the nice value /proc gives for this thread afterwards.
import { parentPort, workerData } from 'node:worker_threads';
import { lowerThreadPriority, threadNice } from '../../src/shared/threadPriority.js';

const result = lowerThreadPriority(workerData as number);
parentPort!.postMessage({ result, nice: threadNice() });
