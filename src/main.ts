#!/usr/bin/env node
// The processor's entry point: load and validate the config, start, and stop cleanly on SIGTERM or SIGINT.
import { watchFile } from 'node:fs';
import { loadConfig } from './config/load.js';
import { startProcessor } from './processor.js';
import { errorMessage, VigilError } from './shared/errors.js';
import { createLogger } from './shared/logger.js';

export async function runProcessor(configFile?: string): Promise<void> {
  const config = loadConfig({ file: configFile });
  const log = createLogger(config.log.level);
  const processor = await startProcessor({ config, logger: log });
  let signals = 0;
  const shutdown = (signal: string) => {
    if (++signals > 1) {
      log.warn({ signal }, 'second signal: exiting now; unacknowledged messages will be redelivered');
      process.exit(1);
    }
    log.info({ signal }, 'stopping: no more consumption, committing what was handled');
    processor.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err: errorMessage(err) }, 'stop failed');
        process.exit(1);
      },
    );
  };
  // Alert rules reload without a restart: on SIGHUP, or when the config file changes. A bad file is refused
  // with its reason and the rules in force stay.
  const reload = (why: string) => {
    try {
      processor.reloadRules(loadConfig({ file: configFile }).alerts.rules);
    } catch (err) {
      log.error({ why, err: errorMessage(err) }, 'config reload refused; keeping the rules in force');
    }
  };
  process.on('SIGHUP', () => reload('SIGHUP'));
  if (configFile) watchFile(configFile, { interval: 2_000 }, (cur, prev) => cur.mtimeMs !== prev.mtimeMs && reload('config file changed'));
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
