-- Customers whose latest signal snapshot puts them at risk (churn risk >= 0.6), most value at risk first,
-- with the reasons behind the score.
SELECT
    customer_id,
    argMax(churn_risk, ts_ms) AS latest_churn_risk,
    argMax(p_alive, ts_ms) AS latest_p_alive,
    argMax(value_at_risk, ts_ms) AS latest_value_at_risk,
    argMax(reasons, ts_ms) AS latest_reasons,
    max(ts) AS as_of
FROM {db}.customer_signals
GROUP BY customer_id
HAVING latest_churn_risk >= 0.6
ORDER BY latest_value_at_risk DESC
LIMIT 100
