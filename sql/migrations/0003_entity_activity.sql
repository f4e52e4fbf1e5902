-- The same cumulative-bucket scheme as customer_activity, per channel, segment or campaign (`kind`)
-- and its `key`. `overloaded`: the customers that this minute's touches pushed over a contact cap.
-- Distinct customers are not kept here (a per-incarnation count cannot add up exactly): count them
-- with uniqExact(customer_id) over events or customer_activity.
CREATE TABLE IF NOT EXISTS {db}.entity_activity
(
    kind String,
    key String,
    minute DateTime('UTC'),
    event_type String,
    events UInt64,
    overloaded UInt64,
    revenue Float64,
    writer UInt64,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(minute)
ORDER BY (kind, key, event_type, minute, writer);
