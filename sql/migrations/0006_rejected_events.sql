-- Dead letters: messages ingest refused, with a reason code (INVALID_JSON, LATE_EVENT...) and the
-- payload truncated; one row per stream message and reason.
CREATE TABLE IF NOT EXISTS {db}.rejected_events
(
    received_at DateTime('UTC'),
    received_ms UInt64,
    reason String,
    detail String,
    subject String,
    stream_seq UInt64,
    payload String,
    payload_bytes UInt32
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(received_at)
ORDER BY (stream_seq, reason);

-- Dead letters are for diagnosis, not history.
-- requires: 20.3
ALTER TABLE {db}.rejected_events MODIFY TTL received_at + INTERVAL 90 DAY;
