import ForecastConfig
import ForecastStore
import Forecasting
import Foundation
import NeuralNet

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
    /// Where a published model that reads its series in full read each series it forecast,
    /// stored likewise, so that predict fits again only the series that got new rows.
    public var marks: [FullReadMark] = []
    public var pointsUsed: Int
    /// The series the unit read, whose recent values are recorded as actuals with its results.
    public var observed: [RegularSeries] = []
    /// Where the training's time went (see `StageTimes`).
    public var times = StageTimes()

    /// The `series_state` rows of the published model: its states and marks.
    func stateRows(modelID: Int64, grid: TimeGrid) -> [SeriesStateRow] {
        states.map { JobRunner.stateRow($0, modelID: modelID, grid: grid) } + marks.map { JobRunner.stateRow($0, modelID: modelID, grid: grid) }
    }
}

/// Trains one unit of work: Forecasting's `ModelGuard` decides what gets published, and this
/// turns its decision into the rows to store. Pure computation: no database, so a crash here
/// leaves nothing behind, and the guard decides before anything is written.
public struct UnitTrainer: Sendable {
    public let plan: JobPlan
    let modelGuard: ModelGuard

    public init(plan: JobPlan, readUntil end: Date? = nil) {
        self.plan = plan
        modelGuard = ModelGuard(settings: plan.forecaster, season: plan.season, backtestWindows: plan.job.backtestWindows,
                                fallbackAllowed: plan.job.fallback == .seasonalNaive,
                                settledBefore: end.flatMap { plan.grid.index(of: $0) },
                                challengers: plan.job.statisticalChallengers == .never ? [] : StatisticalModel.Method.allCases,
                                challengersBelow: plan.job.statisticalChallengers == .auto ? ModelGuard.shortSeriesLength : nil,
                                grid: plan.requirements.grid)
    }

    /// Trains and judges a model on `series` (one series, or all of a global model); see `ModelGuard.train`.
    /// A global model takes the unit's share of the cores (`ComputeThreads.perUnit`); one series
    /// is too small a batch to split, but an ensemble's networks train side by side on the
    /// unit's share. `progress` is told each epoch.
    /// `scope` (the job's, or `auto`'s choice) is recorded in the models' hyperparameters.
    public func train(_ series: [RegularSeries], scope: ScopeChoice, progress: ((EpochRecord) -> Void)? = nil) -> TrainedUnit {
        let global = scope.global
        let threads = global || plan.forecaster.resolvingEnsemble(for: series).ensembleSize > 1 ? ComputeThreads.perUnit : 1
        return unit(modelGuard.train(series, threads: threads, progress: progress), series: series, global: global, scope: scope)
    }

    /// The fallback for series the network does not serve (see `ModelGuard.fallback`).
    public func fallback(_ series: [RegularSeries], global: Bool, reason: String, rejected: ModelVersion?, points: Int) -> TrainedUnit {
        var trained = unit(modelGuard.fallback(series, reason: reason, rejected: nil), series: series, global: global)
        trained.rejected = rejected
        trained.pointsUsed = points
        return trained
    }

    /// Gives the series of `unit` whose future-known covariates lack a value for a step of the
    /// horizon (`RegularSeries.missingFuture`) the seasonal-naive fallback's forecast instead of
    /// the published network's, which would have read an invented future, and saves no state for
    /// them (a state's fed-back forecast may have read it too; the next prediction reads them in
    /// full). The network stays the series' model: the next prediction with the values known uses
    /// it. Returns why, per series (`MissingFuture` descriptions), for the run's note.
    public func serveFallback(forUnknownFutureIn unit: inout TrainedUnit) -> [String] {
        guard plan.forecaster.futureCovariates != nil, let active = unit.active, active.model.cell.isNetwork else { return [] }
        var reasons: [String] = [], replaced: [String: SeriesForecast?] = [:]
        for series in unit.observed {
            guard let missing = series.missingFuture(horizon: plan.job.horizon) else { continue }
            let forecast = plan.fallbackForecast(series)
            reasons.append(missing.description + (forecast == nil ? "; the series is too short for the fallback" : ""))
            replaced[series.key] = .some(forecast)
        }
        unit.forecasts = unit.forecasts.compactMap { forecast in
            guard let replacement = replaced[forecast.series] else { return forecast }
            return replacement
        }
        unit.states.removeAll { replaced[$0.key] != nil }
        unit.marks.removeAll { replaced[$0.key] != nil }
        return reasons
    }

    /// The guard's decision as rows: the published model `active`, the rejected network `rejected`.
    func unit(_ outcome: GuardOutcome, series: [RegularSeries], global: Bool, scope: ScopeChoice? = nil) -> TrainedUnit {
        let key = global ? nil : series.first?.key
        let version = { (candidate: CandidateModel, status: ModelStatus) in
            ModelVersion(model: NewModel(job: plan.job.name, series: key, cell: candidate.cell,
                                         hyperparameters: scope.map { Self.recording($0, in: candidate.hyperparameters) } ?? candidate.hyperparameters,
                                         status: status, reason: candidate.reason, dataStart: candidate.dataStart, dataEnd: candidate.dataEnd,
                                         trainSeconds: candidate.trainSeconds, epochs: candidate.epochs, weights: candidate.weights),
                         metrics: candidate.metrics.map { (split: .backtest, name: $0.name, value: $0.value) }, history: candidate.history)
        }
        return TrainedUnit(series: series.map(\.key), active: outcome.published.map { version($0, .active) },
                           rejected: outcome.rejected.map { version($0, .rejected) }, forecasts: outcome.forecasts, states: outcome.states,
                           marks: marks(outcome, series: series),
                           pointsUsed: series.reduce(0) { $0 + $1.observedCount }, observed: series, times: outcome.times)
    }

    /// The marks of the series forecast by a published model that reads them in full; none for
    /// one that saves states.
    func marks(_ outcome: GuardOutcome, series: [RegularSeries]) -> [FullReadMark] {
        guard let published = outcome.published,
              !PublishedForm(cell: published.cell, hyperparameters: published.hyperparameters, jobSeason: plan.season).readsOnFromState else { return [] }
        let byKey = Dictionary(series.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        return outcome.forecasts.compactMap { forecast in
            byKey[forecast.series].flatMap { FullReadMark(after: $0, settledBefore: modelGuard.settledBefore) }
        }
    }
}

extension UnitTrainer {
    /// `hyperparameters` (a JSON object) with the unit's scope and why it was chosen added, as
    /// `"scope": "global"` and `"scope_reason"`; unchanged if it is not an object.
    static func recording(_ scope: ScopeChoice, in hyperparameters: String) -> String {
        Forecasting.hyperparameters(hyperparameters, adding: ["scope": scope.scope.rawValue, "scope_reason": scope.reason])
    }
}

extension JobPlan {
    /// The seasonal-naive fallback's forecast of `series` for the job's horizon and quantiles
    /// (what a series gets when its future-known covariates are missing); nil when it is
    /// shorter than a season.
    func fallbackForecast(_ series: RegularSeries) -> SeriesForecast? {
        let fallback = SeasonalNaive(season: season)
        guard fallback.canForecast(history: series.values) else { return nil }
        return SeriesForecast(after: series, forecast: fallback.forecast(history: series.values, horizon: job.horizon, levels: forecaster.quantiles))
    }
}
