-- One row per erasure (an erase_request event or `vigil forget`): who asked, when, and how much was removed
-- where. It holds no personal data: the customer appears only as a keyed hash (HMAC-SHA-256 under
-- privacy.pseudonymKey, '' when no key is configured). Never erased, never expires: it is the record.
CREATE TABLE IF NOT EXISTS {db}.erasure_audit
(
    erased_at DateTime('UTC'),
    erased_ms UInt64,
    request_id String,
    requested_at DateTime('UTC'),
    requested_by String,
    via String,
    subject_hash String,
    tables Array(String),
    rows Array(UInt64),
    redis_entries UInt32,
    stream_messages UInt32,
    live_state UInt8,
    duration_ms UInt32
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(erased_at)
ORDER BY (erased_at, request_id);

-- As every table (migration 0008): a retried identical insert is dropped on arrival where the server can.
-- requires: 21.8
ALTER TABLE {db}.erasure_audit MODIFY SETTING non_replicated_deduplication_window = 1000;
