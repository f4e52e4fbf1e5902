// The machine's facts every bench result carries, so that figures are only compared with figures from the same kind
// of machine, build and commit.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';

export interface MachineFacts {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  natsServer: string;
  date: string;
  gitCommit: string;
  gitDirty: boolean;
  processorBuild: string;
}

/** `root`: the checkout the bench runs from; `processorBuild`: how the processor under test was built. */
export function machineFacts(root: string, processorBuild: string): MachineFacts {
  const run = (cmd: string, a: string[]) => {
    try {
      return execFileSync(cmd, a, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return 'unknown';
    }
  };
  let cpu = cpus()[0]?.model ?? 'unknown';
  try {
    // os.cpus() can name a virtual CPU vaguely; /proc/cpuinfo has the model the hypervisor passes through.
    cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu;
  } catch {
    /* not Linux */
  }
  return {
    cpu,
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    natsServer: run('nats-server', ['--version']),
    date: new Date().toISOString(),
    gitCommit: run('git', ['rev-parse', '--short', 'HEAD']),
    gitDirty: run('git', ['status', '--porcelain', '--untracked-files=no']) !== '',
    processorBuild,
  };
}

/** The calling thread's time ready to run but waiting for a core so far, in ns (its schedstat's second field), or null off Linux. */
export function threadRunQueueNs(): number | null {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[1]);
  } catch {
    return null;
  }
}

/**
 * How long the calling thread waits for a core from now on, read on the same thread: `ms()` in all, `msPerS()` per
 * second since (to 0.1 ms); null off Linux. On a machine whose cores also run NATS, ClickHouse and the load, part of
 * any latency is this wait.
 */
export function runQueueMeter(): { ms(): number | null; msPerS(): number | null } {
  const t0 = performance.now();
  const from = threadRunQueueNs();
  const waitedNs = () => {
    const now = threadRunQueueNs();
    return now === null || from === null ? null : now - from;
  };
  return {
    ms: () => {
      const ns = waitedNs();
      return ns === null ? null : Math.round(ns / 1e6);
    },
    msPerS: () => {
      const ns = waitedNs();
      // ns / 1e3 = µs, per ms elapsed = ms per second.
      return ns === null ? null : Math.round((ns / 1e3 / (performance.now() - t0)) * 10) / 10;
    },
  };
}
