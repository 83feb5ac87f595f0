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
    ///
    /// `recorded`, the actuals the caller stored in this transaction, moves each of their
    /// series' `latest_origins.last_actual_ts` forward: in the same upsert as the series' new
    /// origin where the batch has one, so the row gets one new version per cycle, not two.
    @discardableResult
    public func write(_ rows: [PredictionRow], recorded: RecordedActuals = RecordedActuals(),
                      on db: isolated PostgresConnection) throws -> Int {
        guard !rows.isEmpty || !recorded.newest.isEmpty else { return 0 }
        let origins = Self.origins(rows)
        var touched: [String: Set<Int>] = [:]
        for origin in origins { touched[origin.key.job, default: []].insert(Self.stripe(of: origin.key.series)) }
        for series in recorded.newest.keys { touched[recorded.job, default: []].insert(Self.stripe(of: series)) }
        let writer = self, stripes = touched
        return try db.transaction { tx in
            for (job, held) in stripes.sorted(by: { $0.key < $1.key }) { try writer.lockJob(job, stripes: held, on: tx) }
            return try writer.replace(rows, origins: origins, recorded: recorded, on: tx)
        }
    }

    /// Makes the writers of one job's forecasts take turns until the caller's transaction ends
    /// (transaction-level advisory locks on the schema and job). Without it two commands that
    /// forecast the same origin at once (`predict` beside `run --once`) both delete its old rows,
    /// and the later COPY fails on the primary key when the first commits.
    ///
    /// The race is per series, so the lock is striped: a series belongs to one of `stripes`
    /// stripes (`stripe(of:)`), and a writer locks the stripes of the series it writes. Two
    /// transactions of one predict batch, one per stripe, therefore write at once
    /// (`PostgresJobStorage.write`), while any two writers of the same series still take turns.
    /// Writers call it as their transaction's first statement with every stripe they will write,
    /// in ascending order, so they never wait on each other in a cycle; `write` takes its own
    /// rows' stripes again, harmlessly.
    public func lockJob(_ job: String, stripes: some Collection<Int> = 0..<PredictionWriter.stripes,
                        on db: isolated PostgresConnection) throws {
        for stripe in Set(stripes).sorted() {
            try db.execute("SELECT pg_advisory_xact_lock(\(Self.lockSpace + Int32(stripe)), hashtext($1))", schema + "." + job)
        }
    }

    /// The series of `job` that have a forecast (`latest_origins`): one row per series, so
    /// this reads a few thousand keys where asking the source which series exist scans it.
    public func forecastSeries(job: String, on db: isolated PostgresConnection) throws -> Set<String> {
        Set(try db.query("SELECT series FROM \(names.latestOrigins) WHERE job = $1", job).map { try $0.decode(0, as: String.self) })
    }

    /// The number of lock stripes: the transactions one predict batch is written in at once.
    public static let stripes = 2

    /// The stripe of a series: FNV-1a of its UTF-8 bytes, the same in every forecastd process.
    public static func stripe(of series: String) -> Int {
        var hash: UInt32 = 2_166_136_261
        for byte in series.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return Int(hash % UInt32(stripes))
    }

    /// The first key of `lockJob`'s advisory locks ("FCpr"), apart from other advisory locks;
    /// stripe n uses this plus n.
    static let lockSpace: Int32 = 0x4643_7072

    private func replace(_ rows: [PredictionRow], origins: [(key: Origin, rows: Range<Int>)], recorded: RecordedActuals,
                         on db: isolated PostgresConnection) throws -> Int {
        var written = 0
        if !origins.isEmpty {
            // One statement for all origins (a predict cycle writes thousands): they travel as one
            // JSON parameter, the time as whole microseconds since 1970 (timestamptz's resolution).
            // The bounds on issued_at let the planner keep to the partitions the batch can touch
            // (usually one); the primary key (job, series, issued_at, target_ts) serves the join.
            var unique = Set<Origin>(), list: [OriginJSON] = []
            for origin in origins where unique.insert(origin.key).inserted {
                list.append(OriginJSON(job: origin.key.job, series: origin.key.series,
                                       us: Int64((origin.key.issuedAt.timeIntervalSince1970 * 1_000_000).rounded())))
            }
            let issued = origins.map(\.key.issuedAt)
            try db.execute("""
                DELETE FROM \(names.predictions) p
                USING jsonb_to_recordset($1::jsonb) AS o(job text, series text, us bigint)
                WHERE p.issued_at >= $2 AND p.issued_at <= $3
                  AND p.job = o.job AND p.series = o.series AND p.issued_at = timestamptz 'epoch' + o.us * interval '1 microsecond'
                """, String(decoding: try JSONEncoder().encode(list), as: UTF8.self), issued.min()!, issued.max()!)
            // Binary COPY: the server parses no text. latest_origins is written below from the
            // same rows, so the statement trigger of migration 0007 is told to leave it (0011).
            _ = try db.query("SELECT set_config('forecastd.latest_written', 'on', true)")
            written = try db.copyIn(into: names.unquoted("predictions"), columns: Self.columns) { writer in
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
        }
        try moveLatest(rows, origins: origins, recorded: recorded, on: db)
        return written
    }

    /// The rows of each forecast origin, in the order given. A writer hands an origin's steps
    /// together, so the rows are walked once and keys hashed per origin, not per row; an origin
    /// split across the batch simply appears twice.
    static func origins(_ rows: [PredictionRow]) -> [(key: Origin, rows: Range<Int>)] {
        var origins: [(key: Origin, rows: Range<Int>)] = []
        var start = 0
        for i in rows.indices where i + 1 == rows.count || !rows[i + 1].sameOrigin(as: rows[i]) {
            origins.append((Origin(job: rows[i].job, series: rows[i].series, issuedAt: rows[i].issuedAt), start..<(i + 1)))
            start = i + 1
        }
        return origins
    }

    /// Moves each series' row of latest_origins to its newest origin among `rows` (unless an
    /// even newer one is stored: a replay with --as-of only moves oldest_target_ts back), as the
    /// trigger does for other writers: the origin's steps as arrays in target order, its model,
    /// the oldest target of the series in the batch, and the newest actual `recorded` for it.
    /// The arrays travel by binary COPY into the session's stage, then `latest_origins_merge()`
    /// (migration 0012) merges them. Series with recorded actuals but no origin in the batch get
    /// their last_actual_ts by a plain update.
    private func moveLatest(_ rows: [PredictionRow], origins: [(key: Origin, rows: Range<Int>)], recorded: RecordedActuals,
                            on db: isolated PostgresConnection) throws {
        struct Key: Hashable { var job: String, series: String }
        var newest: [Key: (origin: Int, oldest: Date)] = [:]
        for (index, origin) in origins.enumerated() {
            let key = Key(job: origin.key.job, series: origin.key.series)
            let oldest = rows[origin.rows].lazy.map(\.targetTs).min()!
            if let seen = newest[key] {
                let newer = origin.key.issuedAt >= origins[seen.origin].key.issuedAt
                newest[key] = (newer ? index : seen.origin, min(seen.oldest, oldest))
            } else {
                newest[key] = (index, oldest)
            }
        }
        if !newest.isEmpty {
            // The newest origin of a series split across the batch: all its parts, in target order.
            var parts: [Key: [Int]] = [:]
            for (index, origin) in origins.enumerated() {
                let key = Key(job: origin.key.job, series: origin.key.series)
                if origins[newest[key]!.origin].key.issuedAt == origin.key.issuedAt { parts[key, default: []].append(index) }
            }
            // The session's stage and the merge rule live in the schema (migration 0012), shared
            // with the trigger that serves other writers.
            _ = try db.query("SELECT \(names.table("latest_origins_stage"))()")
            _ = try db.copyIn(into: "pg_temp.forecastd_latest_stage", columns: Self.latestColumns) { writer in
                for (key, indices) in parts {
                    var steps = indices.flatMap { rows[origins[$0].rows] }
                    if !zip(steps, steps.dropFirst()).allSatisfy({ $0.targetTs < $1.targetTs }) { steps.sort { $0.targetTs < $1.targetTs } }
                    try writer.append(key.job)
                    try writer.append(key.series)
                    try writer.append(steps[0].issuedAt)
                    try writer.append(steps.lazy.map(\.modelID).min()!)
                    try writer.append(steps.map(\.targetTs))
                    try writer.append(steps.map(\.step))
                    try writer.append(steps.map { Optional($0.forecastValue) })
                    try writer.append(steps.map(\.lowerBound))
                    try writer.append(steps.map(\.upperBound))
                    try writer.append(steps.map(\.confidenceLevel))
                    try writer.append(newest[key]!.oldest)
                    try writer.append(key.job == recorded.job ? recorded.newest[key.series] : nil)
                    try writer.endRow()
                }
            }
            _ = try db.query("SELECT \(names.table("latest_origins_merge"))()")
        }
        let unmerged = recorded.newest.filter { newest[Key(job: recorded.job, series: $0.key)] == nil }
        guard !unmerged.isEmpty else { return }
        let list = unmerged.map { OriginJSON(job: recorded.job, series: $0.key, us: Int64(($0.value.timeIntervalSince1970 * 1_000_000).rounded())) }
        try db.execute("""
            UPDATE \(names.latestOrigins) l SET last_actual_ts = greatest(l.last_actual_ts, timestamptz 'epoch' + n.us * interval '1 microsecond')
            FROM jsonb_to_recordset($1::jsonb) AS n(job text, series text, us bigint)
            WHERE l.job = n.job AND l.series = n.series
            """, String(decoding: try JSONEncoder().encode(list), as: UTF8.self))
    }

    static let latestColumns = ["job", "series", "issued_at", "model_id", "target_ts", "step", "forecast_value",
                                "lower_bound", "upper_bound", "confidence_level", "oldest_target_ts", "last_actual_ts"]

    static let columns = ["job", "series", "model_id", "issued_at", "target_ts", "step", "forecast_value",
                          "lower_bound", "upper_bound", "confidence_level"]

    private struct OriginJSON: Encodable {
        var job: String
        var series: String
        var us: Int64
    }

    struct Origin: Hashable {
        var job: String
        var series: String
        var issuedAt: Date
    }
}

extension PredictionRow {
    func sameOrigin(as other: PredictionRow) -> Bool {
        issuedAt == other.issuedAt && series == other.series && job == other.job
    }
}
