// Runs the processor as a real child process (as `vigil run` would), so tests can SIGKILL and SIGTERM it.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { VigilConfig } from '../../src/config/schema.js';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

/** The VIGIL_* environment that reproduces an isolated test config in a child. */
export function envFor(config: VigilConfig, extra: Record<string, string> = {}): Record<string, string> {
  return {
    VIGIL_NATS__SERVERS: config.nats.servers,
    VIGIL_NATS__STREAM: config.nats.stream,
    VIGIL_NATS__SUBJECT_PREFIX: config.nats.subjectPrefix,
    VIGIL_NATS__CONSUMER: config.nats.consumer,
    VIGIL_NATS__DEAD_LETTER_SUBJECT: config.nats.deadLetterSubject,
    VIGIL_NATS__ALERT_SUBJECT_PREFIX: config.nats.alertSubjectPrefix,
    VIGIL_REDIS__URL: config.redis.url,
    VIGIL_REDIS__KEY_PREFIX: config.redis.keyPrefix,
    VIGIL_CLICKHOUSE__URL: config.clickhouse.url,
    VIGIL_CLICKHOUSE__DATABASE: config.clickhouse.database,
    VIGIL_CLICKHOUSE__BATCH__MAX_DELAY_MS: String(config.clickhouse.batch.maxDelayMs),
    VIGIL_PROCESSOR__COMMIT_INTERVAL_MS: String(config.processor.commitIntervalMs),
    VIGIL_PROCESSOR__CHECKPOINT_INTERVAL_MS: String(config.processor.checkpointIntervalMs),
    VIGIL_WALL__PORT: '0',
    VIGIL_WALL__HOST: '127.0.0.1',
    VIGIL_LOG__LEVEL: 'info',
    ...extra,
  };
}

export class ProcessorChild {
  port = 0;
  readonly log: string[] = [];
  private exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(readonly proc: ChildProcess) {
    this.exited = new Promise((r) => proc.on('exit', (code, signal) => r({ code, signal })));
  }

  /**
   * Starts `node --import tsx src/main.ts` and resolves once its wall answers /readyz: on VIGIL_WALL__PORT when it is
   * set and not 0 (with worker threads, thread 0's port), else on the port its log announces.
   */
  static async start(env: Record<string, string>, timeoutMs = 60_000): Promise<ProcessorChild> {
    const proc = spawn(process.execPath, ['--import', 'tsx', MAIN], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const child = new ProcessorChild(proc);
    child.port = Number(env.VIGIL_WALL__PORT ?? 0);
    let buf = '';
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        child.log.push(line);
        const m = /"port":(\d+)/.exec(line);
        if (m && child.port === 0 && line.includes('wall at')) child.port = Number(m[1]);
      }
    });
    proc.stderr!.on('data', (d: Buffer) => child.log.push(d.toString('utf8')));
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`processor exited at start:\n${child.log.slice(-20).join('\n')}`);
      if (child.port) {
        const ready = await fetch(`http://127.0.0.1:${child.port}/readyz`).then((r) => r.ok, () => false);
        if (ready) return child;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    proc.kill('SIGKILL');
    throw new Error(`processor not ready in ${timeoutMs} ms:\n${child.log.slice(-20).join('\n')}`);
  }

  /** A Prometheus sample of the child's /metrics, e.g. `vigil_events_total{outcome="processed"}`. */
  async metric(name: string): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${this.port}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line ? Number(line.slice(name.length + 1)) : Number.NaN;
  }

  kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.proc.kill(signal);
    return this.exited;
  }

  get exit(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.exited;
  }
}
