-- latest_origins written by forecastd's own prediction writer (issue 16). The statement trigger
-- of 0007 rebuilt each series' newest forecast from the inserted rows with a window and six
-- sorted array_agg per series: about a third of a predict batch's insert time. forecastd's
-- writer knows those arrays already: it sends them by binary COPY into the session's staging
-- table pg_temp.forecastd_latest_in and calls latest_origins_merge() in the same transaction,
-- and tells the trigger so (the transaction-local setting forecastd.latest_written = 'on').
-- Rows that anything else inserts into predictions still go through the trigger, which stages
-- its aggregate the same way: one merge rule for both.

-- Merges the staged rows into latest_origins and empties the stage: each series moves to its
-- staged origin unless an even newer one is stored (an older origin, written by a replay with
-- --as-of, only moves oldest_target_ts back).
CREATE FUNCTION latest_origins_merge() RETURNS void LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO latest_origins AS l (job, series, issued_at, model_id, target_ts, step, forecast_value, lower_bound,
                                     upper_bound, confidence_level, created_at, oldest_target_ts)
    SELECT job, series, issued_at, model_id, target_ts, step, forecast_value, lower_bound, upper_bound, confidence_level,
           now(), oldest_target_ts
    FROM pg_temp.forecastd_latest_in
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
    DELETE FROM pg_temp.forecastd_latest_in;
END $$;

-- The session's stage (created on first use by whoever writes; emptied at commit).
CREATE FUNCTION latest_origins_stage() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    SET LOCAL client_min_messages TO warning;
    CREATE TEMPORARY TABLE IF NOT EXISTS forecastd_latest_in (
        job text NOT NULL, series text NOT NULL, issued_at timestamptz NOT NULL, model_id bigint NOT NULL,
        target_ts timestamptz[] NOT NULL, step integer[] NOT NULL, forecast_value double precision[] NOT NULL,
        lower_bound double precision[] NOT NULL, upper_bound double precision[] NOT NULL,
        confidence_level double precision[] NOT NULL, oldest_target_ts timestamptz NOT NULL
    ) ON COMMIT DELETE ROWS;
    DELETE FROM pg_temp.forecastd_latest_in;
END $$;

CREATE OR REPLACE FUNCTION predictions_track_latest() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    IF current_setting('forecastd.latest_written', true) = 'on' THEN
        RETURN NULL;
    END IF;
    PERFORM latest_origins_stage();
    INSERT INTO pg_temp.forecastd_latest_in (job, series, issued_at, model_id, target_ts, step, forecast_value, lower_bound,
                                             upper_bound, confidence_level, oldest_target_ts)
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
