-- Overload per channel and campaign and day over the last 7 days: touches sent, customers those touches pushed
-- over a contact cap (each counted once per crossing), and the unsubscribes and complaints that followed.
SELECT
    kind,
    key,
    toDate(minute) AS day,
    sumIf(events, event_type IN ('email_sent', 'push_sent', 'sms_sent')) AS touches,
    sum(overloaded) AS overloaded_customers,
    sumIf(events, event_type IN ('unsubscribe', 'complaint')) AS negatives
FROM {db}.entity_activity FINAL
WHERE kind IN ('channel', 'campaign') AND minute >= now() - INTERVAL 7 DAY
GROUP BY kind, key, day
ORDER BY day DESC, overloaded_customers DESC, touches DESC, kind, key
