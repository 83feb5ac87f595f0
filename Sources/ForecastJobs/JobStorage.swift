import ForecastConfig
import ForecastStore
import Forecasting
import Foundation
import PostgresClient

/// Series read from a job's source and laid on its grid.
public struct SeriesRead: Sendable {
    public var outcomes: [SeriesOutcome]
    /// Source rows used (after `keep`).
    public var points: Int
    /// The time of the newest row with a value.
    public var newest: Date?

    public init(outcomes: [SeriesOutcome], points: Int, newest: Date?) {
        self.outcomes = outcomes
        self.points = points
        self.newest = newest
    }
}

/// What a train run reads and writes: the seam between the job logic of `JobRunner.train`
/// (which series to read over which window, what to train, how to count and report) and
/// PostgreSQL. `PostgresJobStorage` is the implementation on the store layer's types, where all
/// the SQL lives; tests give the same logic an in-memory storage. Like `JobScheduling` for the
/// scheduler's decision.
public protocol JobStorage: Sendable {
    /// The job's series from rows with `from <= time < to` (of `keys` only, when given), of
    /// the rows `keep` accepts (all when nil).
    func readSeries(from: Date, to: Date, among keys: [String]?, keep: (@Sendable (SourcePoint) -> Bool)?) async throws -> SeriesRead
    /// The series whose newest value before `end` lies before `cutoff`, with its time
    /// (`SourceReader.seriesEnds`).
    func seriesEnds(before cutoff: Date, end: Date, series: String?) async throws -> [String: Date]
    /// What a read of [from, to) cannot use (`SourceReader.unreadRows`).
    func unreadRows(from: Date, to: Date, futureFrom: Date) async throws -> UnreadRows
    /// Makes sure forecasts issued around `asOf` have somewhere to go (history partitions).
    func prepareHistory(asOf: Date) async throws
    func startRun(kind: RunKind, trigger: RunTrigger?, note: String?) async throws -> Int64
    func addCounts(runID: Int64, pointsRead: Int64, newestObservation: Date?) async throws
    func addNote(runID: Int64, _ note: String) async throws
    /// Writes one trained unit and its counters in one transaction; returns the forecast rows written.
    func publish(_ unit: TrainedUnit, runID: Int64) async throws -> Int
    func finish(_ summary: RunSummary, error: String?) async throws
    /// False once the database is gone, so a run stops instead of failing every unit after.
    var isConnected: Bool { get async }
}

/// `JobStorage` on PostgreSQL, through ForecastStore's types, on one connection.
public struct PostgresJobStorage: JobStorage {
    public let runner: JobRunner
    public let connection: PostgresConnection

    public init(runner: JobRunner, connection: PostgresConnection) {
        self.runner = runner
        self.connection = connection
    }

    public func readSeries(from: Date, to: Date, among keys: [String]?, keep: (@Sendable (SourcePoint) -> Bool)?) async throws -> SeriesRead {
        let reader = SourceReader(job: runner.job), settings = runner.plan.seriesSettings
        return try await connection.withConnection { db in
            var builder = SeriesBuilder(settings: try reader.withHolidays(settings, on: db))
            var newest: Date?, points = 0
            try reader.read(from: from, to: to, among: keys, on: db) { point in
                if let keep, !keep(point) { return }
                points += 1
                if point.value != nil, newest.map({ point.time > $0 }) ?? true { newest = point.time }
                builder.add(key: point.series, time: point.time, value: point.value, covariates: point.covariates)
            }
            return SeriesRead(outcomes: builder.finish(), points: points, newest: newest)
        }
    }

    public func seriesEnds(before cutoff: Date, end: Date, series: String?) async throws -> [String: Date] {
        let reader = SourceReader(job: runner.job)
        return try await connection.withConnection { db in try reader.seriesEnds(before: cutoff, end: end, series: series, on: db) }
    }

    public func unreadRows(from: Date, to: Date, futureFrom: Date) async throws -> UnreadRows {
        let reader = SourceReader(job: runner.job)
        return try await connection.withConnection { db in try reader.unreadRows(from: from, to: to, futureFrom: futureFrom, on: db) }
    }

    public func prepareHistory(asOf: Date) async throws {
        try await HistoryMaintenance.preparePartitions(asOf: asOf, database: runner.database, on: connection)
    }

    public func startRun(kind: RunKind, trigger: RunTrigger?, note: String?) async throws -> Int64 {
        let runLog = runner.runLog, job = runner.job.name
        return try await connection.withConnection { db in
            try runLog.start(job: job, kind: kind, trigger: trigger, note: note, heldBySession: true, on: db)
        }
    }

    public func addCounts(runID: Int64, pointsRead: Int64, newestObservation: Date?) async throws {
        let runLog = runner.runLog
        try await connection.withConnection { db in
            try runLog.addCounts(runID: runID, pointsRead: pointsRead, newestObservation: newestObservation, on: db)
        }
    }

    public func addNote(runID: Int64, _ note: String) async throws {
        let runLog = runner.runLog
        try await connection.withConnection { db in try runLog.addNote(runID: runID, note, on: db) }
    }

    public func publish(_ unit: TrainedUnit, runID: Int64) async throws -> Int {
        try await runner.publish(unit, runID: runID, on: connection)
    }

    public func finish(_ summary: RunSummary, error: String?) async throws {
        let runLog = runner.runLog
        try await connection.withConnection { db in
            try runLog.finish(runID: summary.runID, status: summary.status, seriesTotal: summary.seriesTotal, seriesFailed: summary.seriesFailed,
                              pointsRead: summary.pointsRead, rowsWritten: summary.rowsWritten, error: error, on: db)
        }
    }

    public var isConnected: Bool { get async { await connection.isConnected } }
}
