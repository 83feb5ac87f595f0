import ForecastConfig
import ForecastStore
import Forecasting
import Foundation

/// An active model that its job's configuration no longer fits (`ModelRequirements.mismatch`,
/// the one rule; this only names the model and the remedy).
public struct ConfigMisfit: Sendable, Equatable, CustomStringConvertible {
    /// The series; nil for the job's global model.
    public var series: String?
    public var modelID: Int64
    public var trainedAt: Date
    public var mismatch: ModelMismatch

    /// The queue unit that retrains it: the series, or "" for a global model.
    public var unit: String { series ?? "" }

    /// `series "EWR": the active model was trained with horizon 12, the job now asks 48`
    public var description: String {
        (series.map { "series \"\($0)\": the active model" } ?? "the global model") + " was \(mismatch)"
    }

    /// What predict says when it refuses the model.
    public func refusal(job: String) -> String {
        "\(description): run forecastd train \(job) (the daemon retrains it by itself)"
    }
}

/// The job's active models checked against its configuration: what predict refuses, and what
/// the scheduler and `run --once` retrain with `runs.trigger = 'config'`.
public struct ConfigFitCheck: Sendable {
    public let plan: JobPlan

    public init(plan: JobPlan) { self.plan = plan }

    /// The models among `models` that no longer fit the job.
    public func misfits(_ models: [StoredModel]) -> [ConfigMisfit] {
        let requirements = plan.requirements
        return models.compactMap { model in
            (scopeMismatch(model) ?? requirements.mismatch(cell: model.cell, hyperparameters: model.hyperparameters)).map {
                ConfigMisfit(series: model.series, modelID: model.modelID, trainedAt: model.trainedAt, mismatch: $0)
            }
        }
    }

    /// A series' own network under a job whose scope is now global: it would serve its series
    /// before the global model does. Its retraining publishes the global model, which retires
    /// it (`ModelStore`). Per-series baselines and statistical models are what a global job
    /// publishes for series too short for its network, and fit; a global model under a job
    /// whose scope is now per series fits too, serving the series until each has its own.
    func scopeMismatch(_ model: StoredModel) -> ModelMismatch? {
        guard plan.job.model.scope == .global, model.series != nil, model.cell.isNetwork else { return nil }
        return ModelMismatch(setting: "model.scope", trained: "\"series\"", asked: "\"global\"")
    }

    /// The queue units that retrain `misfits`: a global job its one model; a per-series job the
    /// series whose models misfit; `auto` each misfit's own unit (its series, or "" for a global
    /// model), since either kind may be the one it chose last.
    public func retrainUnits(_ misfits: [ConfigMisfit]) -> [String] {
        guard !misfits.isEmpty else { return [] }
        switch plan.job.model.scope {
        case .global: return [""]
        case .series: return misfits.compactMap(\.series)
        case .auto: return Set(misfits.map(\.unit)).sorted()
        }
    }

    /// The misfits to retrain now: those trained after the job's last config-triggered run
    /// started (`lastConfigRun`), so a retraining that could not replace a model (nothing
    /// published) is not repeated at every tick; predict goes on refusing it, saying why.
    public func dueForRetraining(_ models: [StoredModel], lastConfigRun: Date?) -> [ConfigMisfit] {
        misfits(models).filter { lastConfigRun == nil || $0.trainedAt >= lastConfigRun! }
    }
}
