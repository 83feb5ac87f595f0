-- Realized accuracy: the actual values forecastd reads, and views that put them beside the
-- forecasts, the runs and the models for people and dashboards.

-- The value of each recent grid step as forecastd last read it (after aggregation onto the
-- job's frequency). Only observed steps are kept, and only from the oldest forecast target on,
-- so the table holds what forecasts can be scored against, not a copy of the source.
CREATE TABLE actuals (
    job         text NOT NULL,
    series      text NOT NULL,
    ts          timestamptz NOT NULL,               -- the start of the grid step, as target_ts
    value       double precision NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job, series, ts)
);

-- Why a run was started outside its schedule: 'drift' for a retraining that realized error
-- forced; NULL for scheduled runs and runs asked for from the shell.
ALTER TABLE runs ADD COLUMN trigger text CHECK (trigger IN ('drift'));
ALTER TABLE runs ADD COLUMN note text;

-- Every matured forecast beside the actual that later arrived.
CREATE VIEW forecast_accuracy AS
SELECT p.job, p.series, p.model_id, p.issued_at, p.target_ts, p.step,
       p.forecast_value, p.lower_bound, p.upper_bound, p.confidence_level,
       a.value AS actual,
       abs(a.value - p.forecast_value) AS abs_error,
       CASE WHEN p.lower_bound IS NULL OR p.upper_bound IS NULL THEN NULL
            ELSE a.value BETWEEN p.lower_bound AND p.upper_bound END AS inside_interval
FROM predictions p
JOIN actuals a ON a.job = p.job AND a.series = p.series AND a.ts = p.target_ts;

-- Per job and run kind: the last run, how far the job lags behind its schedule, and how old
-- its active models are. A kind appears once it has run or is scheduled.
CREATE VIEW job_health AS
WITH jobs AS (
    SELECT job FROM runs UNION SELECT job FROM job_schedule UNION SELECT job FROM models WHERE status = 'active'
), active AS (
    SELECT job, count(*) AS active_models, min(trained_at) AS oldest_model_trained_at,
           max(trained_at) AS newest_model_trained_at
    FROM models WHERE status = 'active' GROUP BY job
)
SELECT j.job, k.kind,
       r.run_id AS last_run_id, r.status AS last_status, r.started_at AS last_started_at,
       r.finished_at AS last_finished_at,
       extract(epoch FROM r.finished_at - r.started_at)::double precision AS last_duration_seconds,
       r.series_total AS last_series_total, r.series_failed AS last_series_failed,
       r.trigger AS last_trigger, r.error AS last_error,
       d.next_due_at,
       -- greatest() skips NULLs, so a kind without a schedule is kept out of it explicitly.
       CASE WHEN d.next_due_at IS NOT NULL THEN greatest(now() - d.next_due_at, interval '0') END AS lag,
       coalesce(a.active_models, 0) AS active_models,
       a.oldest_model_trained_at, a.newest_model_trained_at,
       now() - a.oldest_model_trained_at AS oldest_model_age,
       now() - a.newest_model_trained_at AS newest_model_age
FROM jobs j
CROSS JOIN (VALUES ('train'), ('predict'), ('backtest')) AS k (kind)
LEFT JOIN job_schedule s ON s.job = j.job
CROSS JOIN LATERAL (
    SELECT CASE k.kind WHEN 'train' THEN s.next_train_at WHEN 'predict' THEN s.next_predict_at END AS next_due_at
) d
LEFT JOIN active a ON a.job = j.job
LEFT JOIN LATERAL (
    SELECT * FROM runs WHERE runs.job = j.job AND runs.kind = k.kind ORDER BY started_at DESC, run_id DESC LIMIT 1
) r ON true
WHERE r.run_id IS NOT NULL OR (s.job IS NOT NULL AND k.kind IN ('train', 'predict'));

-- Active models with their backtest metrics (model and seasonal-naive baseline on the same
-- windows), skill over the baseline, the error realized since, and their rank within the job.
CREATE VIEW model_leaderboard AS
SELECT m.job, m.series, m.model_id, m.version, m.cell, m.trained_at, m.data_end, m.reason,
       x.mae, x.rmse, x.mape, x.smape, x.mase, x.coverage, x.pinball,
       x.baseline_mae, x.baseline_rmse, x.baseline_mase, x.baseline_coverage, x.skill,
       r.matured_points, r.realized_mae, r.realized_coverage,
       rank() OVER (PARTITION BY m.job ORDER BY nullif(x.skill, 'NaN') DESC NULLS LAST) AS skill_rank
FROM models m
-- Laterals keyed by model_id, so a query for one job reads only its models' rows.
LEFT JOIN LATERAL (
    SELECT max(value) FILTER (WHERE metric = 'mae')               AS mae,
           max(value) FILTER (WHERE metric = 'rmse')              AS rmse,
           max(value) FILTER (WHERE metric = 'mape')              AS mape,
           max(value) FILTER (WHERE metric = 'smape')             AS smape,
           max(value) FILTER (WHERE metric = 'mase')              AS mase,
           max(value) FILTER (WHERE metric = 'coverage')          AS coverage,
           max(value) FILTER (WHERE metric = 'pinball')           AS pinball,
           max(value) FILTER (WHERE metric = 'baseline_mae')      AS baseline_mae,
           max(value) FILTER (WHERE metric = 'baseline_rmse')     AS baseline_rmse,
           max(value) FILTER (WHERE metric = 'baseline_mase')     AS baseline_mase,
           max(value) FILTER (WHERE metric = 'baseline_coverage') AS baseline_coverage,
           max(value) FILTER (WHERE metric = 'skill')             AS skill
    FROM model_metrics WHERE model_metrics.model_id = m.model_id AND split = 'backtest'
) x ON true
LEFT JOIN LATERAL (
    SELECT count(*) AS matured_points, avg(f.abs_error) AS realized_mae,
           avg(f.inside_interval::int)::double precision AS realized_coverage
    FROM forecast_accuracy f WHERE f.model_id = m.model_id
) r ON true
WHERE m.status = 'active';
