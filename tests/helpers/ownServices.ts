// Private NATS and Redis servers for outage tests: the test may stop and restart them without disturbing the
// shared services other tests use.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** `count` consecutive free ports (a processor with worker threads serves port, port + 1, …); the first of them. */
export async function freePortRun(count: number): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((r) => {
      const s = createServer();
      s.once('error', () => r(false));
      s.listen(port, '127.0.0.1', () => s.close(() => r(true)));
    });
  for (let tries = 0; tries < 50; tries++) {
    const first = await freePort();
    if (first + count - 1 > 65_535) continue;
    let ok = true;
    for (let i = 1; i < count && ok; i++) ok = await free(first + i);
    if (ok) return first;
  }
  throw new Error(`no run of ${count} free ports found`);
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const sock = connect(port, '127.0.0.1');
      sock.once('connect', () => (sock.destroy(), r(true)));
      sock.once('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on ${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A server process that keeps its port and data directory across stop() and start(). */
export class OwnServer {
  private proc: ChildProcess | null = null;
  readonly dir = mkdtempSync(join(tmpdir(), 'vigil-own-'));

  private constructor(
    readonly port: number,
    private readonly command: (port: number, dir: string) => [string, string[]],
    private readonly env?: Record<string, string>,
  ) {}

  static async nats(): Promise<OwnServer> {
    const s = new OwnServer(await freePort(), (port, dir) => ['nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir]]);
    await s.start();
    return s;
  }

  /**
   * NATS with JetStream and a configuration file holding `configText` (a subject mapping, say); the port, address
   * and store directory come from the command line, which takes precedence over the file. `env` adds variables the
   * file refers to (`password: $NATS_PRODUCER_PASSWORD`).
   */
  static async natsWithConfig(configText: string, env?: Record<string, string>): Promise<OwnServer> {
    const s = new OwnServer(await freePort(), (port, dir) => {
      const file = join(dir, 'nats-server.conf');
      writeFileSync(file, configText);
      return ['nats-server', ['-c', file, '-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir]];
    }, env);
    await s.start();
    return s;
  }

  /** Redis with the given arguments (an ACL, say) and its own port, address and directory. */
  static async redisWith(args: string[]): Promise<OwnServer> {
    const s = new OwnServer(await freePort(), (port, dir) => ['redis-server', [...args, '--bind', '127.0.0.1', '--port', String(port), '--dir', dir, '--save', '']]);
    await s.start();
    return s;
  }

  /** Redis with an append-only file, as production runs it, so a restart keeps what was written. */
  static async redis(): Promise<OwnServer> {
    const s = new OwnServer(await freePort(), (port, dir) => ['redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--dir', dir, '--appendonly', 'yes', '--save', '']]);
    await s.start();
    return s;
  }

  async start(): Promise<void> {
    const [cmd, args] = this.command(this.port, this.dir);
    this.proc = spawn(cmd, args, { stdio: 'ignore', env: this.env ? { ...process.env, ...this.env } : process.env });
    await waitForPort(this.port, 15_000);
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((r) => {
      p.once('exit', () => r());
      p.kill('SIGTERM');
    });
    this.proc = null;
  }
}
