import ForecastConfig
import Forecasting
import Foundation
import PostgresClient

public enum ModelStatus: String, Sendable, CaseIterable {
    case active, retired, rejected
}

/// A trained model about to be stored; the database assigns its id, version and `trained_at`.
public struct NewModel: Sendable, Equatable {
    public var job: String
    /// nil for a global model of the job (one model for all its series).
    public var series: String?
    public var cell: ModelCell
    /// A JSON object as text; stored as jsonb, so invalid JSON fails the insert.
    public var hyperparameters: String
    /// `.active` retires the previous active model of the (job, series) in the same transaction.
    public var status: ModelStatus
    public var reason: String?
    public var dataStart: Date?
    public var dataEnd: Date?
    public var trainSeconds: Double?
    public var epochs: Int?
    public var weights: [UInt8]?

    public init(job: String, series: String?, cell: ModelCell, hyperparameters: String = "{}",
                status: ModelStatus = .retired, reason: String? = nil, dataStart: Date? = nil, dataEnd: Date? = nil,
                trainSeconds: Double? = nil, epochs: Int? = nil, weights: [UInt8]? = nil) {
        self.job = job
        self.series = series
        self.cell = cell
        self.hyperparameters = hyperparameters
        self.status = status
        self.reason = reason
        self.dataStart = dataStart
        self.dataEnd = dataEnd
        self.trainSeconds = trainSeconds
        self.epochs = epochs
        self.weights = weights
    }
}

/// A row of `models`, every column included.
public struct StoredModel: Sendable, Equatable {
    public var modelID: Int64
    public var job: String
    public var series: String?
    public var version: Int
    public var cell: ModelCell
    /// jsonb as the server prints it (keys reordered, whitespace normalised).
    public var hyperparameters: String
    public var status: ModelStatus
    public var reason: String?
    public var trainedAt: Date
    public var dataStart: Date?
    public var dataEnd: Date?
    public var trainSeconds: Double?
    public var epochs: Int?
    public var weights: [UInt8]?
}

public enum ModelStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    case rejectionWithoutReason(job: String, series: String?)
    case unknownValue(column: String, value: String)

    public var description: String {
        switch self {
        case .rejectionWithoutReason(let job, let series):
            return "a rejected model of job \"\(job)\"\(series.map { " series \"\($0)\"" } ?? " (global)") needs a reason"
        case .unknownValue(let column, let value): return "models.\(column) holds \"\(value)\", which this forecastd does not know"
        }
    }
}

/// Model versions and the one-active-model rule.
///
/// Every writing function runs on the caller's transaction (`isolated PostgresConnection`
/// inside `transaction { tx in ... }`): a new model, its metrics and its forecasts become
/// visible together, and the previous active model is retired only if all of it commits.
/// Each one is also atomic on its own (a savepoint inside the caller's transaction, its own
/// transaction outside one), because an advisory lock taken in autocommit mode would be gone
/// before the statement it is meant to protect.
///
/// Versions and activation are serialised per (job, series) with a transaction-level advisory
/// lock, taken before the statements that read `max(version)` or the current active model.
/// Under READ COMMITTED (the default) each statement after the lock sees whatever the previous
/// holder committed, so two workers can neither pick the same version nor both end up active.
/// Under REPEATABLE READ or SERIALIZABLE the snapshot may predate the lock and the unique
/// indexes reject the loser instead.
public struct ModelStore: Sendable {
    public var schema: String
    let names: StoreNames

    public init(schema: String) {
        self.schema = schema
        names = StoreNames(schema: schema)
    }

    public init(_ settings: DatabaseSettings) { self.init(schema: settings.schema) }

    /// Stores a model under the next version of its (job, series) and returns its `model_id`.
    @discardableResult
    public func insert(_ model: NewModel, on db: isolated PostgresConnection) throws -> Int64 {
        if model.status == .rejected, (model.reason ?? "").isEmpty {
            throw ModelStoreError.rejectionWithoutReason(job: model.job, series: model.series)
        }
        let store = self
        return try db.transaction { tx in try store.insertLocked(model, on: tx) }
    }

    private func insertLocked(_ model: NewModel, on db: isolated PostgresConnection) throws -> Int64 {
        try lock(job: model.job, series: model.series, on: db)
        if model.status == .active {
            try retireActive(job: model.job, series: model.series, except: nil, on: db)
            if model.series == nil { try retireSeriesNetworks(job: model.job, on: db) }
        }
        let rows = try db.query("""
            INSERT INTO \(names.models) (job, series, version, cell, hyperparameters, status, reason,
                                         data_start, data_end, train_seconds, epochs, weights)
            SELECT $1, $2, coalesce(max(m.version), 0) + 1, $3, $4::jsonb, $5, $6, $7, $8, $9, $10, $11
            FROM \(names.models) m
            WHERE m.job = $1 AND m.series IS NOT DISTINCT FROM $2
            RETURNING model_id
            """, model.job, model.series, model.cell.rawValue, model.hyperparameters, model.status.rawValue,
                 model.reason, model.dataStart, model.dataEnd, model.trainSeconds, model.epochs, model.weights)
        return try rows[0].decode(0, as: Int64.self)
    }

    /// Stores a model that must not be published, with the reason it was turned down.
    @discardableResult
    public func reject(_ model: NewModel, reason: String, on db: isolated PostgresConnection) throws -> Int64 {
        var model = model
        model.status = .rejected
        model.reason = reason
        return try insert(model, on: db)
    }

    /// The active model of a series (nil: the job's global model), weights included.
    public func active(job: String, series: String?, on db: isolated PostgresConnection) throws -> StoredModel? {
        try db.query("""
            SELECT \(Self.columns) FROM \(names.models)
            WHERE job = $1 AND series IS NOT DISTINCT FROM $2 AND status = 'active'
            """, job, series).first.map(Self.decode)
    }

    /// Every active model of a job, the global one (if any) first, then by series.
    public func activeModels(job: String, includeWeights: Bool = true, on db: isolated PostgresConnection) throws -> [StoredModel] {
        let columns = includeWeights ? Self.columns : Self.columns.replacingOccurrences(of: "weights", with: "NULL::bytea")
        return try db.query("""
            SELECT \(columns) FROM \(names.models)
            WHERE job = $1 AND status = 'active'
            ORDER BY series NULLS FIRST
            """, job).map(Self.decode)
    }

    public func model(id modelID: Int64, on db: isolated PostgresConnection) throws -> StoredModel? {
        try db.query("SELECT \(Self.columns) FROM \(names.models) WHERE model_id = $1", modelID).first.map(Self.decode)
    }

    /// The weights of these models (those that have some), by `model_id`.
    public func weights(modelIDs: [Int64], on db: isolated PostgresConnection) throws -> [Int64: [UInt8]] {
        let ids = "[" + modelIDs.map(String.init).joined(separator: ",") + "]"
        var weights: [Int64: [UInt8]] = [:]
        for row in try db.query("""
            SELECT model_id, weights FROM \(names.models)
            WHERE model_id IN (SELECT jsonb_array_elements_text($1::jsonb)::bigint) AND weights IS NOT NULL
            """, ids) {
            weights[try row.decode(0)] = try row.decode(1, as: [UInt8].self)
        }
        return weights
    }

    /// Every version of a series (nil: the global model), oldest first, without weights.
    public func versions(job: String, series: String?, on db: isolated PostgresConnection) throws -> [StoredModel] {
        try db.query("""
            SELECT \(Self.columns.replacingOccurrences(of: "weights", with: "NULL::bytea")) FROM \(names.models)
            WHERE job = $1 AND series IS NOT DISTINCT FROM $2 ORDER BY version
            """, job, series).map(Self.decode)
    }

    // MARK: - Internals

    /// Serialises version numbering and activation of one (job, series) until the transaction
    /// ends. A hash collision between two keys only makes them wait for each other.
    func lock(job: String, series: String?, on db: isolated PostgresConnection) throws {
        let key = "forecastd.models\u{1F}\(schema)\u{1F}\(job)\u{1F}" + (series.map { "s:" + $0 } ?? "global")
        try db.execute("SELECT pg_advisory_xact_lock(hashtext($1))", key)
    }

    func retireActive(job: String, series: String?, except modelID: Int64?, on db: isolated PostgresConnection) throws {
        try db.execute("""
            UPDATE \(names.models) SET status = 'retired'
            WHERE job = $1 AND series IS NOT DISTINCT FROM $2 AND status = 'active' AND model_id <> $3
            """, job, series, modelID ?? -1)
    }

    /// A global model replaces the job's per-series networks: a series' own model serves it
    /// before the global one (`Prediction`), so networks left from before the job's scope
    /// became global would shadow the new model for ever. Per-series baselines and statistical
    /// models stay: they are what a global job publishes for series too short for its network.
    func retireSeriesNetworks(job: String, on db: isolated PostgresConnection) throws {
        let cells = String(decoding: try JSONEncoder().encode(ModelCell.networks.map(\.rawValue)), as: UTF8.self)
        try db.execute("""
            UPDATE \(names.models) SET status = 'retired'
            WHERE job = $1 AND series IS NOT NULL AND status = 'active' AND cell IN (SELECT jsonb_array_elements_text($2::jsonb))
            """, job, cells)
    }

    static let columns = """
        model_id, job, series, version, cell, hyperparameters, status, reason, trained_at, \
        data_start, data_end, train_seconds, epochs, weights
        """

    static func decode(_ row: PostgresRow) throws -> StoredModel {
        let cellText = try row.decode(4, as: String.self)
        let statusText = try row.decode(6, as: String.self)
        guard let cell = ModelCell(rawValue: cellText) else { throw ModelStoreError.unknownValue(column: "cell", value: cellText) }
        guard let status = ModelStatus(rawValue: statusText) else { throw ModelStoreError.unknownValue(column: "status", value: statusText) }
        return StoredModel(
            modelID: try row.decode(0), job: try row.decode(1), series: try row.decode(2), version: try row.decode(3),
            cell: cell, hyperparameters: try row.decode(5), status: status, reason: try row.decode(7),
            trainedAt: try row.decode(8), dataStart: try row.decode(9), dataEnd: try row.decode(10),
            trainSeconds: try row.decode(11), epochs: try row.decode(12), weights: try row.decode(13))
    }
}

/// Quoted, schema-qualified names of forecastd's tables. The schema comes from configuration,
/// so it is quoted like any other identifier and never spliced raw.
struct StoreNames: Sendable {
    let schema: String

    func table(_ name: String) -> String {
        quoteIdentifier(schema, qualified: false) + "." + quoteIdentifier(name, qualified: false)
    }

    /// `schema.name` unquoted, for `copyIn(into:columns:)`, which quotes it (the schema is a plain
    /// identifier: Configuration checks it).
    func unquoted(_ name: String) -> String { schema + "." + name }

    var models: String { table("models") }
    var predictions: String { table("predictions") }
    var latestForecasts: String { table("latest_forecasts") }
    var modelMetrics: String { table("model_metrics") }
    var trainingHistory: String { table("training_history") }
    var runs: String { table("runs") }
    var workQueue: String { table("work_queue") }
    var jobSchedule: String { table("job_schedule") }
    var seriesState: String { table("series_state") }
    var backtestResults: String { table("backtest_results") }
    var actuals: String { table("actuals") }
    var latestOrigins: String { table("latest_origins") }
}
