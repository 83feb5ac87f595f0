import ForecastConfig
import Foundation
import PostgresClient

/// A claimed unit of work: one series (or '' for a job's global model or a whole-job predict).
public struct WorkItem: Sendable, Equatable {
    public var workID: Int64
    public var job: String
    public var kind: RunKind
    public var unit: String
    public var runID: Int64
    /// Including this one.
    public var attempts: Int
    public var maxAttempts: Int

    package init(workID: Int64, job: String, kind: RunKind, unit: String, runID: Int64, attempts: Int, maxAttempts: Int) {
        self.workID = workID
        self.job = job
        self.kind = kind
        self.unit = unit
        self.runID = runID
        self.attempts = attempts
        self.maxAttempts = maxAttempts
    }
}

public enum WorkQueueError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The lease ran out and another worker may hold the unit now: its results must not be written.
    case leaseLost(workID: Int64)

    public var description: String {
        switch self {
        case .leaseLost(let id): return "the lease of work item \(id) was lost; its results were not written"
        }
    }
}

/// The shared work queue, in the manner of River and Oban: units are claimed with
/// `FOR UPDATE SKIP LOCKED` under a lease that the worker renews; a unit whose lease ran out
/// (its worker died) is claimed again by another. Completing a unit happens inside the
/// transaction that writes its results and only while the lease is still held, so a unit's
/// results are written once, by one worker.
public struct WorkQueue: Sendable {
    let names: StoreNames

    public init(schema: String) { names = StoreNames(schema: schema) }
    public init(_ settings: DatabaseSettings) { self.init(schema: settings.schema) }

    /// Queues `units` of a run; a unit already queued or running for the same job and kind
    /// is left as it is. Returns how many were queued.
    @discardableResult
    public func enqueue(job: String, kind: RunKind, units: [String], runID: Int64, maxAttempts: Int,
                        on db: isolated PostgresConnection) throws -> Int {
        var queued = 0
        for unit in units {
            queued += try db.execute("""
                INSERT INTO \(names.workQueue) (job, kind, unit, run_id, max_attempts) VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (job, kind, unit) WHERE state IN ('available', 'running') DO NOTHING
                """, job, kind.rawValue, unit, runID, maxAttempts)
        }
        return queued
    }

    /// Claims the oldest available unit of one of `jobs`, or one whose lease expired, for
    /// `owner` for `lease` seconds. Units locked by other claims in progress are skipped.
    public func claim(owner: String, lease: Double, jobs: [String], on db: isolated PostgresConnection) throws -> WorkItem? {
        guard !jobs.isEmpty else { return nil }
        // Job names cannot contain commas (configuration checks), so one text parameter carries the list.
        let rows = try db.query("""
            UPDATE \(names.workQueue) AS q
            SET state = 'running', lease_owner = $1, lease_expires_at = clock_timestamp() + make_interval(secs => $2),
                attempts = q.attempts + 1
            WHERE q.work_id = (
                SELECT work_id FROM \(names.workQueue)
                WHERE job = ANY (string_to_array($3, ','))
                  AND ((state = 'available' AND available_at <= clock_timestamp())
                       OR (state = 'running' AND lease_expires_at < clock_timestamp() AND attempts < max_attempts))
                ORDER BY available_at, work_id
                LIMIT 1
                FOR UPDATE SKIP LOCKED)
            RETURNING q.work_id, q.job, q.kind, q.unit, q.run_id, q.attempts, q.max_attempts
            """, owner, lease, jobs.joined(separator: ","))
        guard let row = rows.first else { return nil }
        return WorkItem(workID: try row.decode(0), job: try row.decode(1),
                        kind: RunKind(rawValue: try row.decode(2, as: String.self)) ?? .train,
                        unit: try row.decode(3), runID: try row.decode(4),
                        attempts: try row.decode(5), maxAttempts: try row.decode(6))
    }

    /// Extends the lease; false when it is no longer ours.
    public func renew(_ item: WorkItem, owner: String, lease: Double, on db: isolated PostgresConnection) throws -> Bool {
        try db.execute("""
            UPDATE \(names.workQueue) SET lease_expires_at = clock_timestamp() + make_interval(secs => $3)
            WHERE work_id = $1 AND state = 'running' AND lease_owner = $2
            """, item.workID, owner, lease) == 1
    }

    /// Marks the unit completed, in the caller's transaction with its results; throws
    /// `leaseLost` (so the caller's transaction rolls back) when the lease is no longer ours.
    public func complete(_ item: WorkItem, owner: String, on db: isolated PostgresConnection) throws {
        let updated = try db.execute("""
            UPDATE \(names.workQueue)
            SET state = 'completed', lease_owner = NULL, lease_expires_at = NULL, finished_at = clock_timestamp()
            WHERE work_id = $1 AND state = 'running' AND lease_owner = $2 AND lease_expires_at >= clock_timestamp()
            """, item.workID, owner)
        if updated != 1 { throw WorkQueueError.leaseLost(workID: item.workID) }
    }

    /// Records a failed attempt: the unit becomes available again after `backoff` seconds,
    /// or failed for good once its attempts are spent. Returns true when it will be retried.
    @discardableResult
    public func fail(_ item: WorkItem, owner: String, error: String, backoff: Double, on db: isolated PostgresConnection) throws -> Bool {
        let retry = item.attempts < item.maxAttempts
        let updated = try db.execute("""
            UPDATE \(names.workQueue)
            SET state = CASE WHEN $3 THEN 'available' ELSE 'failed' END,
                available_at = clock_timestamp() + make_interval(secs => $4),
                lease_owner = NULL, lease_expires_at = NULL, last_error = $5,
                finished_at = CASE WHEN $3 THEN NULL ELSE clock_timestamp() END
            WHERE work_id = $1 AND state = 'running' AND lease_owner = $2
            """, item.workID, owner, retry, backoff, error)
        return retry && updated == 1
    }

    /// Gives back every unit `owner` holds, untouched, for another worker to take at once:
    /// what a daemon does when it stops in the middle of work.
    @discardableResult
    public func release(owner: String, on db: isolated PostgresConnection) throws -> Int {
        try db.execute("""
            UPDATE \(names.workQueue)
            SET state = 'available', attempts = greatest(attempts - 1, 0), lease_owner = NULL, lease_expires_at = NULL,
                available_at = clock_timestamp()
            WHERE state = 'running' AND lease_owner = $1
            """, owner)
    }

    /// Fails the units whose lease ran out after their last allowed attempt: their worker
    /// stopped while running them (a crash, out-of-memory, kill -9: a poison unit), so they are
    /// not claimed again. `claim` counts an attempt when it hands a unit out, so a worker that
    /// dies mid-unit has used one. Returns the units failed, with the reason recorded.
    public func failExhausted(on db: isolated PostgresConnection) throws -> [(runID: Int64, job: String, unit: String, error: String)] {
        // lease_owner is host:pid:suffix (see Daemon.owner); the reason names host:pid.
        try db.query("""
            UPDATE \(names.workQueue)
            SET state = 'failed', lease_owner = NULL, lease_expires_at = NULL, finished_at = clock_timestamp(),
                last_error = CASE WHEN last_error IS NULL
                    THEN 'its worker stopped while running it ' || attempts || ' time' || CASE WHEN attempts = 1 THEN '' ELSE 's' END
                         || ' (crashed or killed); last worker ' || regexp_replace(lease_owner, ':[^:]*$', '')
                    ELSE 'its worker stopped while running it on the last of ' || attempts || ' attempts (crashed or killed); last worker '
                         || regexp_replace(lease_owner, ':[^:]*$', '') || '; before that: ' || last_error
                    END
            WHERE state = 'running' AND lease_expires_at < clock_timestamp() AND attempts >= max_attempts
            RETURNING run_id, job, unit, last_error
            """).map { (try $0.decode(0, as: Int64.self), try $0.decode(1, as: String.self), try $0.decode(2, as: String.self), try $0.decode(3, as: String.self)) }
    }

    /// Units of a job not yet completed or failed: queued or running.
    public func pending(job: String, on db: isolated PostgresConnection) throws -> Int {
        try db.query("SELECT count(*) FROM \(names.workQueue) WHERE job = $1 AND state IN ('available', 'running')", job)[0].decode(0)
    }

    /// Units of a run not yet completed or failed.
    public func pending(runID: Int64, on db: isolated PostgresConnection) throws -> Int {
        try db.query("SELECT count(*) FROM \(names.workQueue) WHERE run_id = $1 AND state IN ('available', 'running')", runID)[0].decode(0)
    }

    /// Units of a run that failed for good, with their errors.
    public func failures(runID: Int64, on db: isolated PostgresConnection) throws -> [(unit: String, error: String)] {
        try db.query("SELECT unit, coalesce(last_error, '') FROM \(names.workQueue) WHERE run_id = $1 AND state = 'failed' ORDER BY unit", runID)
            .map { (try $0.decode(0, as: String.self), try $0.decode(1, as: String.self)) }
    }
}
