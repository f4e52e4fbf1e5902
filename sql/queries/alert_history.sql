-- Alerts per rule and day over the last 30 days: how many alerts fired, resolved and were acknowledged that day,
-- and for how many subjects the rule had an alert (pending ones included). Counted per alert, not per row: an
-- acknowledgement is a row of its own with the same state.
SELECT
    toDate(ts) AS day,
    rule,
    severity,
    uniqExactIf(alert_id, state = 'firing') AS fired,
    uniqExactIf(alert_id, state = 'resolved') AS resolved,
    uniqExactIf(alert_id, acknowledged_by != '') AS acknowledged,
    uniqExact(subject_key) AS subjects
FROM {db}.alerts FINAL
WHERE ts >= now() - INTERVAL 30 DAY
GROUP BY day, rule, severity
ORDER BY day DESC, fired DESC, rule
