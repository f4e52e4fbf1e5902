-- Value at risk by segment, from each customer's latest signal snapshot in the last 30 days: customers, those at
-- risk (churn risk >= 0.6, the default signals.atRiskThreshold), mean risk, expected customer value and the
-- value at risk (customer value x churn risk), most value at risk first.
SELECT
    if(segment = '', '(none)', segment) AS segment,
    count() AS customers,
    countIf(risk >= 0.6) AS at_risk_customers,
    round(avg(risk), 4) AS avg_churn_risk,
    sum(value) AS customer_value,
    sum(var) AS value_at_risk
FROM
(
    SELECT customer_id, argMax(churn_risk, ts_ms) AS risk, argMax(customer_value, ts_ms) AS value, argMax(value_at_risk, ts_ms) AS var
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
GROUP BY segment
ORDER BY value_at_risk DESC, segment
