-- Valid raw events, one row per event id. A redelivered event is the same row again and collapses
-- under FINAL (same sorting key, same partition: the partition comes from the event's own time).
CREATE TABLE IF NOT EXISTS {db}.events
(
    id String,
    customer_id String,
    type String,
    ts DateTime('UTC'),
    ts_ms UInt64,
    channel String,
    value Float64,
    segment String,
    campaign_id String,
    props String,
    received_at DateTime('UTC'),
    stream_seq UInt64
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(ts)
ORDER BY (customer_id, ts, id);

-- Raw events are kept as long as ingest accepts old events (ingest.maxPastMs, 400 days).
-- requires: 20.3
ALTER TABLE {db}.events MODIFY TTL ts + INTERVAL 400 DAY;

-- Millisecond event time for analysts, computed on read: costs no storage.
-- requires: 20.8
ALTER TABLE {db}.events ADD COLUMN IF NOT EXISTS ts64 DateTime64(3, 'UTC') ALIAS fromUnixTimestamp64Milli(toInt64(ts_ms), 'UTC');
