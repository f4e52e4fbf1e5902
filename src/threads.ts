// Worker-threads mode (cluster.threads > 1): one process runs N whole processors, one per worker thread, each a
// cluster member of its own that holds a share of the partitions through the leases (docs/scale-out.md, "Worker
// threads"). This module is the main thread's small supervisor; src/thread.ts is what each thread runs.
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import type { VigilConfig } from './config/schema.js';
import { watchRuleReloads } from './config/watch.js';
import { backgroundClock } from './shared/clock.js';
import type { Logger } from './shared/logger.js';
import { defaultProcessorId } from './shared/processorId.js';
import { spawnModuleWorker } from './shared/worker.js';

/** What the supervisor hands a thread at its start. */
export interface ThreadData {
  index: number;
  config: VigilConfig;
}

export type ToThread = { type: 'stop' } | { type: 'reload'; rules: VigilConfig['alerts']['rules'] };
export type FromThread = { type: 'started'; port: number; processorId: string } | { type: 'failed'; code: string; message: string };

/** A thread's exit code when its processor could not start (as exitOnStartupError's for a single processor). */
export const STARTUP_FAILED_EXIT = 2;

/** The config thread `index` runs with: everything a process holds alone gets a per-thread value. */
export function threadConfig(config: VigilConfig, index: number, baseId = config.cluster.processorId ?? defaultProcessorId()): VigilConfig {
  return {
    ...config,
    // Each thread is a member of its own: the leases and the cluster wall tell members apart by id.
    cluster: { ...config.cluster, threads: 1, processorId: `${baseId}-t${index}` },
    // Thread 0 keeps the configured port, the one health checks and browsers know; 0 stays ephemeral for every thread.
    // `auto` means `ws` here: uWebSockets.js's native handles outlive a thread that dies, and Node then aborts the
    // whole process instead of letting the supervisor stop the other threads cleanly (config refuses `uws` with threads).
    wall: { ...config.wall, port: config.wall.port === 0 ? 0 : config.wall.port + index, transport: 'ws' },
    // A spill directory has one owner, and its lock tells owners apart by pid, which the threads share.
    clickhouse: { ...config.clickhouse, spill: { ...config.clickhouse.spill, dir: join(config.clickhouse.spill.dir, `t${index}`) } },
  };
}

/** The thread's entry: thread.js next to this file in the build (dist/), thread.ts under tsx (tests, the bench). */
function spawnThread(data: ThreadData): Worker {
  return spawnModuleWorker(import.meta.url, 'thread', data);
}

interface Running {
  index: number;
  worker: Worker;
  processorId: string;
  exited: Promise<number>;
  alive: boolean;
  /** Why it failed, as the thread reported it (a start-up error) or as it threw (an uncaught error). */
  failure: string | null;
}

/**
 * Starts the threads and watches them: SIGTERM or SIGINT stops every thread (each checkpoints and hands its partitions
 * over) and exits 0 once all have stopped, a second signal exits 1 at once; SIGHUP and a changed config file reload the
 * rules in every thread. A thread that dies on its own stops the others cleanly and the process exits non-zero: the
 * orchestrator restarts it, and the leases move the partitions meanwhile.
 */
export function superviseThreads(opts: { config: VigilConfig; configFile?: string; log: Logger }): Promise<void> {
  const { config, configFile, log } = opts;
  const baseId = config.cluster.processorId ?? defaultProcessorId();
  let stopping = false;
  let exitCode = 0;
  const threads: Running[] = [];

  const stopAll = (why: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ why, threads: threads.filter((t) => t.alive).map((t) => t.processorId) }, 'stopping every thread: no more consumption, committing what was handled');
    for (const t of threads) if (t.alive) t.worker.postMessage({ type: 'stop' } satisfies ToThread);
    // Each processor's stop has its own deadline (processor.shutdownTimeoutMs); this one only catches a thread that hangs.
    backgroundClock.schedule(() => {
      log.error({ threads: threads.filter((t) => t.alive).map((t) => t.processorId) }, 'threads still running after the shutdown deadline: exiting');
      process.exit(1);
    }, config.processor.shutdownTimeoutMs + 15_000);
    void Promise.all(threads.map((t) => t.exited)).then(() => {
      log.info({ exitCode }, 'every thread stopped');
      process.exit(exitCode);
    });
  };

  let signals = 0;
  const onSignal = (signal: string) => {
    if (++signals > 1) {
      log.warn({ signal }, 'second signal: exiting now; unacknowledged messages will be redelivered');
      process.exit(1);
    }
    stopAll(signal);
  };
  // Before the threads start: a signal during their start stops them as soon as they have started (src/thread.ts).
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));

  for (let index = 0; index < config.cluster.threads; index++) {
    const data: ThreadData = { index, config: threadConfig(config, index, baseId) };
    const worker = spawnThread(data);
    const t: Running = { index, worker, processorId: data.config.cluster.processorId!, exited: Promise.resolve(0), alive: true, failure: null };
    t.exited = new Promise((resolve) => {
      worker.on('message', (m: FromThread) => {
        if (m.type === 'started') log.info({ thread: index, processorId: m.processorId, port: m.port }, 'thread started');
        else t.failure = `${m.code}: ${m.message}`;
      });
      worker.on('error', (err) => {
        t.failure ??= err.stack ?? String(err);
      });
      worker.on('exit', (code) => {
        t.alive = false;
        if (!stopping || code !== 0) {
          // A thread that stops on its own (or fails its stop) is a failed process: start-up failures keep their code.
          const failedAtStart = code === STARTUP_FAILED_EXIT && t.failure !== null;
          exitCode = Math.max(exitCode, failedAtStart ? STARTUP_FAILED_EXIT : 1);
          log.error({ thread: index, processorId: t.processorId, code, why: t.failure ?? 'exited without an error' }, stopping ? 'thread failed while stopping' : 'thread died: stopping the others');
          if (failedAtStart) process.stderr.write(`vigil: thread ${index}: ${t.failure}\n`);
        }
        resolve(code);
        if (!stopping) stopAll(`thread ${index} exited with code ${code}`);
      });
    });
    threads.push(t);
  }

  // Validated once here, applied by every thread.
  watchRuleReloads(configFile, log, (rules) => {
    for (const t of threads) if (t.alive) t.worker.postMessage({ type: 'reload', rules } satisfies ToThread);
    log.info({ rules: rules.map((r) => r.name), threads: threads.length }, 'alert rules sent to every thread');
  });
  log.info({ threads: threads.map((t) => t.processorId) }, 'worker threads starting');
  return Promise.resolve();
}
