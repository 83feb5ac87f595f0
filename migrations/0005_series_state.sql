-- Where each network stands after reading a series (Forecasting's SeriesState): its hidden
-- state after the last settled step, the scaling, and the last steps' values. Predict reads
-- only the rows after `last_step` and continues from here instead of reading the whole history
-- again. Written and replaced in the same transaction as the series' forecasts; a row belongs
-- to one model version and goes with it.
CREATE TABLE series_state (
    model_id   bigint NOT NULL REFERENCES models (model_id) ON DELETE CASCADE,
    series     text NOT NULL,
    last_step  timestamptz NOT NULL,       -- start of the last step read into the state
    state      bytea NOT NULL,             -- SeriesStateArchive's format
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model_id, series)
);
