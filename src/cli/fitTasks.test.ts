import { describe, expect, it } from 'vitest';
import { CDNOW_COUNT_FITS } from '../signals/models/cdnowFits.testing.js';
import { simulateCustomers } from '../signals/models/simulate.js';
import { inThisThread, runFitTask, runShared, type FitExecutor, type FitTask } from './fitTasks.js';
import { threadNice } from '../shared/threadPriority.js';
import { FitThread } from './fitThread.js';

/** An executor that only records what it was given, answering each task with its label. */
function recorder(): FitExecutor & { got: string[] } {
  const got: string[] = [];
  return { got, run: async (task) => (got.push((task as unknown as { label: string }).label), (task as unknown as { label: string }).label) as never };
}

describe('runShared', () => {
  it('gives each job, heaviest first, to the executor with the least weight so far', async () => {
    const [a, b] = [recorder(), recorder()];
    const jobs = [3, 5, 2, 4, 3].map((weight, k) => ({ weight, run: (e: FitExecutor) => e.run({ label: `j${k}` } as unknown as FitTask) as Promise<unknown> }));
    const settled = await runShared(jobs, [a, b]);
    // 5 → a; 4 → b; 3 → b (4 < 5); 3 → a (5 < 7); 2 → b (7 < 8)
    expect(a.got).toEqual(['j1', 'j4']);
    expect(b.got).toEqual(['j3', 'j0', 'j2']);
    expect(settled.map((s) => (s.ok ? s.value : null))).toEqual(['j0', 'j1', 'j2', 'j3', 'j4']);
  });

  it('settles each job on its own: one that fails leaves the others their results', async () => {
    const jobs = [
      { weight: 2, run: async () => 'fine' },
      { weight: 1, run: async () => Promise.reject(new Error('no repeat buyers')) },
    ];
    const [ok, failed] = await runShared(jobs, [inThisThread]);
    expect(ok).toEqual({ ok: true, value: 'fine' });
    expect(failed.ok).toBe(false);
    expect(!failed.ok && (failed.error as Error).message).toBe('no repeat buyers');
  });
});

describe('FitThread', () => {
  const data = simulateCustomers({ customers: 1500, bgNbd: { r: CDNOW_COUNT_FITS.bgnbd.r, alpha: CDNOW_COUNT_FITS.bgnbd.alpha, a: CDNOW_COUNT_FITS.bgnbd.a, b: CDNOW_COUNT_FITS.bgnbd.b }, observationEnd: 39, acquisition: [0, 12], seed: 3 }).map(({ x, tx, T }) => ({ x, tx, T }));

  it('runs a fit to the same numbers as this thread, and answers a refused one with its code and reason', async () => {
    const thread = FitThread.start({ nice: 0 });
    try {
      expect((await thread.priority).ok).toBe(true);
      const task = { kind: 'count', model: 'bgnbd', data, options: { minCustomers: 100 } } as const;
      expect(await thread.run(task)).toEqual(runFitTask(task));
      const refused = thread.run({ kind: 'count', model: 'bgnbd', data: data.slice(0, 5), options: { minCustomers: 100 } });
      await expect(refused).rejects.toMatchObject({ code: 'MODEL_INPUT_INVALID', message: expect.stringMatching(/5 customers, at least 100 needed/) });
    } finally {
      await thread.close();
    }
  });

  it('runs at the nice value it was given (on Linux, that thread only), as the refit\'s own thread does', async () => {
    const before = threadNice();
    const thread = FitThread.start({ nice: 7 });
    try {
      const priority = await thread.priority;
      if (process.platform === 'linux') expect(priority).toEqual({ ok: true, nice: 7 });
      else expect(priority).toMatchObject({ ok: false, reason: expect.stringMatching(/per process/) });
      // this thread keeps its own
      expect(threadNice()).toBe(before);
    } finally {
      await thread.close();
    }
  });

  it('fails the tasks it holds when it is closed, and any task given after', async () => {
    const thread = FitThread.start({ nice: 0 });
    const running = thread.run({ kind: 'count', model: 'pareto_nbd', data, options: { minCustomers: 100 } });
    await thread.close();
    await expect(running).rejects.toThrow(/the second fitting thread was closed/);
    await expect(thread.run({ kind: 'spend', data: [], minCustomers: 10 })).rejects.toThrow(/was closed/);
  });
});
