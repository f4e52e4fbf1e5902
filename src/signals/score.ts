// The score step: a customer's signals (engagement, churn, overload) from its windows' view, and the signal
// snapshot row written for it when a score moved past signals.snapshotStep, at most every signals.snapshotIntervalMs.
import type { VigilConfig } from '../config/schema.js';
import type { SignalSnapshot } from '../contract/outputs.js';
import type { CustomerSignals } from '../contract/pipeline.js';
import { MINUTE_MS } from '../shared/clock.js';
import type { CustomerView, CustomerWindows } from '../windows/customerWindows.js';
import { churnSignal } from './churn.js';
import { engagementSignal, trendInput, type Trend } from './engagement.js';
import { baselineNow, customerExperience, type ExperienceParams, type ProductVoice, type SegmentVoice } from './experience.js';
import { fatigueSignal } from './fatigue.js';
import type { PurchaseModelSet } from './purchaseModel.js';
import type { ExperienceRead } from '../windows/customerExperience.js';

/** Where a customer's O comes from: the product and segment tables (windows/apply.ts). */
export interface ExperienceSource {
  voicesOf(r: ExperienceRead, atMs: number): ProductVoice[];
  segmentVoice(segment: string | null, atMs: number): SegmentVoice | null;
  productName(productSlot: number): string;
}

export interface ScoreDeps {
  config: VigilConfig;
  /** The purchase model version at start (a model per segment); replaced when a newer version is stored. */
  model: PurchaseModelSet;
  trend: (dailySeries: number[]) => Trend | null;
  /** The product and segment tables a customer's O reads; absent (tests), O is 0. */
  experience?: ExperienceSource;
}

export class Scorer {
  private readonly intervalMin: number;
  /** The four compared scores of the customer being derived (SNAPSHOT_SCORES order), reused. */
  private readonly scores = new Float64Array(4);
  private readonly experienceParams: ExperienceParams;
  private readonly productName: (productSlot: number) => string;

  constructor(private readonly deps: ScoreDeps) {
    this.intervalMin = Math.max(1, Math.round(deps.config.signals.snapshotIntervalMs / MINUTE_MS));
    const exp = deps.config.signals.experience;
    this.experienceParams = { prior: exp.prior, halfLifeMs: exp.halfLifeMs };
    this.productName = (p) => deps.experience?.productName(p) ?? '';
  }

  get model(): PurchaseModelSet {
    return this.deps.model;
  }

  set model(model: PurchaseModelSet) {
    this.deps.model = model;
  }

  /** Signals of one customer from its view, with its segment's purchase model. */
  score(view: CustomerView): CustomerSignals {
    const cfg = this.deps.config.signals;
    const series = trendInput(view, cfg.trendDays);
    const engagement = engagementSignal(view, cfg.engagementScale, series ? this.deps.trend(series) : null);
    const experience = this.experience(view);
    const exp = cfg.experience;
    const churn = churnSignal(view, engagement, this.deps.model.forSegment(view.segment), cfg.trendDays, { signal: experience, threshold: exp.churnThreshold, weight: exp.churnWeight });
    return { view, engagement, churn, fatigue: fatigueSignal(view, cfg.caps), experience };
  }

  /** The customer's brand experience as of its view's minute: its P and C, O from what it bought (else its segment). */
  private experience(view: CustomerView): CustomerSignals['experience'] {
    const r = view.experience;
    const at = view.nowMin * MINUTE_MS;
    const src = this.deps.experience;
    const voices = src ? src.voicesOf(r, at) : [];
    const segment = src && voices.length === 0 ? src.segmentVoice(view.segment, at) : null;
    const halfLife = this.experienceParams.halfLifeMs.baseline;
    return customerExperience(r, voices, segment, this.experienceParams, (index) => baselineNow(r.baseline, r.baselineAt, index, at, halfLife), this.productName);
  }

  /**
   * Whether a derived customer's signals make a snapshot row: `write` when a score (engagement / 100, churn risk,
   * fatigue, P(alive)) moved by more than signals.snapshotStep since its last row (a customer without one compares
   * against a customer with no events) and signals.snapshotIntervalMs of event time passed since that row; `owe`
   * when it moved sooner (the row is written at the next checkpoint, or at a later derive once the interval passed);
   * `none` when nothing moved past the step (anything owed before is no longer owed).
   */
  snapshotDecision(windows: CustomerWindows, slot: number, s: CustomerSignals): 'write' | 'owe' | 'none' {
    const scores = this.scores;
    scores[0] = s.engagement.score / 100;
    scores[1] = s.churn.risk;
    scores[2] = s.fatigue.score;
    scores[3] = s.churn.pAlive;
    if (!(windows.snapshotMove(slot, scores) > this.deps.config.signals.snapshotStep)) return 'none';
    const last = windows.lastSnapshotMin(slot);
    const min = windows.headMin(slot);
    if (last !== null && min - last < this.intervalMin && min >= last) return 'owe';
    return 'write';
  }

  /** The customer's snapshot row as of its latest event, marked in its windows as its last one. */
  snapshotRow(windows: CustomerWindows, slot: number, s: CustomerSignals): SignalSnapshot {
    const scores = this.scores;
    scores[0] = s.engagement.score / 100;
    scores[1] = s.churn.risk;
    scores[2] = s.fatigue.score;
    scores[3] = s.churn.pAlive;
    const eventTs = windows.latestTs(slot);
    windows.markSnapshot(slot, Math.floor(eventTs / MINUTE_MS), scores);
    return {
      ts: eventTs,
      customerId: s.view.customerId,
      engagement: s.engagement.score,
      engagementTrend: s.engagement.trendRelative,
      churnRisk: s.churn.risk,
      pAlive: s.churn.pAlive,
      expectedPurchases30d: s.churn.expectedPurchases30d,
      expectedPurchases90d: s.churn.expectedPurchases90d,
      customerValue: s.churn.customerValue,
      valueAtRisk: s.churn.valueAtRisk,
      fatigue: s.fatigue.score,
      touches24h: s.fatigue.touches24h,
      negatives7d: s.view.negatives7d,
      reasons: [...s.churn.reasons, ...s.fatigue.reasons],
      model: this.deps.model.forSegment(s.view.segment).name,
    };
  }
}
