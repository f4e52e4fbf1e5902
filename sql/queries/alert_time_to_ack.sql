-- Time to acknowledge per rule over the last 30 days: alerts that fired, how many were acknowledged, and the
-- median, 90th percentile and longest wait from firing to the first acknowledgement, in seconds (quantileExact:
-- the value at position floor(level x n) of the sorted waits). An alert acknowledged while still pending waits 0.
SELECT
    rule,
    severity,
    count() AS fired,
    countIf(acked_ms > 0) AS acknowledged,
    quantileExactIf(0.5)(wait_s, acked_ms > 0) AS median_ack_s,
    quantileExactIf(0.9)(wait_s, acked_ms > 0) AS p90_ack_s,
    maxIf(wait_s, acked_ms > 0) AS max_ack_s
FROM
(
    SELECT
        alert_id,
        any(rule) AS rule,
        any(severity) AS severity,
        minIf(ts_ms, state = 'firing') AS fired_ms,
        minIf(ts_ms, acknowledged_by != '') AS acked_ms,
        (greatest(acked_ms, fired_ms) - fired_ms) / 1000 AS wait_s
    FROM {db}.alerts FINAL
    WHERE ts >= now() - INTERVAL 30 DAY
    GROUP BY alert_id
    HAVING fired_ms > 0
)
GROUP BY rule, severity
ORDER BY fired DESC, rule
