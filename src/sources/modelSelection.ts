// Where `vigil model fit` records its comparison of the purchase-count models: one `model_selection` row per model
// (calibration fit, standard errors, holdout figures, the chosen one marked), with the fit date of the model_params
// rows it goes with. The processor does not read it; analysts and the wall can.
import type { ModelComparison } from '../signals/models/modelChoice.js';
import type { ParameterUncertainty } from '../signals/models/uncertainty.js';
import { toChDateTime, type ClickHouseClient } from '../sinks/clickhouse/client.js';
import type { ModelSelectionRow } from '../sinks/clickhouse/tables.js';

/** The comparison's times are days since `originMs` (the model time of the ClickHouse fit). */
export function modelSelectionRows(
  comparison: ModelComparison,
  uncertainty: Readonly<Record<string, ParameterUncertainty>>,
  at: { fittedAtMs: number; originMs: number; source: string },
): ModelSelectionRow[] {
  const toMs = (days: number) => at.originMs + days * 86_400_000;
  return comparison.scores.map((s) => ({
    fitted_at: toChDateTime(at.fittedAtMs),
    model: s.model,
    chosen: s.model === comparison.chosen ? 1 : 0,
    params: JSON.stringify({ ...s.fit.params, unit: 'days' }),
    std_errors: JSON.stringify(uncertainty[s.model]?.standardErrors ?? {}),
    log_likelihood: s.fit.logLikelihood,
    converged: s.fit.converged ? 1 : 0,
    customers: comparison.customers,
    calibration_end: toChDateTime(toMs(comparison.calibrationEnd)),
    holdout_end: toChDateTime(toMs(comparison.holdoutEnd)),
    holdout_log_likelihood: s.holdoutLogLikelihoodPerCustomer,
    holdout_expected: s.expectedTotal,
    holdout_actual: s.actualTotal,
    source: at.source,
  }));
}

export async function storeModelSelection(ch: ClickHouseClient, rows: readonly ModelSelectionRow[]): Promise<void> {
  await ch.insert('model_selection', rows);
}
