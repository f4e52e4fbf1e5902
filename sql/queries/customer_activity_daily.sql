-- Per day and event type over the last 30 days: exact event counts, revenue and active customers.
-- FINAL makes the cumulative activity rows exact (see docs/clickhouse.md).
SELECT
    toDate(minute) AS day,
    event_type,
    sum(events) AS events,
    sum(revenue) AS revenue,
    uniqExact(customer_id) AS customers
FROM {db}.customer_activity FINAL
WHERE minute >= now() - INTERVAL 30 DAY
GROUP BY day, event_type
ORDER BY day, event_type
