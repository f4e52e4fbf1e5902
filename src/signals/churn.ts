// Churn risk: 1 − P(alive) from the purchase model, blended with engagement decline and negative events, with reasons.
import type { AtRiskIntervals } from '../contract/frames.js';
import type { CustomerView, NegativeKind } from '../windows/customerWindows.js';
import type { EngagementSignal } from './engagement.js';
import type { ExperienceSignal } from './experience.js';
import { formatInterval } from './models/uncertainty.js';
import { modelInputs, type ModelInputs, type PurchaseModel } from './purchaseModel.js';

// The model's interface lives with its implementation; the churn signal is where most readers look for it.
export type { PurchaseModel };

/**
 * The expectations and the value are computed on first read, then kept: the per-event path reads only risk,
 * P(alive) and the reasons, and pays for the series behind the rest only where they are shown (a snapshot, the
 * at-risk list, an alert's reasons).
 */
export interface ChurnSignal {
  risk: number;
  pAlive: number;
  expectedPurchases30d: number;
  expectedPurchases90d: number;
  customerValue: number;
  valueAtRisk: number;
  /** Reasons in order of weight, each a sentence a marketer can act on. */
  reasons: string[];
  /**
   * The 90 % intervals of P(alive), expected purchases in 90 days and value at risk, when the model has them
   * (PurchaseModel.intervals); worked out on the first call, only where they are shown.
   */
  intervals?(): AtRiskIntervals | undefined;
}

/** How much each negative event, within 7 days, adds to risk on its own (noisy-OR with the rest). */
export const NEGATIVE_RISK: Record<NegativeKind, number> = {
  cancel_subscription: 0.7,
  complaint: 0.4,
  unsubscribe: 0.35,
  payment_failed: 0.3,
  refund: 0.15,
  support_ticket: 0.1,
  other: 0.1,
};

const DAY_MIN = 1440;
/** A 60% engagement fall over the trend span adds 0.6 × 0.5 = 0.3 risk; a full fall adds at most 0.5. */
const TREND_WEIGHT = 0.5;

function days(n: number): string {
  const d = Math.round(n);
  return d === 1 ? '1 day' : `${d} days`;
}

function ago(minutes: number): string {
  if (minutes < 60) return `${Math.max(0, Math.round(minutes))} min ago`;
  if (minutes < 2 * DAY_MIN) return `${Math.round(minutes / 60)} h ago`;
  return `${Math.round(minutes / DAY_MIN)} days ago`;
}

/** A bad brand experience as one more part of the risk (signals.experience.churnThreshold, churnWeight). */
export interface ExperienceRisk {
  signal: ExperienceSignal;
  /** Below this index the experience is bad and adds risk. */
  threshold: number;
  /** The risk an index of 0 adds; it falls linearly to 0 at the threshold. */
  weight: number;
}

/**
 * Risk = 1 − (1 − r_model)(1 − r_trend)(1 − r_negative)(1 − r_experience): each part can raise risk on its own and
 * none can lower another. r_model = 1 − P(alive) for customers with a purchase history (no history: no model part);
 * r_experience = weight × (threshold − index) / threshold below the threshold, at most `weight` (0.3 by default).
 */
export function churnSignal(view: CustomerView, engagement: EngagementSignal, model: PurchaseModel, trendDays: number, experience?: ExperienceRisk): ChurnSignal {
  return new Churn(view, engagement, model, trendDays, experience);
}

/**
 * The risk is worked out at once, from numbers only; the reasons (sentences) and the forecasts (the model's series)
 * when first read, which most events never do. Fields are copied out of the view: the pipeline refills its view for
 * the next event.
 */
class Churn implements ChurnSignal {
  readonly risk: number;
  readonly pAlive: number = 1;
  private readonly model: PurchaseModel;
  private readonly inputs: ModelInputs | null = null;
  private readonly modelRisk: number = 0;
  private readonly trendRisk: number = 0;
  private readonly trendFall: number = 0;
  private readonly negativeRisk: number = 0;
  private readonly negative: { kind: NegativeKind; minutesAgo: number; count: number } | null = null;
  private readonly experienceRisk: number = 0;
  private readonly experience: ExperienceSignal | null = null;
  private forecast: { e30: number; e90: number; value: number } | null = null;
  private text: string[] | null = null;
  private ranges: AtRiskIntervals | undefined | null = null;

  constructor(
    view: CustomerView,
    engagement: EngagementSignal,
    model: PurchaseModel,
    private readonly trendDays: number,
    experience?: ExperienceRisk,
  ) {
    this.model = model;
    let keep = 1;
    if (view.firstPurchaseMin !== null && view.lastPurchaseMin !== null) {
      const history = { purchases: view.purchases, firstMin: view.firstPurchaseMin, lastMin: view.lastPurchaseMin, revenue: view.revenue, firstValue: view.firstPurchaseValue };
      this.inputs = modelInputs(history, view.nowMin);
      this.pAlive = model.pAlive(this.inputs.x, this.inputs.tx, this.inputs.T);
      this.modelRisk = 1 - this.pAlive;
      keep *= 1 - this.modelRisk;
    }
    if (engagement.trendRelative !== null && engagement.trendRelative < -0.2) {
      this.trendFall = Math.min(1, -engagement.trendRelative);
      this.trendRisk = TREND_WEIGHT * this.trendFall;
      keep *= 1 - this.trendRisk;
    }
    if (view.lastNegative !== null && view.nowMin - view.lastNegative.min <= 7 * DAY_MIN) {
      const base = NEGATIVE_RISK[view.lastNegative.kind];
      // Several negatives in a week compound: each further one adds the same chance again.
      this.negativeRisk = 1 - Math.pow(1 - base, Math.min(view.negatives7d, 5) || 1);
      this.negative = { kind: view.lastNegative.kind, minutesAgo: view.nowMin - view.lastNegative.min, count: view.negatives7d };
      keep *= 1 - this.negativeRisk;
    }
    if (experience && experience.threshold > 0 && experience.signal.index < experience.threshold) {
      this.experience = experience.signal;
      this.experienceRisk = (experience.weight * (experience.threshold - experience.signal.index)) / experience.threshold;
      keep *= 1 - this.experienceRisk;
    }
    this.risk = 1 - keep;
  }

  /** Reasons in order of weight, the parts under 5% left out. */
  get reasons(): string[] {
    if (this.text !== null) return this.text;
    const parts: { risk: number; reason: string }[] = [];
    if (this.inputs !== null) {
      const { x, tx, T } = this.inputs;
      const usual = x > 0 ? tx / x : null;
      const usualText = usual !== null ? ` against a usual ${Math.max(1, Math.round(usual))}` : '';
      // A fitted version says how sure it is: "P(alive) 0.31, 90 % 0.24–0.39" (only here, where reasons are read).
      const interval = this.model.pAliveInterval?.(x, tx, T);
      const sure = interval ? formatInterval('P(alive)', interval) : `P(alive) ${Math.round(this.pAlive * 100)}%`;
      parts.push({ risk: this.modelRisk, reason: `no purchase for ${days(T - tx)}${usualText} (${sure})` });
    }
    if (this.trendRisk > 0) parts.push({ risk: this.trendRisk, reason: `engagement down ${Math.round(this.trendFall * 100)}% over ${this.trendDays} days` });
    if (this.negative !== null) {
      const more = this.negative.count > 1 ? ` (${this.negative.count} negative events in 7 days)` : '';
      parts.push({ risk: this.negativeRisk, reason: `${this.negative.kind.replaceAll('_', ' ')} ${ago(this.negative.minutesAgo)}${more}` });
    }
    if (this.experience !== null) {
      const why = this.experience.reasons[0];
      parts.push({ risk: this.experienceRisk, reason: `brand experience ${Math.round(this.experience.index)}/100${why ? `: ${why}` : ''}` });
    }
    return (this.text = parts.filter((p) => p.risk >= 0.05).sort((a, b) => b.risk - a.risk).map((p) => p.reason));
  }

  get expectedPurchases30d(): number {
    return this.forecasts().e30;
  }

  get expectedPurchases90d(): number {
    return this.forecasts().e90;
  }

  get customerValue(): number {
    return this.forecasts().value;
  }

  get valueAtRisk(): number {
    return this.forecasts().value * this.risk;
  }

  /**
   * The value at risk's interval is the value's times the risk, the risk held fixed. A higher P(alive) raises the
   * value and lowers the risk, so the product moves less than the value: this band is the wider, conservative one.
   */
  intervals(): AtRiskIntervals | undefined {
    if (this.ranges !== null) return this.ranges;
    const i = this.inputs;
    const c = i === null ? undefined : this.model.intervals?.(i.x, i.tx, i.T, i.meanRepeatSpend, i.hasSpend);
    const risk = this.risk;
    const value = c?.value;
    return (this.ranges = c && {
      pAlive: c.pAlive,
      expectedPurchases90d: c.expectedPurchases90d,
      valueAtRisk: value ? { estimate: value.estimate * risk, lower: value.lower * risk, upper: value.upper * risk, level: value.level } : null,
    });
  }

  private forecasts(): { e30: number; e90: number; value: number } {
    if (this.forecast !== null) return this.forecast;
    const i = this.inputs;
    const m = this.model;
    this.forecast =
      i === null
        ? { e30: 0, e90: 0, value: 0 }
        : { e30: m.expectedPurchases(30, i.x, i.tx, i.T), e90: m.expectedPurchases(90, i.x, i.tx, i.T), value: i.hasSpend ? m.customerValue(i.x, i.tx, i.T, i.meanRepeatSpend) : 0 };
    return this.forecast;
  }
}
