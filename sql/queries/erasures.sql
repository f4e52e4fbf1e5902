-- Erasures per day and path (an erase_request event or `vigil forget` done directly) over the last 90 days, with
-- the rows they removed from ClickHouse. The audit holds no customer ids: subject_hash is a keyed hash.
SELECT
    toDate(erased_at) AS day,
    via,
    count() AS erasures,
    sum(arraySum(rows)) AS rows_removed,
    max(duration_ms) AS longest_ms
FROM {db}.erasure_audit
WHERE erased_at >= now() - INTERVAL 90 DAY
GROUP BY day, via
ORDER BY day DESC, via
