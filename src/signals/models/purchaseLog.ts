// Turns a purchase log into the per-customer (x, t_x, T) summaries the models take, whole or split into a
// calibration period and a holdout period.
import { VigilError } from '../../shared/errors.js';
import type { CustomerSummary } from './bgnbd.js';

/** One purchase; time is in model units (days, weeks) on any origin shared by the whole log. */
export interface PurchaseEvent {
  customerId: string;
  time: number;
  value?: number;
}

export interface PurchaseSummary extends CustomerSummary {
  customerId: string;
  /** Mean value of the repeat purchases, when the log has values and x > 0. */
  mValue?: number;
}

export interface CalibrationHoldoutSplit {
  /** Customers whose first purchase falls at or before calibrationEnd, summarised up to it. */
  calibration: PurchaseSummary[];
  /** Purchases in (calibrationEnd, holdoutEnd], aligned with calibration. */
  holdoutPurchases: number[];
  calibrationEnd: number;
  holdoutEnd: number;
}

function checkEvents(events: readonly PurchaseEvent[]): void {
  for (let i = 0; i < events.length; i++) {
    const { time, value } = events[i];
    if (!Number.isFinite(time)) {
      throw new VigilError('MODEL_INPUT_INVALID', `purchase #${i} has a non-finite time (${time})`);
    }
    if (value !== undefined && !Number.isFinite(value)) {
      throw new VigilError('MODEL_INPUT_INVALID', `purchase #${i} has a non-finite value (${value})`);
    }
  }
}

/** Each customer's purchases in time order, purchases at the same time merged into one (values added). */
function purchasesByCustomer(events: readonly PurchaseEvent[]): Map<string, { time: number; value?: number }[]> {
  const byCustomer = new Map<string, { time: number; value?: number }[]>();
  const sorted = [...events].sort((p, q) => p.time - q.time);
  for (const { customerId, time, value } of sorted) {
    let list = byCustomer.get(customerId);
    if (!list) byCustomer.set(customerId, (list = []));
    const last = list[list.length - 1];
    if (last && last.time === time) {
      if (value !== undefined) last.value = (last.value ?? 0) + value;
    } else {
      list.push(value === undefined ? { time } : { time, value });
    }
  }
  return byCustomer;
}

function summarise(
  customerId: string,
  purchases: readonly { time: number; value?: number }[],
  end: number,
): PurchaseSummary {
  const first = purchases[0].time;
  let x = 0;
  let last = first;
  let valued = 0;
  let spend = 0;
  for (let i = 1; i < purchases.length && purchases[i].time <= end; i++) {
    x++;
    last = purchases[i].time;
    if (purchases[i].value !== undefined) {
      valued++;
      spend += purchases[i].value ?? 0;
    }
  }
  const summary: PurchaseSummary = { customerId, x, tx: last - first, T: end - first };
  if (valued > 0) summary.mValue = spend / valued;
  return summary;
}

/** Summaries as of observationEnd, for customers whose first purchase is not after it. */
export function summarizePurchases(events: readonly PurchaseEvent[], observationEnd: number): PurchaseSummary[] {
  checkEvents(events);
  const summaries: PurchaseSummary[] = [];
  for (const [customerId, purchases] of purchasesByCustomer(events)) {
    if (purchases[0].time <= observationEnd) summaries.push(summarise(customerId, purchases, observationEnd));
  }
  return summaries;
}

/** Splits at calibrationEnd; holdoutEnd defaults to the last purchase in the log. */
export function splitCalibrationHoldout(
  events: readonly PurchaseEvent[],
  calibrationEnd: number,
  holdoutEnd?: number,
): CalibrationHoldoutSplit {
  checkEvents(events);
  let lastTime = Number.NEGATIVE_INFINITY;
  for (const event of events) lastTime = Math.max(lastTime, event.time);
  const end = holdoutEnd ?? lastTime;
  if (!(end > calibrationEnd)) {
    throw new VigilError(
      'MODEL_INPUT_INVALID',
      `holdout end ${end} is not after calibration end ${calibrationEnd}: there is no holdout period`,
    );
  }
  const calibration: PurchaseSummary[] = [];
  const holdoutPurchases: number[] = [];
  for (const [customerId, purchases] of purchasesByCustomer(events)) {
    if (purchases[0].time > calibrationEnd) continue;
    calibration.push(summarise(customerId, purchases, calibrationEnd));
    let later = 0;
    for (const { time } of purchases) if (time > calibrationEnd && time <= end) later++;
    holdoutPurchases.push(later);
  }
  return { calibration, holdoutPurchases, calibrationEnd, holdoutEnd: end };
}
