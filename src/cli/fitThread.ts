// A second thread for the fits of a version (fitTasks.ts): on a machine with a core to spare a refit takes about
// half the time. It lives for one version's fits; a thread that fails or exits fails the tasks it held, with why.
import type { Worker } from 'node:worker_threads';
import { VigilError, errorMessage, type VigilErrorCode } from '../shared/errors.js';
import type { PaceShare } from '../shared/pacing.js';
import type { ThreadPriority } from '../shared/threadPriority.js';
import { spawnModuleWorker } from '../shared/worker.js';
import type { FitExecutor, FitTask, FitTaskResult } from './fitTasks.js';

export interface FitThreadData {
  /** The thread's nice value (signals.model.refit.nice for the processor's refit; 0 for `vigil model fit`). */
  nice: number;
  /** Back off while the processor is busy, as the refit's thread does (shared/pacing.ts). */
  pace?: PaceShare;
}

export interface FitRequest {
  id: number;
  task: FitTask;
}

export type FitReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: string; code: VigilErrorCode | null }
  /** The first message: what lowering the thread's priority did. */
  | { priority: ThreadPriority };

export class FitThread implements FitExecutor {
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (err: unknown) => void }>();
  private nextId = 1;
  private failure: VigilError | null = null;
  /** What lowering the thread's priority did, once the thread has started. */
  readonly priority: Promise<ThreadPriority>;

  private constructor(private readonly worker: Worker) {
    let started: (p: ThreadPriority) => void = () => undefined;
    this.priority = new Promise((resolve) => (started = resolve));
    worker.on('message', (reply: FitReply) => {
      if ('priority' in reply) return started(reply.priority);
      const waiting = this.pending.get(reply.id);
      if (!waiting) return;
      this.pending.delete(reply.id);
      if (reply.ok) waiting.resolve(reply.value);
      else waiting.reject(new VigilError(reply.code ?? 'MODEL_FIT_FAILED', reply.error));
    });
    const fail = (why: string) => {
      this.failure ??= new VigilError('MODEL_FIT_FAILED', `the second fitting thread stopped: ${why}`);
      started({ ok: false, reason: this.failure.message });
      for (const waiting of this.pending.values()) waiting.reject(this.failure);
      this.pending.clear();
    };
    worker.on('error', (err) => fail(errorMessage(err)));
    worker.on('exit', (code) => fail(`exit code ${code}`));
  }

  static start(data: FitThreadData): FitThread {
    return new FitThread(spawnModuleWorker(import.meta.url, 'fitWorker', data));
  }

  run<T extends FitTask>(task: T): Promise<FitTaskResult<T>> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<FitTaskResult<T>>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.worker.postMessage({ id, task } satisfies FitRequest);
    });
  }

  /** Ends the thread; tasks still running fail. */
  async close(): Promise<void> {
    this.failure ??= new VigilError('MODEL_FIT_FAILED', 'the second fitting thread was closed');
    await this.worker.terminate();
  }
}
