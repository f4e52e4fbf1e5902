-- Snapshots of each customer's signals (at most one per signals.snapshotIntervalMs), with the reasons
-- behind the scores; a snapshot written twice collapses on (customer_id, ts_ms).
CREATE TABLE IF NOT EXISTS {db}.customer_signals
(
    ts DateTime('UTC'),
    ts_ms UInt64,
    customer_id String,
    engagement Float32,
    engagement_trend Float32,
    churn_risk Float32,
    p_alive Float32,
    expected_purchases_30d Float32,
    expected_purchases_90d Float32,
    customer_value Float64,
    value_at_risk Float64,
    fatigue Float32,
    touches_24h UInt32,
    negatives_7d UInt32,
    reasons Array(String),
    model String
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(ts)
ORDER BY (customer_id, ts_ms);

-- requires: 20.8
ALTER TABLE {db}.customer_signals ADD COLUMN IF NOT EXISTS ts64 DateTime64(3, 'UTC') ALIAS fromUnixTimestamp64Milli(toInt64(ts_ms), 'UTC');
