-- The latest model fit's tracking plot (Fader, Hardie & Lee 2005, fig. 2 and 3), as `vigil model fit` stored it in
-- model_tracking: per week of the calibration cohort, repeat purchases made against those the chosen model expects,
-- weekly and cumulated, calibration then holdout (the period column says which).
SELECT
    period_end,
    if(period_end <= calibration_end, 'calibration', 'holdout') AS period,
    model,
    actual AS actual_weekly,
    round(expected, 2) AS expected_weekly,
    actual_cumulative,
    round(expected_cumulative, 2) AS expected_cumulative
FROM {db}.model_tracking
WHERE fitted_at = (SELECT max(fitted_at) FROM {db}.model_tracking)
ORDER BY period_end
