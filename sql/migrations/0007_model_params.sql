-- Every model fit (BG/NBD, Gamma-Gamma...): its parameters as JSON text and how the fit went.
-- The latest fit of a model is argMax(params, fitted_at).
CREATE TABLE IF NOT EXISTS {db}.model_params
(
    fitted_at DateTime('UTC'),
    model String,
    params String,
    log_likelihood Float64,
    customers UInt64,
    converged UInt8,
    source String
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(fitted_at)
ORDER BY (model, fitted_at);
