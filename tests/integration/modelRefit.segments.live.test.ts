// Per-segment versions in a running processor, on real NATS, Redis and ClickHouse: the scheduled refit fits each
// segment with enough buyers beside the pooled fit, in one version; the live scoring takes a customer's parameters
// from its segment's fit (checked against the stored parameters); the checkpoint records the version, and a restart
// replays with it while a newer version is stored, then takes the newer one.
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/shared/logger.js';
import { DAY_MS as DAY, MINUTE_MS } from '../../src/shared/clock.js';
import { startProcessor } from '../../src/runtime/processor.js';
import { pAlive, type BgNbdParams } from '../../src/signals/models/bgnbd.js';
import { modelInputs } from '../../src/signals/purchaseModel.js';
import { createClickHouseClient } from '../../src/sinks/clickhouse/client.js';
import { storedModelName, storeModelFits } from '../../src/sources/purchaseModels.js';
import { eventually } from '../helpers/clickhouse.js';
import { purchaseHistory, type Purchase } from '../helpers/purchaseHistory.js';
import { chQuery, processorSuite } from '../helpers/processor.js';

const enc = new TextEncoder();


describe('per-segment model versions in the running processor', () => {
  const origin = Date.now() - 62 * DAY;
  const history = (segment: string, customers: number, bgNbd: BgNbdParams, seed: number) => purchaseHistory(origin, segment, customers, bgNbd, seed, segment);
  // vip buy often and stay; basic as the simulator's usual; tiny has too few buyers for a fit of its own
  const purchases = [
    ...history('vip', 200, { r: 1.5, alpha: 5, a: 0.6, b: 4 }, 21),
    ...history('basic', 200, { r: 0.8, alpha: 12, a: 0.6, b: 2.5 }, 22),
    ...history('tiny', 30, { r: 0.8, alpha: 12, a: 0.6, b: 2.5 }, 23),
  ];

  const s = processorSuite({
    ingest: { allowedLatenessMs: 100 * DAY },
    windows: { idleEvictMs: 400 * DAY },
    signals: { model: { refreshMs: 300, refit: { enabled: true, intervalMs: 500, minNewPurchases: purchases.length, minCustomers: 100, minSegmentBuyers: 100 } } },
  });

  /** The customer's live P(alive), and the one its inputs give under `params`. */
  function scored(id: string, params: BgNbdParams) {
    const p = s.processor.pipeline;
    const signals = p.customerSignals(p.windows.find(id), Math.floor(p.watermark() / MINUTE_MS));
    const v = signals.view;
    const i = modelInputs({ purchases: v.purchases, firstMin: v.firstPurchaseMin!, lastMin: v.lastPurchaseMin!, revenue: v.revenue, firstValue: v.firstPurchaseValue }, v.nowMin);
    return { live: signals.churn.pAlive, expected: pAlive(params, i.x, i.tx, i.T) };
  }

  it("fits each segment with enough buyers in the version, scores a customer with its segment's fit, and replays a checkpoint with its version", async () => {
    const db = s.config.clickhouse.database;
    for (const p of purchases) s.nc.publish(`${s.config.nats.subjectPrefix}.purchase`, enc.encode(JSON.stringify(p)));
    await s.nc.flush();
    await eventually('every purchase processed', () => s.processor.pipeline.counts.processed >= purchases.length, 60_000);
    await eventually('the first refit', () => (s.processor.refitStatus()?.refits ?? 0) >= 1, 60_000);
    const accepted = s.processor.refitStatus()!.accepted!;
    // one version: the pooled fit and each segment's, with one fit date
    const rows = await chQuery<{ segment: string; params: string; customers: string; converged: number }>(
      `SELECT segment, params, customers, converged FROM ${db}.model_params WHERE model = 'bgnbd' AND fitted_at = toDateTime('${accepted.fittedAt.replace('T', ' ').replace('Z', '')}', 'UTC') ORDER BY segment`,
    );
    expect(rows.map((r) => [r.segment, Number(r.customers), Number(r.converged)])).toEqual([['', 430, 1], ['basic', 200, 1], ['vip', 200, 1]]);
    expect([...accepted.segments].sort()).toEqual(['basic', 'vip']);
    await eventually('the pipeline on the version', () => s.processor.pipeline.model.name === accepted.model, 30_000);
    expect(s.processor.pipeline.model.segments).toEqual(['basic', 'vip']);
    const params = Object.fromEntries(rows.map((r) => [r.segment, JSON.parse(r.params) as BgNbdParams]));

    // a vip repeat buyer is scored with vip's parameters, a tiny one with the pooled ones
    const vipBuyer = purchases.find((p) => p.segment === 'vip' && purchases.filter((q) => q.customerId === p.customerId).length > 2)!.customerId;
    const vip = scored(vipBuyer, params.vip);
    expect(vip.live).toBeCloseTo(vip.expected, 12);
    expect(vip.live).not.toBeCloseTo(scored(vipBuyer, params['']).expected, 4);
    const tinyBuyer = purchases.find((p) => p.segment === 'tiny')!.customerId;
    const tiny = scored(tinyBuyer, params['']);
    expect(tiny.live).toBeCloseTo(tiny.expected, 12);

    // The checkpoint records the version; a newer one is stored while the processor is down.
    await s.processor.checkpointNow();
    await s.processor.stop();
    const ch = createClickHouseClient(s.config.clickhouse);
    const newerAt = Date.parse(accepted.fittedAt) + 60_000;
    await storeModelFits(ch, newerAt, 'test', [{ model: 'bgnbd', params: { r: 0.5, alpha: 9, a: 0.5, b: 3 }, logLikelihood: -1000, customers: 430, converged: true }]);
    await ch.close();
    const newer = storedModelName({ fittedAtMs: newerAt, bgnbd: { r: 0.5, alpha: 9, a: 0.5, b: 3 }, gammaGamma: null });

    const lines: { msg: string; checkpointModel?: string; latest?: string }[] = [];
    s.processor = await startProcessor({ config: s.config, logger: createLogger('info', false, { write: (l: string) => void lines.push(JSON.parse(l)) }) });
    const p = s.processor.pipeline;
    expect(p.checkpointModel).toBe(accepted.model);
    expect(lines.find((l) => l.msg.startsWith('replaying with the version that scored the checkpoint'))).toMatchObject({ checkpointModel: accepted.model, latest: newer });
    // caught up: the newest version is staged, and scores from the first checkpoint on; each customer kept its segment
    expect(p.pendingModel?.name).toBe(newer);
    expect(p.model.name).toBe(accepted.model);
    await s.processor.checkpointNow();
    expect(p.model.name).toBe(newer);
    expect(p.windows.segmentOf(p.windows.find(vipBuyer))).toBe('vip');
  });
});
