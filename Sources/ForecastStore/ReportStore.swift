import ForecastConfig
import Foundation
import PostgresClient

/// A network that was stored as `rejected`, as the report names it.
public struct RejectedNetwork: Sendable, Equatable {
    public var modelID: Int64
    public var version: Int
    public var cell: String
    public var reason: String?
}

/// One step of a series' latest forecast (`latest_forecasts`).
public struct LatestForecastRow: Sendable, Equatable {
    public var issuedAt: Date
    public var target: Date
    public var value: Double
    public var lower: Double?
    public var upper: Double?
    public var confidenceLevel: Double?
}

/// What `forecastd report` reads from forecastd's tables (read only): the series a job has
/// trained or forecast, models' metrics and training curves, rejected networks and the latest
/// forecasts. `ReportLoader` (Report) puts them together with the source's history.
public struct ReportStore: Sendable {
    let names: StoreNames

    public init(schema: String) { names = StoreNames(schema: schema) }
    public init(_ settings: DatabaseSettings) { self.init(schema: settings.schema) }

    /// Every series the job has trained or forecast, by key.
    public func knownSeries(job: String, on db: isolated PostgresConnection) throws -> [String] {
        try db.query("""
            SELECT series FROM \(names.models) WHERE job = $1 AND series IS NOT NULL
            UNION SELECT series FROM \(names.latestOrigins) WHERE job = $1
            ORDER BY 1
            """, job).map { try $0.decode(0, as: String.self) }
    }

    /// A model's metrics by split and name; NULL values are left out.
    public func metrics(modelID: Int64, on db: isolated PostgresConnection) throws -> [MetricSplit: [String: Double]] {
        var metrics: [MetricSplit: [String: Double]] = [:]
        for row in try db.query("SELECT split, metric, value FROM \(names.modelMetrics) WHERE model_id = $1", modelID) {
            guard let split = MetricSplit(rawValue: try row.decode(0, as: String.self)),
                  let value = try row.decode(2, as: Double?.self) else { continue }
            metrics[split, default: [:]][try row.decode(1, as: String.self)] = value
        }
        return metrics
    }

    /// A model's training history, by epoch.
    public func history(modelID: Int64, on db: isolated PostgresConnection) throws -> [TrainingHistoryRow] {
        try db.query("""
            SELECT epoch, train_loss, validation_loss, grad_norm, learning_rate, seconds
            FROM \(names.trainingHistory) WHERE model_id = $1 ORDER BY epoch
            """, modelID).map {
            TrainingHistoryRow(modelID: modelID, epoch: try $0.decode(0), trainLoss: try $0.decode(1), validationLoss: try $0.decode(2),
                               gradNorm: try $0.decode(3), learningRate: try $0.decode(4), seconds: try $0.decode(5))
        }
    }

    /// The newest rejected network (not a rejected fallback) of the series (nil: the global
    /// model) trained at or after `notBefore`.
    public func newestRejectedNetwork(job: String, series: String?, notBefore: Date, on db: isolated PostgresConnection) throws -> RejectedNetwork? {
        try db.query("""
            SELECT model_id, version, cell, reason FROM \(names.models)
            WHERE job = $1 AND series IS NOT DISTINCT FROM $2 AND status = 'rejected' AND cell <> 'seasonal_naive'
              AND trained_at >= $3
            ORDER BY version DESC LIMIT 1
            """, job, series, notBefore).first.map {
            RejectedNetwork(modelID: try $0.decode(0), version: try $0.decode(1), cell: try $0.decode(2), reason: try $0.decode(3))
        }
    }

    /// The series' latest forecast, by target time.
    public func latestForecast(job: String, series: String, on db: isolated PostgresConnection) throws -> [LatestForecastRow] {
        try db.query("""
            SELECT issued_at, target_ts, forecast_value, lower_bound, upper_bound, confidence_level
            FROM \(names.latestForecasts) WHERE job = $1 AND series = $2 ORDER BY target_ts
            """, job, series).map {
            LatestForecastRow(issuedAt: try $0.decode(0), target: try $0.decode(1), value: try $0.decode(2),
                              lower: try $0.decode(3), upper: try $0.decode(4), confidenceLevel: try $0.decode(5))
        }
    }
}
