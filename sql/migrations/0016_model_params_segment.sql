-- A fit per customer segment (the scheduled refit's signals.model.refit.minSegmentBuyers): each segment's rows carry
-- its name, beside the pooled fit's rows (segment '') of the same fitted_at; rows stored before this column are
-- pooled fits. The processor scores a customer with its segment's parameters of the version, else the pooled ones.
-- 18.16 has no ADD COLUMN IF NOT EXISTS: the plain statement, which the migrator repeats safely (an existing
-- column with this name counts as added).
-- requires: < 20.3
ALTER TABLE {db}.model_params ADD COLUMN segment String;
-- requires: 20.3
ALTER TABLE {db}.model_params ADD COLUMN IF NOT EXISTS segment String;
