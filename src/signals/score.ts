// The score step: a customer's signals (engagement, churn, overload) from its windows' view, and the signal
// snapshot row written for it at most every signals.snapshotIntervalMs of event time.
import type { VigilConfig } from '../config/schema.js';
import type { SignalSnapshot } from '../contract/outputs.js';
import type { CustomerSignals } from '../contract/pipeline.js';
import { MINUTE_MS } from '../shared/clock.js';
import type { CustomerView, CustomerWindows } from '../windows/customerWindows.js';
import { churnSignal } from './churn.js';
import { engagementSignal, trendInput, type Trend } from './engagement.js';
import { fatigueSignal } from './fatigue.js';
import type { PurchaseModelSet } from './purchaseModel.js';

export interface ScoreDeps {
  config: VigilConfig;
  /** The purchase model version at start (a model per segment); replaced when a newer version is stored. */
  model: PurchaseModelSet;
  trend: (dailySeries: number[]) => Trend | null;
}

export class Scorer {
  private readonly intervalMin: number;

  constructor(private readonly deps: ScoreDeps) {
    this.intervalMin = Math.max(1, Math.round(deps.config.signals.snapshotIntervalMs / MINUTE_MS));
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
    return { view, engagement, churn: churnSignal(view, engagement, this.deps.model.forSegment(view.segment), cfg.trendDays), fatigue: fatigueSignal(view, cfg.caps) };
  }

  /** The customer's snapshot row when one is due at this event time (marked in its windows), else null. */
  snapshotDue(windows: CustomerWindows, slot: number, s: CustomerSignals, eventTs: number): SignalSnapshot | null {
    const last = windows.lastSnapshotMin(slot);
    const min = Math.floor(eventTs / MINUTE_MS);
    if (last !== null && min - last < this.intervalMin && min >= last) return null;
    windows.markSnapshot(slot, min);
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
