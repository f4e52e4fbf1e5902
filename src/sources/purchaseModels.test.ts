// The stored-model watch on the manual clock: read at start, again every refreshMs, nothing after stop; a version's
// segment fits score their segment's customers, every other customer the pooled fit.
import { describe, expect, it } from 'vitest';
import { settle } from '../../tests/helpers/wait.js';
import { parseConfig } from '../config/load.js';
import { ManualClock } from '../shared/clock.js';
import { silentLogger } from '../shared/logger.js';
import { configuredPurchaseModel, type PurchaseModelSet } from '../signals/purchaseModel.js';
import { parseTabSeparated, type ClickHouseClient } from '../sinks/clickhouse/client.js';
import { STEPS_PER_PACE } from '../shared/pacing.js';
import { paretoNbdPAlive } from '../signals/models/paretoNbd.js';
import { mbgNbdExpectedPurchases } from '../signals/models/mbgnbd.js';
import { pAlive as bgNbdPAlive } from '../signals/models/bgnbd.js';
import { readLatestModel, readPurchaseHistories, storeModelFits, storedModelName, storedModelSet, watchStoredModel, type ModelFitRecord } from './purchaseModels.js';
import type { ModelParamsRow } from '../sinks/clickhouse/tables.js';

/** model_params as ClickHouse answers it: the newest converged fit, or nothing yet. */
function fakeClickHouse() {
  const db = { reads: 0, fittedS: 0, segments: {} as Record<string, Record<string, number>>, extra: [] as { model: string; params: Record<string, unknown>; segment?: string }[] };
  const ch = {
    database: 'vigil',
    async query() {
      db.reads++;
      if (db.fittedS === 0) return [];
      const pooled = { model: 'bgnbd', params: JSON.stringify({ r: 0.24, alpha: 4.4, a: 0.79, b: 2.4 }), fitted_s: String(db.fittedS), segment: '' };
      return [
        pooled,
        ...Object.entries(db.segments).map(([segment, p]) => ({ ...pooled, segment, params: JSON.stringify(p) })),
        ...db.extra.map((e) => ({ ...pooled, model: e.model, segment: e.segment ?? '', params: JSON.stringify(e.params) })),
      ];
    },
  };
  return { db, ch: ch as unknown as ClickHouseClient };
}

describe('watchStoredModel', () => {
  it('reads at start and every refreshMs, swaps the model when a newer fit is stored, and stops reading on stop', async () => {
    const config = parseConfig({ signals: { model: { refreshMs: 60_000 } } }).signals.model;
    const clock = new ManualClock(0);
    const { db, ch } = fakeClickHouse();
    const models: string[] = [];
    const target = { model: configuredPurchaseModel(config), setModel(m: PurchaseModelSet) { target.model = m; models.push(m.name); } };
    const watch = watchStoredModel({ ch, config, log: silentLogger, target, clock });
    await watch.ready;
    expect(db.reads).toBe(1);
    expect(models).toEqual([]);

    db.fittedS = 1_800_000_000;
    clock.advance(59_999);
    await settle();
    expect(db.reads).toBe(1);
    clock.advance(1);
    await settle();
    expect(db.reads).toBe(2);
    expect(models).toHaveLength(1);
    expect(models[0]).not.toBe('bgnbd-gg:config');

    // The same fit again: read, not swapped.
    clock.advance(60_000);
    await settle();
    expect(db.reads).toBe(3);
    expect(models).toHaveLength(1);

    watch.stop();
    expect(clock.pending()).toBe(0);
    clock.advance(10 * 60_000);
    await settle();
    expect(db.reads).toBe(3);
  });

  it('scores a segment with its own fit of the version, and any other segment (or none) with the pooled fit', async () => {
    const config = parseConfig({}).signals.model;
    const { db, ch } = fakeClickHouse();
    db.fittedS = 1_800_000_000;
    // vip buy often and stay; "broken" has a parameter no model can use: it falls back to the pooled fit.
    db.segments = { vip: { r: 2, alpha: 10, a: 0.1, b: 5 }, broken: { r: -1, alpha: 4.4, a: 0.79, b: 2.4 } };
    const target = { model: configuredPurchaseModel(config), setModel(m: PurchaseModelSet) { target.model = m; } };
    const watch = watchStoredModel({ ch, config, log: silentLogger, target, clock: new ManualClock(0) });
    await watch.ready;
    watch.stop();
    const set = target.model;
    expect(set.name).toBe('bgnbd:2027-01-15T08:00:00Z,gg:config');
    expect(set.segments).toEqual(['vip']);
    expect(set.forSegment('vip').name).toBe('bgnbd:2027-01-15T08:00:00Z,gg:config@vip');
    expect(set.forSegment('broken')).toBe(set);
    expect(set.forSegment('never-fitted')).toBe(set);
    expect(set.forSegment(null)).toBe(set);
    // The same customer (3 repeat purchases, the last 60 of 100 days ago) under each fit: the segment's differs.
    expect(set.forSegment('vip').pAlive(3, 40, 100)).not.toBeCloseTo(set.pAlive(3, 40, 100), 3);
  });

  it('scores the pooled customers and the segments with the count model the refit chose, named by it', async () => {
    const config = parseConfig({}).signals.model;
    const { db, ch } = fakeClickHouse();
    db.fittedS = 1_800_000_000;
    const pareto = { r: 0.55, alpha: 10.58, s: 0.61, beta: 11.67 };
    const vipPareto = { r: 2, alpha: 10, s: 0.2, beta: 40 };
    const identity = [[0.01, 0, 0, 0], [0, 0.01, 0, 0], [0, 0, 0.01, 0], [0, 0, 0, 0.01]];
    db.extra = [
      { model: 'pareto_nbd', params: { ...pareto, unit: 'days', logCovariance: identity } },
      { model: 'pareto_nbd', segment: 'vip', params: { ...vipPareto, unit: 'days', logCovariance: identity } },
    ];
    const target = { model: configuredPurchaseModel(config), setModel(m: PurchaseModelSet) { target.model = m; } };
    const watch = watchStoredModel({ ch, config, log: silentLogger, target, clock: new ManualClock(0) });
    await watch.ready;
    watch.stop();
    const set = target.model;
    expect(set.name).toBe('pareto_nbd:2027-01-15T08:00:00Z,gg:config');
    expect(set.pAlive(3, 40, 100)).toBe(paretoNbdPAlive(pareto, 3, 40, 100));
    expect(set.pAliveInterval?.(3, 40, 100).upper).toBeGreaterThan(set.pAlive(3, 40, 100));
    expect(set.forSegment('vip').name).toBe('pareto_nbd:2027-01-15T08:00:00Z,gg:config@vip');
    // the segment's fit is of the chosen model too, with its own interval
    expect(set.forSegment('vip').pAlive(3, 40, 100)).toBe(paretoNbdPAlive(vipPareto, 3, 40, 100));
    expect(set.forSegment('vip').pAliveInterval?.(3, 40, 100).lower).toBeLessThan(set.forSegment('vip').pAlive(3, 40, 100));
    // a version stored before segments followed the choice: its BG/NBD segment rows still score their segment
    db.extra = [db.extra[0]];
    db.segments = { vip: { r: 2, alpha: 10, a: 0.1, b: 5 } };
    const old = { model: configuredPurchaseModel(config), setModel(m: PurchaseModelSet) { old.model = m; } };
    const again = watchStoredModel({ ch, config, log: silentLogger, target: old, clock: new ManualClock(0) });
    await again.ready;
    again.stop();
    expect(old.model.forSegment('vip').pAlive(3, 40, 100)).toBe(bgNbdPAlive({ r: 2, alpha: 10, a: 0.1, b: 5 }, 3, 40, 100));
  });

  it('builds the live set of a stored version with each model: BG/NBD without a choice, else the chosen one', () => {
    const config = parseConfig({}).signals.model;
    const bg = { r: 0.24, alpha: 4.4, a: 0.79, b: 2.4 };
    const gg = { p: 6.25, q: 3.74, gamma: 15.44 };
    const mbg = { r: 0.525, alpha: 6.183, a: 0.891, b: 1.614 };
    const base = { fittedAtMs: Date.parse('2026-11-23T12:00:00Z'), bgnbd: bg, gammaGamma: gg };
    const plain = storedModelSet(config, base).set;
    expect(plain.name).toBe('bgnbd-gg:2026-11-23T12:00:00Z');
    expect(plain.pAlive(3, 40, 100)).toBe(bgNbdPAlive(bg, 3, 40, 100));
    const chosen = { ...base, chosen: { model: 'mbg_nbd' as const, params: mbg, logCovariance: null } };
    const live = storedModelSet(config, chosen).set;
    expect(live.name).toBe(storedModelName(chosen));
    expect(live.name).toBe('mbg_nbd-gg:2026-11-23T12:00:00Z');
    expect(Math.abs(live.expectedPurchases(30, 3, 40, 100) - mbgNbdExpectedPurchases(mbg, 30, 3, 40, 100))).toBeLessThan(1e-9);
    // MBG/NBD's own feature: a customer without repeat purchases may be gone, where BG/NBD says alive for sure
    expect(plain.pAlive(0, 0, 30)).toBe(1);
    expect(live.pAlive(0, 0, 30)).toBeLessThan(1);
    expect(live.pAliveInterval).toBeUndefined();
    // a chosen fit whose parameters cannot be used leaves the version unusable (the watch keeps the current one)
    expect(() => storedModelSet(config, { ...chosen, chosen: { ...chosen.chosen, params: { ...mbg, b: 0 } } })).toThrow(/parameter b/);
  });
});

describe('the Gamma-Gamma covariance in model_params', () => {
  /** What storeModelFits inserts, read back as readLatestModel's query answers it (every row of the one version). */
  async function roundTrip(fits: ModelFitRecord[]) {
    const stored: ModelParamsRow[] = [];
    const ch = {
      database: 'vigil',
      async insert(_table: string, rows: ModelParamsRow[]) {
        stored.push(...rows);
      },
      async query() {
        return stored.map((r) => ({ model: r.model, params: r.params, fitted_s: String(r.fitted_at), segment: r.segment }));
      },
    } as unknown as ClickHouseClient;
    await storeModelFits(ch, Date.parse('2026-11-23T12:00:00Z'), 'test', fits);
    return readLatestModel(ch);
  }
  const bg = { r: 0.24, alpha: 4.4, a: 0.79, b: 2.4 };
  const gg = { p: 6.25, q: 3.74, gamma: 15.44 };
  const countCov = [[0.01, 0, 0, 0], [0, 0.01, 0, 0], [0, 0, 0.01, 0], [0, 0, 0, 0.01]];
  const spendCov = [[0.04, -0.02, -0.03], [-0.02, 0.006, 0.02], [-0.03, 0.02, 0.07]];
  const row = (model: 'bgnbd' | 'gamma_gamma', params: Record<string, number>, logCovariance?: number[][]): ModelFitRecord => ({ model, params, logLikelihood: -1, customers: 100, converged: true, logCovariance });

  it('is stored with the fit and read back: the live model gives customer value an interval', async () => {
    const latest = await roundTrip([row('bgnbd', bg, countCov), row('gamma_gamma', gg, spendCov)]);
    expect(latest!.gammaGamma).toEqual(gg);
    expect(latest!.gammaGammaLogCovariance).toEqual(spendCov);
    const set = storedModelSet(parseConfig({}).signals.model, latest!).set;
    const value = set.intervals!(3, 40, 100, 30, true).value!;
    expect(value.lower).toBeLessThan(value.estimate);
    expect(value.upper).toBeGreaterThan(value.estimate);
  });

  it('is absent from a row stored before it was kept: no value interval, not an error', async () => {
    const latest = await roundTrip([row('bgnbd', bg, countCov), row('gamma_gamma', gg)]);
    expect(latest!.gammaGammaLogCovariance).toBeUndefined();
    const set = storedModelSet(parseConfig({}).signals.model, latest!).set;
    expect(set.intervals!(3, 40, 100, 30, true).value).toBeNull();
    expect(set.intervals!(3, 40, 100, 30, true).pAlive.upper).toBeGreaterThan(set.pAlive(3, 40, 100));
  });
});

describe('readPurchaseHistories', () => {
  it('hands its pace a slice of rows at a time, while parsing the text and while building the histories', async () => {
    const customers = 2 * STEPS_PER_PACE;
    const text = Array.from({ length: customers }, (_, i) => `c${i}\t${1 + (i % 3)}\t100\t${200 + i}\t30\t10\n`).join('');
    const paced: string[] = [];
    let phase = 'parsing';
    const ch = {
      database: 'vigil',
      async queryText(_sql: string, _params: unknown, step?: () => void) {
        const rows = parseTabSeparated(text, step);
        phase = 'building';
        return rows;
      },
    } as unknown as ClickHouseClient;
    const histories = await readPurchaseHistories(ch, 1_800_000_000_000, { pace: () => paced.push(phase) });
    expect(histories).toHaveLength(customers);
    expect(histories[5]).toEqual({ customerId: 'c5', history: { purchases: 3, firstMin: 100, lastMin: 205, revenue: 30, firstValue: 10 } });
    // One pace per STEPS_PER_PACE rows parsed, and as many again while the rows become histories.
    expect(paced).toEqual(['parsing', 'parsing', 'building', 'building']);
  });
});
