-- Erasure finds every copy of a customer. Dead letters get the customer their payload names, read leniently at
-- rejection (the top-level customerId, escaped key, spacing or truncation notwithstanding; the pseudonym under
-- pseudonymization; '' when none could be read): erasure matches on it, and on the payload only for rows older
-- than this column (customer_id = '').
-- 18.16 has no ADD COLUMN IF NOT EXISTS: the plain statement, which the migrator repeats safely (an existing
-- column with this name counts as added).
-- requires: < 20.3
ALTER TABLE {db}.rejected_events ADD COLUMN customer_id String;
-- requires: 20.3
ALTER TABLE {db}.rejected_events ADD COLUMN IF NOT EXISTS customer_id String;

-- A customer's stream messages that are in no other table: a duplicate delivered under a new stream sequence, a
-- repeated or late privacy event, an event dropped while consent is withdrawn. Erasure deletes those messages too.
CREATE TABLE IF NOT EXISTS {db}.unstored_events
(
    received_at DateTime('UTC'),
    customer_id String,
    stream_seq UInt64,
    reason String
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(received_at)
ORDER BY (customer_id, stream_seq);

-- As long as raw events are kept (the stream's messages are not older than that).
-- requires: 20.3
ALTER TABLE {db}.unstored_events MODIFY TTL received_at + INTERVAL 400 DAY;
-- As every table (migration 0008).
-- requires: 21.8
ALTER TABLE {db}.unstored_events MODIFY SETTING non_replicated_deduplication_window = 1000;
