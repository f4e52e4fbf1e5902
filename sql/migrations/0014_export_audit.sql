-- One row per customer export (`GET /api/v1/customers/{id}/export`, `vigil export`): who asked, when, by which path,
-- whether it was refused (the customer was erased), and how much went out per table. Like erasure_audit it holds no
-- personal data: the customer appears only as a keyed hash (HMAC-SHA-256 under privacy.pseudonymKey, '' when no key
-- is configured). Never erased, never expires: it is the record.
CREATE TABLE IF NOT EXISTS {db}.export_audit
(
    exported_at DateTime('UTC'),
    exported_ms UInt64,
    export_id String,
    requested_by String,
    via String,
    subject_hash String,
    outcome String,
    tables Array(String),
    rows Array(UInt64),
    bytes UInt64,
    live UInt8,
    duration_ms UInt32
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(exported_at)
ORDER BY (exported_at, export_id);

-- As every table (migration 0008): a retried identical insert is dropped on arrival where the server can.
-- requires: 21.8
ALTER TABLE {db}.export_audit MODIFY SETTING non_replicated_deduplication_window = 1000;
