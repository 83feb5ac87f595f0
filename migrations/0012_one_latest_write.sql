-- A predict batch's write with one version of each latest_origins row instead of two, and no
-- per-row foreign-key check on series_state (issue 16: writing at COPY speed).
--
-- Until now ActualsWriter moved latest_origins.last_actual_ts with an UPDATE of every series of
-- the batch, and the prediction writer's merge then replaced the same rows again: two new
-- versions of a row of six arrays per series and cycle, the UPDATE alone ~70 ms of a
-- 10,000-series cycle. Now the newest recorded actual travels in the merge's stage
-- (last_actual_ts), so one upsert moves both.
--
-- series_state checked its model per row (~40 ms of the 10,000 states a cycle replaces). Its
-- states are written in the transaction that reads the model, and models are never deleted
-- (retention drops weights only; retired models' states go with SeriesStateStore.dropInactive),
-- so the check guarded nothing the writers do not already hold.

ALTER TABLE series_state DROP CONSTRAINT series_state_model_id_fkey;

-- The stage gains last_actual_ts; it gets a new name, so that a session which created the old
-- stage before this migration never copies the new columns into it.
DROP FUNCTION latest_origins_merge();
DROP FUNCTION latest_origins_stage();

CREATE FUNCTION latest_origins_stage() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    SET LOCAL client_min_messages TO warning;
    CREATE TEMPORARY TABLE IF NOT EXISTS forecastd_latest_stage (
        job text NOT NULL, series text NOT NULL, issued_at timestamptz NOT NULL, model_id bigint NOT NULL,
        target_ts timestamptz[] NOT NULL, step integer[] NOT NULL, forecast_value double precision[] NOT NULL,
        lower_bound double precision[] NOT NULL, upper_bound double precision[] NOT NULL,
        confidence_level double precision[] NOT NULL, oldest_target_ts timestamptz NOT NULL,
        last_actual_ts timestamptz
    ) ON COMMIT DELETE ROWS;
    DELETE FROM pg_temp.forecastd_latest_stage;
END $$;

-- Merges the staged rows into latest_origins and empties the stage: each series moves to its
-- staged origin unless an even newer one is stored (an older origin, written by a replay with
-- --as-of, only moves oldest_target_ts back); last_actual_ts only moves forward.
CREATE FUNCTION latest_origins_merge() RETURNS void LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO latest_origins AS l (job, series, issued_at, model_id, target_ts, step, forecast_value, lower_bound,
                                     upper_bound, confidence_level, created_at, oldest_target_ts, last_actual_ts)
    SELECT job, series, issued_at, model_id, target_ts, step, forecast_value, lower_bound, upper_bound, confidence_level,
           now(), oldest_target_ts, last_actual_ts
    FROM pg_temp.forecastd_latest_stage
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
        oldest_target_ts = least(l.oldest_target_ts, EXCLUDED.oldest_target_ts),
        last_actual_ts   = greatest(l.last_actual_ts, EXCLUDED.last_actual_ts);
    DELETE FROM pg_temp.forecastd_latest_stage;
END $$;

-- Other writers' rows, staged by the statement trigger as before (without actuals: those are
-- forecastd's own).
CREATE OR REPLACE FUNCTION predictions_track_latest() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    IF current_setting('forecastd.latest_written', true) = 'on' THEN
        RETURN NULL;
    END IF;
    PERFORM latest_origins_stage();
    INSERT INTO pg_temp.forecastd_latest_stage (job, series, issued_at, model_id, target_ts, step, forecast_value,
                                                lower_bound, upper_bound, confidence_level, oldest_target_ts)
    SELECT job, series, issued_at, min(model_id), array_agg(target_ts ORDER BY target_ts), array_agg(step ORDER BY target_ts),
           array_agg(forecast_value ORDER BY target_ts), array_agg(lower_bound ORDER BY target_ts),
           array_agg(upper_bound ORDER BY target_ts), array_agg(confidence_level ORDER BY target_ts), min(oldest)
    FROM (SELECT *, max(issued_at) OVER w AS newest, min(target_ts) OVER w AS oldest
          FROM new_rows WINDOW w AS (PARTITION BY job, series)) n
    WHERE issued_at = newest
    GROUP BY job, series, issued_at;
    PERFORM latest_origins_merge();
    RETURN NULL;
END $$;
