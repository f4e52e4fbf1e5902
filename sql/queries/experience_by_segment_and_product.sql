-- Brand experience over time, per product and per segment, by day over the last 30 days (the products' and
-- segments' own snapshots, written on the entity cadence): the day's mean and lowest index, the last snapshot's
-- index, its P, C and O components (in [-1, 1], negative bad), the evidence behind it (buyers and raters, decayed)
-- and its reasons; the worst of each day first. FINAL: a snapshot written twice (a retried batch) counts once.
-- Index 50 is neutral (no evidence); a customer's own rows (scope 'customer') are left out.
SELECT
    day,
    scope,
    key,
    round(day_mean, 2) AS avg_index,
    round(day_low, 2) AS min_index,
    round(day_last, 2) AS last_index,
    round(last_product, 3) AS product,
    round(last_interactive, 3) AS interactive,
    round(last_others, 3) AS others,
    last_volume AS volume,
    last_reasons AS reasons,
    snapshots
FROM
(
    SELECT
        toDate(ts) AS day,
        scope,
        key,
        avg(experience_index) AS day_mean,
        min(experience_index) AS day_low,
        argMax(experience_index, ts_ms) AS day_last,
        argMax(product, ts_ms) AS last_product,
        argMax(interactive, ts_ms) AS last_interactive,
        argMax(others, ts_ms) AS last_others,
        argMax(volume, ts_ms) AS last_volume,
        arrayStringConcat(argMax(reasons, ts_ms), '; ') AS last_reasons,
        count() AS snapshots
    FROM {db}.experience_snapshots FINAL
    WHERE scope IN ('product', 'segment') AND ts >= now() - INTERVAL 30 DAY
    GROUP BY day, scope, key
)
ORDER BY day DESC, scope, last_index, key
