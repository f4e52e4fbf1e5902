-- Weekly retention cohorts: customers grouped by the week (Monday, UTC) of their first activity; for each week N
-- after it, how many of the cohort were active in that week and their share of the cohort. Week 0 is the cohort
-- itself (share 1). Every cohort in the data; narrow with a WHERE on cohort_week.
SELECT
    cohort_week,
    weeks_since,
    customers,
    cohort_size,
    round(customers / cohort_size, 4) AS share
FROM
(
    -- Everyone in a cohort is active in its week 0, so the cohort's size is its largest week.
    SELECT cohort_week, groupArray(weeks) AS week_list, groupArray(active) AS active_list, max(active) AS cohort_size
    FROM
    (
        SELECT cohort_week, toUInt32((week - cohort_week) / 7) AS weeks, count() AS active
        FROM
        (
            SELECT customer_id, toMonday(min(day)) AS cohort_week, groupUniqArray(toMonday(day)) AS active_weeks
            FROM {db}.customer_days
            GROUP BY customer_id
        )
        ARRAY JOIN active_weeks AS week
        GROUP BY cohort_week, weeks
    )
    GROUP BY cohort_week
)
ARRAY JOIN week_list AS weeks_since, active_list AS customers
ORDER BY cohort_week, weeks_since
