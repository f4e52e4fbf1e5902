-- Every alert state change (pending, firing, resolved, acknowledged...), one row each; the same change
-- written twice collapses on (fingerprint, ts_ms, state).
CREATE TABLE IF NOT EXISTS {db}.alerts
(
    ts DateTime('UTC'),
    ts_ms UInt64,
    alert_id String,
    fingerprint String,
    rule String,
    severity String,
    state String,
    subject_kind String,
    subject_key String,
    value Float64,
    threshold Float64,
    reasons Array(String),
    labels String,
    summary String,
    starts_at DateTime('UTC'),
    acknowledged_by String,
    trigger_event_id String,
    trigger_event_ts_ms UInt64
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(ts)
ORDER BY (fingerprint, ts_ms, state);

-- requires: 20.8
ALTER TABLE {db}.alerts ADD COLUMN IF NOT EXISTS ts64 DateTime64(3, 'UTC') ALIAS fromUnixTimestamp64Milli(toInt64(ts_ms), 'UTC');
