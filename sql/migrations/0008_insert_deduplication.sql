-- On servers that can, a block inserted again byte for byte (the sink retrying a batch whose first
-- attempt did land) is dropped on arrival, so even queries without FINAL do not see the retry.
-- Older servers rely on the table engines alone: FINAL collapses the copies.

-- requires: 21.8
ALTER TABLE {db}.events MODIFY SETTING non_replicated_deduplication_window = 1000;
-- requires: 21.8
ALTER TABLE {db}.customer_activity MODIFY SETTING non_replicated_deduplication_window = 1000;
-- requires: 21.8
ALTER TABLE {db}.entity_activity MODIFY SETTING non_replicated_deduplication_window = 1000;
-- requires: 21.8
ALTER TABLE {db}.customer_signals MODIFY SETTING non_replicated_deduplication_window = 1000;
-- requires: 21.8
ALTER TABLE {db}.alerts MODIFY SETTING non_replicated_deduplication_window = 1000;
-- requires: 21.8
ALTER TABLE {db}.rejected_events MODIFY SETTING non_replicated_deduplication_window = 1000;
-- requires: 21.8
ALTER TABLE {db}.model_params MODIFY SETTING non_replicated_deduplication_window = 1000;
