-- forecastd's tables, as SPEC.md names them. `forecastd migrate` runs this file in one
-- transaction with search_path set to the configured schema, so names here are unqualified.

-- One row per trained model version. A fallback model has cell 'seasonal_naive'.
CREATE TABLE models (
    model_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job             text NOT NULL,
    series          text,                      -- NULL for a global model of the job
    version         integer NOT NULL,
    cell            text NOT NULL CHECK (cell IN ('lstm', 'gru', 'rnn', 'seasonal_naive')),
    hyperparameters jsonb NOT NULL DEFAULT '{}',
    status          text NOT NULL CHECK (status IN ('active', 'retired', 'rejected')),
    reason          text,                      -- why a model was rejected or fell back to the baseline
    trained_at      timestamptz NOT NULL DEFAULT now(),
    data_start      timestamptz,
    data_end        timestamptz,
    train_seconds   double precision,
    epochs          integer,
    weights         bytea,
    CHECK (status <> 'rejected' OR reason IS NOT NULL)
);
-- Versions count up per (job, series); a NULL series (global model) is one key of its own.
CREATE UNIQUE INDEX models_version_key ON models (job, (series IS NULL), coalesce(series, ''), version);
-- At most one active model per (job, series).
CREATE UNIQUE INDEX models_one_active ON models (job, (series IS NULL), coalesce(series, '')) WHERE status = 'active';

CREATE TABLE predictions (
    job              text NOT NULL,
    series           text NOT NULL,
    model_id         bigint NOT NULL REFERENCES models (model_id),
    issued_at        timestamptz NOT NULL,     -- the forecast origin: the last observed step
    target_ts        timestamptz NOT NULL,
    step             integer NOT NULL CHECK (step >= 1),
    forecast_value   double precision NOT NULL, -- the median
    lower_bound      double precision,
    upper_bound      double precision,
    confidence_level double precision CHECK (confidence_level > 0 AND confidence_level < 1),
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job, series, issued_at, target_ts)
);
-- The primary key serves "latest forecast per series" (newest issued_at first) and the
-- forecasts of one origin; this one serves "forecasts by job, series and target time".
CREATE INDEX predictions_by_target ON predictions (job, series, target_ts);
CREATE INDEX predictions_model ON predictions (model_id);

-- The predictions of the newest issued_at per (job, series).
CREATE VIEW latest_forecasts AS
SELECT p.job, p.series, p.model_id, p.issued_at, p.target_ts, p.step, p.forecast_value,
       p.lower_bound, p.upper_bound, p.confidence_level, p.created_at
FROM predictions p
WHERE p.issued_at = (SELECT max(q.issued_at) FROM predictions q WHERE q.job = p.job AND q.series = p.series);

CREATE TABLE model_metrics (
    model_id bigint NOT NULL REFERENCES models (model_id) ON DELETE CASCADE,
    split    text NOT NULL CHECK (split IN ('validation', 'backtest')),
    metric   text NOT NULL,
    value    double precision,
    PRIMARY KEY (model_id, split, metric)
);

CREATE TABLE training_history (
    model_id        bigint NOT NULL REFERENCES models (model_id) ON DELETE CASCADE,
    epoch           integer NOT NULL,
    train_loss      double precision,
    validation_loss double precision,
    grad_norm       double precision,
    learning_rate   double precision,
    seconds         double precision,
    PRIMARY KEY (model_id, epoch)
);

CREATE TABLE runs (
    run_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job           text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('train', 'predict', 'backtest')),
    status        text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'partial')),
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    series_total  integer NOT NULL DEFAULT 0,
    series_failed integer NOT NULL DEFAULT 0,
    points_read   bigint NOT NULL DEFAULT 0,
    rows_written  bigint NOT NULL DEFAULT 0,
    error         text,
    host          text,
    pid           integer,
    CHECK ((status = 'running') = (finished_at IS NULL))
);
CREATE INDEX runs_by_job ON runs (job, kind, started_at DESC);
CREATE INDEX runs_running ON runs (started_at) WHERE status = 'running';
