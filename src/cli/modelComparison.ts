// What `vigil model fit` says about its comparison of BG/NBD, Pareto/NBD and MBG/NBD: each model's calibration fit
// with standard errors, its holdout figures and the choice, and three example customers' P(alive) and expected
// purchases with 90 % intervals from the chosen model; as JSON and as text.
import { COUNT_MODELS, type CountModelName, type ModelParams } from '../signals/models/countModels.js';
import type { CustomerSummary } from '../signals/models/mle.js';
import { HOLDOUT_TIE, type ModelComparison } from '../signals/models/modelChoice.js';
import { customerIntervals, formatInterval, parameterUncertainty, type Interval, type ParameterUncertainty } from '../signals/models/uncertainty.js';

export interface ComparedModel {
  model: CountModelName;
  label: string;
  params: ModelParams;
  /** From the observed information (Hessian in log-parameters, carried back by the delta method); null if singular. */
  standardErrors: ModelParams | null;
  /** Calibration log-likelihood at the optimum. */
  logLikelihood: number;
  converged: boolean;
  holdoutLogLikelihoodPerCustomer: number;
  expectedHoldoutPurchases: number;
  actualHoldoutPurchases: number;
  /** (expected − actual) / actual. */
  totalError: number;
}

export interface CustomerExample {
  customerId: string;
  x: number;
  tx: number;
  T: number;
  pAlive: Interval;
  expectedPurchases: Interval;
  /** "P(alive) 0.31, 90 % 0.24–0.39" and the same for the expected purchases over the holdout's length. */
  phrases: string[];
}

export interface ComparisonReport {
  calibrationEnd: number;
  holdoutEnd: number;
  unit: string;
  customers: number;
  chosen: CountModelName;
  /** How the choice was made, in words. */
  rule: string;
  models: ComparedModel[];
  examples: CustomerExample[];
}

type Customer = CustomerSummary & { customerId?: string };

/** The busiest repeat buyer, a median repeat buyer and a one-time buyer, when there are such. */
function exampleCustomers(calibration: readonly Customer[]): Customer[] {
  const repeat = calibration.filter((c) => c.x > 0).sort((a, b) => b.x - a.x || b.tx - a.tx);
  const picks = [repeat[0], repeat[Math.floor(repeat.length / 2)], calibration.find((c) => c.x === 0)];
  return picks.filter((c, i): c is Customer => c !== undefined && picks.indexOf(c) === i);
}

export function buildComparisonReport(
  comparison: ModelComparison,
  calibration: readonly Customer[],
  unit: string,
): { report: ComparisonReport; uncertainty: Record<string, ParameterUncertainty> } {
  const uncertainty: Record<string, ParameterUncertainty> = {};
  const models = comparison.scores.map((s): ComparedModel => {
    const u = parameterUncertainty(s.model, s.fit.params, calibration);
    uncertainty[s.model] = u;
    return {
      model: s.model,
      label: COUNT_MODELS[s.model].label,
      params: s.fit.params,
      standardErrors: u.logCovariance ? u.standardErrors : null,
      logLikelihood: s.fit.logLikelihood,
      converged: s.fit.converged,
      holdoutLogLikelihoodPerCustomer: s.holdoutLogLikelihoodPerCustomer,
      expectedHoldoutPurchases: s.expectedTotal,
      actualHoldoutPurchases: s.actualTotal,
      totalError: s.totalError,
    };
  });
  const chosen = models.find((m) => m.model === comparison.chosen)!;
  const horizon = comparison.holdoutEnd - comparison.calibrationEnd;
  const examples = exampleCustomers(calibration).map((c, i): CustomerExample => {
    const intervals = customerIntervals(chosen.model, chosen.params, uncertainty[chosen.model], c, horizon);
    return {
      customerId: c.customerId ?? `#${i + 1}`,
      x: c.x,
      tx: c.tx,
      T: c.T,
      ...intervals,
      phrases: [formatInterval('P(alive)', intervals.pAlive), formatInterval(`expected purchases in ${short(horizon)} ${unit}`, intervals.expectedPurchases)],
    };
  });
  const rule = `best holdout log-likelihood per customer; within ${HOLDOUT_TIE} of it, the smaller error of the total`;
  return {
    report: { calibrationEnd: comparison.calibrationEnd, holdoutEnd: comparison.holdoutEnd, unit, customers: comparison.customers, chosen: comparison.chosen, rule, models, examples },
    uncertainty,
  };
}

const short = (v: number) => String(Number(v.toFixed(2)));
const signedPercent = (v: number) => (Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${(100 * v).toFixed(1)}%` : '-');

/** Plain text: a table of the models' holdout figures, each model's parameters ± standard error, the examples. */
export function formatComparison(report: ComparisonReport): string {
  const header = ['model', 'calib LL', 'holdout LL/cust', 'expected', 'actual', 'error', ''];
  const rows = report.models.map((m) => [
    m.label,
    m.logLikelihood.toFixed(1),
    m.holdoutLogLikelihoodPerCustomer.toFixed(4),
    m.expectedHoldoutPurchases.toFixed(1),
    String(m.actualHoldoutPurchases),
    signedPercent(m.totalError),
    (m.model === report.chosen ? 'chosen' : '') + (m.converged ? '' : ' NOT converged'),
  ]);
  const widths = header.map((_, c) => Math.max(...[header, ...rows].map((r) => r[c].length)));
  const render = (cells: string[]) => cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd();
  const params = report.models.map((m) => {
    const each = Object.entries(m.params).map(([k, v]) => `${k}=${v.toPrecision(4)}` + (m.standardErrors ? ` ±${m.standardErrors[k].toPrecision(2)}` : ''));
    return `  ${m.label.padEnd(10)} ${each.join('  ')}`;
  });
  const chosenLabel = COUNT_MODELS[report.chosen].label;
  return [
    `Model comparison: fitted on ${report.customers} customers up to ${short(report.calibrationEnd)}, ` +
      `scored on the holdout to ${short(report.holdoutEnd)} ${report.unit}`,
    render(header),
    ...rows.map(render),
    `chosen: ${chosenLabel} (${report.rule})`,
    '',
    'parameters ± standard error (observed information):',
    ...params,
    '',
    `examples (${chosenLabel}, 90 % delta-method intervals):`,
    ...report.examples.map((e) => `  ${e.customerId} (x=${e.x}, t_x=${short(e.tx)}, T=${short(e.T)}): ${e.phrases.join('; ')}`),
  ].join('\n');
}
