-- ARIMA joins ETS and Theta among the guard's statistical challengers (issue 12): a model's
-- cell may be 'arima', whose hyperparameters hold the fitted orders per series (e.g.
-- {"method": "arima", "model": "(0,1,1)(0,1,1), on logs", "season": 12, "window": 1000}).
ALTER TABLE models DROP CONSTRAINT models_cell_check;
ALTER TABLE models ADD CONSTRAINT models_cell_check
    CHECK (cell IN ('lstm', 'gru', 'rnn', 'seasonal_naive', 'ets', 'theta', 'arima'));
