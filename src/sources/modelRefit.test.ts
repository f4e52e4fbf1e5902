import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import { ManualClock } from '../shared/clock.js';
import { silentLogger } from '../shared/logger.js';
import type { FitFigures } from './modelDrift.js';
import { processorSample } from '../alerts/entityRules.js';
import { modelState, refitDecision, refitThreadDuty, scheduleRefits, type RefitOutcome } from './modelRefit.js';

const HOUR = 3_600_000;
const fitOf = (r: number, converged = true): FitFigures => ({ params: { r, alpha: 30, a: 0.8, b: 2.4 }, logLikelihood: -300, customers: 100, converged });
/** Lets the schedule's awaited fakes settle (microtasks only: no time passes). */
const settle = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

describe('refitDecision', () => {
  it('refits on the leader with enough new purchases, not otherwise, and says why', () => {
    const base = { leads: true, busy: false, now: 10_500, lastFitAt: 9_999, newPurchases: 100, minNewPurchases: 100 };
    expect(refitDecision(base)).toEqual({ refit: true, why: '100 new purchases since the last fit' });
    expect(refitDecision({ ...base, lastFitAt: null })).toEqual({ refit: true, why: '100 new purchases since the last fit' });
    expect(refitDecision({ ...base, newPurchases: 99 })).toEqual({ refit: false, why: '99 new purchases since the last fit, 100 needed' });
    expect(refitDecision({ ...base, leads: false, newPurchases: 1e6 }).refit).toBe(false);
    expect(refitDecision({ ...base, busy: true, newPurchases: 1e6 }).refit).toBe(false);
    // a version is its fit date in seconds: never two fits in one second
    expect(refitDecision({ ...base, lastFitAt: 10_000 })).toEqual({ refit: false, why: 'a fit is stored for this second already' });
  });
});

describe('refitThreadDuty', () => {
  it('splits busyDuty, the share of one core the refit takes while the processor is busy, between its threads', () => {
    expect(refitThreadDuty({ busyDuty: 0.3, threads: 2 })).toBeCloseTo(0.15, 12);
    expect(refitThreadDuty({ busyDuty: 0.3, threads: 1 })).toBe(0.3);
    // 1 never backs off, however many threads.
    expect(refitThreadDuty({ busyDuty: 1, threads: 2 })).toBe(1);
  });
});

describe('scheduleRefits on the manual clock', () => {
  const config = parseConfig({ signals: { model: { refit: { enabled: true, intervalMs: 6 * HOUR, minNewPurchases: 100 } } } }).signals.model.refit;

  function harness(o: { leads?: () => boolean } = {}) {
    const clock = new ManualClock(1_000_000);
    const counted: number[] = [];
    const fits: number[] = [];
    let purchases = 0;
    const outcomes: RefitOutcome[] = [];
    const drifts: string[][] = [];
    const schedule = scheduleRefits({
      config,
      clock,
      leads: o.leads ?? (() => true),
      log: silentLogger,
      newPurchases: async () => {
        counted.push(clock.now());
        return purchases;
      },
      fit: async (asOf) => {
        fits.push(asOf);
        purchases = 0;
        return outcomes.shift() ?? { ok: false, error: 'no outcome queued' };
      },
      onDrift: (v) => drifts.push(v.reasons),
    });
    return { clock, counted, fits, outcomes, drifts, schedule, setPurchases: (n: number) => (purchases = n) };
  }

  it('checks once an interval (none before the first) and fits only once minNewPurchases arrived', async () => {
    const h = harness();
    h.setPurchases(500);
    h.clock.advance(6 * HOUR - 1);
    await settle();
    expect(h.counted).toEqual([]);
    h.clock.advance(1);
    await settle();
    expect(h.fits).toEqual([1_000_000 + 6 * HOUR]);
    // the fit consumed the new purchases: 60 more are not enough
    h.setPurchases(60);
    h.clock.advance(6 * HOUR);
    await settle();
    expect(h.counted).toHaveLength(2);
    expect(h.fits).toHaveLength(1);
    h.setPurchases(160);
    h.clock.advance(6 * HOUR);
    await settle();
    expect(h.fits).toEqual([1_000_000 + 6 * HOUR, 1_000_000 + 18 * HOUR]);
    h.schedule.stop();
    h.clock.advance(24 * HOUR);
    await settle();
    expect(h.counted).toHaveLength(3);
  });

  it('never refits on a processor that does not lead, and starts when it does', async () => {
    let leads = false;
    const h = harness({ leads: () => leads });
    h.setPurchases(1000);
    h.clock.advance(12 * HOUR);
    await settle();
    expect([h.counted, h.fits]).toEqual([[], []]);
    leads = true;
    h.clock.advance(6 * HOUR);
    await settle();
    expect(h.fits).toHaveLength(1);
  });

  it('keeps the outcome: the version, the chosen model and the drift check against the last accepted fit', async () => {
    const h = harness();
    h.outcomes.push({ ok: true, previous: fitOf(0.25), next: fitOf(0.26), model: 'bgnbd-gg:2026-01-01T06:00:00Z', fittedAt: '2026-01-01T06:00:00Z', chosen: 'pareto_nbd', segments: ['vip'] });
    h.outcomes.push({ ok: true, previous: fitOf(0.26), next: fitOf(0.9), model: 'bgnbd-gg:2026-01-01T12:00:00Z', fittedAt: '2026-01-01T12:00:00Z', chosen: null, segments: [] });
    h.outcomes.push({ ok: false, error: 'too few customers' });
    h.outcomes.push({ ok: true, previous: fitOf(0.9), next: fitOf(0.8, false), model: 'bgnbd-gg:2026-01-02T00:00:00Z', fittedAt: '2026-01-02T00:00:00Z', chosen: 'mbgnbd', segments: [] });
    for (let i = 0; i < 4; i++) {
      h.setPurchases(100);
      h.clock.advance(6 * HOUR);
      await settle();
      if (i === 0) expect(h.schedule.status()).toMatchObject({ refits: 1, accepted: { model: 'bgnbd-gg:2026-01-01T06:00:00Z', segments: ['vip'] }, chosen: 'pareto_nbd', drift: { drifted: false, reasons: [] } });
    }
    expect(h.drifts).toEqual([[], ['r 0.260 → 0.900 (+246 %, limit ±50 %)'], ['the new fit did not converge: the previous version stays']]);
    // a failed fit changes nothing but the error; one that did not converge leaves the accepted version and its choice
    const status = h.schedule.status();
    expect(status).toMatchObject({ refits: 3, accepted: { model: 'bgnbd-gg:2026-01-01T12:00:00Z', converged: true }, chosen: null, lastError: null, drift: { drifted: true } });
    expect(status.recent.map((r) => [r.model.slice(9), r.converged, r.drift.drifted])).toEqual([
      ['2026-01-01T06:00:00Z', true, false],
      ['2026-01-01T12:00:00Z', true, true],
      ['2026-01-02T00:00:00Z', false, true],
    ]);
  });
});

describe('the model state on the wall and the model_drift sample', () => {
  const rule = parseConfig({}).alerts.rules.find((r) => r.name === 'model_drift')!;
  const stats = { ts: 0, eventsPerSec: 0, eventsTotal: 0, rejectedTotal: 0, lateTotal: 0, lagMs: 0, pending: 0, activeCustomers: 0, clickhouseBufferedRows: 0, uptimeS: 0 };
  const drift = { drifted: true, reasons: ['r 0.250 → 0.600 (+140 %, limit ±50 %)'] };
  const status = { refits: 2, accepted: null, chosen: 'pareto_nbd', drift, recent: [], lastError: null };

  it('reads the fit date from the version and the verdict from the last refit', () => {
    expect(modelState('bgnbd-gg:config', null)).toEqual({ version: 'bgnbd-gg:config', fittedAt: null, chosen: null, drift: 'unknown', driftReasons: [] });
    expect(modelState('bgnbd:2026-01-01T06:00:00Z,gg:config', status)).toEqual({
      version: 'bgnbd:2026-01-01T06:00:00Z,gg:config',
      fittedAt: '2026-01-01T06:00:00Z',
      chosen: 'pareto_nbd',
      drift: 'drifted',
      driftReasons: drift.reasons,
    });
  });

  it('samples 1 with the reasons on drift, 0 after a refit without, nothing where no refit ran', () => {
    expect(rule).toMatchObject({ signal: 'model_drift', subject: 'processor', op: '>=', threshold: 1 });
    const v = 'bgnbd-gg:2026-01-01T06:00:00Z';
    expect(processorSample(rule, { ...stats, model: modelState(v, status) })).toEqual({ value: 1, reasons: [`${v}: ${drift.reasons[0]}`], trigger: null });
    expect(processorSample(rule, { ...stats, model: modelState(v, { ...status, drift: { drifted: false, reasons: [] } }) })).toEqual({ value: 0, reasons: [], trigger: null });
    expect(processorSample(rule, { ...stats, model: modelState(v, null) })).toBeNull();
    expect(processorSample(rule, stats)).toBeNull();
  });
});
