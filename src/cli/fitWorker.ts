// The second fitting thread (fitThread.ts starts it): runs each task it is sent (fitTasks.ts) and answers with the
// result or the error, in the order sent. It first lowers its own priority as the refit's thread does, so on a
// machine that also runs the processor both fitting threads take only the CPU the processor leaves.
import { parentPort, workerData } from 'node:worker_threads';
import { VigilError, errorMessage } from '../shared/errors.js';
import { pacer } from '../shared/pacing.js';
import { lowerThreadPriority } from '../shared/threadPriority.js';
import { paceEvaluations } from '../signals/models/mle.js';
import { runFitTask, type FitTask } from './fitTasks.js';
import type { FitReply, FitRequest, FitThreadData } from './fitThread.js';

const { nice, pace } = workerData as FitThreadData;
const priority = lowerThreadPriority(nice);
paceEvaluations(pacer(pace));
parentPort!.postMessage({ priority } satisfies FitReply);
parentPort!.on('message', ({ id, task }: FitRequest) => {
  let reply: FitReply;
  try {
    reply = { id, ok: true, value: runFitTask(task as FitTask) };
  } catch (err) {
    reply = { id, ok: false, error: errorMessage(err), code: err instanceof VigilError ? err.code : null };
  }
  parentPort!.postMessage(reply);
});
