// Contact fatigue: outbound touches against caps, tightened for customers who stop responding to them.
import type { TouchCap } from '../config/schema.js';
import { TOUCH_CHANNELS, type CustomerView } from '../windows/customerWindows.js';

export interface FatigueSignal {
  /** The largest touches/cap ratio over channels and windows: 1 = at the cap, above 1 = over it. */
  score: number;
  touches24h: number;
  touches7d: number;
  /** Multiplier applied to every cap from the customer's response rate (0.5 for ignorers, up to 1.5 for responders). */
  capFactor: number;
  reasons: string[];
}

const DAY_MIN = 1440;
const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));
/** Touches over the cap scaled by the customer's factor; 0 without a cap or a touch. */
const capRatio = (count: number, cap: number | undefined, capFactor: number) => (cap === undefined || count === 0 ? 0 : count / (cap * capFactor));

/**
 * The multiplier on every cap from the customer's response rate over 7 days: clamp(0.5 + 2.5 × responses/touches,
 * 0.5, 1.5), and 1 below 3 touches (too few to judge). Shared by the fatigue signal and the contact budget.
 */
export function engagementCapFactor(touches7d: number, responses7d: number): number {
  if (touches7d < 3) return 1;
  return Math.min(1.5, Math.max(0.5, 0.5 + (2.5 * responses7d) / touches7d));
}

/**
 * Caps are per channel plus `all`. A customer with at least 3 touches in 7 days gets the caps scaled by
 * clamp(0.5 + 2.5 × responses/touches, 0.5, 1.5): one who responds to 20% of touches keeps the configured caps,
 * one who ignores everything has them halved.
 */
export function fatigueSignal(view: CustomerView, caps: Record<string, TouchCap>): FatigueSignal {
  const touches24h = TOUCH_CHANNELS.reduce((n, ch) => n + view.touches24h[ch], 0);
  const touches7d = TOUCH_CHANNELS.reduce((n, ch) => n + view.touches7d[ch], 0);
  const capFactor = engagementCapFactor(touches7d, view.responses7d);
  // No touch in 7 days (most events): no ratio to take and no reasons to build.
  if (touches7d === 0) return { score: 0, touches24h, touches7d, capFactor, reasons: [] };

  // First the score alone, allocating nothing: most touched customers are under every cap, and need no reasons.
  let score = 0;
  for (const ch of TOUCH_CHANNELS) {
    const cap = caps[ch];
    if (cap) score = Math.max(score, capRatio(view.touches24h[ch], cap.perDay, capFactor), capRatio(view.touches7d[ch], cap.perWeek, capFactor));
  }
  score = Math.max(score, capRatio(touches24h, caps.all?.perDay, capFactor), capRatio(touches7d, caps.all?.perWeek, capFactor));
  if (score <= 1) return { score, touches24h, touches7d, capFactor, reasons: [] };
  return new OverCap(view, caps, score, touches24h, touches7d, capFactor);
}

/**
 * A customer over a cap: the score at once, the reasons (sentences, worst ratio first) when first read. Most derives
 * never read them (a snapshot row or a firing alert does): building them was the live phase's largest allocation
 * after the NATS client's (`npm run bench -- --profile`, the live phase's .heapprofile). The counts they need are
 * copied out of the view, which the pipeline refills for the next customer.
 */
class OverCap implements FatigueSignal {
  private readonly h24: number[];
  private readonly d7: number[];
  private readonly responses7d: number;
  private readonly lastResponseMin: number | null;
  private readonly nowMin: number;
  private text: string[] | null = null;

  constructor(
    view: CustomerView,
    private readonly caps: Record<string, TouchCap>,
    readonly score: number,
    readonly touches24h: number,
    readonly touches7d: number,
    readonly capFactor: number,
  ) {
    this.h24 = TOUCH_CHANNELS.map((ch) => view.touches24h[ch]);
    this.d7 = TOUCH_CHANNELS.map((ch) => view.touches7d[ch]);
    this.responses7d = view.responses7d;
    this.lastResponseMin = view.lastResponseMin;
    this.nowMin = view.nowMin;
  }

  get reasons(): string[] {
    return (this.text ??= this.build());
  }

  private build(): string[] {
    const { caps, capFactor, touches24h, touches7d } = this;
    const over: { ratio: number; text: string }[] = [];
    const consider = (label: string, count: number, cap: number | undefined, window: string) => {
      const ratio = capRatio(count, cap, capFactor);
      if (ratio > 1) over.push({ ratio, text: `${count} ${label} in ${window} against an allowance of ${fmt(cap! * capFactor)}` });
    };
    TOUCH_CHANNELS.forEach((ch, i) => {
      const cap = caps[ch];
      const label = ch === 'other' ? 'touches' : ch === 'email' ? 'emails' : `${ch} messages`;
      consider(label, this.h24[i], cap?.perDay, '24 h');
      consider(label, this.d7[i], cap?.perWeek, '7 days');
    });
    consider('touches', touches24h, caps.all?.perDay, '24 h');
    consider('touches', touches7d, caps.all?.perWeek, '7 days');

    const reasons = over.sort((a, b) => b.ratio - a.ratio).map((o) => o.text);
    if (over.length > 0 && touches7d >= 3 && this.responses7d === 0) {
      const last = this.lastResponseMin === null ? '' : `; last response ${Math.floor((this.nowMin - this.lastResponseMin) / DAY_MIN)} days ago`;
      reasons.push(`no response to ${touches7d} touches in 7 days${last}`);
    }
    return reasons;
  }
}
