-- Statistical models published by the guard (issue 12): a model's cell may be 'ets' or
-- 'theta', whose hyperparameters hold the fitted specification (e.g. {"method": "ets",
-- "model": "MAdM", "season": 12, "window": 1000}); predict fits it again on each series'
-- history, so such a model has no weights and saves no series state.
ALTER TABLE models DROP CONSTRAINT models_cell_check;
ALTER TABLE models ADD CONSTRAINT models_cell_check
    CHECK (cell IN ('lstm', 'gru', 'rnn', 'seasonal_naive', 'ets', 'theta'));
