// Lowers the CPU priority of the calling thread only, so that a background job in a worker thread (the scheduled
// refit) takes the CPU the processor's event loop leaves over. On Linux a nice value belongs to a thread (man 2
// setpriority, BUGS), so os.setPriority(0, n) in a worker leaves the process's other threads as they were; elsewhere it
// is the whole process's, so there this does nothing and says why.
import { readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { errorMessage } from './errors.js';

/** What lowering the thread's priority did: the nice value the thread now runs at, or why it runs unchanged. */
export type ThreadPriority = { ok: true; nice: number } | { ok: false; reason: string };

/**
 * Sets the calling thread's nice value to `nice` (0–19; 0 leaves it). Never throws: where the system refuses (EACCES
 * under a policy that forbids it) or the value is per process, the thread runs on unchanged and the reason comes back.
 */
export function lowerThreadPriority(nice: number, platform: NodeJS.Platform = process.platform): ThreadPriority {
  if (nice === 0) return { ok: true, nice: threadNice() ?? 0 };
  if (platform !== 'linux') return { ok: false, reason: `a nice value is per process on ${platform}, not per thread: the refit thread keeps the processor's priority` };
  try {
    setPriority(0, nice);
  } catch (err) {
    return { ok: false, reason: `cannot set the thread's nice value to ${nice}: ${errorMessage(err)}` };
  }
  return { ok: true, nice: threadNice() ?? nice };
}

/** The calling thread's nice value from /proc/thread-self/stat (field 19), or null where there is no /proc. */
export function threadNice(): number | null {
  try {
    return niceFromStat(readFileSync('/proc/thread-self/stat', 'utf8'));
  } catch {
    return null;
  }
}

/** Field 19 of a /proc/…/stat line; the command name (field 2, in parentheses) may itself hold spaces and ')'. */
export function niceFromStat(stat: string): number | null {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const nice = Number(fields[16]);
  return Number.isInteger(nice) ? nice : null;
}
