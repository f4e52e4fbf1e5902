-- Customer lifecycle per day over the last 30 days (UTC), as PostHog's lifecycle insight defines it for a daily
-- interval: new (first activity ever that day), returning (active that day and the day before), resurrecting
-- (active that day, not the day before, but at some earlier time), dormant (active the day before, not that
-- day). PostHog charts dormant below the axis; here it is a count. Activity as in customer_days.
SELECT
    day,
    countIf(status = 'new') AS new_customers,
    countIf(status = 'returning') AS returning_customers,
    countIf(status = 'resurrecting') AS resurrecting_customers,
    countIf(status = 'dormant') AS dormant_customers
FROM
(
    SELECT tupleElement(entry, 1) AS day, tupleElement(entry, 2) AS status
    FROM
    (
        SELECT arrayJoin(entries) AS entry
        FROM
        (
            -- One (day, status) per active day, and a dormant one the day after each active day not followed by
            -- another. The whole history is read: "new" and "resurrecting" depend on days before the window. The
            -- statuses are computed next to the aggregates: 18.16 drops a subquery's column that a lambda only captures.
            SELECT
                customer_id,
                groupUniqArray(day) AS days,
                min(day) AS first_day,
                arrayConcat(
                    arrayMap(d -> (d, if(d = first_day, 'new', if(has(days, d - 1), 'returning', 'resurrecting'))), days),
                    arrayMap(d -> (d + 1, 'dormant'), arrayFilter(d -> NOT has(days, d + 1), days))
                ) AS entries
            FROM {db}.customer_days
            WHERE day <= today()
            GROUP BY customer_id
        )
    )
)
WHERE day >= today() - 29 AND day <= today()
GROUP BY day
ORDER BY day
