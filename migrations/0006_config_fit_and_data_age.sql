-- Config changes and old data (issue 15).

-- A train run that the job's configuration forced: its active models were trained for other
-- settings (horizon, frequency, quantiles, cell, ...), named in the run's note.
ALTER TABLE runs DROP CONSTRAINT runs_trigger_check;
ALTER TABLE runs ADD CONSTRAINT runs_trigger_check CHECK (trigger IN ('drift', 'config'));

-- The newest observation a run read from the job's source (NULL: it read none), so that data
-- that stopped arriving shows, whatever the clock says.
ALTER TABLE runs ADD COLUMN newest_observation timestamptz;
CREATE INDEX runs_newest_observation ON runs (job, newest_observation DESC) WHERE newest_observation IS NOT NULL;

-- job_health as 0004 made it, plus newest_observation_age: how long before now the newest
-- observation any run of the job read was made.
CREATE OR REPLACE VIEW job_health AS
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
       now() - a.newest_model_trained_at AS newest_model_age,
       now() - o.newest_observation AS newest_observation_age
FROM jobs j
CROSS JOIN (VALUES ('train'), ('predict'), ('backtest')) AS k (kind)
LEFT JOIN job_schedule s ON s.job = j.job
CROSS JOIN LATERAL (
    SELECT CASE k.kind WHEN 'train' THEN s.next_train_at WHEN 'predict' THEN s.next_predict_at END AS next_due_at
) d
LEFT JOIN active a ON a.job = j.job
LEFT JOIN LATERAL (
    SELECT max(newest_observation) AS newest_observation FROM runs WHERE runs.job = j.job
) o ON true
LEFT JOIN LATERAL (
    SELECT * FROM runs WHERE runs.job = j.job AND runs.kind = k.kind ORDER BY started_at DESC, run_id DESC LIMIT 1
) r ON true
WHERE r.run_id IS NOT NULL OR (s.job IS NOT NULL AND k.kind IN ('train', 'predict'));
