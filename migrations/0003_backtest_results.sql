-- Scores of `forecastd backtest JOB`: an out-of-sample rolling-origin evaluation of a job's
-- settings, one row per (run, series, metric). The network is scored beside seasonal naive on
-- the same windows (mae ... pinball, baseline_mae ... baseline_pinball, skill), as model_metrics
-- does for trained models, but nothing here is ever published.
CREATE TABLE backtest_results (
    run_id  bigint NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    job     text NOT NULL,
    series  text NOT NULL,
    metric  text NOT NULL,
    value   double precision,
    windows integer NOT NULL,
    PRIMARY KEY (run_id, series, metric)
);

-- The newest backtest of a job first.
CREATE INDEX backtest_results_job ON backtest_results (job, run_id DESC);
