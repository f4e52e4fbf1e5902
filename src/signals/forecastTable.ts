// The live path's purchase forecasts from a table instead of a hypergeometric series per call: E[Y(t) | alive] and the
// discounted sum behind customer value depend on x and T only (not on t_x) and move smoothly with T, so each pair of
// x and a small step of T is worked out once, with the model's own functions, and values in between are interpolated.
import { expectedPurchases, pAlive, type BgNbdParams } from './models/bgnbd.js';
import type { LifetimeValueOptions } from './models/gammaGamma.js';

/** Steps of T per α: linear interpolation is then off by about (1/720)² / 8 ≈ 2.4e-7 of the value. */
const STEPS_PER_ALPHA = 720;
/** Rows kept before the table starts over; a row is a handful of numbers, and most are reused by many customers. */
const MAX_ROWS = 200_000;
/** Step indices above this fall back to the series (a key is x × 2^21 + step). */
const MAX_STEP = 2 ** 21 - 2;

/**
 * Forecasts for customers known to be alive, by repeat purchases x and age T (model time units): the expected
 * purchases over each of `horizons`, and the discounted expected purchases per period over the value horizon (what
 * customer value multiplies by P(alive) and the expected spend). Results do not depend on what is cached: every value
 * is interpolated between the same two grid points.
 */
/** A count model's E[Y(t) | alive at T, x], and its purchase-rate scale α (the table's step of T follows it). */
export interface ConditionalForecast {
  alpha: number;
  ifAlive(t: number, x: number, T: number): number;
}

/**
 * BG/NBD's: E[Y(t) | alive] is E[Y(t)] / P(alive) at any t_x, here t_x = T, where P(alive) = 1 / (1 + a / (b + x − 1))
 * is far from zero.
 */
export function bgNbdForecast(bg: BgNbdParams): ConditionalForecast {
  return { alpha: bg.alpha, ifAlive: (t, x, T) => expectedPurchases(bg, t, x, T, T) / pAlive(bg, x, T, T) };
}

export class ForecastTable {
  private readonly rows = new Map<number, Float64Array>();
  private readonly step: number;
  private readonly width: number;

  constructor(
    private readonly forecast: ConditionalForecast,
    private readonly horizons: readonly number[],
    private readonly value: LifetimeValueOptions,
  ) {
    this.step = forecast.alpha / STEPS_PER_ALPHA;
    this.width = horizons.length + 1;
  }

  /** Index of `t` among the tabulated horizons, or -1 (the caller then computes it directly). */
  horizonIndex(t: number): number {
    return this.horizons.indexOf(t);
  }

  /** E[Y(horizons[k]) | alive, x, T]. */
  ifAlive(k: number, x: number, T: number): number {
    return this.interpolate(k, x, T);
  }

  /** Σ over periods of (E[Y(k L) | alive] − E[Y((k − 1) L) | alive]) / (1 + d)^k, at (x, T). */
  discountedPurchases(x: number, T: number): number {
    return this.interpolate(this.width - 1, x, T);
  }

  private interpolate(column: number, x: number, T: number): number {
    const g = T / this.step;
    const i = Math.floor(g);
    if (!(i >= 0 && i <= MAX_STEP) || !Number.isInteger(x) || x < 0 || x > 1_000_000) return this.exact(x, T)[column];
    const f = g - i;
    const lo = this.row(x, i);
    const hi = this.row(x, i + 1);
    return lo[column] + (hi[column] - lo[column]) * f;
  }

  private row(x: number, i: number): Float64Array {
    const key = x * (MAX_STEP + 2) + i;
    let row = this.rows.get(key);
    if (row === undefined) {
      if (this.rows.size >= MAX_ROWS) this.rows.clear();
      row = this.exact(x, i * this.step);
      this.rows.set(key, row);
    }
    return row;
  }

  /** The row at exactly (x, T), from the model's own functions. */
  private exact(x: number, T: number): Float64Array {
    const out = new Float64Array(this.width);
    const ifAlive = (t: number) => this.forecast.ifAlive(t, x, T);
    this.horizons.forEach((t, k) => (out[k] = ifAlive(t)));
    const { horizonPeriods, discountRatePerPeriod, periodLength } = this.value;
    let total = 0;
    let before = 0;
    for (let k = 1; k <= horizonPeriods; k++) {
      const upTo = ifAlive(k * periodLength);
      total += (upTo - before) / Math.pow(1 + discountRatePerPeriod, k);
      before = upTo;
    }
    out[this.width - 1] = total;
    return out;
  }
}
