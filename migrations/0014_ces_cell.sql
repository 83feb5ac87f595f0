-- CES joins ETS, Theta and ARIMA among the guard's statistical models (issue 12). Like ARIMA
-- the guard only averages it into a choice (its record in the hyperparameters'
-- "averaged_with", e.g. {"method": "ces", "model": "F", "season": 12, "window": 1000}), but the
-- cell column accepts every cell the service can name.
ALTER TABLE models DROP CONSTRAINT models_cell_check;
ALTER TABLE models ADD CONSTRAINT models_cell_check
    CHECK (cell IN ('lstm', 'gru', 'rnn', 'seasonal_naive', 'ets', 'theta', 'arima', 'ces'));
