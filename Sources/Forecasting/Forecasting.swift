/// Forecasting owns the path from raw (series, time, value) rows to forecasts: regular
/// grids and gap handling, scaling and calendar features, the recurrent forecaster,
/// the seasonal-naive baseline, rolling-origin backtests and accuracy metrics.
import NeuralNet
