// The scheduled refit in a running processor, on real NATS, Redis and ClickHouse: the processor fits the purchase
// models from the history it wrote, in a worker thread, stores the version in model_params and swaps it in without a
// restart; then a history with a very different repeat rate arrives, the next refit raises the drift (naming what
// moved) and its version takes over.
import { describe, expect, it } from 'vitest';
import { DAY_MS as DAY } from '../../src/shared/clock.js';
import { eventually } from '../helpers/clickhouse.js';
import { purchaseHistory, type BgNbdProcess, type Purchase } from '../helpers/purchaseHistory.js';
import { chQuery, processorSuite } from '../helpers/processor.js';
import { versionFittedAt } from '../../src/sources/purchaseModels.js';

const enc = new TextEncoder();


describe('scheduled refit in the running processor', () => {
  const origin = Date.now() - 62 * DAY;

  /** Simulated purchase histories over 60 days ending two days ago, one customer's after another's. */
  const history = (prefix: string, customers: number, bgNbd: BgNbdProcess, seed: number) => purchaseHistory(origin, prefix, customers, bgNbd, seed);
  const before = history('a', 300, { r: 0.8, alpha: 12, a: 0.6, b: 2.5 }, 11);
  // Frequent buyers who rarely drop out: the repeat rate and the dropout move far beyond the limits.
  const after = history('b', 150, { r: 2, alpha: 4, a: 0.2, b: 8 }, 12);

  async function send(purchases: Purchase[]): Promise<void> {
    const processed = s.processor.pipeline.counts.processed;
    for (const p of purchases) s.nc.publish(`${s.config.nats.subjectPrefix}.purchase`, enc.encode(JSON.stringify(p)));
    await s.nc.flush();
    await eventually('every purchase processed', () => s.processor.pipeline.counts.processed >= processed + purchases.length, 60_000);
  }

  const s = processorSuite({
    // The second history goes back as far as the first: not late.
    ingest: { allowedLatenessMs: 100 * DAY },
    windows: { idleEvictMs: 400 * DAY },
    signals: {
      model: {
        refreshMs: 300,
        // The first refit waits for the whole first history; later ones for as many new purchases again.
        refit: { enabled: true, intervalMs: 500, minNewPurchases: before.length, minCustomers: 100, drift: { maxParamChange: 0.5, maxLogLikelihoodChange: 0.5 } },
      },
    },
  });

  it('refits from its own history, swaps the version in live, and raises drift when the purchase process changes', async () => {
    expect(s.processor.pipeline.model.name).toBe('bgnbd-gg:config');
    expect(s.processor.refitStatus()).toMatchObject({ refits: 0, accepted: null });
    expect(after.length).toBeGreaterThan(before.length);
    const db = s.config.clickhouse.database;

    await send(before);
    await eventually('the first refit', () => (s.processor.refitStatus()?.refits ?? 0) >= 1, 60_000);
    const first = s.processor.refitStatus()!;
    expect(first.recent[0]).toMatchObject({ converged: true, drift: { drifted: false, reasons: [] } });
    // named by the count model it scores with: BG/NBD, or the holdout comparison's choice
    expect(first.accepted!.model).toMatch(/^(bgnbd|pareto_nbd|mbg_nbd)-gg:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    // swapped in without a restart, through the watch on model_params
    await eventually('the pipeline on the refitted version', () => s.processor.pipeline.model.name === first.accepted!.model, 30_000);
    const stored = await chQuery<{ customers: string; source: string }>(`SELECT customers, source FROM ${db}.model_params WHERE model = 'bgnbd' ORDER BY fitted_at`);
    expect(stored.map((r) => Number(r.customers))).toEqual([300]);

    // The refit counts purchases received after the last fit's second (received_at has whole seconds): what arrives
    // in that second counts as before it, so the new history is sent once the clock has left it.
    const fittedMs = Date.parse(first.accepted!.fittedAt);
    await eventually('the clock past the first fit\'s second', () => Date.now() >= fittedMs + 1_000, 5_000);
    await send(after);
    await eventually('a refit that drifted', () => s.processor.refitStatus()!.recent.some((r) => r.drift.drifted), 60_000);
    const drifted = s.processor.refitStatus()!.recent.find((r) => r.drift.drifted)!;
    expect(drifted.converged).toBe(true);
    expect(drifted.model).not.toBe(first.accepted!.model);
    // the reasons name what moved: the rate's parameters, at least
    expect(drifted.drift.reasons.join('; ')).toMatch(/(^|; )(r|alpha) \S+ → \S+ \([+-]\d+ %, limit ±50 %\)/);
    await eventually('a version fitted on the new history takes over', () => (versionFittedAt(s.processor.pipeline.model.name) ?? 0) >= versionFittedAt(drifted.model)!, 30_000);
    expect(s.processor.pipeline.model.name).not.toBe(first.accepted!.model);

    // The model_drift alert (a processor rule of the alert engine) fired with the reasons of the refit that drifted;
    // later refits on the same process may resolve it, so it is looked for among every alert the engine holds.
    await eventually('the model_drift alert', () => s.processor.pipeline.alerts.views().some((a) => a.rule === 'model_drift'), 30_000);
    const alert = s.processor.pipeline.alerts.views().find((a) => a.rule === 'model_drift')!;
    expect(alert.subject).toEqual({ kind: 'processor', key: 'vigil' });
    expect(alert.reasons.join(' ')).toMatch(/^(bgnbd|pareto_nbd|mbg_nbd)-gg:\S+: /);
    // The stats (and so the wall) carry the version, its fit date and the last refit's drift state: at the next tick
    // after the version changed (refits may still follow one another here).
    await eventually('the stats on the version scoring', () => s.processor.pipeline.stats.model?.version === s.processor.pipeline.model.name, 30_000);
    const state = s.processor.pipeline.stats.model!;
    expect(state.fittedAt).toBe(state.version.slice(state.version.indexOf(':') + 1));
    expect(['ok', 'drifted']).toContain(state.drift);
  });
});
