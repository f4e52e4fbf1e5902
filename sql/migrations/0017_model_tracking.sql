-- The tracking plot of each `vigil model fit` that compared the purchase-count models: per week of the calibration
-- cohort (customers with a purchase by calibration_end), repeat purchases made against those the chosen model's
-- calibration fit expects, each cumulated too, from the first purchase to the end of the holdout. Stored (not
-- computed in SQL): the expectations need the models' hypergeometric functions. Plain statements: runs on 18.16.
CREATE TABLE IF NOT EXISTS {db}.model_tracking
(
    fitted_at DateTime('UTC'),
    model String,
    period_end DateTime('UTC'),
    calibration_end DateTime('UTC'),
    actual Float64,
    expected Float64,
    actual_cumulative Float64,
    expected_cumulative Float64
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(fitted_at)
ORDER BY (fitted_at, period_end);

-- As every table (migration 0008): a retried identical insert is dropped on arrival where the server can.
-- requires: 21.8
ALTER TABLE {db}.model_tracking MODIFY SETTING non_replicated_deduplication_window = 1000;
