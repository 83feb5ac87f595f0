/// Forecasting owns the path from raw (series, time, value) rows to forecasts: regular
/// grids and gap handling, scaling and calendar features, the recurrent forecaster,
/// the seasonal-naive baseline, rolling-origin backtests and accuracy metrics.
///
/// The data side, in the order a series goes through it:
/// - `Frequency` and `TimeGrid` (Frequency.swift, TimeGrid.swift): a job's step and the
///   time zone where calendar buckets are cut; buckets are numbered by integers.
/// - `SeriesBuilder` (SeriesBuilder.swift): unordered `SourceRow`s → one `RegularSeries`
///   per key (aggregated per step, short gaps interpolated, long gaps missing), or a
///   `SkipReason` that is recorded while the other series go on.
/// - `RobustScaler` (Scaling.swift) and `CalendarFeatures` (CalendarFeatures.swift): the
///   network's inputs besides the missing-value mask.
/// - `SeasonalNaive` (Baselines.swift): the baseline and fallback, with empirical intervals.
/// - `QuantileForecast` and the quantile helpers (Quantiles.swift): ordered quantiles and
///   the median as the point forecast.
/// - `ETS`, `Theta`, `ARIMA`, `CES` and `Decomposition` (ETS.swift, Theta.swift, ARIMA.swift,
///   CES.swift, Decomposition.swift, with StatisticalSupport.swift): the statistical
///   challengers, as statsforecast's AutoETS, AutoTheta and AutoCES and auto.arima's stepwise
///   choice (fitted by conditional sum of squares), and classical/STL/MSTL seasonal
///   decomposition, additive or multiplicative.
/// - `Metrics` and `Backtest` (Metrics.swift, Backtest.swift): rolling-origin scores of a
///   model and the baseline on the same windows, named as in `model_metrics`.
///
/// Conventions: missing values are NaN in `[Double]` buffers; percentages (MAPE, sMAPE,
/// coverage) are fractions (0.12 means 12 %); undefined metrics are NaN.
