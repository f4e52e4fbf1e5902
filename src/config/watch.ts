// Alert rules reload without a restart: on SIGHUP, or when the config file changes. A bad file is refused with its
// reason and the rules in force stay. Shared by the single processor (main.ts) and the threads' supervisor (threads.ts).
import { watchFile } from 'node:fs';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { loadConfig } from './load.js';
import type { VigilConfig } from './schema.js';

export function watchRuleReloads(configFile: string | undefined, log: Logger, apply: (rules: VigilConfig['alerts']['rules']) => void): void {
  const reload = (why: string) => {
    try {
      apply(loadConfig({ file: configFile }).alerts.rules);
    } catch (err) {
      log.error({ why, err: errorMessage(err) }, 'config reload refused; keeping the rules in force');
    }
  };
  process.on('SIGHUP', () => reload('SIGHUP'));
  if (configFile) watchFile(configFile, { interval: 2_000 }, (cur, prev) => cur.mtimeMs !== prev.mtimeMs && reload('config file changed'));
}
