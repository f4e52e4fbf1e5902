-- One row per customer and UTC day on which the customer did something themselves: the base of daily and
-- weekly actives, retention cohorts and lifecycle. customer_activity has a row per minute and event type,
-- rewritten cumulatively; presence on a day needs one row, and a presence written twice changes nothing, so
-- this table is exact with or without FINAL under uniqExact, groupUniqArray, min and has().
-- "Did something" excludes outbound touches (we sent them), negatives (unsubscribe, complaint...) and privacy
-- events; unknown event types count, as the README says every unknown type is customer activity.
CREATE TABLE IF NOT EXISTS {db}.customer_days
(
    day Date,
    customer_id String
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (day, customer_id);

-- Fed by every insert into customer_activity from now on.
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.customer_days_mv TO {db}.customer_days AS
SELECT toDate(minute) AS day, customer_id
FROM {db}.customer_activity
WHERE event_type NOT IN ('email_sent', 'push_sent', 'sms_sent',
                         'unsubscribe', 'complaint', 'support_ticket', 'payment_failed', 'refund', 'cancel_subscription',
                         'consent_granted', 'consent_withdrawn', 'erase_request');

-- And the days already there (a row the view also wrote collapses: same key).
INSERT INTO {db}.customer_days
SELECT DISTINCT toDate(minute) AS day, customer_id
FROM {db}.customer_activity
WHERE event_type NOT IN ('email_sent', 'push_sent', 'sms_sent',
                         'unsubscribe', 'complaint', 'support_ticket', 'payment_failed', 'refund', 'cancel_subscription',
                         'consent_granted', 'consent_withdrawn', 'erase_request');

-- As every table (migration 0008): a retried identical insert is dropped on arrival where the server can.
-- requires: 21.8
ALTER TABLE {db}.customer_days MODIFY SETTING non_replicated_deduplication_window = 1000;
