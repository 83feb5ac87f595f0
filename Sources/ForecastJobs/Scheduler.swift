import ForecastConfig
import ForecastStore
import Foundation
import PostgresClient

/// Turns due schedules into queued units. Every daemon ticks every job; the schedule row is
/// taken with `FOR UPDATE SKIP LOCKED`, so one daemon queues a job's work while the others
/// pass it by, and the times of the next runs live in the database, so a restart neither
/// repeats nor skips work.
public struct Scheduler: Sendable {
    public let database: DatabaseSettings
    public let maxAttempts: Int
    /// Told of the runs the scheduler closes itself (a source that fails, no rows to train).
    public var runObserver: (any RunObserver)?

    public init(database: DatabaseSettings, maxAttempts: Int, runObserver: (any RunObserver)? = nil) {
        self.database = database
        self.maxAttempts = maxAttempts
        self.runObserver = runObserver
    }

    /// Queues what is due for `runner`'s job at `now`; returns what it queued, for the log.
    @discardableResult
    public func tick(_ runner: JobRunner, now: Date, on connection: PostgresConnection) async throws -> String? {
        let job = runner.job, plan = runner.plan, maxAttempts = self.maxAttempts
        let runLog = RunLog(database, observer: runObserver), queue = WorkQueue(database), reader = SourceReader(job: job)
        let schedule = JobScheduleStore(database), rule = DueRule(job: job)
        return try await connection.transaction { tx -> String? in
            guard let (trainDue, _) = try Self.due(job, now: now, in: schedule.bound(to: tx, queue: queue)) else { return nil }
            let nextPredict = rule.nextPrediction(afterRunAt: now)
            if trainDue {
                let units: [String]
                if job.model.scope == .global {
                    units = [""]
                } else {
                    do {
                        // A savepoint: the user's source failing must not abort the schedule's transaction.
                        units = try tx.transaction { inner in
                            let start = plan.trainingStart(end: now)
                            // With the series of the window, those that stopped before it: each
                            // unit trains its series from its own end (`readTrainingSeries`).
                            let stopped = try reader.seriesEnds(before: start, end: now, on: inner)
                            var rows = try reader.seriesRows(from: start, to: now, on: inner)
                            // Series that stopped before the window are counted in the window
                            // that ends with the newest of them, as they will be read.
                            if job.model.scope == .auto, let newest = stopped.values.max() {
                                let counted = Set(rows.map(\.key))
                                rows += try reader.seriesRows(from: plan.trainingStart(end: now, newest: newest), to: now, on: inner)
                                    .filter { stopped[$0.key] != nil && !counted.contains($0.key) }
                            }
                            let keys = Set(rows.map(\.key)).union(stopped.keys)
                            // `auto` chooses here, from the rows each series has in the window;
                            // the units carry the choice ("" is the global unit).
                            let choice = plan.scope(seriesCount: keys.count, observations: rows.map(\.rows))
                            return choice.global ? [""] : keys.sorted()
                        }
                    } catch let error as SourceError {
                        let runID = try runLog.start(job: job.name, kind: .train, on: tx)
                        try runLog.finish(runID: runID, status: .failed, error: error.description, on: tx)
                        try schedule.setNext(job: job.name, trainAt: nextPredict, on: tx)
                        runner.logger.error("train run failed: the source query failed", metadata: ["run": "\(runID)", "error": "\(error)"])
                        return nil
                    }
                }
                // Rows the units will not use (NULL keys or times, future rows), said once per run.
                let unread = try? tx.transaction { inner in try reader.unreadRows(from: plan.trainingStart(end: now), to: now, on: inner) }
                let note = unread.flatMap { $0.isEmpty ? nil : $0.description }
                if let note { runner.logger.warning("source rows not used: \(note)") }
                let runID = try runLog.start(job: job.name, kind: .train, note: note, on: tx)
                if units.isEmpty {
                    try runLog.finish(runID: runID, status: .failed, error: "the source has no rows in the training window", on: tx)
                    runner.logger.warning("train run failed: the source has no rows in the training window", metadata: ["run": "\(runID)"])
                } else {
                    try queue.enqueue(job: job.name, kind: .train, units: units, runID: runID, maxAttempts: maxAttempts, on: tx)
                }
                // Training publishes forecasts too, so the next prediction waits a full interval.
                try schedule.setNext(job: job.name, trainAt: rule.nextTraining(afterTrainingAt: now), predictAt: nextPredict, on: tx)
                return "train run \(runID): \(units.count) unit(s) queued"
            }
            // A configuration that changed since the active models were trained (horizon,
            // frequency, quantiles, cell, ...) retrains them before the prediction, which would
            // refuse them; as with drift, the prediction stays due and follows the retraining.
            let misfits = ConfigFitCheck(plan: plan).dueForRetraining(
                try ModelStore(database).activeModels(job: job.name, includeWeights: false, on: tx),
                lastConfigRun: try runLog.lastStart(job: job.name, trigger: .config, on: tx))
            let units = ConfigFitCheck(plan: plan).retrainUnits(misfits)
            if !units.isEmpty {
                let note = misfits.map(\.description).joined(separator: "\n")
                let runID = try runLog.start(job: job.name, kind: .train, trigger: .config, note: note, on: tx)
                try queue.enqueue(job: job.name, kind: .train, units: units, runID: runID, maxAttempts: maxAttempts, on: tx)
                return "config changed: train run \(runID) queued: \(note)"
            }
            // Drift is judged when a prediction is due (actuals change only when units read the
            // source). Drifted units are retrained first; the prediction stays due and is queued
            // by the first tick after the retraining, so it forecasts with the new models.
            let drifted = try DriftDetector(job: job, database: database).findings(on: tx)
            if !drifted.isEmpty {
                let note = drifted.map(\.description).joined(separator: "\n")
                let runID = try runLog.start(job: job.name, kind: .train, trigger: .drift, note: note, on: tx)
                try queue.enqueue(job: job.name, kind: .train, units: drifted.map(\.unit), runID: runID, maxAttempts: maxAttempts, on: tx)
                return "drift: train run \(runID) queued: \(note)"
            }
            let runID = try runLog.start(job: job.name, kind: .predict, on: tx)
            try queue.enqueue(job: job.name, kind: .predict, units: [""], runID: runID, maxAttempts: maxAttempts, on: tx)
            try schedule.setNext(job: job.name, predictAt: nextPredict, on: tx)
            return "predict run \(runID) queued"
        }
    }

    /// What is due of `job` at `now`, its schedule row locked for the caller's transaction; nil
    /// when nothing is, another daemon holds the row, or work of the job is still queued or
    /// running. A job seen for the first time continues from its history: the next runs are
    /// due when the schedule comes round after the last ones that went through (e.g.
    /// `forecastd train` from a shell).
    static func due(_ job: JobSettings, now: Date, in schedule: some JobScheduling) throws -> (train: Bool, predict: Bool)? {
        let rule = DueRule(job: job)
        if try !schedule.exists(job: job.name) {
            let history = try schedule.history(job: job.name)
            try schedule.insertIfMissing(job: job.name, nextTrainAt: rule.nextTraining(after: history, now: now),
                                         nextPredictAt: rule.nextPrediction(after: history, now: now))
        }
        guard let due = try schedule.lockDue(job: job.name, now: now), due.train || due.predict else { return nil }
        // Work of this job still queued or running: let it finish before queueing more.
        guard try schedule.pendingUnits(job: job.name) == 0 else { return nil }
        return due
    }

    /// Makes a job's training or prediction due now (on-demand work from NOTIFY or the shell).
    public func makeDue(job: String, action: RunKind, on connection: PostgresConnection) async throws {
        let schedule = JobScheduleStore(database)
        try await connection.withConnection { db in try schedule.makeDue(job: job, action: action, on: db) }
    }
}
