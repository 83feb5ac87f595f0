import ForecastConfig
import Foundation
import PostgresClient

public enum MetricSplit: String, Sendable, CaseIterable {
    case validation, backtest
}

/// One accuracy figure of a model (`mae`, `baseline_mase`, `skill`, ...).
public struct ModelMetricRow: Sendable, Equatable {
    public var modelID: Int64
    public var split: MetricSplit
    public var metric: String
    /// NaN is stored as NaN (e.g. MAPE over a window of zeros); nil as NULL.
    public var value: Double?

    public init(modelID: Int64, split: MetricSplit, metric: String, value: Double?) {
        self.modelID = modelID
        self.split = split
        self.metric = metric
        self.value = value
    }
}

/// One epoch of a model's training, for loss curves on dashboards.
public struct TrainingHistoryRow: Sendable, Equatable {
    public var modelID: Int64
    public var epoch: Int
    public var trainLoss: Double?
    public var validationLoss: Double?
    public var gradNorm: Double?
    public var learningRate: Double?
    public var seconds: Double?
    /// Training throughput of the epoch (steps/s; migration 0010).
    public var stepsPerSecond: Double?

    public init(modelID: Int64, epoch: Int, trainLoss: Double? = nil, validationLoss: Double? = nil,
                gradNorm: Double? = nil, learningRate: Double? = nil, seconds: Double? = nil, stepsPerSecond: Double? = nil) {
        self.modelID = modelID
        self.epoch = epoch
        self.trainLoss = trainLoss
        self.validationLoss = validationLoss
        self.gradNorm = gradNorm
        self.learningRate = learningRate
        self.seconds = seconds
        self.stepsPerSecond = stepsPerSecond
    }
}

/// Writes `model_metrics` and `training_history`, on the caller's transaction.
///
/// Both writes replace what they overlap rather than failing on the primary key: `backtest JOB`
/// scores an existing model again, and a retried unit may write the same epochs twice. Each call
/// is atomic on its own too (a savepoint inside the caller's transaction).
public struct MetricsWriter: Sendable {
    public var schema: String
    let names: StoreNames

    /// Rows per INSERT: 4 parameters each keeps a statement far below PostgreSQL's 65535.
    static let metricsPerStatement = 1000

    public init(schema: String) {
        self.schema = schema
        names = StoreNames(schema: schema)
    }

    public init(_ settings: DatabaseSettings) { self.init(schema: settings.schema) }

    /// Inserts or overwrites each (model, split, metric); returns the number of rows written.
    /// Within one call the last row for a key wins. Metrics are few per model, so a multi-row
    /// upsert costs less than a COPY into a staging table would.
    @discardableResult
    public func write(metrics: [ModelMetricRow], on db: isolated PostgresConnection) throws -> Int {
        guard !metrics.isEmpty else { return 0 }
        let writer = self
        return try db.transaction { tx in try writer.upsert(metrics, on: tx) }
    }

    private func upsert(_ metrics: [ModelMetricRow], on db: isolated PostgresConnection) throws -> Int {
        // ON CONFLICT DO UPDATE may not touch one row twice in a statement.
        var latest: [MetricKey: Int] = [:]
        for (index, row) in metrics.enumerated() {
            latest[MetricKey(modelID: row.modelID, split: row.split, metric: row.metric)] = index
        }
        let unique = latest.values.sorted().map { metrics[$0] }
        var written = 0
        var start = 0
        while start < unique.count {
            let chunk = unique[start..<min(start + Self.metricsPerStatement, unique.count)]
            var parameters: [any PostgresEncodable] = []
            var tuples: [String] = []
            parameters.reserveCapacity(chunk.count * 4)
            for row in chunk {
                let n = parameters.count
                tuples.append("($\(n + 1), $\(n + 2), $\(n + 3), $\(n + 4))")
                parameters += [row.modelID, row.split.rawValue, row.metric, row.value] as [any PostgresEncodable]
            }
            written += try db.execute("""
                INSERT INTO \(names.modelMetrics) (model_id, split, metric, value)
                VALUES \(tuples.joined(separator: ", "))
                ON CONFLICT (model_id, split, metric) DO UPDATE SET value = EXCLUDED.value
                """, parameters: parameters)
            start += chunk.count
        }
        return written
    }

    /// Stores epochs by COPY, first deleting what each model already has in the epoch range written.
    @discardableResult
    public func write(history: [TrainingHistoryRow], on db: isolated PostgresConnection) throws -> Int {
        guard !history.isEmpty else { return 0 }
        let writer = self
        return try db.transaction { tx in try writer.replace(history, on: tx) }
    }

    private func replace(_ history: [TrainingHistoryRow], on db: isolated PostgresConnection) throws -> Int {
        var ranges: [Int64: ClosedRange<Int>] = [:]
        for row in history {
            let range = ranges[row.modelID]
            ranges[row.modelID] = range.map { min($0.lowerBound, row.epoch)...max($0.upperBound, row.epoch) } ?? row.epoch...row.epoch
        }
        for (modelID, range) in ranges.sorted(by: { $0.key < $1.key }) {
            try db.execute("DELETE FROM \(names.trainingHistory) WHERE model_id = $1 AND epoch BETWEEN $2 AND $3",
                           modelID, range.lowerBound, range.upperBound)
        }
        return try db.copyIn("""
            COPY \(names.trainingHistory) (model_id, epoch, train_loss, validation_loss, grad_norm, learning_rate, seconds, steps_per_second) FROM STDIN
            """) { writer in
            for row in history {
                try writer.append(row.modelID)
                try writer.append(row.epoch)
                try writer.append(row.trainLoss)
                try writer.append(row.validationLoss)
                try writer.append(row.gradNorm)
                try writer.append(row.learningRate)
                try writer.append(row.seconds)
                try writer.append(row.stepsPerSecond)
                try writer.endRow()
            }
        }
    }

    private struct MetricKey: Hashable {
        var modelID: Int64
        var split: MetricSplit
        var metric: String
    }
}
