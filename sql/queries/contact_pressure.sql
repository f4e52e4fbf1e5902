-- Contact pressure per day, channel and campaign over the last 7 days: outbound touches, distinct customers
-- touched, touches per customer and the most one customer received. From raw events, so the distinct counts
-- are exact. A touch without a channel counts for the one its type names (email_sent -> email...).
SELECT
    day,
    touch_channel AS channel,
    campaign_id,
    sum(n) AS touches,
    count() AS customers,
    round(touches / customers, 2) AS touches_per_customer,
    max(n) AS max_touches_per_customer
FROM
(
    SELECT
        toDate(ts) AS day,
        if(channel != '', channel, multiIf(type = 'email_sent', 'email', type = 'push_sent', 'push', 'sms')) AS touch_channel,
        campaign_id,
        customer_id,
        count() AS n
    FROM {db}.events FINAL
    WHERE type IN ('email_sent', 'push_sent', 'sms_sent') AND ts >= now() - INTERVAL 7 DAY
    GROUP BY day, touch_channel, campaign_id, customer_id
)
GROUP BY day, touch_channel, campaign_id
ORDER BY day DESC, touches DESC, channel, campaign_id
