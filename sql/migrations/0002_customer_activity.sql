-- Per customer, minute and event type: how many events and how much revenue. Each bucket is written
-- cumulatively by one writer incarnation (`writer`, random per in-memory bucket); every rewrite carries
-- a higher `version`. Under FINAL a retried insert collapses, a rewrite replaces the row it supersedes,
-- and separate incarnations are separate rows that add up: sum(events) ... FINAL is exact.
CREATE TABLE IF NOT EXISTS {db}.customer_activity
(
    customer_id String,
    minute DateTime('UTC'),
    event_type String,
    events UInt64,
    revenue Float64,
    writer UInt64,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(minute)
ORDER BY (customer_id, event_type, minute, writer);
