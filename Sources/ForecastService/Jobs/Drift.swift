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
/// backtest MAE (`model_metrics`, split 'backtest', metric 'mae'), times `drift_factor`.
///
/// Only forecasts of the active model count, so a retrained series starts judging afresh; and
/// only forecasts written after the job's last drift-triggered run, so a retraining that kept
/// the old model (a rejected network with `fallback = "none"`) is not repeated on the same evidence.
public struct DriftDetector: Sendable {
    public let job: JobSettings
    let names: StoreNames

    public init(job: JobSettings, database: DatabaseSettings) {
        self.job = job
        names = StoreNames(schema: database.schema)
    }

    public func findings(on db: isolated PostgresConnection) throws -> [DriftFinding] {
        guard job.driftFactor > 0 else { return [] }
        // An active model's forecasts number at most (train_every / predict_every) × horizon
        // per series, so the window below reads a bounded set of rows.
        let rows = try db.query("""
            WITH matured AS (
                SELECT p.series, p.model_id, m.series IS NULL AS global, abs(a.value - p.forecast_value) AS abs_error,
                       row_number() OVER (PARTITION BY p.series ORDER BY p.target_ts DESC, p.issued_at DESC) AS recency
                FROM \(names.models) m
                JOIN \(names.predictions) p ON p.model_id = m.model_id
                JOIN \(names.actuals) a ON a.job = p.job AND a.series = p.series AND a.ts = p.target_ts
                WHERE m.job = $1 AND m.status = 'active'
                  AND p.created_at > coalesce((SELECT max(started_at) FROM \(names.runs) WHERE job = $1 AND trigger = 'drift'), '-infinity')
            )
            SELECT x.series, x.model_id, x.global, avg(x.abs_error), count(*)::integer, mm.value
            FROM matured x
            JOIN \(names.modelMetrics) mm ON mm.model_id = x.model_id AND mm.split = 'backtest' AND mm.metric = 'mae'
            WHERE x.recency <= $2
            GROUP BY x.series, x.model_id, x.global, mm.value
            HAVING count(*) >= $2
            ORDER BY x.series
            """, job.name, job.driftPoints)
        var perSeries: [DriftFinding] = []
        var global: [Int64: [DriftFinding]] = [:]
        for row in rows {
            let finding = DriftFinding(series: try row.decode(2, as: Bool.self) ? nil : try row.decode(0, as: String.self),
                                       modelID: try row.decode(1), realizedMAE: try row.decode(3), points: try row.decode(4),
                                       backtestMAE: try row.decode(5), factor: job.driftFactor)
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
