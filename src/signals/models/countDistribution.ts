// The distribution of a customer's purchase count in a future period (T, T + t], given the calibration history:
// what the holdout log-likelihood scores. Given alive at T, each model's posterior over the rates factorises into
// Gamma(r + x, alpha + T) for the purchase rate and the dropout's own posterior, so the count mixes negative
// binomials, in closed form for BG/NBD and MBG/NBD.
import { lnBeta, lnGamma } from './specialFunctions.js';

/** ln P(N(t) = k) for a Poisson count whose rate is Gamma(shape, rate): the negative binomial. */
export function logNegativeBinomial(k: number, shape: number, rate: number, t: number): number {
  if (t <= 0) return k === 0 ? 0 : Number.NEGATIVE_INFINITY;
  return lnGamma(shape + k) - lnGamma(shape) - lnGamma(k + 1) + shape * Math.log(rate / (rate + t)) + k * Math.log(t / (rate + t));
}

/** P(N(t) ≥ k) for that negative binomial, summed upward from k (no 1 − Σ cancellation for rare large counts). */
export function negativeBinomialTail(k: number, shape: number, rate: number, t: number): number {
  if (k <= 0) return 1;
  if (t <= 0) return 0;
  const q = t / (rate + t);
  let term = Math.exp(logNegativeBinomial(k, shape, rate, t));
  let sum = term;
  for (let j = k; j < k + 100_000; j++) {
    const ratio = ((shape + j) / (j + 1)) * q;
    term *= ratio;
    sum += term;
    // once the ratio is below 1 and falling, what is left is at most term · ratio / (1 − ratio)
    if (ratio < 1 && term * ratio <= 1e-16 * sum * (1 - ratio)) break;
  }
  return Math.min(1, sum);
}

/**
 * P(k purchases in the next t | alive at T) when the customer drops out with probability p ~ Beta(a, bPost) after
 * each purchase (BG/NBD: bPost = b + x; MBG/NBD: b + x + 1) and buys at rate lambda ~ Gamma(shape, rate):
 * k = 0 is no purchase; k ≥ 1 is k purchases, surviving the first k − 1 coins, then a dropout or no further purchase.
 */
export function dropoutCountProbabilityIfAlive(k: number, t: number, shape: number, rate: number, a: number, bPost: number): number {
  if (k === 0) return Math.exp(logNegativeBinomial(0, shape, rate, t));
  const logBeta = lnBeta(a, bPost);
  const dropAfterK = Math.exp(lnBeta(a + 1, bPost + k - 1) - logBeta);
  const surviveK = Math.exp(lnBeta(a, bPost + k) - logBeta);
  return dropAfterK * negativeBinomialTail(k, shape, rate, t) + surviveK * Math.exp(logNegativeBinomial(k, shape, rate, t));
}

/** P(Y = k | history) = P(alive) · P(k | alive) + (1 − P(alive)) · [k = 0], in logs, never above 0. */
export function logCountProbability(alive: number, probabilityIfAlive: number, k: number): number {
  const p = alive * probabilityIfAlive + (k === 0 ? 1 - alive : 0);
  return Math.log(Math.min(1, p));
}
