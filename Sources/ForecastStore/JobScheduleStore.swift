import ForecastConfig
import Foundation
import PostgresClient

/// What the times of a job's next runs are computed from: its active models and the start of
/// its last runs that went through (succeeded or partial).
public struct JobHistory: Sendable, Equatable {
    public var activeModels: Int
    public var lastTrainingStart: Date?
    /// Of any kind.
    public var lastRunStart: Date?

    public init(activeModels: Int, lastTrainingStart: Date?, lastRunStart: Date?) {
        self.activeModels = activeModels
        self.lastTrainingStart = lastTrainingStart
        self.lastRunStart = lastRunStart
    }
}

/// The `job_schedule` table: one row per job with the times its next training and prediction
/// are due. The scheduler of every daemon takes a job's row `FOR UPDATE SKIP LOCKED` in its
/// transaction, so one daemon queues a job's work while the others pass it by. When those times
/// come is the scheduler's business (`DueRule`); this type only stores and compares them.
public struct JobScheduleStore: Sendable {
    let names: StoreNames

    public init(schema: String) { names = StoreNames(schema: schema) }
    public init(_ settings: DatabaseSettings) { self.init(schema: settings.schema) }

    /// The job's active models and the start of its last runs that went through.
    public func history(job: String, on db: isolated PostgresConnection) throws -> JobHistory {
        let row = try db.query("""
            SELECT (SELECT count(*) FROM \(names.models) WHERE job = $1 AND status = 'active'),
                   max(started_at) FILTER (WHERE kind = 'train'), max(started_at)
            FROM \(names.runs) WHERE job = $1 AND status IN ('succeeded', 'partial')
            """, job)[0]
        return JobHistory(activeModels: try row.decode(0), lastTrainingStart: try row.decode(1), lastRunStart: try row.decode(2))
    }

    /// Whether the job has a row yet (a daemon has scheduled it, or work was asked for).
    public func exists(job: String, on db: isolated PostgresConnection) throws -> Bool {
        try !db.query("SELECT 1 FROM \(names.jobSchedule) WHERE job = $1", job).isEmpty
    }

    /// Adds the job's row with these times; a row another daemon added meanwhile stays as it is.
    public func insertIfMissing(job: String, nextTrainAt: Date, nextPredictAt: Date, on db: isolated PostgresConnection) throws {
        try db.execute("""
            INSERT INTO \(names.jobSchedule) (job, next_train_at, next_predict_at) VALUES ($1, $2, $3)
            ON CONFLICT (job) DO NOTHING
            """, job, nextTrainAt, nextPredictAt)
    }

    /// Locks the job's row until the caller's transaction ends and says whether training and
    /// prediction are due at `now`; nil when the row is missing or another daemon holds it.
    public func lockDue(job: String, now: Date, on db: isolated PostgresConnection) throws -> (train: Bool, predict: Bool)? {
        guard let row = try db.query("""
            SELECT next_train_at <= $2, next_predict_at <= $2 FROM \(names.jobSchedule) WHERE job = $1 FOR UPDATE SKIP LOCKED
            """, job, now).first else { return nil }
        return (try row.decode(0, as: Bool.self), try row.decode(1, as: Bool.self))
    }

    /// Sets the next training time, the next prediction time, or both; nil keeps a time as it is.
    public func setNext(job: String, trainAt: Date? = nil, predictAt: Date? = nil, on db: isolated PostgresConnection) throws {
        switch (trainAt, predictAt) {
        case (let train?, let predict?):
            try db.execute("UPDATE \(names.jobSchedule) SET next_train_at = $2, next_predict_at = $3, updated_at = now() WHERE job = $1",
                           job, train, predict)
        case (let train?, nil):
            try db.execute("UPDATE \(names.jobSchedule) SET next_train_at = $2, updated_at = now() WHERE job = $1", job, train)
        case (nil, let predict?):
            try db.execute("UPDATE \(names.jobSchedule) SET next_predict_at = $2, updated_at = now() WHERE job = $1", job, predict)
        case (nil, nil):
            break
        }
    }

    /// Makes the job's training or prediction due now (on-demand work from NOTIFY or the shell);
    /// a job without a row gets one, due now for both (the table's defaults).
    public func makeDue(job: String, action: RunKind, on db: isolated PostgresConnection) throws {
        let column = action == .train ? "next_train_at" : "next_predict_at"
        try db.execute("""
            INSERT INTO \(names.jobSchedule) AS s (job) VALUES ($1)
            ON CONFLICT (job) DO UPDATE SET \(column) = now(), updated_at = now()
            """, job)
    }
}

/// What the scheduler reads and changes of one job's schedule, inside its transaction: the seam
/// that lets its decision (`Scheduler.due`) be tested without PostgreSQL. `JobScheduleStore.Bound`
/// is the PostgreSQL implementation.
public protocol JobScheduling {
    func history(job: String) throws -> JobHistory
    func exists(job: String) throws -> Bool
    func insertIfMissing(job: String, nextTrainAt: Date, nextPredictAt: Date) throws
    /// nil when the job has no row or another daemon holds it.
    func lockDue(job: String, now: Date) throws -> (train: Bool, predict: Bool)?
    /// Units of the job queued or running.
    func pendingUnits(job: String) throws -> Int
}

extension JobScheduleStore {
    /// The store bound to a connection inside its transaction, as `JobScheduling`.
    public struct Bound: JobScheduling, Sendable {
        let store: JobScheduleStore
        let queue: WorkQueue
        let connection: PostgresConnection

        public func history(job: String) throws -> JobHistory {
            try connection.assumeIsolated { try store.history(job: job, on: $0) }
        }

        public func exists(job: String) throws -> Bool {
            try connection.assumeIsolated { try store.exists(job: job, on: $0) }
        }

        public func insertIfMissing(job: String, nextTrainAt: Date, nextPredictAt: Date) throws {
            try connection.assumeIsolated { try store.insertIfMissing(job: job, nextTrainAt: nextTrainAt, nextPredictAt: nextPredictAt, on: $0) }
        }

        public func lockDue(job: String, now: Date) throws -> (train: Bool, predict: Bool)? {
            try connection.assumeIsolated { try store.lockDue(job: job, now: now, on: $0) }
        }

        public func pendingUnits(job: String) throws -> Int {
            try connection.assumeIsolated { try queue.pending(job: job, on: $0) }
        }
    }

    /// This store and `queue` on `db`, which must be the connection whose transaction the
    /// caller is in (the methods run on it without hopping).
    public func bound(to db: isolated PostgresConnection, queue: WorkQueue) -> Bound {
        Bound(store: self, queue: queue, connection: db)
    }
}
