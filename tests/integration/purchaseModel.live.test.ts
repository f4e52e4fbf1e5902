// The live purchase model against the offline one, on real NATS and ClickHouse: a processor takes simulated purchase
// histories, `vigil model fit` fits and stores parameters from ClickHouse, the processor picks them up, and the
// P(alive), expected purchases and customer value it writes to customer_signals equal what the models compute
// offline from the same x, t_x and T (read from ClickHouse as the fitting command reads them).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from 'nats';
import { runModelFit } from '../../src/cli/modelFit.js';
import type { ClickHouseModelFit } from '../../src/cli/modelFitClickHouse.js';
import type { VigilConfig } from '../../src/config/schema.js';
import type { RunningProcessor } from '../../src/runtime/processor.js';
import type { ClickHouseClient } from '../../src/sinks/clickhouse/client.js';
import { readLatestModel, readPurchaseHistories } from '../../src/sources/purchaseModels.js';
import { expectedPurchases, pAlive } from '../../src/signals/models/bgnbd.js';
import { customerLifetimeValue } from '../../src/signals/models/gammaGamma.js';
import { simulateCustomers } from '../../src/signals/models/simulate.js';
import { lifetimeValueOptions, modelInputs } from '../../src/signals/purchaseModel.js';
import { eventually, testClickHouseClient } from '../helpers/clickhouse.js';
import { chQuery, cleanUp, isolatedConfig, natsConnection, startTestProcessor } from '../helpers/processor.js';
import { DAY_MS as DAY, MINUTE_MS as MIN } from '../../src/shared/clock.js';

const enc = new TextEncoder();
/** Float32 columns (p_alive, expected_purchases_*) keep 24 bits: 6e-8 relative; 1e-6 leaves room for printing. */
const FLOAT32_TOLERANCE = 1e-6;
/**
 * customer_value is Float64, but the live path reads expectations from an interpolated table (forecastTable.ts),
 * which its own tests hold within 1e-6 of the series; so the same bound as the Float32 columns.
 */
const FLOAT64_TOLERANCE = 1e-6;

const close = (live: number, offline: number, relative: number) => Math.abs(live - offline) <= relative * Math.abs(offline) + 1e-30;

describe('live purchase model in ClickHouse equals the offline fit', () => {
  let config: VigilConfig;
  let nc: NatsConnection;
  let ch: ClickHouseClient;
  let processor: RunningProcessor;
  const publish = (ev: { type: string }) => nc.publish(`${config.nats.subjectPrefix}.${ev.type}`, enc.encode(JSON.stringify(ev)));

  beforeAll(async () => {
    // No idle eviction over the simulated months, and a quick re-read of model_params.
    // snapshotStep 0: every page view below writes its customer's row (a day's move in P(alive) can be under the step).
    config = isolatedConfig({ windows: { idleEvictMs: 400 * DAY }, signals: { snapshotStep: 0, model: { refreshMs: 300 } } });
    nc = await natsConnection();
    processor = await startTestProcessor(config);
    ch = testClickHouseClient(config.clickhouse.database);
  });

  afterAll(async () => {
    await processor?.stop();
    await ch?.close();
    await cleanUp(config, nc);
    await nc.close();
  });

  it('p_alive, expected_purchases_30d/90d and customer_value per customer match pAlive, expectedPurchases and customerLifetimeValue', async () => {
    expect(processor.pipeline.model.name).toBe('bgnbd-gg:config');

    // 300 customers acquired over 40 days, their purchases over 60 days ending a day ago, sent in event-time order
    // (the watermark follows event time; every event is within the allowed lateness of the one before).
    const origin = Date.now() - 62 * DAY;
    const customers = simulateCustomers({
      customers: 300,
      bgNbd: { r: 0.8, alpha: 12, a: 0.6, b: 2.5 },
      gammaGamma: { p: 6, q: 4, gamma: 20 },
      observationEnd: 60,
      acquisition: [0, 40],
      seed: 11,
      keepPurchases: true,
    });
    const purchases = customers
      .flatMap((c) => (c.purchases ?? []).map((p, i) => ({ id: `p-${c.id}-${i}`, customerId: `cust-${c.id}`, type: 'purchase', ts: Math.round(origin + p.time * DAY), value: Number((p.value ?? 0).toFixed(2)) })))
      .sort((p, q) => p.ts - q.ts);
    for (const p of purchases) publish(p);
    await nc.flush();
    await eventually('every purchase processed', () => processor.pipeline.counts.processed >= purchases.length, 60_000);
    const db = config.clickhouse.database;
    await eventually(
      'every purchase in ClickHouse',
      async () => Number((await chQuery<{ n: string }>(`SELECT count() AS n FROM ${db}.events FINAL WHERE type = 'purchase'`))[0].n) === purchases.length,
      30_000,
    );
    // Snapshots so far were computed with the config's parameters. Their rows go in their own batches, which may land
    // after the events': every customer's first event wrote one.
    await eventually(
      'every customer\'s first snapshot in ClickHouse',
      async () => Number((await chQuery<{ n: string }>(`SELECT uniqExact(customer_id) AS n FROM ${db}.customer_signals`))[0].n) === customers.length,
      30_000,
    );
    const before = await chQuery<{ model: string }>(`SELECT DISTINCT model FROM ${db}.customer_signals`);
    expect(before).toEqual([{ model: 'bgnbd-gg:config' }]);

    // `vigil model fit` from ClickHouse: prints the fit and stores it; the processor picks it up within refreshMs.
    let out = '';
    let progress = '';
    expect(await runModelFit(['--min-customers', '100'], { stdout: (s) => (out += s), stderr: (s) => (progress += s), clickhouse: ch })).toBe(0);
    // Each step of the fit on stderr, stdout only the fit.
    expect(progress.split('\n').filter(Boolean).map((l) => l.replace(/ \(.*elapsed\)$/, ''))).toEqual([
      `vigil model fit: reading every customer's purchases from ${db}.events as of ${(JSON.parse(out) as ClickHouseModelFit).asOf}`,
      // every purchase here is within the last 90 days: no calibration period to compare the models on
      expect.stringMatching(/^vigil model fit: fitting BG\/NBD on 300 customers, Gamma-Gamma on \d+ repeat buyers$/),
      `vigil model fit: storing ${(JSON.parse(out) as ClickHouseModelFit).model} in model_params`,
      'vigil model fit: done',
    ]);
    expect((JSON.parse(out) as ClickHouseModelFit).comparisonSkipped).toMatch(/^0 customers bought before the holdout's start/);
    const fit = JSON.parse(out) as ClickHouseModelFit;
    expect(fit.customers).toBe(300);
    expect(fit.bgnbd.converged && fit.gammaGamma?.converged).toBe(true);
    expect(fit.model).toMatch(/^bgnbd-gg:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    // Staged by the watch, it takes over at the pipeline's next checkpoint (processor.checkpointIntervalMs, 10 s).
    await eventually('the processor on the fitted parameters', () => processor.pipeline.model.name === fit.model, 30_000);

    // One page view per customer a day after the last purchase: each writes a snapshot as of that minute.
    const tEnd = origin + 61 * DAY;
    const processed = processor.pipeline.counts.processed;
    for (const c of customers) publish({ id: `ping-${c.id}`, customerId: `cust-${c.id}`, type: 'page_view', ts: tEnd } as never);
    await nc.flush();
    await eventually('every page view processed', () => processor.pipeline.counts.processed >= processed + customers.length, 30_000);
    type SignalRow = { customer_id: string; p_alive: number; expected_purchases_30d: number; expected_purchases_90d: number; customer_value: number; model: string };
    let live: SignalRow[] = [];
    await eventually(
      'a snapshot per customer at the page view',
      async () => {
        live = await chQuery<SignalRow>(
          `SELECT customer_id, p_alive, expected_purchases_30d, expected_purchases_90d, customer_value, model FROM ${db}.customer_signals FINAL WHERE ts_ms = ${tEnd}`,
        );
        return live.length === customers.length;
      },
      30_000,
    );

    // Offline: the histories as `vigil model fit` reads them, as of the same minute, with the stored parameters.
    const stored = (await readLatestModel(ch))!;
    expect(stored.bgnbd).toEqual(fit.bgnbd.params);
    const options = lifetimeValueOptions(config.signals.model);
    const nowMin = Math.floor(tEnd / MIN);
    const histories = new Map((await readPurchaseHistories(ch, tEnd)).map((h) => [h.customerId, h.history]));
    expect(histories.size).toBe(customers.length);
    let compared = 0;
    for (const c of customers) {
      const row = live.find((r) => r.customer_id === `cust-${c.id}`)!;
      const inputs = modelInputs(histories.get(`cust-${c.id}`)!, nowMin);
      // the same x, t_x and T as the simulated history, at minute resolution
      const sent = purchases.filter((p) => p.customerId === `cust-${c.id}`);
      const firstMin = Math.floor(sent[0].ts / MIN);
      expect([inputs.x, inputs.tx, inputs.T]).toEqual([c.x, (Math.floor(sent[sent.length - 1].ts / MIN) - firstMin) / 1440, (nowMin - firstMin) / 1440]);

      const { x, tx, T } = inputs;
      const offline = {
        pAlive: pAlive(stored.bgnbd, x, tx, T),
        e30: expectedPurchases(stored.bgnbd, 30, x, tx, T),
        e90: expectedPurchases(stored.bgnbd, 90, x, tx, T),
        value: inputs.hasSpend ? customerLifetimeValue(stored.bgnbd, stored.gammaGamma!, x, tx, T, inputs.meanRepeatSpend, options) : 0,
      };
      const where = `customer ${c.id} (x=${x}, t_x=${tx}, T=${T})`;
      expect(row.model, where).toBe(fit.model);
      expect(close(row.p_alive, offline.pAlive, FLOAT32_TOLERANCE), `${where} p_alive ${row.p_alive} vs ${offline.pAlive}`).toBe(true);
      expect(close(row.expected_purchases_30d, offline.e30, FLOAT32_TOLERANCE), `${where} e30 ${row.expected_purchases_30d} vs ${offline.e30}`).toBe(true);
      expect(close(row.expected_purchases_90d, offline.e90, FLOAT32_TOLERANCE), `${where} e90 ${row.expected_purchases_90d} vs ${offline.e90}`).toBe(true);
      expect(close(row.customer_value, offline.value, FLOAT64_TOLERANCE), `${where} value ${row.customer_value} vs ${offline.value}`).toBe(true);
      compared++;
    }
    expect(compared).toBe(300);
    // The comparison means something: customers differ, and some are well past their usual purchase gap.
    expect(Math.min(...live.map((r) => r.p_alive))).toBeLessThan(0.5);
    expect(new Set(live.map((r) => r.customer_value.toFixed(6))).size).toBeGreaterThan(250);
    // The fit was stored with both covariances: the wall's at-risk entries (derived with the snapshots above) carry
    // their 90 % intervals, the value's too.
    const atRisk = processor.pipeline.snapshot().atRisk;
    expect(atRisk.length).toBeGreaterThan(0);
    for (const e of atRisk) {
      const iv = e.intervals!;
      expect(iv.pAlive.lower <= e.pAlive && e.pAlive <= iv.pAlive.upper, `${e.customerId} P(alive) ${e.pAlive} in ${iv.pAlive.lower}–${iv.pAlive.upper}`).toBe(true);
      if (e.valueAtRisk > 0) expect(iv.valueAtRisk!.lower < e.valueAtRisk && e.valueAtRisk < iv.valueAtRisk!.upper, e.customerId).toBe(true);
    }
  });
});
