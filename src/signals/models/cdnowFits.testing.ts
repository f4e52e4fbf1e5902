// The published CDNOW fits the live-model tests score with (paretoNbd.test.ts, mbgnbd.test.ts, bgnbd.test.ts,
// gammaGamma.test.ts), their weeks taken as days: shapes a live fit can have.
import type { CountModelName, ModelParams } from './countModels.js';
import type { GammaGammaParams } from './gammaGamma.js';

export const CDNOW_COUNT_FITS: Record<CountModelName, ModelParams> = {
  bgnbd: { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 },
  pareto_nbd: { r: 0.55, alpha: 10.58, s: 0.61, beta: 11.67 },
  mbg_nbd: { r: 0.525, alpha: 6.183, a: 0.891, b: 1.614 },
};

export const CDNOW_SPEND_FIT: GammaGammaParams = { p: 6.25, q: 3.74, gamma: 15.44 };
