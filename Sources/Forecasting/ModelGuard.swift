import Foundation
import NeuralNet

/// The guard: the one place that decides what gets published for a unit (a series, or the
/// series of a global model). It trains the candidate network, backtests it beside naive,
/// seasonal naive and its combination with the stronger of the two, and returns the model to
/// publish (the network, the combination, or the baseline) with its metrics, training history,
/// forecasts and states, and the rejected network if any. Pure computation: it knows nothing
/// of databases, rows or runs; the service stores what it returns.
public struct ModelGuard: Sendable {
    /// The job's resolved hyperparameters.
    public let settings: ForecasterSettings
    public let season: Int
    /// The job's `backtest_windows`.
    public let backtestWindows: Int
    /// Whether a baseline may be published when the network is not (`fallback = "seasonal_naive"`).
    public let fallbackAllowed: Bool
    /// The first grid bucket that the read did not cover in full (the one its end falls in):
    /// saved states stop before it. nil when every bucket read is complete.
    public let settledBefore: Int?
    /// The grid the series were laid on, recorded in every model's hyperparameters so that a
    /// later change of the job's configuration is noticed (`ModelRequirements.mismatch`).
    public let grid: GridRecord?

    public init(settings: ForecasterSettings, season: Int, backtestWindows: Int, fallbackAllowed: Bool, settledBefore: Int? = nil,
                grid: GridRecord? = nil) {
        self.settings = settings
        self.season = season
        self.backtestWindows = backtestWindows
        self.fallbackAllowed = fallbackAllowed
        self.settledBefore = settledBefore
        self.grid = grid
    }

    var horizon: Int { settings.horizon }

    /// How many horizons at the end of a series the guard scores it on: the job's
    /// `backtest_windows`; for a network that reads a week of lags (`week` steps; a series
    /// whose weekends differ from its weekdays), enough of them to span that week, as far as
    /// the tail held back from training (`heldBack` steps) reaches. On such a series a verdict
    /// drawn from the last three days rests on which days of the week (or which holidays)
    /// they happened to be.
    public func guardWindows(heldBack: Int, week: Int? = nil) -> Int {
        let windows = max(backtestWindows, 1)
        guard let week else { return windows }
        return max(windows, min((week + horizon - 1) / horizon, heldBack / horizon))
    }

    /// Trains a model on `series` (one series, or all of a global model) and backtests it beside
    /// seasonal naive and naive, and beside its combination with the stronger of the two (the
    /// baseline the fallback would publish; see `QuantileForecast.combined(with:)`). Publishes
    /// the network when it beats both baselines and the combination; otherwise the combination
    /// when it beats both baselines; otherwise the stronger baseline (the job's fallback
    /// permitting), the network then being returned as rejected with the reason.
    /// `threads`: how many the training and the network's passes may keep busy (`ComputeThreads`);
    /// `progress` is told each epoch.
    public func train(_ series: [RegularSeries], threads: Int = 1, progress: ((EpochRecord) -> Void)? = nil) -> GuardOutcome {
        let started = Date()
        let model: TrainedForecaster
        do {
            model = try RecurrentForecaster.train(series: series, settings: settings, threads: threads, progress: progress)
        } catch {
            return fallback(series, reason: "training failed: \(error)", rejected: nil)
        }
        let seconds = Date().timeIntervalSince(started)
        var times = model.times
        let passStarted = Date()
        // One batched pass over every series serves the backtest and the forecasts (`readInFull`).
        let reads = model.readInFull(series, settledBefore: settledBefore, backtest: { s in
            guardWindows(heldBack: model.settings.heldBack(length: s.count), week: model.settings.weekRead)
        }, season: season, threads: threads)
        let partner = FallbackBaseline(ForecastBase.stronger(on: series.map(\.values), horizon: horizon, season: season), season: season)
        var pooled = AccuracyPool(), combined = AccuracyPool()
        let naive = SeasonalNaive.naive, levels = settings.quantiles
        // The baselines' backtests of each series, on the unit's threads; pooled in series order.
        let scored = ComputeThreads.map(series.count, threads: threads) { i -> (BacktestResult, BacktestResult, BacktestResult)? in
            let s = series[i]
            let windows = guardWindows(heldBack: model.settings.heldBack(length: s.count), week: model.settings.weekRead)
            let backtest = Backtest(horizon: horizon, windows: windows, season: season, levels: levels)
            guard let result = reads[i]?.backtest else { return nil }
            // Naive's forecast of a window is computed once: a naive partner reuses it (the same
            // forecaster on the same history), and it costs a sort of the history per step ahead.
            var naiveForecasts: [Int: QuantileForecast] = [:]
            let naiveResult = backtest.run(series: s) { window in
                let forecast = naive.forecast(history: window.history, horizon: horizon, levels: levels)
                naiveForecasts[window.origin] = forecast
                return forecast
            }
            let network = Dictionary(uniqueKeysWithValues: result.windows.map { ($0.origin, $0.modelForecast) })
            return (result, naiveResult, backtest.run(series: s) { window in
                let baseline = (partner.season == 1 ? naiveForecasts[window.origin] : nil)
                    ?? partner.forecaster.forecast(history: window.history, horizon: horizon, levels: levels)
                return network[window.origin].map { $0.combined(with: baseline) } ?? baseline
            })
        }
        for case let (result, naiveResult, combinedResult)? in scored {
            pooled.add(result, naive: naiveResult)
            combined.add(combinedResult, naive: naiveResult)
        }
        times.backtest = Date().timeIntervalSince(passStarted)
        let weights = try? ModelArchive.encode(model)
        var candidate = CandidateModel(
            cell: .network(settings.cell), hyperparameters: hyperparametersJSON(RecordedHyperparameters(base: model.settings, grid: grid)), series: series,
            trainSeconds: seconds, epochs: model.history.count, weights: weights, metrics: pooled.metrics, history: model.history)
        var combination: FallbackBaseline?
        switch weights == nil ? .fallback(reason: "the model could not be serialised") : Verdict(network: pooled, combined: combined, with: partner) {
        case .network:
            break
        case .combined(let why):
            combination = partner
            candidate.reason = why
            candidate.hyperparameters = hyperparametersJSON(RecordedHyperparameters(base: CombinedSettings(settings: model.settings, combinedWith: partner),
                                                                                    grid: grid))
            candidate.metrics = combined.metrics
        case .fallback(let why):
            candidate.reason = why
            var outcome = fallback(series, reason: why, rejected: candidate, week: model.settings.weekRead)
            outcome.times = times
            return outcome
        }
        let assembling = Date()
        var forecasts: [SeriesForecast] = []
        var states: [SeriesState] = []
        for (s, read) in zip(series, reads) {
            guard let (forecast, state) = read.map({ ($0.forecast, $0.state) }) else { continue }
            let published = combination.map { forecast.combined(with: $0.forecaster.forecast(history: s.values, horizon: horizon, levels: levels)) }
            forecasts.append(SeriesForecast(after: s, forecast: published ?? forecast))
            // A combination is read in full at every predict (its baseline needs the history), so it saves no state.
            if let state, combination == nil { states.append(state) }
        }
        times.forecast = Date().timeIntervalSince(assembling)
        return GuardOutcome(published: candidate, rejected: nil, forecasts: forecasts, states: states, times: times)
    }

    /// The fallback model and its forecasts for series the network does not serve: the
    /// stronger of seasonal naive and naive over the series' own history (see
    /// `ForecastBase.stronger`), stored with cell `seasonal_naive` and its season in the
    /// hyperparameters (season 1 being naive), the reason naming what was published. Nothing
    /// is published when the job's fallback is off or no series is long enough.
    /// `week`: the week the rejected network read, whose guard windows the baseline is scored on too.
    public func fallback(_ series: [RegularSeries], reason: String, rejected: CandidateModel?, week: Int? = nil) -> GuardOutcome {
        guard fallbackAllowed else { return GuardOutcome(published: nil, rejected: rejected, forecasts: []) }
        let choice = FallbackBaseline(ForecastBase.stronger(on: series.map(\.values), horizon: horizon, season: season), season: season)
        let baseline = choice.forecaster
        var pooled = AccuracyPool()
        var forecasts: [SeriesForecast] = []
        for s in series where baseline.canForecast(history: s.values) {
            let levels = settings.quantiles
            let windows = guardWindows(heldBack: settings.heldBack(length: s.count), week: week)
            let backtest = Backtest(horizon: horizon, windows: windows, season: season, levels: levels)
            pooled.add(backtest.run(series: s) { window in baseline.forecast(history: window.history, horizon: horizon, levels: levels) })
            forecasts.append(SeriesForecast(after: s, forecast: baseline.forecast(history: s.values, horizon: horizon, levels: levels)))
        }
        guard !forecasts.isEmpty else { return GuardOutcome(published: nil, rejected: rejected, forecasts: []) }
        let recorded = RecordedHyperparameters(base: choice, grid: grid, horizon: horizon, quantiles: settings.quantiles)
        let model = CandidateModel(cell: .seasonalNaive, hyperparameters: hyperparametersJSON(recorded), series: series,
                                   reason: "fallback: \(reason)\(choice.note)", metrics: pooled.metrics)
        return GuardOutcome(published: model, rejected: rejected, forecasts: forecasts)
    }
}

/// A model the guard judged, as a row of the models table would hold it, in Forecasting's
/// terms: the service adds the job, series, status and ids.
public struct CandidateModel: Sendable {
    public var cell: ModelCell
    /// A JSON object: the network's settings, or the fallback's baseline.
    public var hyperparameters: String
    /// Why it was published in this form, or why it was rejected.
    public var reason: String?
    /// The first and last step of the data it was trained on.
    public var dataStart: Date?
    public var dataEnd: Date?
    public var trainSeconds: Double?
    public var epochs: Int?
    /// `ModelArchive` bytes of the network; nil for a baseline.
    public var weights: [UInt8]?
    /// Backtest metrics, means over the series (see `AccuracyPool.metrics`).
    public var metrics: [(name: String, value: Double)]
    public var history: [EpochRecord]

    init(cell: ModelCell, hyperparameters: String, series: [RegularSeries], reason: String? = nil, trainSeconds: Double? = nil,
         epochs: Int? = nil, weights: [UInt8]? = nil, metrics: [(name: String, value: Double)], history: [EpochRecord] = []) {
        self.cell = cell
        self.hyperparameters = hyperparameters
        self.reason = reason
        dataStart = series.map(\.start).min()
        dataEnd = series.map { $0.date(ofStep: $0.count - 1) }.max()
        self.trainSeconds = trainSeconds
        self.epochs = epochs
        self.weights = weights
        self.metrics = metrics
        self.history = history
    }
}

/// What the guard decided for one unit.
public struct GuardOutcome: Sendable {
    /// The model to make active (network, combination or baseline); nil when nothing is published.
    public var published: CandidateModel?
    /// The network that lost to the baselines (its reason says why), stored beside.
    public var rejected: CandidateModel?
    /// The published model's forecasts, one per series it could forecast.
    public var forecasts: [SeriesForecast]
    /// Where the published network stands after each series, for predict to read on from
    /// (empty for a baseline or a combination).
    public var states: [SeriesState] = []
    /// Where the training's time went (zero for a baseline that trained nothing).
    public var times = StageTimes()
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
    var metrics: [(name: String, value: Double)] {
        guard let first = results.first else { return [] }
        let mean = { (values: [Double]) -> Double in
            let finite = values.filter(\.isFinite)
            return finite.isEmpty ? Double.nan : finite.reduce(0, +) / Double(finite.count)
        }
        var rows = first.metrics.indices.map { i in
            (name: first.metrics[i].name, value: mean(results.map { $0.metrics[i].value }))
        }
        if !naive.isEmpty {
            rows.append((name: "naive_mae", value: mean(naive.map(\.mae))))
            rows.append((name: "naive_mase", value: mean(naive.map(\.mase))))
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
