// The machine's facts every bench result carries, so that figures are only compared with figures from the same kind
// of machine, build and commit.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

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
