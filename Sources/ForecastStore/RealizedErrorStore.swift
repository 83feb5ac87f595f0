import ForecastConfig
import Foundation
import PostgresClient

/// How far a model's latest matured forecasts (those whose target has an actual) were off,
/// beside the MAE its backtest promised.
public struct RealizedError: Sendable, Equatable {
    public var series: String
    public var modelID: Int64
    /// The model is the job's global one.
    public var global: Bool
    /// MAE over `points` matured forecasts.
    public var mae: Double
    public var points: Int
    /// `model_metrics`, split 'backtest', metric 'mae'.
    public var backtestMAE: Double
}

/// Reads realized error from `predictions` joined to `actuals`: the evidence drift is judged
/// on (`DriftDetector` in Jobs decides what it means).
public struct RealizedErrorStore: Sendable {
    let names: StoreNames

    public init(schema: String) { names = StoreNames(schema: schema) }
    public init(_ settings: DatabaseSettings) { self.init(schema: settings.schema) }

    /// Per series, the MAE of the latest `points` matured forecasts of the job's active model,
    /// counting only forecasts written after the job's last drift-triggered run started; series
    /// with fewer than `points` of them, or whose model has no backtest MAE, are left out.
    public func latest(job: String, points: Int, on db: isolated PostgresConnection) throws -> [RealizedError] {
        // An active model's forecasts number at most (train_every / predict_every) × horizon
        // per series, so the window below reads a bounded set of rows.
        try db.query("""
            WITH matured AS (
                SELECT p.series, p.model_id, m.series IS NULL AS global, abs(a.value - p.forecast_value) AS abs_error,
                       row_number() OVER (PARTITION BY p.series ORDER BY p.target_ts DESC, p.issued_at DESC) AS recency
                FROM \(names.models) m
                JOIN \(names.predictions) p ON p.job = m.job AND p.model_id = m.model_id
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
            """, job, points).map { row in
            RealizedError(series: try row.decode(0), modelID: try row.decode(1), global: try row.decode(2),
                          mae: try row.decode(3), points: try row.decode(4), backtestMAE: try row.decode(5))
        }
    }
}
