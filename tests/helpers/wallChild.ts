// Starts tests/helpers/wallChildMain.ts in a child process (a wall on the fake source) and talks to it: its port, its
// exit, its memory and client count over IPC.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { VigilConfig } from '../../src/config/schema.js';

const MAIN = fileURLToPath(new URL('./wallChildMain.ts', import.meta.url));

export class WallChild {
  port = 0;
  readonly log: string[] = [];
  exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;

  private constructor(readonly proc: ChildProcess) {
    proc.on('exit', (code, signal) => {
      this.exitInfo = { code, signal };
    });
  }

  static async start(overrides: Partial<VigilConfig['wall']>, timeoutMs = 60_000): Promise<WallChild> {
    const proc = spawn(process.execPath, ['--import', 'tsx', MAIN], {
      env: { ...process.env, WALL_CHILD_CONFIG: JSON.stringify(overrides) },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const child = new WallChild(proc);
    proc.stderr!.on('data', (d: Buffer) => child.log.push(d.toString('utf8')));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the wall child did not start in ${timeoutMs} ms:\n${child.log.join('')}`)), timeoutMs);
      let buf = '';
      proc.stdout!.on('data', (d: Buffer) => {
        buf += d.toString('utf8');
        const m = /\{"port":(\d+)/.exec(buf);
        if (m && child.port === 0) {
          child.port = Number(m[1]);
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('exit', () => {
        clearTimeout(timer);
        reject(new Error(`the wall child exited at start:\n${child.log.join('')}`));
      });
    });
    return child;
  }

  get alive(): boolean {
    return this.exitInfo === null;
  }

  /** The child's resident memory and the wall's open WebSocket count. */
  stats(): Promise<{ rss: number; clients: number }> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the wall child did not answer stats')), 30_000);
      this.proc.once('message', (message) => {
        clearTimeout(timer);
        resolve(message as { rss: number; clients: number });
      });
      this.proc.send('stats');
    });
  }

  async stop(): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise((resolve) => this.proc.once('exit', resolve));
    this.proc.kill('SIGKILL');
    await exited;
  }
}
