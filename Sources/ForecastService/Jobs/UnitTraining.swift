import Forecasting
import Foundation
import NeuralNet

/// The forecasts of one series from one origin, ready to be written.
public struct SeriesForecast: Sendable {
    public var series: String
    /// The forecast origin: the last step of the history.
    public var issuedAt: Date
    public var targets: [Date]
    public var forecast: QuantileForecast
}

/// One model version as it will be stored, with its metrics and training curve.
public struct ModelVersion: Sendable {
    public var model: NewModel
    public var metrics: [(split: MetricSplit, name: String, value: Double)]
    public var history: [EpochRecord]
}

/// What training one unit (a series, or a job's global model) produced: at most one model that
/// becomes active, possibly a rejected network beside it, and the forecasts of the active one.
public struct TrainedUnit: Sendable {
    public var series: [String]
    public var active: ModelVersion?
    public var rejected: ModelVersion?
    public var forecasts: [SeriesForecast]
    /// Where the active network stands after each series, stored with the forecasts so that
    /// predict reads only the points after it (empty for the seasonal-naive fallback).
    public var states: [SeriesState] = []
    public var pointsUsed: Int
    /// The series the unit read, whose recent values are recorded as actuals with its results.
    public var observed: [RegularSeries] = []
}

/// Trains and judges one unit of work. Pure computation: no database, so a crash here leaves
/// nothing behind, and the guards decide before anything is written.
public struct UnitTrainer: Sendable {
    public let plan: JobPlan
    /// The first grid bucket that the read did not cover in full (the one its end falls in):
    /// saved states stop before it. nil when every bucket read is complete.
    public var settledBefore: Int?

    public init(plan: JobPlan, readUntil end: Date? = nil) {
        self.plan = plan
        settledBefore = end.flatMap { plan.grid.index(of: $0) }
    }

    var job: JobSettings { plan.job }

    /// Trains a model on `series` (one series, or all of a global model), backtests it beside
    /// seasonal naive, and keeps it only if it wins; otherwise the baseline is published (the
    /// job's fallback permitting) and the network is stored as rejected with the reason.
    public func train(_ series: [RegularSeries], global: Bool) -> TrainedUnit {
        let started = Date()
        let settings = plan.forecaster
        let keys = series.map(\.key)
        let modelSeries = global ? nil : keys.first
        let points = series.reduce(0) { $0 + $1.observedCount }
        let model: TrainedForecaster
        do {
            model = try RecurrentForecaster.train(series: series, settings: settings, threads: global ? 2 : 1)
        } catch {
            return fallback(series, global: global, reason: "training failed: \(error)", rejected: nil, points: points)
        }
        let seconds = Date().timeIntervalSince(started)
        var pooled = AccuracyPool()
        for s in series {
            if let result = try? model.backtest(s, windows: max(job.backtestWindows, 1), season: plan.season) {
                pooled.add(result)
            }
        }
        let hyperparameters = Self.json(model.settings)
        let weights = try? ModelArchive.encode(model)
        var version = ModelVersion(
            model: NewModel(job: job.name, series: modelSeries, cell: ModelCell(rawValue: settings.cell.rawValue) ?? .lstm,
                            hyperparameters: hyperparameters, status: .active, dataStart: series.map(\.start).min(),
                            dataEnd: series.map { $0.date(ofStep: $0.count - 1) }.max(), trainSeconds: seconds,
                            epochs: model.history.count, weights: weights),
            metrics: pooled.metrics, history: model.history)
        if let why = pooled.rejection ?? (weights == nil ? "the model could not be serialised" : nil) {
            version.model.status = .rejected
            version.model.reason = why
            return fallback(series, global: global, reason: why, rejected: version, points: points)
        }
        var forecasts: [SeriesForecast] = []
        var states: [SeriesState] = []
        for s in series {
            guard let (forecast, state) = try? model.forecast(s, settledBefore: settledBefore) else { continue }
            forecasts.append(SeriesForecast(series: s.key, issuedAt: s.date(ofStep: s.count - 1), targets: plan.targetDates(after: s), forecast: forecast))
            if let state { states.append(state) }
        }
        return TrainedUnit(series: keys, active: version, rejected: nil, forecasts: forecasts, states: states, pointsUsed: points,
                           observed: series)
    }

    /// The seasonal-naive model and its forecasts for series the network does not serve.
    public func fallback(_ series: [RegularSeries], global: Bool, reason: String, rejected: ModelVersion?, points: Int) -> TrainedUnit {
        let keys = series.map(\.key)
        guard job.fallback == .seasonalNaive else {
            return TrainedUnit(series: keys, active: nil, rejected: rejected, forecasts: [], pointsUsed: points, observed: series)
        }
        let baseline = SeasonalNaive(season: plan.season)
        var pooled = AccuracyPool()
        var forecasts: [SeriesForecast] = []
        for s in series where baseline.canForecast(history: s.values) {
            let levels = plan.forecaster.quantiles
            let backtest = Backtest(horizon: job.horizon, windows: max(job.backtestWindows, 1), season: plan.season, levels: levels)
            pooled.add(backtest.run(series: s) { window in baseline.forecast(history: window.history, horizon: job.horizon, levels: levels) })
            forecasts.append(SeriesForecast(series: s.key, issuedAt: s.date(ofStep: s.count - 1), targets: plan.targetDates(after: s),
                                            forecast: baseline.forecast(history: s.values, horizon: job.horizon, levels: levels)))
        }
        guard !forecasts.isEmpty else {
            return TrainedUnit(series: keys, active: nil, rejected: rejected, forecasts: [], pointsUsed: points, observed: series)
        }
        let model = NewModel(job: job.name, series: global ? nil : keys.first, cell: .seasonalNaive,
                             hyperparameters: "{\"season\": \(plan.season)}", status: .active, reason: "fallback: \(reason)",
                             dataStart: series.map(\.start).min(), dataEnd: series.map { $0.date(ofStep: $0.count - 1) }.max())
        return TrainedUnit(series: keys, active: ModelVersion(model: model, metrics: pooled.metrics, history: []),
                           rejected: rejected, forecasts: forecasts, pointsUsed: points, observed: series)
    }

    static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return (try? encoder.encode(value)).flatMap { String(data: $0, encoding: .utf8) } ?? "{}"
    }
}

/// Backtest windows of several series scored together, and the guard's verdict on them.
struct AccuracyPool {
    var results: [BacktestResult] = []

    mutating func add(_ result: BacktestResult) { results.append(result) }

    /// Mean over series of each metric (series weigh the same, whatever their scale).
    var metrics: [(split: MetricSplit, name: String, value: Double)] {
        guard let first = results.first else { return [] }
        return first.metrics.indices.map { i in
            let values = results.map { $0.metrics[i].value }.filter(\.isFinite)
            let mean = values.isEmpty ? Double.nan : values.reduce(0, +) / Double(values.count)
            return (split: .backtest, name: first.metrics[i].name, value: mean)
        }
    }

    func value(_ name: String) -> Double {
        metrics.first { $0.name == name }?.value ?? .nan
    }

    /// Why the model must not be published, or nil when it beats seasonal naive.
    var rejection: String? {
        let mase = value("mase"), baseline = value("baseline_mase")
        guard !results.isEmpty else { return "no backtest window could be scored" }
        guard mase.isFinite else { return "the backtest MASE is not finite" }
        if baseline.isFinite && mase >= baseline {
            return String(format: "backtest MASE %.3f does not beat seasonal naive (%.3f)", mase, baseline)
        }
        return nil
    }
}
