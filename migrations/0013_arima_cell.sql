-- ARIMA joins ETS and Theta among the guard's statistical models (issue 12). The guard only
-- averages it into a choice (its record in the hyperparameters' "averaged_with"), but the cell
-- column accepts every cell the service can name, so a model published as ARIMA alone, e.g.
-- {"method": "arima", "model": "(0,1,1)(0,1,1), on logs", "season": 12, "window": 1000},
-- would be stored as the others are.
ALTER TABLE models DROP CONSTRAINT models_cell_check;
ALTER TABLE models ADD CONSTRAINT models_cell_check
    CHECK (cell IN ('lstm', 'gru', 'rnn', 'seasonal_naive', 'ets', 'theta', 'arima'));
