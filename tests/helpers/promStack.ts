// The real Prometheus, promtool and Alertmanager from Debian's packages (scripts/services.sh installs them), each
// test's own instance on a free loopback port with a temporary config and storage directory.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ownServices.js';
import { eventually } from './wait.js';

/** Runs promtool with `input` on stdin; its exit code and what it printed. */
export function promtool(args: string[], input?: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { input, encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

export interface OwnInstance {
  url: string;
  dir: string;
  stop(): Promise<void>;
}

async function startOwn(bin: string, args: (port: number, dir: string) => string[], files: Record<string, string>, readyPath: string): Promise<OwnInstance> {
  const dir = mkdtempSync(join(tmpdir(), `vigil-${bin}-`));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const port = await freePort();
  let log = '';
  const child: ChildProcess = spawn(bin, args(port, dir), { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (log = (log + d).slice(-4_000)));
  child.stderr!.on('data', (d) => (log = (log + d).slice(-4_000)));
  const url = `http://127.0.0.1:${port}`;
  try {
    await eventually(`${bin} ready on ${url}`, async () => {
      if (child.exitCode !== null) throw new Error(`${bin} exited ${child.exitCode}: ${log}`);
      return (await fetch(`${url}${readyPath}`).catch(() => null))?.ok ?? false;
    }, 30_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    url,
    dir,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An Alertmanager with this configuration (YAML), no cluster peers. */
export function startAlertmanager(config: string): Promise<OwnInstance> {
  return startOwn(
    'prometheus-alertmanager',
    (port, dir) => [`--config.file=${join(dir, 'alertmanager.yml')}`, `--storage.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address=', '--log.level=warn'],
    { 'alertmanager.yml': config },
    '/-/ready',
  );
}

/** A Prometheus with this configuration (YAML) and these extra files (rule files) beside it. */
export function startPrometheus(config: string, files: Record<string, string> = {}): Promise<OwnInstance> {
  return startOwn(
    'prometheus',
    (port, dir) => [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { 'prometheus.yml': config, ...files },
    '/-/ready',
  );
}
