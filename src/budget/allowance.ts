// How many outbound touches a customer may take per channel and window: the configured caps scaled by the
// customer's own engagement, held within hard bounds.
import type { AllowanceBounds, TouchCap } from '../config/schema.js';
import { engagementCapFactor } from '../signals/fatigue.js';

export const BUDGET_CHANNELS = ['email', 'push', 'sms'] as const;
export type BudgetChannel = (typeof BUDGET_CHANNELS)[number];
/** A channel or every channel together. */
export type BudgetScope = BudgetChannel | 'all';

export interface Allowance {
  perDay: number;
  perWeek: number;
  /** The engagement multiplier the caps were scaled by (0.5 for ignorers, up to 1.5 for responders). */
  factor: number;
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/**
 * floor(cap × factor) held within [min, max] of the scope's bounds; a scope without a cap has no allowance (null:
 * unlimited). The factor is the fatigue signal's, so the budget and the fatigue alert never disagree on who responds.
 */
export function allowanceFor(scope: BudgetScope, touches7d: number, responses7d: number, caps: Record<string, TouchCap>, bounds: Record<string, AllowanceBounds>): Allowance | null {
  const cap = caps[scope];
  if (!cap) return null;
  const factor = engagementCapFactor(touches7d, responses7d);
  const b = bounds[scope];
  const perDay = Math.floor(cap.perDay * factor + 1e-9);
  const perWeek = Math.floor(cap.perWeek * factor + 1e-9);
  if (!b) return { perDay, perWeek, factor };
  return { perDay: clamp(perDay, b.minPerDay, b.maxPerDay), perWeek: clamp(perWeek, b.minPerWeek, b.maxPerWeek), factor };
}

/**
 * The first time at which a bucketed window's count, plus `reserved`, falls under `allowance`: buckets (oldest
 * first, `widthMin` minutes each, the last one holding `nowMin`) leave the window one by one at their boundary.
 * Null when even an empty window would not be under it (the reservations alone fill the allowance).
 */
export function underAllowanceAt(buckets: readonly number[], widthMin: number, nowMin: number, reserved: number, allowance: number): number | null {
  const newest = Math.floor(nowMin / widthMin);
  let remaining = buckets.reduce((a, b) => a + b, 0);
  if (remaining + reserved < allowance) return nowMin * 60_000;
  for (let k = 1; k <= buckets.length; k++) {
    remaining -= buckets[k - 1];
    if (remaining + reserved < allowance) return (newest + k) * widthMin * 60_000;
  }
  return null;
}
