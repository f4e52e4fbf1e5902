-- Each customer's latest segment. The segment arrives on events, not on signal snapshots; analysts group
-- churn risk and value at risk by it. ReplacingMergeTree(ts_ms) keeps, under FINAL, the row of the latest
-- event that named a segment (argMax(segment, ts_ms) gives the same without FINAL).
CREATE TABLE IF NOT EXISTS {db}.customer_segments
(
    customer_id String,
    segment String,
    ts_ms UInt64
)
ENGINE = ReplacingMergeTree(ts_ms)
ORDER BY customer_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.customer_segments_mv TO {db}.customer_segments AS
SELECT customer_id, segment, ts_ms
FROM {db}.events
WHERE segment != '';

INSERT INTO {db}.customer_segments
SELECT customer_id, argMax(segment, ts_ms) AS latest_segment, max(ts_ms) AS latest_ts_ms
FROM {db}.events
WHERE segment != ''
GROUP BY customer_id;

-- As every table (migration 0008): a retried identical insert is dropped on arrival where the server can.
-- requires: 21.8
ALTER TABLE {db}.customer_segments MODIFY SETTING non_replicated_deduplication_window = 1000;
