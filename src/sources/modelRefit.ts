// The processor's scheduled refit of the purchase models (signals.model.refit): every intervalMs, on the processor
// that leads (the single processor, or the cluster leader), once minNewPurchases purchases came after the last stored
// fit, the fit of `vigil model fit` runs in a worker thread (refitWorker.ts) and stores a new version in
// model_params; every processor then takes it through watchStoredModel, so the cluster runs one version. Each new fit
// is checked for drift against the last accepted one (modelDrift.ts).
import type { VigilConfig } from '../config/schema.js';
import type { ModelState } from '../contract/frames.js';
import { every, type SchedulingClock } from '../shared/clock.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { watchEventLoop } from '../shared/pacing.js';
import { spawnModuleWorker } from '../shared/worker.js';
import type { ClickHouseClient } from '../sinks/clickhouse/client.js';
import { modelDrift, type DriftVerdict } from './modelDrift.js';
import { countPurchasesSince, latestFitDate } from './modelRefitQueries.js';
import type { RefitJob, RefitOutcome, RefitProgress } from './refitWorker.js';

export type { RefitJob, RefitOutcome, RefitProgress };

type RefitConfig = VigilConfig['signals']['model']['refit'];

/** One scheduled refit's result, as the processor keeps the last few. */
export interface RefitRecord {
  /** The stored model name (its version, when it converged). */
  model: string;
  fittedAt: string;
  converged: boolean;
  drift: DriftVerdict;
  /** The segments with a converged fit of their own in this version. */
  segments: string[];
}

/** The refits this processor ran, for the wall and the drift alert. */
export interface RefitStatus {
  refits: number;
  /** The last converged fit: the version every processor takes through the watch. */
  accepted: RefitRecord | null;
  /** The model the last holdout comparison chose, when it could compare. */
  chosen: string | null;
  /** The last fit's drift check; null before the first fit. */
  drift: DriftVerdict | null;
  /** The last RECENT_REFITS fits, oldest first. */
  recent: RefitRecord[];
  lastError: string | null;
}

export const RECENT_REFITS = 10;

/**
 * Whether this tick refits: only the leader, not while a fit runs, not in the second of the last fit (a version is its
 * fit date in whole seconds), and only on enough new purchases.
 */
export function refitDecision(s: { leads: boolean; busy: boolean; now: number; lastFitAt: number | null; newPurchases: number; minNewPurchases: number }): { refit: boolean; why: string } {
  if (!s.leads) return { refit: false, why: 'another processor of the cluster refits' };
  if (s.busy) return { refit: false, why: 'the last refit is still running' };
  if (s.lastFitAt !== null && Math.floor(s.now / 1000) <= Math.floor(s.lastFitAt / 1000)) return { refit: false, why: 'a fit is stored for this second already' };
  if (s.newPurchases < s.minNewPurchases) return { refit: false, why: `${s.newPurchases} new purchases since the last fit, ${s.minNewPurchases} needed` };
  return { refit: true, why: `${s.newPurchases} new purchases since the last fit` };
}

export interface RefitDeps {
  config: RefitConfig;
  clock: SchedulingClock;
  leads: () => boolean;
  /** Purchases after the last stored fit's date. */
  newPurchases: () => Promise<number>;
  /** Fits and stores as of `asOfMs`. */
  fit: (asOfMs: number) => Promise<RefitOutcome>;
  log: Logger;
  /** Called after every fit's drift check (the processor raises or resolves `model_drift`). */
  onDrift?: (verdict: DriftVerdict) => void;
}

export interface RefitSchedule {
  /** A copy: later refits do not change it. */
  status(): RefitStatus;
  /** Settles when the refit running now (if any) has ended. */
  idle(): Promise<void>;
  stop(): void;
}

/** Checks every intervalMs (the first one interval after the start) and refits when refitDecision says so. */
export function scheduleRefits(deps: RefitDeps): RefitSchedule {
  const { config, clock, log } = deps;
  const status: RefitStatus = { refits: 0, accepted: null, chosen: null, drift: null, recent: [], lastError: null };
  let running: Promise<void> | null = null;
  let checking = false;
  let lastFitAt: number | null = null;
  const check = async (): Promise<void> => {
    if (checking) return;
    checking = true;
    try {
      const leads = deps.leads();
      const newPurchases = leads && !running ? await deps.newPurchases() : 0;
      const now = clock.now();
      const decision = refitDecision({ leads, busy: running !== null, now, lastFitAt, newPurchases, minNewPurchases: config.minNewPurchases });
      if (!decision.refit) {
        log.debug({ why: decision.why }, 'no refit this interval');
        return;
      }
      log.info({ why: decision.why }, 'refitting the purchase models from ClickHouse in a worker thread');
      lastFitAt = now;
      running = deps.fit(now).then((o) => settle(o)).finally(() => (running = null));
    } catch (err) {
      status.lastError = errorMessage(err);
      log.warn({ err: status.lastError }, 'cannot decide on a refit; trying again next interval');
    } finally {
      checking = false;
    }
  };
  const settle = (o: RefitOutcome): void => {
    if (!o.ok) {
      status.lastError = o.error;
      log.warn({ err: o.error }, 'the scheduled refit failed; the current version stays');
      return;
    }
    status.refits++;
    status.lastError = null;
    status.drift = modelDrift(o.previous, o.next, config.drift);
    const record: RefitRecord = { model: o.model, fittedAt: o.fittedAt, converged: o.next.converged, drift: status.drift, segments: o.segments };
    if (record.converged) {
      status.accepted = record;
      status.chosen = o.chosen;
    }
    status.recent = [...status.recent, record].slice(-RECENT_REFITS);
    log.info({ model: o.model, converged: o.next.converged, segments: o.segments, drift: status.drift.reasons }, 'scheduled refit stored in model_params');
    deps.onDrift?.(status.drift);
  };
  const stop = every(clock, config.intervalMs, () => void check());
  return { status: () => structuredClone(status), idle: async () => void (await running), stop };
}

/** The share of the time each fitting thread works while the processor is busy: busyDuty split between them (1: all). */
export function refitThreadDuty(job: Pick<RefitJob, 'busyDuty' | 'threads'>): number {
  return job.busyDuty >= 1 ? 1 : job.busyDuty / Math.max(1, job.threads);
}

/** One refit in a worker thread (refitWorker.ts), as the schedule runs it and as `npm run bench:refit` times it. */
export function runRefitWorker(job: RefitJob, onProgress?: (p: RefitProgress) => void): { outcome: Promise<RefitOutcome>; terminate: () => Promise<number> } {
  // This thread's event loop tells the fitting threads when to back off (shared/pacing.ts), for as long as they run.
  // busyDuty is the share of one core the whole refit takes meanwhile: each of its fitting threads takes its part.
  const watch = job.busyDuty < 1 ? watchEventLoop() : null;
  const worker = spawnModuleWorker(import.meta.url, 'refitWorker', watch ? { ...job, pace: { flag: watch.flag, duty: refitThreadDuty(job) } } : job);
  const outcome = new Promise<RefitOutcome>((resolve) => {
    worker.on('message', (m: RefitOutcome | RefitProgress) => {
      if ('progress' in m) onProgress?.(m);
      else resolve(m);
    });
    worker.once('error', (err) => resolve({ ok: false, error: errorMessage(err) }));
    worker.once('exit', (code) => resolve({ ok: false, error: `the refit worker exited with code ${code} before answering` }));
  }).finally(() => watch?.stop());
  return { outcome, terminate: () => worker.terminate() };
}

/** The processor's refit: the counts from ClickHouse, the fit in a worker thread on the processor's ClickHouse config. */
export function startModelRefit(opts: {
  config: RefitConfig;
  clickhouse: VigilConfig['clickhouse'];
  ch: ClickHouseClient;
  clock: SchedulingClock;
  leads: () => boolean;
  log: Logger;
  onDrift?: (verdict: DriftVerdict) => void;
}): RefitSchedule {
  const workers = new Set<{ terminate(): Promise<number> }>();
  let priorityTold = false;
  const schedule = scheduleRefits({
    ...opts,
    newPurchases: async () => countPurchasesSince(opts.ch, await latestFitDate(opts.ch)),
    fit: async (asOfMs) => {
      const job: RefitJob = { clickhouse: opts.clickhouse, asOfMs, minCustomers: opts.config.minCustomers, minSegmentBuyers: opts.config.minSegmentBuyers, nice: opts.config.nice, threads: opts.config.threads, clickhouseThreads: opts.config.clickhouseThreads, busyDuty: opts.config.busyDuty };
      const run = runRefitWorker(job);
      workers.add(run);
      const outcome = await run.outcome.finally(() => workers.delete(run));
      // Once per process: every refit would say the same.
      if (outcome.priority && !outcome.priority.ok && !priorityTold) {
        priorityTold = true;
        opts.log.warn({ reason: outcome.priority.reason }, 'the refit thread runs at the processor\'s priority (signals.model.refit.nice not applied)');
      }
      return outcome;
    },
  });
  return {
    ...schedule,
    stop: () => {
      schedule.stop();
      for (const w of workers) void w.terminate();
    },
  };
}

/** The wall's view of the model: the version scoring now (its fit date from the name) and the last refit's verdict. */
export function modelState(version: string, status: RefitStatus | null): ModelState {
  const fittedAt = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/.exec(version)?.[0] ?? null;
  const drift = status?.drift;
  return { version, fittedAt, chosen: status?.chosen ?? null, drift: drift ? (drift.drifted ? 'drifted' : 'ok') : 'unknown', driftReasons: drift?.reasons ?? [] };
}
