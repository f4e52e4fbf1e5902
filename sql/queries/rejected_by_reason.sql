-- Dead letters per hour and reason over the last day, with one sample detail each.
SELECT
    toStartOfHour(received_at) AS hour,
    reason,
    count() AS messages,
    sum(payload_bytes) AS bytes,
    any(detail) AS sample_detail
FROM {db}.rejected_events FINAL
WHERE received_at >= now() - INTERVAL 1 DAY
GROUP BY hour, reason
ORDER BY hour DESC, messages DESC
