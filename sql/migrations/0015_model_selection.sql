-- Each `vigil model fit` that compares the purchase-count models (BG/NBD, Pareto/NBD, MBG/NBD) on a
-- calibration/holdout split: one row per model with its calibration fit, its standard errors and its holdout
-- figures, the chosen one marked. Beside model_params (same fitted_at), not in it: the processor reads
-- model_params as it is, and its rows keep their columns. Plain statements: the same text runs on 18.16.
CREATE TABLE IF NOT EXISTS {db}.model_selection
(
    fitted_at DateTime('UTC'),
    model String,
    chosen UInt8,
    params String,
    std_errors String,
    log_likelihood Float64,
    converged UInt8,
    customers UInt64,
    calibration_end DateTime('UTC'),
    holdout_end DateTime('UTC'),
    holdout_log_likelihood Float64,
    holdout_expected Float64,
    holdout_actual Float64,
    source String
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(fitted_at)
ORDER BY (fitted_at, model);

-- As every table (migration 0008): a retried identical insert is dropped on arrival where the server can.
-- requires: 21.8
ALTER TABLE {db}.model_selection MODIFY SETTING non_replicated_deduplication_window = 1000;
