/// A rolling-origin backtest: `windows` forecast origins, each scored over the `horizon`
/// steps that follow it, the last window ending with the series. The model and the
/// seasonal-naive baseline are scored on exactly the same windows.
///
/// What is scored: only observed actuals (interpolated steps are not real observations).
/// What the forecasters see: the history before the origin, interpolated steps included,
/// NaN where missing. MASE scales each window by the seasonal-naive MAE of its own history.
public struct Backtest: Sendable, Hashable {
    public let horizon: Int
    public let windows: Int
    public let season: Int
    public let levels: [Double]
    /// Origins with less history are left out; by default one season plus one step, the
    /// least the baseline and the MASE scale need.
    public let minimumHistory: Int

    public init(horizon: Int, windows: Int, season: Int, levels: [Double], minimumHistory: Int? = nil) {
        precondition(horizon >= 1 && windows >= 0 && season >= 1, "horizon and season ≥ 1, windows ≥ 0")
        precondition((try? Quantiles.validate(levels)) != nil, "invalid quantile levels \(levels)")
        self.horizon = horizon
        self.windows = windows
        self.season = season
        self.levels = levels
        self.minimumHistory = max(minimumHistory ?? season + 1, 1)
    }

    /// Origins n − w·h, n − (w − 1)·h, …, n − h, oldest first, without those that leave less
    /// than `minimumHistory` steps of history.
    public static func origins(length: Int, horizon: Int, windows: Int, minimumHistory: Int = 1) -> [Int] {
        guard windows > 0, horizon > 0 else { return [] }
        return (1...windows).reversed().map { length - $0 * horizon }.filter { $0 >= max(minimumHistory, 1) }
    }

    public func origins(length: Int) -> [Int] {
        Self.origins(length: length, horizon: horizon, windows: windows, minimumHistory: minimumHistory)
    }

    /// Runs the backtest on a regular series; `forecaster` gets each window's history and
    /// returns quantile forecasts at `levels` for `horizon` steps.
    public func run(series: RegularSeries,
                    forecaster: (BacktestWindow) throws -> QuantileForecast) rethrows -> BacktestResult {
        try run(values: series.values, observed: series.observedValues, forecaster: forecaster)
    }

    /// The same on plain buffers: `values` is what forecasters see (NaN for missing),
    /// `observed` what is scored (NaN where not observed; defaults to `values`).
    public func run(values: [Double], observed: [Double]? = nil,
                    forecaster: (BacktestWindow) throws -> QuantileForecast) rethrows -> BacktestResult {
        let observed = observed ?? values
        precondition(observed.count == values.count, "one observed value per value")
        let baseline = SeasonalNaive(season: season)
        var modelTotal = AccuracyAccumulator(), baselineTotal = AccuracyAccumulator()
        var scores: [WindowScore] = []
        for origin in origins(length: values.count) {
            let window = BacktestWindow(origin: origin, history: values[..<origin], horizon: horizon, levels: levels)
            let modelForecast = try forecaster(window)
            precondition(modelForecast.horizon == horizon && modelForecast.levels == levels,
                         "the forecaster must return \(horizon) steps at levels \(levels)")
            let baselineForecast = baseline.forecast(history: window.history, horizon: horizon, levels: levels)
            let actual = Array(observed[origin..<(origin + horizon)])
            let scale = Metrics.seasonalNaiveScale(training: Array(observed[..<origin]), season: season)
            var model = AccuracyAccumulator(), reference = AccuracyAccumulator()
            model.add(actual: actual, forecast: modelForecast, scale: scale)
            reference.add(actual: actual, forecast: baselineForecast, scale: scale)
            modelTotal.add(actual: actual, forecast: modelForecast, scale: scale)
            baselineTotal.add(actual: actual, forecast: baselineForecast, scale: scale)
            scores.append(WindowScore(origin: origin, scale: scale, model: model.report, baseline: reference.report,
                                      modelForecast: modelForecast, baselineForecast: baselineForecast))
        }
        return BacktestResult(windows: scores, model: modelTotal.report, baseline: baselineTotal.report)
    }
}

/// What a forecaster sees for one backtest window.
public struct BacktestWindow: Sendable {
    /// The step where the forecast begins; `history` holds steps 0..<origin.
    public let origin: Int
    public let history: ArraySlice<Double>
    public let horizon: Int
    public let levels: [Double]
}

public struct WindowScore: Sendable, Equatable {
    public let origin: Int
    /// The window's MASE scale.
    public let scale: Double
    public let model: AccuracyReport
    public let baseline: AccuracyReport
    public let modelForecast: QuantileForecast
    public let baselineForecast: QuantileForecast
}

public struct BacktestResult: Sendable, Equatable {
    public let windows: [WindowScore]
    /// Over all windows together.
    public let model: AccuracyReport
    public let baseline: AccuracyReport

    /// 1 − mase / baseline_mase over all windows.
    public var skill: Double { model.skill(against: baseline) }

    /// The rows for `model_metrics`: mae … pinball, baseline_mae … baseline_pinball, skill.
    public var metrics: [(name: String, value: Double)] {
        model.named() + baseline.named(prefix: "baseline_") + [(name: "skill", value: skill)]
    }
}
