import ForecastConfig
import Foundation
import PostgresClient

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum RunKind: String, Sendable, CaseIterable {
    case train, predict, backtest
}

public enum RunStatus: String, Sendable, CaseIterable {
    case running, succeeded, failed, partial
}

/// Why a run was started outside its schedule (`runs.trigger`); scheduled runs and runs asked
/// for from the shell have none.
public enum RunTrigger: String, Sendable, CaseIterable {
    /// Realized error outgrew the backtest error (see `DriftDetector`).
    case drift
    /// The job's configuration changed since its active models were trained (see `ConfigFitCheck`).
    case config
}

/// A row of `runs`.
public struct RunRecord: Sendable, Equatable {
    public var runID: Int64
    public var job: String
    public var kind: RunKind
    public var status: RunStatus
    public var startedAt: Date
    public var finishedAt: Date?
    public var seriesTotal: Int
    public var seriesFailed: Int
    public var pointsRead: Int64
    public var rowsWritten: Int64
    public var error: String?
    public var host: String?
    public var pid: Int32?
}

public enum RunLogError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownRun(Int64)
    /// `finish` takes only final statuses; `running` is what `start` writes.
    case notFinal(RunStatus)

    public var description: String {
        switch self {
        case .unknownRun(let id): return "no run with run_id \(id)"
        case .notFinal(let status): return "a run cannot finish with status \(status.rawValue)"
        }
    }
}

/// Told of every run this process closes with `RunLog.finish`, and how long it took. The daemon
/// passes its metrics here, so the store reports runs without knowing who counts them.
public protocol RunObserver: Sendable {
    func runFinished(job: String, kind: RunKind, status: RunStatus, seconds: Double)
}

/// The `runs` table: what ops dashboards read to see what forecastd did and whether it failed.
///
/// `start` belongs in its own short transaction (or none), so the run shows as `running` while
/// it works. Counters can be added by each unit of work inside that unit's transaction
/// (`addCounts`), so they only count what was committed; `finish` closes the run.
public struct RunLog: Sendable {
    public var schema: String
    let names: StoreNames
    /// Told of the runs `finish` closes; nil tells no one.
    public var observer: (any RunObserver)?

    public init(schema: String, observer: (any RunObserver)? = nil) {
        self.schema = schema
        names = StoreNames(schema: schema)
        self.observer = observer
    }

    public init(_ settings: DatabaseSettings, observer: (any RunObserver)? = nil) { self.init(schema: settings.schema, observer: observer) }

    /// This machine's name as runs record it, so a restarted daemon can find its own leftovers.
    public static var currentHost: String { ProcessInfo.processInfo.hostName }
    public static var currentPID: Int32 { ProcessInfo.processInfo.processIdentifier }

    /// Records a run as `running` and returns its `run_id`; `trigger` and `note` say why a run
    /// was started outside its schedule.
    ///
    /// With `heldBySession` (a run that this process works itself, not through the queue: the
    /// one-off commands) the connection also takes a session advisory lock on the run, which it
    /// holds until it closes. PostgreSQL drops the lock when the process dies or loses its
    /// connection, so any host can tell such a run is orphaned (`abandonOrphans`) without a
    /// heartbeat. Runs worked through the queue are kept alive by their units' leases instead.
    public func start(job: String, kind: RunKind, trigger: RunTrigger? = nil, note: String? = nil,
                      host: String = RunLog.currentHost, pid: Int32 = RunLog.currentPID, heldBySession: Bool = false,
                      on db: isolated PostgresConnection) throws -> Int64 {
        // One statement, so the run is never visible without its lock (an orphan check in
        // between would take it for dead).
        let lock = heldBySession ? ", pg_advisory_lock($7::int4, (run_id & 2147483647)::int4)" : ""
        var parameters: [any PostgresEncodable] = [job, kind.rawValue, host, pid, trigger?.rawValue, note]
        if heldBySession { parameters.append(Self.runLockSpace) }
        return try db.query("""
            WITH started AS (
                INSERT INTO \(names.runs) (job, kind, status, host, pid, trigger, note) VALUES ($1, $2, 'running', $3, $4, $5, $6)
                RETURNING run_id)
            SELECT run_id\(lock) FROM started
            """, parameters: parameters)[0].decode(0, as: Int64.self)
    }

    /// The first key of a run's session lock, apart from other advisory locks; the second is
    /// the run id's low 31 bits.
    static let runLockSpace: Int32 = 0x4643_7275

    /// Adds to a run's counters. Meant for a unit's own transaction, so a unit that rolls back
    /// leaves the counters as they were. `newestObservation`: the newest source row the read
    /// met, kept if newer than the run's (`job_health.newest_observation_age`).
    public func addCounts(runID: Int64, seriesTotal: Int = 0, seriesFailed: Int = 0, pointsRead: Int64 = 0, rowsWritten: Int64 = 0,
                          newestObservation: Date? = nil, on db: isolated PostgresConnection) throws {
        let updated = try db.execute("""
            UPDATE \(names.runs)
            SET series_total = series_total + $2, series_failed = series_failed + $3,
                points_read = points_read + $4, rows_written = rows_written + $5,
                newest_observation = greatest(newest_observation, $6)
            WHERE run_id = $1
            """, runID, seriesTotal, seriesFailed, pointsRead, rowsWritten, newestObservation)
        if updated == 0 { throw RunLogError.unknownRun(runID) }
    }

    /// Sets a running run's counters back to zero: a predict run's one unit, tried again, counts
    /// what it reads and writes from the start (its forecasts replace the earlier attempt's), so
    /// nothing is counted twice.
    public func resetCounts(runID: Int64, on db: isolated PostgresConnection) throws {
        try db.execute("""
            UPDATE \(names.runs) SET series_total = 0, series_failed = 0, points_read = 0, rows_written = 0
            WHERE run_id = $1 AND status = 'running'
            """, runID)
    }

    /// Adds a line to a run's note (what the run wants its reader to know, e.g. that the data
    /// ended long ago, or rows it could not use), unless the note holds that line already; a
    /// note of 4000 characters takes no more, so units of thousands of series cannot grow it
    /// without bound.
    public func addNote(runID: Int64, _ line: String, on db: isolated PostgresConnection) throws {
        try db.execute("""
            UPDATE \(names.runs) SET note = CASE WHEN note IS NULL THEN $2 WHEN position($2 IN note) > 0 THEN note ELSE note || E'\\n' || $2 END
            WHERE run_id = $1 AND coalesce(length(note), 0) < 4000
            """, runID, line)
    }

    /// Closes a run. A nil counter keeps what `addCounts` accumulated; a value replaces it.
    /// A run that `abandon` already closed is overwritten: the process was alive
    /// after all, and its own account is the true one.
    /// Reported to `observer` as this process's run (a transaction that then fails to commit
    /// leaves the run open, to be closed and reported again).
    public func finish(runID: Int64, status: RunStatus, seriesTotal: Int? = nil, seriesFailed: Int? = nil,
                       pointsRead: Int64? = nil, rowsWritten: Int64? = nil, error: String? = nil,
                       on db: isolated PostgresConnection) throws {
        guard status != .running else { throw RunLogError.notFinal(status) }
        let closed = try db.query("""
            UPDATE \(names.runs)
            SET status = $2, finished_at = clock_timestamp(),
                series_total = coalesce($3, series_total), series_failed = coalesce($4, series_failed),
                points_read = coalesce($5, points_read), rows_written = coalesce($6, rows_written),
                error = $7
            WHERE run_id = $1
            RETURNING job, kind, extract(epoch FROM finished_at - started_at)::float8
            """, runID, status.rawValue, seriesTotal, seriesFailed, pointsRead, rowsWritten, error)
        guard let row = closed.first else { throw RunLogError.unknownRun(runID) }
        observer?.runFinished(job: try row.decode(0), kind: RunKind(rawValue: try row.decode(1)) ?? .train, status: status,
                              seconds: try row.decode(2))
    }

    /// Locks the run's row until the caller's transaction ends, if it is still `running`, and
    /// returns its counters; nil when it is closed already. Serialises the last completions of
    /// a run, so exactly one of them closes it.
    public func lockOpen(runID: Int64, on db: isolated PostgresConnection) throws -> (seriesTotal: Int, seriesFailed: Int)? {
        try db.query("SELECT series_total, series_failed FROM \(names.runs) WHERE run_id = $1 AND status = 'running' FOR UPDATE", runID)
            .first.map { (try $0.decode(0, as: Int.self), try $0.decode(1, as: Int.self)) }
    }

    /// Fails the runs a given process left `running` (it crashed, or was killed before it could
    /// finish them), or that it closes itself because it cannot finish them (`reason`: stopped
    /// by a signal, lost its connection). A run with units still queued or running in
    /// `work_queue` is left alone: whichever daemon works its last unit closes it (`lockOpen`).
    /// Returns how many were closed.
    @discardableResult
    public func abandon(host: String, pid: Int32, reason: String? = nil, on db: isolated PostgresConnection) throws -> Int {
        try db.execute("""
            UPDATE \(names.runs) r
            SET status = 'failed', finished_at = clock_timestamp(),
                error = coalesce(error || '; ', '') || coalesce($3, 'abandoned: the process (host ' || $1 || ', pid ' || $2::text || ') ended without finishing the run')
            WHERE status = 'running' AND host = $1 AND pid = $2
              AND NOT EXISTS (SELECT 1 FROM \(names.workQueue) q WHERE q.run_id = r.run_id AND q.state IN ('available', 'running'))
            """, host, pid, reason)
    }

    /// Fails the `running` runs of this host whose process no longer exists (see `abandon`),
    /// and those of other hosts that no session holds any more (`abandonOrphans`): what the
    /// daemon and every one-off command that opens runs do at start-up, when several forecastd
    /// processes (daemon, one-off `train`) may share a host or a database.
    @discardableResult
    public func abandonDeadProcesses(host: String = RunLog.currentHost, isAlive: (Int32) -> Bool = RunLog.processIsAlive,
                                     on db: isolated PostgresConnection) throws -> Int {
        let pids = try db.query("SELECT DISTINCT pid FROM \(names.runs) WHERE status = 'running' AND host = $1 AND pid IS NOT NULL", host)
            .map { try $0.decode(0, as: Int32.self) }
        var closed = 0
        for pid in pids where !isAlive(pid) {
            closed += try abandon(host: host, pid: pid, on: db)
        }
        return closed + (try abandonOrphans(exceptHost: host, on: db))
    }

    /// Fails the `running` runs of other hosts than `exceptHost` that were worked outside the
    /// queue (no `work_queue` units) and whose session lock (`start(heldBySession:)`) is free:
    /// their process ended or lost its connection. PostgreSQL frees the lock when it sees the
    /// session end, at once for a process that exits or is killed, after TCP keepalive for a
    /// host that vanished. Runs of this host are judged by their pid instead.
    @discardableResult
    public func abandonOrphans(exceptHost: String, on db: isolated PostgresConnection) throws -> Int {
        try db.execute("""
            UPDATE \(names.runs) r
            SET status = 'failed', finished_at = clock_timestamp(),
                error = coalesce(error || '; ', '') || 'abandoned: the process (host ' || coalesce(host, '?') || ', pid ' || coalesce(pid::text, '?')
                        || ') no longer holds the run (it ended or lost its database connection)'
            WHERE status = 'running' AND host IS DISTINCT FROM $1
              AND NOT EXISTS (SELECT 1 FROM \(names.workQueue) q WHERE q.run_id = r.run_id)
              AND NOT EXISTS (SELECT 1 FROM pg_locks l
                              WHERE l.locktype = 'advisory' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                                AND l.classid = $2::bigint::oid AND l.objid = (r.run_id & 2147483647)::oid AND l.objsubid = 2)
            """, exceptHost, Int64(Self.runLockSpace))
    }

    /// Runs still `running` whose queue units all ended more than `settled` seconds ago: the
    /// worker that completed the last one lost its connection before it could close the run
    /// (`JobRunner.finishRunIfDone` closes them). The wait leaves a worker that has just
    /// completed a unit the time to close the run itself, with its own errors.
    public func drainedRuns(settled: Double = 60, on db: isolated PostgresConnection) throws -> [Int64] {
        try db.query("""
            SELECT r.run_id FROM \(names.runs) r
            WHERE r.status = 'running'
              AND EXISTS (SELECT 1 FROM \(names.workQueue) q WHERE q.run_id = r.run_id)
              AND NOT EXISTS (SELECT 1 FROM \(names.workQueue) q WHERE q.run_id = r.run_id
                              AND (q.state IN ('available', 'running') OR q.finished_at > clock_timestamp() - make_interval(secs => $1)))
            ORDER BY r.run_id
            """, settled).map { try $0.decode(0, as: Int64.self) }
    }

    /// When the job's last run with this trigger started; nil when it has had none.
    public func lastStart(job: String, trigger: RunTrigger, on db: isolated PostgresConnection) throws -> Date? {
        try db.query("SELECT max(started_at) FROM \(names.runs) WHERE job = $1 AND trigger = $2", job, trigger.rawValue)[0]
            .decode(0, as: Date?.self)
    }

    /// The newest observation any run of each job read from its source, by job.
    public func newestObservations(on db: isolated PostgresConnection) throws -> [(job: String, time: Date)] {
        try db.query("""
            SELECT job, max(newest_observation) FROM \(names.runs)
            WHERE newest_observation IS NOT NULL GROUP BY job ORDER BY job
            """).map { (try $0.decode(0), try $0.decode(1)) }
    }

    /// When each job's runs of each kind last succeeded (finished), by job and kind.
    public func lastSuccesses(on db: isolated PostgresConnection) throws -> [(job: String, kind: RunKind, finishedAt: Date)] {
        try db.query("""
            SELECT job, kind, max(finished_at) FROM \(names.runs)
            WHERE status = 'succeeded' AND finished_at IS NOT NULL GROUP BY job, kind ORDER BY job, kind
            """).compactMap { row in
            guard let kind = RunKind(rawValue: try row.decode(1, as: String.self)) else { return nil }
            return (try row.decode(0), kind, try row.decode(2))
        }
    }

    public func run(id runID: Int64, on db: isolated PostgresConnection) throws -> RunRecord? {
        try db.query("""
            SELECT run_id, job, kind, status, started_at, finished_at, series_total, series_failed,
                   points_read, rows_written, error, host, pid
            FROM \(names.runs) WHERE run_id = $1
            """, runID).first.map { row in
            RunRecord(runID: try row.decode(0), job: try row.decode(1),
                      kind: RunKind(rawValue: try row.decode(2)) ?? .train,
                      status: RunStatus(rawValue: try row.decode(3)) ?? .failed,
                      startedAt: try row.decode(4), finishedAt: try row.decode(5),
                      seriesTotal: try row.decode(6), seriesFailed: try row.decode(7),
                      pointsRead: try row.decode(8), rowsWritten: try row.decode(9),
                      error: try row.decode(10), host: try row.decode(11), pid: try row.decode(12))
        }
    }

    /// kill(pid, 0): ESRCH means gone; EPERM means it exists under another user.
    public static func processIsAlive(_ pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        if kill(pid, 0) == 0 { return true }
        return errno == EPERM
    }
}
