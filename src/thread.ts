// One worker thread of the worker-threads mode (src/threads.ts): a whole processor with this thread's config, stopped
// or given new alert rules by the supervisor's messages.
import { parentPort, workerData } from 'node:worker_threads';
import { startProcessor, stopThenExit, type RunningProcessor } from './runtime/processor.js';
import { errorMessage, VigilError } from './shared/errors.js';
import { createLogger } from './shared/logger.js';
import { STARTUP_FAILED_EXIT, type FromThread, type ThreadData, type ToThread } from './threads.js';

const { index, config } = workerData as ThreadData;
const port = parentPort!;
const send = (m: FromThread) => port.postMessage(m);
// The supervisor logs which processorId each thread index runs.
const log = createLogger(config.log.level).child({ thread: index });

let processor: RunningProcessor | null = null;
let stopRequested = false;

const stop = () => {
  stopRequested = true;
  if (!processor) return; // still starting: stopped as soon as it has started
  log.info('stopping: no more consumption, committing what was handled');
  stopThenExit(processor, log);
};

// Listening before the start: a stop may come while the processor is still starting.
port.on('message', (m: ToThread) => {
  if (m.type === 'stop') stop();
  else if (m.type === 'reload') processor?.reloadRules(m.rules);
});

try {
  processor = await startProcessor({ config, logger: log });
  send({ type: 'started', port: processor.wallPort, processorId: processor.processorId });
  if (stopRequested) stop();
} catch (err) {
  send({ type: 'failed', code: err instanceof VigilError ? err.code : 'STARTUP_FAILED', message: errorMessage(err) });
  process.exit(STARTUP_FAILED_EXIT);
}
