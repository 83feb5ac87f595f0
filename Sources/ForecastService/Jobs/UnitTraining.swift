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

    /// Trains a model on `series` (one series, or all of a global model) and backtests it beside
    /// seasonal naive and naive, and beside its combination with the stronger of the two (the
    /// baseline the fallback would publish; see `QuantileForecast.combined(with:)`). Publishes
    /// the network when it beats both baselines and the combination; otherwise the combination
    /// when it beats both baselines; otherwise the stronger baseline (the job's fallback
    /// permitting), the network then being stored as rejected with the reason.
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
        let partner = FallbackBaseline(ForecastBase.stronger(on: series.map(\.values), horizon: job.horizon, season: plan.season), season: plan.season)
        var pooled = AccuracyPool(), combined = AccuracyPool()
        let naive = SeasonalNaive.naive, levels = settings.quantiles
        for s in series {
            let windows = plan.guardWindows(heldBack: model.settings.heldBack(length: s.count), week: model.settings.weekRead)
            let backtest = Backtest(horizon: job.horizon, windows: windows, season: plan.season, levels: levels)
            guard let result = try? model.backtest(s, windows: backtest.windows, season: plan.season) else { continue }
            let naiveResult = backtest.run(series: s) { naive.forecast(history: $0.history, horizon: job.horizon, levels: levels) }
            pooled.add(result, naive: naiveResult)
            let network = Dictionary(uniqueKeysWithValues: result.windows.map { ($0.origin, $0.modelForecast) })
            combined.add(backtest.run(series: s) { window in
                let baseline = partner.forecaster.forecast(history: window.history, horizon: job.horizon, levels: levels)
                return network[window.origin].map { $0.combined(with: baseline) } ?? baseline
            }, naive: naiveResult)
        }
        let weights = try? ModelArchive.encode(model)
        var version = ModelVersion(
            model: NewModel(job: job.name, series: modelSeries, cell: .network(settings.cell),
                            hyperparameters: Self.json(model.settings), status: .active, dataStart: series.map(\.start).min(),
                            dataEnd: series.map { $0.date(ofStep: $0.count - 1) }.max(), trainSeconds: seconds,
                            epochs: model.history.count, weights: weights),
            metrics: pooled.metrics, history: model.history)
        var combination: FallbackBaseline?
        switch weights == nil ? .fallback(reason: "the model could not be serialised") : Verdict(network: pooled, combined: combined, with: partner) {
        case .network:
            break
        case .combined(let why):
            combination = partner
            version.model.reason = why
            version.model.hyperparameters = Self.json(CombinedSettings(settings: model.settings, combinedWith: partner))
            version.metrics = combined.metrics
        case .fallback(let why):
            version.model.status = .rejected
            version.model.reason = why
            return fallback(series, global: global, reason: why, rejected: version, points: points, week: model.settings.weekRead)
        }
        var forecasts: [SeriesForecast] = []
        var states: [SeriesState] = []
        for s in series {
            guard let (forecast, state) = try? model.forecast(s, settledBefore: settledBefore) else { continue }
            let published = combination.map { forecast.combined(with: $0.forecaster.forecast(history: s.values, horizon: job.horizon, levels: levels)) }
            forecasts.append(SeriesForecast(series: s.key, issuedAt: s.date(ofStep: s.count - 1), targets: plan.targetDates(after: s),
                                            forecast: published ?? forecast))
            // A combination is read in full at every predict (its baseline needs the history), so it saves no state.
            if let state, combination == nil { states.append(state) }
        }
        return TrainedUnit(series: keys, active: version, rejected: nil, forecasts: forecasts, states: states, pointsUsed: points,
                           observed: series)
    }

    /// The fallback model and its forecasts for series the network does not serve: the
    /// stronger of seasonal naive and naive over the series' own history (see
    /// `ForecastBase.stronger`), stored with cell `seasonal_naive` and its season in the
    /// hyperparameters (season 1 being naive), the reason naming what was published.
    /// `week`: the week the rejected network read, whose guard windows the baseline is scored on too.
    public func fallback(_ series: [RegularSeries], global: Bool, reason: String, rejected: ModelVersion?, points: Int,
                         week: Int? = nil) -> TrainedUnit {
        let keys = series.map(\.key)
        guard job.fallback == .seasonalNaive else {
            return TrainedUnit(series: keys, active: nil, rejected: rejected, forecasts: [], pointsUsed: points, observed: series)
        }
        let choice = FallbackBaseline(ForecastBase.stronger(on: series.map(\.values), horizon: job.horizon, season: plan.season), season: plan.season)
        let baseline = choice.forecaster
        var pooled = AccuracyPool()
        var forecasts: [SeriesForecast] = []
        for s in series where baseline.canForecast(history: s.values) {
            let levels = plan.forecaster.quantiles
            let windows = plan.guardWindows(heldBack: plan.forecaster.heldBack(length: s.count), week: week)
            let backtest = Backtest(horizon: job.horizon, windows: windows, season: plan.season, levels: levels)
            pooled.add(backtest.run(series: s) { window in baseline.forecast(history: window.history, horizon: job.horizon, levels: levels) })
            forecasts.append(SeriesForecast(series: s.key, issuedAt: s.date(ofStep: s.count - 1), targets: plan.targetDates(after: s),
                                            forecast: baseline.forecast(history: s.values, horizon: job.horizon, levels: levels)))
        }
        guard !forecasts.isEmpty else {
            return TrainedUnit(series: keys, active: nil, rejected: rejected, forecasts: [], pointsUsed: points, observed: series)
        }
        let model = NewModel(job: job.name, series: global ? nil : keys.first, cell: .seasonalNaive,
                             hyperparameters: Self.json(choice), status: .active, reason: "fallback: \(reason)\(choice.note)",
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

/// The baseline a fallback model publishes, as its `hyperparameters` record it:
/// `{"baseline": "seasonal_naive", "season": 24}`, or `{"baseline": "naive", "season": 1}`
/// when the last value forecasts the history better. The cell stays `seasonal_naive` (naive
/// is seasonal naive with a season of one step).
public struct FallbackBaseline: Codable, Sendable, Equatable {
    public var baseline: String
    public var season: Int

    public init(_ base: ForecastBase, season: Int) {
        let forecaster = base.baseline(season: season)
        self.baseline = forecaster.season == 1 && season > 1 ? "naive" : "seasonal_naive"
        self.season = forecaster.season
    }

    /// The baseline of a stored fallback model; models stored before the baseline was
    /// recorded (or with unreadable hyperparameters) use the job's season.
    public init(hyperparameters: String, jobSeason: Int) {
        let stored = try? JSONDecoder().decode(FallbackBaseline.self, from: Data(hyperparameters.utf8))
        baseline = stored?.baseline ?? "seasonal_naive"
        season = max(stored?.season ?? jobSeason, 1)
    }

    private enum CodingKeys: String, CodingKey { case baseline, season }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        season = try container.decode(Int.self, forKey: .season)
        baseline = try container.decodeIfPresent(String.self, forKey: .baseline) ?? "seasonal_naive"
    }

    public var forecaster: SeasonalNaive { SeasonalNaive(season: max(season, 1)) }

    /// How reasons name it: "seasonal naive" or "naive".
    var name: String { baseline == "naive" ? "naive" : "seasonal naive" }

    /// The baseline a published network is combined with, when its hyperparameters record one
    /// (`combined_with`); nil for a network published alone.
    public static func combinedWith(hyperparameters: String) -> FallbackBaseline? {
        struct Record: Decodable { var combined_with: FallbackBaseline? }
        return (try? JSONDecoder().decode(Record.self, from: Data(hyperparameters.utf8)))?.combined_with
    }

    /// Appended to the fallback's reason when it is not the seasonal naive of record.
    var note: String {
        baseline == "naive" ? "; published naive (the last value), which forecasts this history better than seasonal naive" : ""
    }
}

/// The `hyperparameters` of a network published combined with a baseline: the network's
/// settings and, beside them, `combined_with` naming the baseline (as a fallback records it).
struct CombinedSettings: Encodable {
    var settings: ForecasterSettings
    var combinedWith: FallbackBaseline

    private enum CodingKeys: String, CodingKey { case combinedWith = "combined_with" }

    func encode(to encoder: any Encoder) throws {
        try settings.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(combinedWith, forKey: .combinedWith)
    }
}

/// What the guard publishes, from the backtests of the network and of its combination with a
/// baseline on the same windows.
enum Verdict: Equatable {
    /// The network alone: it beats both baselines, and its combination does not beat it.
    case network
    /// The network combined with the baseline: the combination beats the network, and both
    /// baselines.
    case combined(reason: String)
    /// The baseline: neither the network nor the combination beats both baselines.
    case fallback(reason: String)

    init(network: AccuracyPool, combined: AccuracyPool, with baseline: FallbackBaseline) {
        let mase = network.value("mase"), combinedMase = combined.value("mase")
        let combinationWins = combined.rejection == nil && combinedMase < mase.nanAsInfinity
        if let why = network.rejection {
            self = combinationWins
                ? .combined(reason: String(format: "combined with %@: backtest MASE %.3f beats the baselines, where the network alone does not (%@)",
                                           baseline.name, combinedMase, why))
                : .fallback(reason: why)
        } else {
            self = combinationWins
                ? .combined(reason: String(format: "combined with %@: backtest MASE %.3f beats the network alone (%.3f)",
                                           baseline.name, combinedMase, mase))
                : .network
        }
    }
}

/// Backtest windows of several series scored together, and the guard's verdict on them.
struct AccuracyPool {
    var results: [BacktestResult] = []
    /// Naive on the same windows, when it was scored: the second baseline the network must beat.
    var naive: [AccuracyReport] = []

    mutating func add(_ result: BacktestResult, naive: BacktestResult? = nil) {
        results.append(result)
        if let naive { self.naive.append(naive.model) }
    }

    /// Mean over series of each metric (series weigh the same, whatever their scale), with
    /// naive's MAE and MASE as `naive_mae` and `naive_mase` when naive was scored.
    var metrics: [(split: MetricSplit, name: String, value: Double)] {
        guard let first = results.first else { return [] }
        let mean = { (values: [Double]) -> Double in
            let finite = values.filter(\.isFinite)
            return finite.isEmpty ? Double.nan : finite.reduce(0, +) / Double(finite.count)
        }
        var rows = first.metrics.indices.map { i in
            (split: MetricSplit.backtest, name: first.metrics[i].name, value: mean(results.map { $0.metrics[i].value }))
        }
        if !naive.isEmpty {
            rows.append((split: .backtest, name: "naive_mae", value: mean(naive.map(\.mae))))
            rows.append((split: .backtest, name: "naive_mase", value: mean(naive.map(\.mase))))
        }
        return rows
    }

    func value(_ name: String) -> Double {
        metrics.first { $0.name == name }?.value ?? .nan
    }

    /// Why the model must not be published, or nil when it beats seasonal naive and, when
    /// naive was scored, naive too: a network that loses to the last value (a random walk,
    /// a stock price) is no better than the simplest forecast there is.
    var rejection: String? {
        let mase = value("mase"), seasonal = value("baseline_mase"), naive = value("naive_mase")
        guard !results.isEmpty else { return "no backtest window could be scored" }
        guard mase.isFinite else { return "the backtest MASE is not finite" }
        if naive.isFinite && naive < seasonal.nanAsInfinity && mase >= naive {
            return String(format: "backtest MASE %.3f does not beat naive (%.3f; seasonal naive %.3f)", mase, naive, seasonal)
        }
        if seasonal.isFinite && mase >= seasonal {
            return String(format: "backtest MASE %.3f does not beat seasonal naive (%.3f)", mase, seasonal)
        }
        return nil
    }
}

private extension Double {
    var nanAsInfinity: Double { isNaN ? .infinity : self }
}
