import ForecastConfig
import ForecastStore
import Foundation
import PostgresClient

/// A unit whose realized error outgrew what its backtest promised.
public struct DriftFinding: Sendable, Equatable, CustomStringConvertible {
    /// The series; nil for a job's global model (judged on the mean over its series).
    public var series: String?
    public var modelID: Int64
    /// MAE of the latest matured forecasts of the active model.
    public var realizedMAE: Double
    public var points: Int
    public var backtestMAE: Double
    public var factor: Double

    /// The queue unit that retrains it: the series, or "" for a global model.
    public var unit: String { series ?? "" }

    public var description: String {
        let subject = series.map { "series \"\($0)\"" } ?? "the global model"
        return subject + String(format: ": realized MAE %.4g over the latest %d matured forecasts exceeds %.4g × the backtest MAE %.4g of model %lld",
                                realizedMAE, points, factor, backtestMAE, modelID)
    }
}

/// Decides which units of a job have drifted, from the `actuals` forecastd recorded: the MAE
/// of the latest `drift_points` matured forecasts of each active model against that model's
/// backtest MAE (`model_metrics`, split 'backtest', metric 'mae'), times `drift_factor`. The
/// figures are `RealizedErrorStore`'s; the decision is made here.
///
/// Only forecasts of the active model count, so a retrained series starts judging afresh; and
/// only forecasts written after the job's last drift-triggered run, so a retraining that kept
/// the old model (a rejected network with `fallback = "none"`) is not repeated on the same evidence.
public struct DriftDetector: Sendable {
    public let job: JobSettings
    let store: RealizedErrorStore

    public init(job: JobSettings, database: DatabaseSettings) {
        self.job = job
        store = RealizedErrorStore(database)
    }

    public func findings(on db: isolated PostgresConnection) throws -> [DriftFinding] {
        guard job.driftFactor > 0 else { return [] }
        var perSeries: [DriftFinding] = []
        var global: [Int64: [DriftFinding]] = [:]
        for error in try store.latest(job: job.name, points: job.driftPoints, on: db) {
            let finding = DriftFinding(series: error.global ? nil : error.series, modelID: error.modelID, realizedMAE: error.mae,
                                       points: error.points, backtestMAE: error.backtestMAE, factor: job.driftFactor)
            if finding.series == nil { global[finding.modelID, default: []].append(finding) } else { perSeries.append(finding) }
        }
        // A global model's backtest MAE is the mean over its series of each series' MAE; the
        // realized error is pooled the same way.
        let pooled = global.sorted { $0.key < $1.key }.map { modelID, findings in
            DriftFinding(series: nil, modelID: modelID, realizedMAE: findings.map(\.realizedMAE).reduce(0, +) / Double(findings.count),
                         points: findings.map(\.points).reduce(0, +), backtestMAE: findings[0].backtestMAE, factor: job.driftFactor)
        }
        return (perSeries + pooled).filter { $0.backtestMAE.isFinite && $0.realizedMAE > $0.factor * $0.backtestMAE }
    }
}
