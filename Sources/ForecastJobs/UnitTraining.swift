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
    public var pointsUsed: Int
    /// The series the unit read, whose recent values are recorded as actuals with its results.
    public var observed: [RegularSeries] = []
    /// Where the training's time went (see `StageTimes`).
    public var times = StageTimes()
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
                                challengers: plan.job.statisticalChallengers ? StatisticalModel.Method.allCases : [],
                                grid: plan.requirements.grid)
    }

    /// Trains and judges a model on `series` (one series, or all of a global model); see `ModelGuard.train`.
    /// A global model takes the unit's share of the cores (`ComputeThreads.perUnit`); one series
    /// is too small a batch to split, but an ensemble's networks train side by side on the
    /// unit's share. `progress` is told each epoch.
    public func train(_ series: [RegularSeries], global: Bool, progress: ((EpochRecord) -> Void)? = nil) -> TrainedUnit {
        let threads = global || plan.forecaster.ensembleSize > 1 ? ComputeThreads.perUnit : 1
        return unit(modelGuard.train(series, threads: threads, progress: progress), series: series, global: global)
    }

    /// The fallback for series the network does not serve (see `ModelGuard.fallback`).
    public func fallback(_ series: [RegularSeries], global: Bool, reason: String, rejected: ModelVersion?, points: Int) -> TrainedUnit {
        var trained = unit(modelGuard.fallback(series, reason: reason, rejected: nil), series: series, global: global)
        trained.rejected = rejected
        trained.pointsUsed = points
        return trained
    }

    /// The guard's decision as rows: the published model `active`, the rejected network `rejected`.
    func unit(_ outcome: GuardOutcome, series: [RegularSeries], global: Bool) -> TrainedUnit {
        let key = global ? nil : series.first?.key
        let version = { (candidate: CandidateModel, status: ModelStatus) in
            ModelVersion(model: NewModel(job: plan.job.name, series: key, cell: candidate.cell, hyperparameters: candidate.hyperparameters,
                                         status: status, reason: candidate.reason, dataStart: candidate.dataStart, dataEnd: candidate.dataEnd,
                                         trainSeconds: candidate.trainSeconds, epochs: candidate.epochs, weights: candidate.weights),
                         metrics: candidate.metrics.map { (split: .backtest, name: $0.name, value: $0.value) }, history: candidate.history)
        }
        return TrainedUnit(series: series.map(\.key), active: outcome.published.map { version($0, .active) },
                           rejected: outcome.rejected.map { version($0, .rejected) }, forecasts: outcome.forecasts, states: outcome.states,
                           pointsUsed: series.reduce(0) { $0 + $1.observedCount }, observed: series, times: outcome.times)
    }
}
