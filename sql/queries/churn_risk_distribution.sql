-- Churn risk by segment: customers with a signal snapshot in the last 30 days, by the tenth of risk their latest
-- snapshot falls in (0.0 = [0, 0.1) ... 0.9 = [0.9, 1]), with the value at risk there. The segment is the latest
-- one the customer's events named ('(none)' if none did).
SELECT
    if(segment = '', '(none)', segment) AS segment,
    -- + 1e-6: churn_risk is Float32, and 0.7 stored is 0.69999999; one step below a boundary is not below it.
    least(floor(toFloat64(risk) * 10 + 1e-6), 9) / 10 AS risk_bucket,
    count() AS customers,
    sum(var) AS value_at_risk
FROM
(
    SELECT customer_id, argMax(churn_risk, ts_ms) AS risk, argMax(value_at_risk, ts_ms) AS var
    FROM {db}.customer_signals
    GROUP BY customer_id
    HAVING max(ts) >= now() - INTERVAL 30 DAY
) AS latest
ANY LEFT JOIN
(
    SELECT customer_id, argMax(segment, ts_ms) AS segment
    FROM {db}.customer_segments
    GROUP BY customer_id
) AS segments USING (customer_id)
GROUP BY segment, risk_bucket
ORDER BY segment, risk_bucket
