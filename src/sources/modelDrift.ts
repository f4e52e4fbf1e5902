// Whether a new fit of the purchase model moved too far from the last accepted version: a BG/NBD parameter's relative
// change, the mean log-likelihood per customer, or a fit that did not converge (then the old version stays).
import type { BgNbdParams } from '../signals/models/bgnbd.js';

/** A BG/NBD fit as the drift check compares it. */
export interface FitFigures {
  params: BgNbdParams;
  /** Total log-likelihood over `customers`. */
  logLikelihood: number;
  customers: number;
  converged: boolean;
}

export interface DriftLimits {
  maxParamChange: number;
  maxLogLikelihoodChange: number;
}

export interface DriftVerdict {
  drifted: boolean;
  /** What moved, one sentence each ("r 0.24 → 0.61 (+151 %)"); empty when nothing did. */
  reasons: string[];
}

const PARAMS = ['r', 'alpha', 'a', 'b'] as const;

/** The new fit against the last accepted one (none: only convergence counts). */
export function modelDrift(previous: FitFigures | null, next: FitFigures, limits: DriftLimits): DriftVerdict {
  const reasons: string[] = [];
  if (!next.converged) reasons.push('the new fit did not converge: the previous version stays');
  if (previous && next.converged) {
    for (const k of PARAMS) {
      const was = previous.params[k];
      const now = next.params[k];
      const change = (now - was) / was;
      if (!(Math.abs(change) <= limits.maxParamChange)) {
        reasons.push(`${k} ${fmt(was)} → ${fmt(now)} (${change >= 0 ? '+' : ''}${Math.round(change * 100)} %, limit ±${Math.round(limits.maxParamChange * 100)} %)`);
      }
    }
    const wasMean = previous.logLikelihood / previous.customers;
    const nowMean = next.logLikelihood / next.customers;
    if (!(Math.abs(nowMean - wasMean) <= limits.maxLogLikelihoodChange)) {
      reasons.push(`mean log-likelihood per customer ${wasMean.toFixed(3)} → ${nowMean.toFixed(3)} (limit ±${limits.maxLogLikelihoodChange})`);
    }
  }
  return { drifted: reasons.length > 0, reasons };
}

function fmt(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3);
}
