import ForecastConfig
import ForecastStore
import Foundation
import PostgresClient

/// Keeps forecastd's history bounded (issue 16): partitions created ahead, whole partitions
/// dropped past the retention, old runs, work units and training history pruned, and the
/// weights of old model versions dropped. Owns the policy (which cutoff applies to what);
/// `HistoryStore` owns the SQL. Run by the daemon every `interval` and by `forecastd maintain`.
///
/// `predictions` and `actuals` partitions are shared by every job, so a partition is dropped
/// only when it is past the retention of every configured job: the longest retention wins, and
/// one job that keeps everything keeps every partition. The rest (runs, work units, training
/// history, weights) follows each job's own setting.
public struct HistoryMaintenance: Sendable {
    public var configuration: Configuration

    /// Days of partitions created ahead of now (a daemon that stops for longer writes into the
    /// DEFAULT partition, and the next maintenance moves those rows to their days).
    public static let daysAhead = 3
    /// How often the daemon runs it.
    public static let interval: Duration = .seconds(3600)

    public init(configuration: Configuration) { self.configuration = configuration }

    public struct Report: Sendable, Equatable {
        public var created: [String] = []
        public var dropped: [String] = []
        public var pruned = HistoryStore.Pruned()
        public var weightsDropped = 0
    }

    /// The effective retention of `job` (nil: keep everything).
    public func retention(of job: JobSettings) -> Seconds? {
        job.retention ?? configuration.daemon.retention
    }

    /// How long the shared partitions are kept: the longest retention of the configured jobs;
    /// nil when any job keeps everything, or no job is configured.
    public var partitionRetention: Seconds? {
        guard !configuration.jobs.isEmpty else { return nil }
        var longest = 0
        for job in configuration.jobs {
            guard let seconds = retention(of: job) else { return nil }
            longest = max(longest, seconds)
        }
        return longest
    }

    /// One pass at `now` (the wall clock, or `--as-of` for a replay).
    public func run(now: Date, on connection: PostgresConnection) async throws -> Report {
        let maintenance = self
        return try await connection.withConnection { db in try maintenance.run(now: now, on: db) }
    }

    public func run(now: Date, on db: isolated PostgresConnection) throws -> Report {
        let store = HistoryStore(configuration.database)
        var report = Report()
        report.created = try store.ensurePartitions(from: now - 86_400, through: now + Double(Self.daysAhead * 86_400), on: db)
        report.created += try store.adoptDefaultRows(on: db)
        if let partitionRetention {
            report.dropped = try store.dropPartitions(endingBy: now - Double(partitionRetention), on: db)
        }
        for job in configuration.jobs {
            if let seconds = retention(of: job) {
                let pruned = try store.prune(job: job.name, before: now - Double(seconds), on: db)
                report.pruned.runs += pruned.runs
                report.pruned.workQueue += pruned.workQueue
                report.pruned.trainingHistory += pruned.trainingHistory
                report.pruned.latestOrigins += pruned.latestOrigins
            }
            report.weightsDropped += try store.dropWeights(job: job.name, keepVersions: job.keepVersions ?? configuration.daemon.keepVersions, on: db)
        }
        return report
    }

    /// Before a one-off command writes as of `asOf`: the partitions of that day and its
    /// neighbours exist, so its rows go to their day rather than the DEFAULT partition.
    public static func preparePartitions(asOf: Date, database: DatabaseSettings, on connection: PostgresConnection) async throws {
        let store = HistoryStore(database)
        try await connection.withConnection { db in
            _ = try store.ensurePartitions(from: asOf - 86_400, through: asOf + 86_400, on: db)
        }
    }
}
