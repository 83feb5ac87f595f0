import ForecastConfig
import Foundation
import PostgresClient

/// Owns the shape of forecastd's history over time: the daily partitions of `predictions`
/// (by issued_at) and `actuals` (by ts) that migration 0007 set up, and the pruning of what is
/// older than a cutoff. It decides nothing: which cutoff applies to which job is the caller's
/// (`HistoryMaintenance`).
///
/// Partitions are UTC days named `predictions_p20260101` and `actuals_p20260101`. A row that no
/// daily partition covers lands in the DEFAULT partition; creating the day's partition later
/// moves such rows into it, so the default stays a safety net, not a home. Partition DDL takes a
/// lock on the parent table that waits for running writes and makes new ones wait behind it, so
/// every such statement runs under a short `lock_timeout` and is simply retried next time.
public struct HistoryStore: Sendable {
    let names: StoreNames

    public init(schema: String) { names = StoreNames(schema: schema) }
    public init(_ settings: DatabaseSettings) { self.init(schema: settings.schema) }

    /// The partitioned tables and the column each is partitioned by.
    static let partitioned = [(table: "predictions", column: "issued_at"), (table: "actuals", column: "ts")]

    static let lockTimeout = "5s"

    /// Creates the daily partitions of both tables for every UTC day from `from` through
    /// `through` that has none yet (a day covered by the `_legacy` partition of a converted
    /// database is left to it). Returns the partitions created.
    @discardableResult
    public func ensurePartitions(from: Date, through: Date, on db: isolated PostgresConnection) throws -> [String] {
        var created: [String] = []
        var day = Self.dayStart(from)
        while day <= through {
            for (table, column) in Self.partitioned where try createPartition(table, column, day: day, on: db) {
                created.append(Self.partitionName(table, day: day))
            }
            day += 86_400
        }
        return created
    }

    /// Gives every day that rows in the DEFAULT partitions belong to a partition of its own,
    /// moving those rows into it. Returns the partitions created.
    @discardableResult
    public func adoptDefaultRows(on db: isolated PostgresConnection) throws -> [String] {
        var created: [String] = []
        for (table, column) in Self.partitioned {
            let days = try db.query("""
                SELECT DISTINCT date_trunc('day', \(column), 'UTC') FROM \(names.table(table + "_default")) ORDER BY 1
                """).map { try $0.decode(0, as: Date.self) }
            for day in days where try createPartition(table, column, day: day, on: db) {
                created.append(Self.partitionName(table, day: day))
            }
        }
        return created
    }

    /// Drops the partitions of both tables whose whole range ends at or before `cutoff`.
    /// Returns the partitions dropped.
    @discardableResult
    public func dropPartitions(endingBy cutoff: Date, on db: isolated PostgresConnection) throws -> [String] {
        var dropped: [String] = []
        for (table, _) in Self.partitioned {
            for (name, upper) in try partitions(of: table, on: db) where upper <= cutoff {
                let done: Bool = try db.transaction { tx in
                    try tx.execute("SELECT set_config('lock_timeout', $1, true)", Self.lockTimeout)
                    do {
                        try tx.transaction { inner in try inner.executeScript("DROP TABLE \(names.table(name))") }
                        return true
                    } catch let error as PostgresError where error.sqlState == "55P03" {
                        return false  // lock_not_available: a long reader; next time
                    }
                }
                if done { dropped.append(name) }
            }
        }
        return dropped
    }

    /// The partitions of `table` with the upper bound of their range (the DEFAULT partition,
    /// which has none, is left out), oldest first.
    public func partitions(of table: String, on db: isolated PostgresConnection) throws -> [(name: String, upper: Date)] {
        // pg_get_expr prints the bound in this session's TimeZone and the cast reads it back in it.
        try db.query("""
            SELECT c.relname, (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']+)''\\)'))[1]::timestamptz AS upper
            FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = $1::regclass
            ORDER BY 2 NULLS LAST
            """, names.table(table)).compactMap { row in
            guard let upper = try row.decode(1, as: Date?.self) else { return nil }
            return (try row.decode(0, as: String.self), upper)
        }
    }

    /// Creates one day's partition; false when it exists or the day is covered otherwise.
    private func createPartition(_ table: String, _ column: String, day: Date, on db: isolated PostgresConnection) throws -> Bool {
        let name = Self.partitionName(table, day: day)
        let partition = names.table(name), parent = names.table(table), fallback = names.table(table + "_default")
        let (from, to) = (Self.literal(day), Self.literal(day + 86_400))
        if try db.query("SELECT to_regclass($1) IS NOT NULL", partition)[0].decode(0, as: Bool.self) { return false }
        return try db.transaction { tx in
            try tx.execute("SELECT set_config('lock_timeout', $1, true)", Self.lockTimeout)
            // One creator at a time per schema (several daemons, a one-off command beside them).
            try tx.execute("SELECT pg_advisory_xact_lock(hashtext('forecastd.partitions.' || $1))", names.schema)
            if try tx.query("SELECT to_regclass($1) IS NOT NULL", partition)[0].decode(0, as: Bool.self) { return false }
            do {
                try tx.transaction { inner in
                    let stray = try inner.query("""
                        SELECT EXISTS (SELECT FROM \(fallback) WHERE \(column) >= $1 AND \(column) < $2)
                        """, day, day + 86_400)[0].decode(0, as: Bool.self)
                    if !stray {
                        try inner.executeScript("CREATE TABLE \(partition) PARTITION OF \(parent) FOR VALUES FROM ('\(from)') TO ('\(to)')")
                        return
                    }
                    // Rows that arrived before their day had a partition: move them into it.
                    try inner.executeScript("""
                        CREATE TABLE \(partition) (LIKE \(parent) INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
                        WITH moved AS (
                            DELETE FROM \(fallback) WHERE \(column) >= '\(from)' AND \(column) < '\(to)' RETURNING *
                        )
                        INSERT INTO \(partition) SELECT * FROM moved;
                        ALTER TABLE \(parent) ATTACH PARTITION \(partition) FOR VALUES FROM ('\(from)') TO ('\(to)');
                        """)
                }
                return true
            } catch let error as PostgresError where error.sqlState == "42P17" {
                return false  // would overlap a partition (the _legacy one of a converted database)
            } catch let error as PostgresError where error.sqlState == "55P03" {
                return false  // lock_not_available: a long reader; the DEFAULT partition takes the rows meanwhile
            }
        }
    }

    // MARK: - Pruning rows

    /// What `prune` removed.
    public struct Pruned: Sendable, Equatable {
        public var runs = 0
        public var workQueue = 0
        public var trainingHistory = 0
        public var latestOrigins = 0
        public init() {}
    }

    /// Deletes `job`'s history older than `cutoff`, `batch` rows per statement: finished runs
    /// (never the newest of a kind, which job_health shows) with their work units and backtest
    /// results, work units finished before it, the training history of models no longer active
    /// that were trained before it, and latest_origins rows whose origin is older (their
    /// forecasts went with their partition).
    public func prune(job: String, before cutoff: Date, batch: Int = 10_000, on db: isolated PostgresConnection) throws -> Pruned {
        var pruned = Pruned()
        let doomedRuns = """
            SELECT run_id FROM \(names.runs) r
            WHERE r.job = $1 AND r.started_at < $2 AND r.status <> 'running'
              AND EXISTS (SELECT FROM \(names.runs) n WHERE n.job = r.job AND n.kind = r.kind AND n.started_at > r.started_at)
            ORDER BY run_id LIMIT $3
            """
        while true {
            let deleted: (Int, Int) = try db.transaction { tx in
                let units = try tx.execute("DELETE FROM \(names.workQueue) WHERE run_id IN (\(doomedRuns))", job, cutoff, batch)
                let runs = try tx.execute("DELETE FROM \(names.runs) WHERE run_id IN (\(doomedRuns))", job, cutoff, batch)
                return (units, runs)
            }
            pruned.workQueue += deleted.0
            pruned.runs += deleted.1
            if deleted.1 < batch { break }
        }
        while true {
            let n = try db.execute("""
                DELETE FROM \(names.workQueue) WHERE work_id IN (
                    SELECT work_id FROM \(names.workQueue)
                    WHERE job = $1 AND state IN ('completed', 'failed') AND finished_at < $2 LIMIT $3)
                """, job, cutoff, batch)
            pruned.workQueue += n
            if n < batch { break }
        }
        // Up to `batch` rows per statement: a model has at most a few hundred epochs.
        let models = max(1, batch / 100)
        while true {
            let n = try db.execute("""
                DELETE FROM \(names.trainingHistory) WHERE model_id IN (
                    SELECT m.model_id FROM \(names.models) m
                    WHERE m.job = $1 AND m.status <> 'active' AND m.trained_at < $2
                      AND EXISTS (SELECT FROM \(names.trainingHistory) h WHERE h.model_id = m.model_id)
                    LIMIT $3)
                """, job, cutoff, models)
            pruned.trainingHistory += n
            if n == 0 { break }
        }
        pruned.latestOrigins = try db.execute("DELETE FROM \(names.latestOrigins) WHERE job = $1 AND issued_at < $2", job, cutoff)
        return pruned
    }

    /// Drops the weights of `job`'s models that are not active and not among the newest
    /// `keepVersions` versions of their (job, series); their rows, metrics and history stay.
    /// Returns the models whose weights were dropped.
    public func dropWeights(job: String, keepVersions: Int, on db: isolated PostgresConnection) throws -> Int {
        try db.execute("""
            UPDATE \(names.models) SET weights = NULL WHERE model_id IN (
                SELECT model_id FROM (
                    SELECT model_id, status, weights IS NOT NULL AS has_weights,
                           row_number() OVER (PARTITION BY (series IS NULL), coalesce(series, '') ORDER BY version DESC) AS newness
                    FROM \(names.models) WHERE job = $1) v
                WHERE newness > $2 AND status <> 'active' AND has_weights)
            """, job, keepVersions)
    }

    // MARK: - Names and bounds

    static func dayStart(_ date: Date) -> Date {
        Date(timeIntervalSince1970: (date.timeIntervalSince1970 / 86_400).rounded(.down) * 86_400)
    }

    static func partitionName(_ table: String, day: Date) -> String {
        table + "_p" + dayFormatter.string(from: day)
    }

    /// `2026-01-01 00:00:00+00`: a bound PostgreSQL reads the same whatever its TimeZone.
    static func literal(_ day: Date) -> String { literalFormatter.string(from: day) + "+00" }

    private static let dayFormatter = DateFormatter.utc("yyyyMMdd")
    private static let literalFormatter = DateFormatter.utc("yyyy-MM-dd HH:mm:ss")
}
