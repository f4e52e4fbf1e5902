import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { lowerThreadPriority, niceFromStat, threadNice, type ThreadPriority } from './threadPriority.js';
import { spawnModuleWorker } from './worker.js';

const perThreadProc = existsSync('/proc/thread-self/stat');

/** Starts the probe through the helper the refit worker is started with, and waits for its answer and its exit. */
async function probe(nice: number): Promise<{ result: ThreadPriority; nice: number | null }> {
  const worker = spawnModuleWorker(new URL('../../tests/helpers/threadPriorityProbe.ts', import.meta.url).href, 'threadPriorityProbe', nice);
  const answer = await new Promise<{ result: ThreadPriority; nice: number | null }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`probe exited with ${code} before answering`)));
  });
  await worker.terminate();
  return answer;
}

describe('lowerThreadPriority', () => {
  it('reads the nice value (field 19) past a command name with spaces and parentheses', () => {
    const stat = '4242 (node (refit) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 10 5 0 0 39 19 12 0 100 0 0';
    expect(niceFromStat(stat)).toBe(19);
  });

  // Linux only: elsewhere there is no /proc and a nice value is the whole process's (the next test).
  it.skipIf(!perThreadProc)('lowers the worker thread that asks, and not the thread that started it', async () => {
    const mainBefore = threadNice();
    const answer = await probe(19);
    expect(answer.result).toEqual({ ok: true, nice: 19 });
    expect(answer.nice).toBe(19);
    expect(threadNice()).toBe(mainBefore);
  });

  it('leaves the priority alone where a nice value is per process, and says why', () => {
    const before = threadNice();
    const r = lowerThreadPriority(19, 'darwin');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(/per process on darwin/);
    expect(threadNice()).toBe(before);
  });

  it.skipIf(!perThreadProc)('answers why when the system refuses, and never throws', () => {
    // A value setpriority refuses whoever asks (running as root, EACCES cannot be provoked here).
    const before = threadNice();
    const r = lowerThreadPriority(25);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(/^cannot set the thread's nice value to 25: /);
    expect(threadNice()).toBe(before);
  });
});
