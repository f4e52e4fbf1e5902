-- Brand experience snapshots (BE = (P + C + O) x T): a customer's when its index moved past the snapshot step, a
-- product's and a segment's on the entity cadence. scope is 'customer', 'product' or 'segment'; key is the
-- customer id (the pseudonym under pseudonymization), the product id or the segment; segment is the customer's
-- segment, or the segment itself, '' when none is known. experience_index in [0, 100] (50 neutral: no evidence);
-- product, interactive and others are the P, C and O components in [-1, 1], negative meaning bad; volume is the
-- evidence behind it (decayed experience events for a customer, buyers and raters for a product or segment).
-- Not `index`: current servers read a column named so as a data-skipping INDEX clause.
-- A snapshot written twice collapses on (scope, key, ts_ms). Plain statements: runs on 18.16.
CREATE TABLE IF NOT EXISTS {db}.experience_snapshots
(
    ts DateTime('UTC'),
    ts_ms UInt64,
    scope String,
    key String,
    segment String,
    experience_index Float32,
    product Float32,
    interactive Float32,
    others Float32,
    volume UInt32,
    reasons Array(String)
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(ts)
ORDER BY (scope, key, ts_ms);

-- As every table (migration 0008): a retried identical insert is dropped on arrival where the server can.
-- requires: 21.8
ALTER TABLE {db}.experience_snapshots MODIFY SETTING non_replicated_deduplication_window = 1000;
