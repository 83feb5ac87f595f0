import ForecastConfig
import ForecastStore
import Forecasting
import Foundation
import Logging
import PostgresClient

/// Runs CPU-heavy work on a thread of its own, so that training never occupies the threads
/// of Swift's cooperative pool (where lease renewals, the scheduler and the watchdog run).
public func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: work()) }
        thread.stackSize = 8 << 20
        thread.start()
    }
}

extension JobRunner {
    /// Runs one claimed unit of the work queue. A train unit's results, the completion of its
    /// queue item and the run's counters commit in one transaction, and only while the lease
    /// holds; a predict unit writes series by series (rewriting an origin replaces it, so a
    /// retried unit leaves no duplicates) and completes at the end.
    /// `abandoned` is asked after the computation: a daemon that is stopping writes nothing and
    /// leaves the unit to be claimed again. Returns the forecast rows written.
    @discardableResult
    public func execute(_ item: WorkItem, owner: String, on connection: PostgresConnection,
                        abandoned: @Sendable () -> Bool = { false }) async throws -> Int64 {
        var logger = self.logger
        logger[metadataKey: "run"] = "\(item.runID)"
        if !item.unit.isEmpty { logger[metadataKey: "series"] = "\(item.unit)" }
        var errors: [String] = []
        let written: Int64
        switch item.kind {
        case .train:
            let (unit, points) = try await trainedUnit(for: item, on: connection)
            if abandoned() { throw CancellationError() }
            written = Int64(try await publish(unit, runID: item.runID, pointsRead: Int64(points), completing: (item, owner), on: connection))
            var metadata: Logger.Metadata = ["model": "\(unit.active?.model.cell.rawValue ?? "none")"]
            if let reason = unit.rejected?.model.reason { metadata["rejected"] = "\(reason)" }
            logger.info("unit trained", metadata: metadata)
        case .predict, .backtest:
            // A predict run is this one unit: an attempt after a lost one counts from zero.
            if item.attempts > 1 {
                let runLog = self.runLog
                try await connection.withConnection { db in try runLog.resetCounts(runID: item.runID, on: db) }
            }
            let summary = try await predict(runID: item.runID, on: connection)
            errors = summary.errors
            written = summary.rowsWritten
            let queue = WorkQueue(database)
            try await connection.transaction { tx in try queue.complete(item, owner: owner, on: tx) }
            if !errors.isEmpty { logger.warning("predict finished with errors", metadata: ["errors": "\(errors.prefix(5).joined(separator: "; "))"]) }
        }
        try await finishRunIfDone(item.runID, on: connection, extraErrors: errors)
        return written
    }

    /// Reads the unit's series and trains it on a thread of its own; also returns the rows read,
    /// which count in the run only with the unit's results (a retried unit is counted once).
    func trainedUnit(for item: WorkItem, on connection: PostgresConnection) async throws -> (unit: TrainedUnit, points: Int) {
        let end = now()
        let series = item.unit.isEmpty ? nil : item.unit
        let (outcomes, points, _, newest, ends) = try await readTrainingSeries(end: end, series: series, storage: storage(connection))
        let runLog = self.runLog
        try await connection.withConnection { db in
            // The rows read count with the unit's results (see `publish`); the newest observation now.
            try runLog.addCounts(runID: item.runID, newestObservation: newest, on: db)
        }
        // All of the unit's data is old, or (a global unit) some of its series are.
        let whole = newest.flatMap { dataAge.note(newest: $0, now: end, targets: nil) }.map { (series.map { "series \"\($0)\": " } ?? "") + $0 }
        if let line = whole ?? dataAge.note(seriesEnds: ends, now: end) {
            logger.warning("the data is old", metadata: ["note": "\(line)"])
            try await connection.withConnection { db in try runLog.addNote(runID: item.runID, line, on: db) }
        }
        let trainer = UnitTrainer(plan: plan, readUntil: end), season = plan.season
        // A series without its future-known values is forecast by the fallback, never from an invented future.
        let servingFallback = { [runLog] (unit: TrainedUnit) async throws -> TrainedUnit in
            var unit = unit
            let reasons = trainer.serveFallback(forUnknownFutureIn: &unit)
            if !reasons.isEmpty {
                try await connection.withConnection { db in try runLog.addNote(runID: item.runID, Self.futureNote(reasons), on: db) }
            }
            return unit
        }
        if job.model.scope == .global {
            let ready = outcomes.compactMap { outcome -> RegularSeries? in if case .ready(let s) = outcome { return s } else { return nil } }
            guard !ready.isEmpty else { throw UnitError.nothingToTrain(outcomes.compactMap(\.skipReason).map(\.description).first ?? "no rows") }
            return (try await servingFallback(await onOwnThread { trainer.train(ready, global: true) }), points)
        }
        guard let outcome = outcomes.first(where: { $0.key == item.unit }) ?? outcomes.first else {
            throw UnitError.nothingToTrain("the series has no rows in the training window")
        }
        switch outcome {
        case .ready(let s):
            return (try await servingFallback(await onOwnThread { trainer.train([s], global: false) }), points)
        case .skipped(let skipped):
            guard let s = outcome.fallbackSeries(season: season) else { throw UnitError.nothingToTrain("skipped: \(skipped.reason)") }
            return (trainer.fallback([s], global: false, reason: skipped.reason.description, rejected: nil, points: s.observedCount), points)
        }
    }

    /// Closes a run once none of its units is queued or running: succeeded, partial or failed
    /// by its counters, with the errors of the units that failed for good.
    public func finishRunIfDone(_ runID: Int64, on connection: PostgresConnection, extraErrors: [String]) async throws {
        let queue = WorkQueue(database), runLog = self.runLog
        try await connection.transaction { tx in
            // The row lock serialises the last completions of a run, so exactly one closes it.
            guard let (total, failed) = try runLog.lockOpen(runID: runID, on: tx), try queue.pending(runID: runID, on: tx) == 0 else { return }
            let failures = try queue.failures(runID: runID, on: tx)
            let errors = extraErrors + failures.map { "\($0.unit.isEmpty ? "unit" : "series \"\($0.unit)\""): \($0.error)" }
            let status: RunStatus = failed == 0 && failures.isEmpty && total > 0 ? .succeeded : (failed < total ? .partial : .failed)
            try runLog.finish(runID: runID, status: status, error: errors.isEmpty ? nil : String(errors.joined(separator: "\n").prefix(8000)), on: tx)
        }
    }

    /// Records a unit that failed: retried after a backoff while attempts remain, else failed
    /// for good and counted in its run.
    public func recordFailure(_ item: WorkItem, owner: String, error: any Error, on connection: PostgresConnection) async throws {
        let queue = WorkQueue(database), runLog = self.runLog
        // 10 s, 40 s, 90 s, ... capped at 10 minutes.
        let backoff = min(600, 10 * Double(item.attempts * item.attempts))
        let message = String(describing: error)
        let permanent = error is UnitError
        let retried = try await connection.transaction { tx -> Bool in
            let retry = try queue.fail(permanent ? WorkItem(workID: item.workID, job: item.job, kind: item.kind, unit: item.unit, runID: item.runID,
                                                            attempts: item.maxAttempts, maxAttempts: item.maxAttempts) : item,
                                       owner: owner, error: message, backoff: backoff, on: tx)
            if !retry { try runLog.addCounts(runID: item.runID, seriesTotal: 1, seriesFailed: 1, on: tx) }
            return retry
        }
        logger.error("unit failed", metadata: ["run": "\(item.runID)", "series": "\(item.unit)", "error": "\(message)",
                                               "retry": "\(retried ? "in \(Int(backoff))s" : "no")"])
        if !retried { try await finishRunIfDone(item.runID, on: connection, extraErrors: []) }
    }

    /// Failures that retrying cannot mend.
    public enum UnitError: Error, CustomStringConvertible {
        case nothingToTrain(String)
        public var description: String {
            switch self {
            case .nothingToTrain(let why): return why
            }
        }
    }
}
