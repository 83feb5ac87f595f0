import ForecastConfig
import Foundation
import PostgresClient

/// One forecast step of one series from one origin.
public struct PredictionRow: Sendable, Equatable {
    public var job: String
    public var series: String
    public var modelID: Int64
    /// The forecast origin: the last observed step.
    public var issuedAt: Date
    public var targetTs: Date
    /// 1...horizon.
    public var step: Int
    /// The median.
    public var forecastValue: Double
    public var lowerBound: Double?
    public var upperBound: Double?
    /// e.g. 0.8 for the 0.1 and 0.9 quantiles.
    public var confidenceLevel: Double?

    public init(job: String, series: String, modelID: Int64, issuedAt: Date, targetTs: Date, step: Int,
                forecastValue: Double, lowerBound: Double? = nil, upperBound: Double? = nil, confidenceLevel: Double? = nil) {
        self.job = job
        self.series = series
        self.modelID = modelID
        self.issuedAt = issuedAt
        self.targetTs = targetTs
        self.step = step
        self.forecastValue = forecastValue
        self.lowerBound = lowerBound
        self.upperBound = upperBound
        self.confidenceLevel = confidenceLevel
    }
}

/// Writes forecasts into `predictions` with COPY, on the caller's transaction.
///
/// A forecast origin is written as a whole: the rows already stored for each (job, series,
/// issued_at) in the batch are deleted first, in the same transaction. A unit that is retried
/// after a crash, or a `predict` run again for the same last observation, therefore replaces
/// its earlier forecast (including steps the new one no longer has) instead of failing on the
/// primary key, and readers never see a half-replaced origin.
public struct PredictionWriter: Sendable {
    public var schema: String
    let names: StoreNames

    public init(schema: String) {
        self.schema = schema
        names = StoreNames(schema: schema)
    }

    public init(_ settings: DatabaseSettings) { self.init(schema: settings.schema) }

    /// Returns the number of rows stored. Atomic on its own as well (a savepoint inside the
    /// caller's transaction), so a failed COPY never leaves an origin deleted.
    @discardableResult
    public func write(_ rows: [PredictionRow], on db: isolated PostgresConnection) throws -> Int {
        guard !rows.isEmpty else { return 0 }
        let writer = self
        return try db.transaction { tx in
            for job in Set(rows.map(\.job)).sorted() { try writer.lockJob(job, on: tx) }
            return try writer.replace(rows, on: tx)
        }
    }

    /// Makes the writers of one job's forecasts take turns until the caller's transaction ends
    /// (a transaction-level advisory lock on the schema and job). Without it two commands that
    /// forecast the same origin at once (`predict` beside `run --once`) both delete its old rows,
    /// and the later COPY fails on the primary key when the first commits. Writers call it as
    /// their transaction's first statement, so they also never wait on each other's other rows;
    /// `write` takes it too (again, harmlessly, for those that did).
    /// The series of `job` that have a forecast (`latest_origins`): one row per series, so
    /// this reads a few thousand keys where asking the source which series exist scans it.
    public func forecastSeries(job: String, on db: isolated PostgresConnection) throws -> Set<String> {
        Set(try db.query("SELECT series FROM \(names.latestOrigins) WHERE job = $1", job).map { try $0.decode(0, as: String.self) })
    }

    public func lockJob(_ job: String, on db: isolated PostgresConnection) throws {
        try db.execute("SELECT pg_advisory_xact_lock(\(Self.lockSpace), hashtext($1))", schema + "." + job)
    }

    /// The first key of `lockJob`'s advisory locks ("FCpr"), apart from other advisory locks.
    static let lockSpace: Int32 = 0x4643_7072

    private func replace(_ rows: [PredictionRow], on db: isolated PostgresConnection) throws -> Int {
        var origins = Set<Origin>()
        for row in rows { origins.insert(Origin(job: row.job, series: row.series, issuedAt: row.issuedAt)) }
        // One statement for all origins (a predict cycle writes thousands): they travel as one
        // JSON parameter, the time as whole microseconds since 1970 (timestamptz's resolution).
        // The bounds on issued_at let the planner keep to the partitions the batch can touch
        // (usually one); the primary key (job, series, issued_at, target_ts) serves the join.
        let list = origins.map { OriginJSON(job: $0.job, series: $0.series, us: Int64(($0.issuedAt.timeIntervalSince1970 * 1_000_000).rounded())) }
        let issued = rows.map(\.issuedAt)
        try db.execute("""
            DELETE FROM \(names.predictions) p
            USING jsonb_to_recordset($1::jsonb) AS o(job text, series text, us bigint)
            WHERE p.issued_at >= $2 AND p.issued_at <= $3
              AND p.job = o.job AND p.series = o.series AND p.issued_at = timestamptz 'epoch' + o.us * interval '1 microsecond'
            """, String(decoding: try JSONEncoder().encode(list), as: UTF8.self), issued.min()!, issued.max()!)
        // Binary COPY: the server parses no text. latest_origins is written below from the
        // same rows, so the statement trigger of migration 0007 is told to leave it (0011).
        _ = try db.query("SELECT set_config('forecastd.latest_written', 'on', true)")
        let written = try db.copyIn(into: names.unquoted("predictions"), columns: Self.columns) { writer in
            for row in rows {
                try writer.append(row.job)
                try writer.append(row.series)
                try writer.append(row.modelID)
                try writer.append(row.issuedAt)
                try writer.append(row.targetTs)
                try writer.append(row.step)
                try writer.append(row.forecastValue)
                try writer.append(row.lowerBound)
                try writer.append(row.upperBound)
                try writer.append(row.confidenceLevel)
                try writer.endRow()
            }
        }
        try moveLatest(rows, on: db)
        return written
    }

    /// Moves each series' row of latest_origins to its newest origin among `rows` (unless an
    /// even newer one is stored: a replay with --as-of only moves oldest_target_ts back), as the
    /// trigger does for other writers: the origin's steps as arrays in target order, its model,
    /// and the oldest target of the series in the batch. The arrays travel by binary COPY into
    /// the session's stage, then `latest_origins_merge()` (migration 0011) merges them.
    private func moveLatest(_ rows: [PredictionRow], on db: isolated PostgresConnection) throws {
        struct Key: Hashable { var job: String, series: String }
        var newest: [Key: (issuedAt: Date, oldest: Date)] = [:]
        for row in rows {
            let key = Key(job: row.job, series: row.series)
            if let seen = newest[key] {
                newest[key] = (max(seen.issuedAt, row.issuedAt), min(seen.oldest, row.targetTs))
            } else {
                newest[key] = (row.issuedAt, row.targetTs)
            }
        }
        var origins: [Key: [PredictionRow]] = [:]
        for row in rows where newest[Key(job: row.job, series: row.series)]?.issuedAt == row.issuedAt {
            origins[Key(job: row.job, series: row.series), default: []].append(row)
        }
        // The session's stage and the merge rule live in the schema (migration 0011), shared
        // with the trigger that serves other writers.
        _ = try db.query("SELECT \(names.table("latest_origins_stage"))()")
        _ = try db.copyIn(into: "pg_temp.forecastd_latest_in", columns: Self.latestColumns) { writer in
            for (key, steps) in origins {
                let steps = steps.sorted { $0.targetTs < $1.targetTs }
                try writer.append(key.job)
                try writer.append(key.series)
                try writer.append(steps[0].issuedAt)
                try writer.append(steps.map(\.modelID).min()!)
                try writer.append(steps.map(\.targetTs))
                try writer.append(steps.map(\.step))
                try writer.append(steps.map { Optional($0.forecastValue) })
                try writer.append(steps.map(\.lowerBound))
                try writer.append(steps.map(\.upperBound))
                try writer.append(steps.map(\.confidenceLevel))
                try writer.append(newest[key]!.oldest)
                try writer.endRow()
            }
        }
        _ = try db.query("SELECT \(names.table("latest_origins_merge"))()")
    }

    static let latestColumns = ["job", "series", "issued_at", "model_id", "target_ts", "step", "forecast_value",
                                "lower_bound", "upper_bound", "confidence_level", "oldest_target_ts"]

    static let columns = ["job", "series", "model_id", "issued_at", "target_ts", "step", "forecast_value",
                          "lower_bound", "upper_bound", "confidence_level"]

    private struct OriginJSON: Encodable {
        var job: String
        var series: String
        var us: Int64
    }

    private struct Origin: Hashable {
        var job: String
        var series: String
        var issuedAt: Date
    }
}
