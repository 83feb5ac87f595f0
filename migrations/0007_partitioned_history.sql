-- Forecast history that stays bounded and cheap to write (issue 16).
--
-- `predictions` is range-partitioned by issued_at and `actuals` by ts, one partition per UTC
-- day (`predictions_p20260101`, `actuals_p20260101`), created ahead by forecastd
-- (Store/HistoryPartitions.swift), with a DEFAULT partition as the safety net for a row no
-- daily partition covers yet; retention drops whole partitions. The existing tables are
-- converted in place: each becomes the partition `*_legacy` covering everything up to the end
-- of its newest day (no row is copied; it is dropped whole once all of it is past retention).
--
-- Writing: `predictions` no longer checks a foreign key per row (a forecast and its model are
-- written by one transaction) and keeps one index, its primary key (job, series, issued_at,
-- target_ts): within a day's partition it serves every documented query (latest_forecasts, the
-- replacement of an origin, the per-series panels, forecast_accuracy, model_leaderboard; plans in
-- benchmarks/RESULTS.md). The (job, series, target_ts) and model_id indexes are gone.
--
-- `latest_origins` holds the newest forecast of each (job, series), kept by a statement trigger
-- in the transaction that writes the forecasts, so latest_forecasts reads one small table
-- instead of searching the whole history.

DROP VIEW model_leaderboard;
DROP VIEW forecast_accuracy;
DROP VIEW latest_forecasts;

-- predictions ------------------------------------------------------------------------------

ALTER TABLE predictions DROP CONSTRAINT predictions_model_id_fkey;
DROP INDEX predictions_model;
DROP INDEX predictions_by_target;
ALTER TABLE predictions RENAME TO predictions_legacy;
ALTER INDEX predictions_pkey RENAME TO predictions_legacy_pkey;

CREATE TABLE predictions (
    job              text NOT NULL,
    series           text NOT NULL,
    model_id         bigint NOT NULL,          -- models.model_id, written in the same transaction
    issued_at        timestamptz NOT NULL,     -- the forecast origin: the last observed step
    target_ts        timestamptz NOT NULL,
    step             integer NOT NULL CONSTRAINT predictions_step_check CHECK (step >= 1),
    forecast_value   double precision NOT NULL, -- the median
    lower_bound      double precision,
    upper_bound      double precision,
    confidence_level double precision
                     CONSTRAINT predictions_confidence_level_check CHECK (confidence_level > 0 AND confidence_level < 1),
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job, series, issued_at, target_ts)
) PARTITION BY RANGE (issued_at);

-- (The CHECK constraints are named as 0001 named them, which ATTACH PARTITION requires.)

-- actuals ----------------------------------------------------------------------------------

ALTER TABLE actuals RENAME TO actuals_legacy;
ALTER INDEX actuals_pkey RENAME TO actuals_legacy_pkey;

CREATE TABLE actuals (
    job         text NOT NULL,
    series      text NOT NULL,
    ts          timestamptz NOT NULL,               -- the start of the grid step, as target_ts
    value       double precision NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job, series, ts)
) PARTITION BY RANGE (ts);

-- The old tables become the first partitions (their primary keys are attached as the new
-- tables' partitions of theirs: no row is copied, no index built), or go when empty.
DO $$
DECLARE
    upper timestamptz;
BEGIN
    SELECT date_trunc('day', max(issued_at), 'UTC') + interval '1 day' INTO upper FROM predictions_legacy;
    IF upper IS NULL THEN
        DROP TABLE predictions_legacy;
    ELSE
        EXECUTE format('ALTER TABLE predictions ATTACH PARTITION predictions_legacy FOR VALUES FROM (MINVALUE) TO (%L)', upper);
    END IF;
    SELECT date_trunc('day', max(ts), 'UTC') + interval '1 day' INTO upper FROM actuals_legacy;
    IF upper IS NULL THEN
        DROP TABLE actuals_legacy;
    ELSE
        EXECUTE format('ALTER TABLE actuals ATTACH PARTITION actuals_legacy FOR VALUES FROM (MINVALUE) TO (%L)', upper);
    END IF;
END $$;

CREATE TABLE predictions_default PARTITION OF predictions DEFAULT;
CREATE TABLE actuals_default PARTITION OF actuals DEFAULT;

-- latest_origins ---------------------------------------------------------------------------

-- The newest forecast of each (job, series), whole: its origin, model and steps (as arrays, one
-- element per step), with what ActualsWriter needs to know without searching the history: the
-- oldest target forecast for the series, and the newest actual recorded for it. One row per
-- series, replaced in place by every cycle; latest_forecasts reads only this table.
CREATE TABLE latest_origins (
    job              text NOT NULL,
    series           text NOT NULL,
    issued_at        timestamptz NOT NULL,
    model_id         bigint NOT NULL,
    target_ts        timestamptz[] NOT NULL,
    step             integer[] NOT NULL,
    forecast_value   double precision[] NOT NULL,
    lower_bound      double precision[] NOT NULL,
    upper_bound      double precision[] NOT NULL,
    confidence_level double precision[] NOT NULL,
    created_at       timestamptz NOT NULL,
    oldest_target_ts timestamptz NOT NULL,
    last_actual_ts   timestamptz,
    PRIMARY KEY (job, series)
) WITH (fillfactor = 50);

INSERT INTO latest_origins (job, series, issued_at, model_id, target_ts, step, forecast_value, lower_bound, upper_bound,
                            confidence_level, created_at, oldest_target_ts)
SELECT p.job, p.series, p.issued_at, min(p.model_id), array_agg(p.target_ts ORDER BY p.target_ts),
       array_agg(p.step ORDER BY p.target_ts), array_agg(p.forecast_value ORDER BY p.target_ts),
       array_agg(p.lower_bound ORDER BY p.target_ts), array_agg(p.upper_bound ORDER BY p.target_ts),
       array_agg(p.confidence_level ORDER BY p.target_ts), max(p.created_at), min(o.oldest)
FROM predictions p
JOIN (SELECT job, series, max(issued_at) AS newest, min(target_ts) AS oldest FROM predictions GROUP BY job, series) o
  ON p.job = o.job AND p.series = o.series AND p.issued_at = o.newest
GROUP BY p.job, p.series, p.issued_at;
UPDATE latest_origins l SET last_actual_ts = a.ts
FROM (SELECT job, series, max(ts) AS ts FROM actuals GROUP BY job, series) a
WHERE a.job = l.job AND a.series = l.series;

-- Every statement that adds forecasts replaces its series' rows with their newest origin in it,
-- unless an even newer one is stored (an older origin, written by a replay with --as-of, only
-- moves oldest_target_ts back). forecastd writes an origin in one statement; an origin written
-- in several would keep only the last statement's steps here.
CREATE FUNCTION predictions_track_latest() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO latest_origins AS l (job, series, issued_at, model_id, target_ts, step, forecast_value, lower_bound,
                                     upper_bound, confidence_level, created_at, oldest_target_ts)
    SELECT job, series, issued_at, min(model_id), array_agg(target_ts ORDER BY target_ts), array_agg(step ORDER BY target_ts),
           array_agg(forecast_value ORDER BY target_ts), array_agg(lower_bound ORDER BY target_ts),
           array_agg(upper_bound ORDER BY target_ts), array_agg(confidence_level ORDER BY target_ts), max(created_at), min(oldest)
    FROM (SELECT *, max(issued_at) OVER w AS newest, min(target_ts) OVER w AS oldest
          FROM new_rows WINDOW w AS (PARTITION BY job, series)) n
    WHERE issued_at = newest
    GROUP BY job, series, issued_at
    ON CONFLICT (job, series) DO UPDATE SET
        issued_at        = CASE WHEN EXCLUDED.issued_at >= l.issued_at THEN EXCLUDED.issued_at ELSE l.issued_at END,
        model_id         = CASE WHEN EXCLUDED.issued_at >= l.issued_at THEN EXCLUDED.model_id ELSE l.model_id END,
        target_ts        = CASE WHEN EXCLUDED.issued_at >= l.issued_at THEN EXCLUDED.target_ts ELSE l.target_ts END,
        step             = CASE WHEN EXCLUDED.issued_at >= l.issued_at THEN EXCLUDED.step ELSE l.step END,
        forecast_value   = CASE WHEN EXCLUDED.issued_at >= l.issued_at THEN EXCLUDED.forecast_value ELSE l.forecast_value END,
        lower_bound      = CASE WHEN EXCLUDED.issued_at >= l.issued_at THEN EXCLUDED.lower_bound ELSE l.lower_bound END,
        upper_bound      = CASE WHEN EXCLUDED.issued_at >= l.issued_at THEN EXCLUDED.upper_bound ELSE l.upper_bound END,
        confidence_level = CASE WHEN EXCLUDED.issued_at >= l.issued_at THEN EXCLUDED.confidence_level ELSE l.confidence_level END,
        created_at       = CASE WHEN EXCLUDED.issued_at >= l.issued_at THEN EXCLUDED.created_at ELSE l.created_at END,
        oldest_target_ts = least(l.oldest_target_ts, EXCLUDED.oldest_target_ts);
    RETURN NULL;
END $$;
CREATE TRIGGER predictions_track_latest AFTER INSERT ON predictions
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION predictions_track_latest();

-- views (as 0001 and 0004 made them, on the new tables) ------------------------------------

-- The predictions of the newest issued_at per (job, series), from latest_origins alone: a query
-- for one job reads that job's rows of one small table, however long the history.
CREATE VIEW latest_forecasts AS
SELECT l.job, l.series, l.model_id, l.issued_at, f.target_ts, f.step, f.forecast_value,
       f.lower_bound, f.upper_bound, f.confidence_level, l.created_at
FROM latest_origins l
CROSS JOIN LATERAL unnest(l.target_ts, l.step, l.forecast_value, l.lower_bound, l.upper_bound, l.confidence_level)
    AS f (target_ts, step, forecast_value, lower_bound, upper_bound, confidence_level);

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

-- As 0004 made it, except that the realized error of a model is found through its job and
-- series (the primary key) now that predictions has no model_id index: a per-series model reads
-- its series, a global model (series NULL) its job.
CREATE VIEW model_leaderboard AS
SELECT m.job, m.series, m.model_id, m.version, m.cell, m.trained_at, m.data_end, m.reason,
       x.mae, x.rmse, x.mape, x.smape, x.mase, x.coverage, x.pinball,
       x.baseline_mae, x.baseline_rmse, x.baseline_mase, x.baseline_coverage, x.skill,
       r.matured_points, r.realized_mae, r.realized_coverage,
       rank() OVER (PARTITION BY m.job ORDER BY nullif(x.skill, 'NaN') DESC NULLS LAST) AS skill_rank
FROM models m
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
    FROM (
        SELECT abs_error, inside_interval FROM forecast_accuracy
        WHERE job = m.job AND series = m.series AND model_id = m.model_id
        UNION ALL
        SELECT abs_error, inside_interval FROM forecast_accuracy
        WHERE m.series IS NULL AND job = m.job AND model_id = m.model_id
    ) f
) r ON true
WHERE m.status = 'active';
