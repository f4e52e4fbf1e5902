#!/usr/bin/env node
// The command line: run the processor, apply migrations, publish demo traffic, fit the purchase models, ask its status.
import { parseArgs } from 'node:util';
import { connect } from 'nats';
import { natsConnectOptions } from '../shared/serviceAuth.js';
import { loadConfig } from '../config/load.js';
import { exitOnStartupError, runProcessor } from '../main.js';
import { createLogger } from '../shared/logger.js';
import { createClickHouseClient } from '../sinks/clickhouse/client.js';
import { migrate } from '../sinks/clickhouse/migrate.js';
import { simulate } from '../simulate/run.js';
import { systemClock } from '../shared/clock.js';
import { Progress } from './progress.js';

const USAGE = `usage: vigil <command> [options]

commands:
  run        [--config FILE]    start the processor (the wall, /metrics, /healthz on wall.port)
  migrate    [--config FILE]    create or upgrade the ClickHouse schema (idempotent)
  simulate   [--config FILE] [--customers N] [--rate EVENTS_PER_S] [--history-days D] [--duration S] [--seed N] [--quiet]
             [--defect-wave | --no-defect-wave] [--defect-product ID] [--defect-start-day D] [--defect-days N]
                                publish realistic demo traffic to NATS (the history's progress on stderr); with
                                --defect-wave one product (ID, e.g. prod-04; default: a popular one by the seed) is
                                defective from day D of the history (default: 10 days before its end) for N days (14)
  model fit  [--config FILE] [--min-customers N] [--min-segment-buyers N] [--quiet]
                                fit BG/NBD and Gamma-Gamma on every customer's purchases in ClickHouse, print the
                                parameters and store them in model_params, where the processor picks them up
                                (its steps on stderr)
  model fit  --summary FILE.csv [--unit days|weeks] | --holdout FILE.csv --calibration-end DATE [--unit days|weeks]
                                fit from a CSV of customer summaries, or check a fit on a purchase log's holdout
  reset      [--config FILE] --yes
                                delete this config's stream, checkpoint, ClickHouse database and Redis keys (demos)
  forget     <customerId> [--config FILE] [--by WHO] [--timeout S] [--no-wait] [--quiet]
                                erase a customer everywhere (published as an erase_request; prints the audit record;
                                the wait on stderr)
  export     <customerId> [--config FILE] [--by WHO] [--out FILE] [--no-live]
                                everything Vigil holds on a customer as one JSON document (docs/privacy.md); asks the
                                running processor for the live part, else reads ClickHouse and Redis and says so;
                                exit 0 exported, 3 refused (the customer was erased), 4 the stores could not be read
  status     [--config FILE] [--json]
                                ask the running processor's wall (wall.host, wall.port) for readiness, lag, pending,
                                checkpoint age, alert counts and the model version; exit 0 ready, 1 not, 2 unreachable
  cluster nats-config --partitions N [--prefix events] [--cluster-name NAME --routes HOST:PORT,...]
                                print the NATS server config that partitions the customers (docs/scale-out.md)

Config: a YAML or JSON file (--config or VIGIL_CONFIG), overridden by VIGIL_* environment variables.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const options = { config: { type: 'string' as const } };
  switch (command) {
    case 'run': {
      const { values } = parseArgs({ args: rest, options });
      await runProcessor(values.config ?? process.env.VIGIL_CONFIG);
      return -1; // keeps running until a signal
    }
    case 'reset': {
      const { runReset } = await import('./reset.js');
      return runReset(rest, (s) => process.stdout.write(s));
    }
    case 'migrate': {
      const { values } = parseArgs({ args: rest, options });
      const config = loadConfig({ file: values.config });
      const log = createLogger(config.log.level);
      const ch = createClickHouseClient(config.clickhouse);
      try {
        const r = await migrate(ch, { database: config.clickhouse.database, logger: log, analyst: config.clickhouse.analyst });
        process.stdout.write(`${JSON.stringify(r)}\n`);
      } finally {
        await ch.close();
      }
      return 0;
    }
    case 'simulate': {
      const { values } = parseArgs({
        args: rest,
        options: {
          ...options,
          customers: { type: 'string', default: '5000' },
          rate: { type: 'string', default: '200' },
          'history-days': { type: 'string', default: '0' },
          duration: { type: 'string', default: '0' },
          seed: { type: 'string', default: '1' },
          quiet: { type: 'boolean', default: false },
          'defect-wave': { type: 'boolean', default: false },
          'defect-product': { type: 'string' },
          'defect-start-day': { type: 'string' },
          'defect-days': { type: 'string', default: '14' },
        },
        allowNegative: true,
      });
      const config = loadConfig({ file: values.config });
      const log = createLogger(config.log.level);
      const nc = await connect({ ...natsConnectOptions(config), name: 'vigil-simulator' });
      const abort = new AbortController();
      process.on('SIGTERM', () => abort.abort());
      process.on('SIGINT', () => abort.abort());
      const num = (name: string, v: string | undefined) => {
        const n = Number(v);
        if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a number ≥ 0, got "${v}"`);
        return n;
      };
      const historyDays = num('history-days', values['history-days']);
      // The wave's default start puts it inside the history's last days, so a live wall shows the product at once.
      const defectWave = values['defect-wave']
        ? {
            productId: values['defect-product'] ?? null,
            startDay: values['defect-start-day'] === undefined ? Math.max(0, historyDays - 10) : num('defect-start-day', values['defect-start-day']),
            days: num('defect-days', values['defect-days']),
          }
        : null;
      const history = new Progress({ label: 'vigil simulate: history', unit: 'days', clock: systemClock, write: (l) => process.stderr.write(l), enabled: !values.quiet });
      const r = await simulate(
        nc,
        {
          customers: num('customers', values.customers),
          rate: num('rate', values.rate),
          historyDays,
          durationS: num('duration', values.duration),
          seed: num('seed', values.seed),
          subjectPrefix: config.nats.subjectPrefix,
          outOfOrder: 0.05,
          defectWave,
        },
        log,
        abort.signal,
        (days, total, published) => {
          history.update(days, total);
          if (days === total) history.step(`${published.toLocaleString('en-US')} events published`);
        },
      );
      await nc.drain();
      process.stdout.write(`${JSON.stringify(r)}\n`);
      return 0;
    }
    case 'status': {
      const { runStatus } = await import('./status.js');
      return runStatus(rest, { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) });
    }
    case 'forget': {
      const { runForget } = await import('./forget.js');
      return runForget(rest, { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) });
    }
    case 'export': {
      const { runExport } = await import('./export.js');
      return runExport(rest, { stdout: process.stdout, stderr: (s) => process.stderr.write(s) });
    }
    case 'cluster': {
      const [sub, ...args] = rest;
      if (sub !== 'nats-config') break;
      const { runClusterNatsConfig } = await import('./clusterConfig.js');
      return runClusterNatsConfig(args, { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) });
    }
    case 'model': {
      const [sub, ...args] = rest;
      if (sub !== 'fit') break;
      const { runModelFit } = await import('./modelFit.js');
      return runModelFit(args, { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) });
    }
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(`${USAGE}\n`);
      return 0;
  }
  process.stderr.write(`vigil: unknown command "${argv.join(' ')}"\n${USAGE}\n`);
  return 2;
}

main(process.argv.slice(2)).then((code) => {
  if (code >= 0) process.exit(code);
}, exitOnStartupError);
