-- Daily active customers (DAU) and weekly active customers (WAU: distinct customers active in the 7 days ending
-- that day) for each of the last 30 days, UTC. Active means the customer did something themselves (see
-- customer_days in docs/clickhouse.md: no touches, negatives or privacy events). Days nobody was active in the
-- past week are absent.
SELECT
    on_day AS day,
    uniqExactIf(customer_id, offset = 0) AS active_customers,
    uniqExact(customer_id) AS weekly_active_customers
FROM
(
    -- Each active day counts toward itself and the six days after it.
    SELECT customer_id, arrayJoin(range(7)) AS offset, day + offset AS on_day
    FROM {db}.customer_days
    WHERE day >= today() - 35 AND day <= today()
)
WHERE on_day >= today() - 29 AND on_day <= today()
GROUP BY on_day
ORDER BY day
