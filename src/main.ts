#!/usr/bin/env node
// The processor's entry point: load and validate the config, start, and stop cleanly on SIGTERM or SIGINT.
import { loadConfig } from './config/load.js';
import { watchRuleReloads } from './config/watch.js';
import { errorMessage, VigilError } from './shared/errors.js';
import { createLogger } from './shared/logger.js';
import { superviseThreads } from './threads.js';

/** A different signal within this of the first is one stop request with two senders (a terminal and a script). */
export const SAME_REQUEST_MS = 2_000;

export type FirstSignal = { signal: string; at: number };

/**
 * What a stop signal asks, given the first one (null if none yet). One Ctrl-C in `npm run demo` arrives twice:
 * SIGINT from the terminal, SIGTERM from the script's trap. A different signal right after the first is that same
 * request; the same signal again (a second Ctrl-C), or any signal later, means "exit now".
 */
export function readSignal(first: FirstSignal | null, signal: string, now: number): 'stop' | 'same request' | 'exit now' {
  if (!first) return 'stop';
  return signal !== first.signal && now - first.at < SAME_REQUEST_MS ? 'same request' : 'exit now';
}

export async function runProcessor(configFile?: string): Promise<void> {
  const config = loadConfig({ file: configFile });
  const log = createLogger(config.log.level);
  // cluster.threads > 1: this thread only supervises one processor per worker thread (docs/scale-out.md).
  if (config.cluster.threads > 1) return superviseThreads({ config, configFile, log });
  // Imported here, not above: a supervisor never runs a processor itself, and the pipeline's modules cost it ~30 MB.
  const { startProcessor, stopThenExit } = await import('./runtime/processor.js');
  const processor = await startProcessor({ config, logger: log });
  let first: FirstSignal | null = null;
  const shutdown = (signal: string) => {
    const now = Date.now();
    const meaning = readSignal(first, signal, now);
    if (meaning === 'same request') {
      log.info({ signal, first: first?.signal }, 'already stopping: a second sender of the same stop request');
      return;
    }
    if (meaning === 'exit now') {
      log.warn({ signal }, 'second signal: exiting now; unacknowledged messages will be redelivered');
      process.exit(1);
    }
    first = { signal, at: now };
    log.info({ signal }, 'stopping: no more consumption, committing what was handled');
    stopThenExit(processor, log);
  };
  watchRuleReloads(configFile, log, (rules) => processor.reloadRules(rules));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

/** A start-up failure says what to fix in one line, with the error code, and exits non-zero. */
export function exitOnStartupError(err: unknown): never {
  const code = err instanceof VigilError ? err.code : 'STARTUP_FAILED';
  process.stderr.write(`vigil: ${code}: ${errorMessage(err)}\n`);
  process.exit(2);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runProcessor(process.env.VIGIL_CONFIG).catch(exitOnStartupError);
}
