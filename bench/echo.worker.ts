// The echo responder (echo.ts) on a worker thread of the processor's process: 'ready' once it answers, its stats
// posted back when the parent asks it to stop.
import { parentPort, workerData } from 'node:worker_threads';
import { startEcho } from './echo.js';

const { servers, subject } = workerData as { servers: string; subject: string };
const stop = await startEcho(servers, subject, 'vigil-bench-echo-worker');
parentPort!.once('message', () => {
  void stop().then((stats) => parentPort!.postMessage(stats));
});
parentPort!.postMessage('ready');
