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
        try await execute(WorkClaim(item: item, owner: owner), storage: storage(connection), abandoned: abandoned)
    }

    /// `execute` on any storage.
    @discardableResult
    public func execute(_ claim: WorkClaim, storage: some JobStorage, abandoned: @Sendable () -> Bool = { false }) async throws -> Int64 {
        let item = claim.item
        var logger = self.logger
        logger[metadataKey: "run"] = "\(item.runID)"
        if !item.unit.isEmpty { logger[metadataKey: "series"] = "\(item.unit)" }
        var errors: [String] = []
        let written: Int64
        switch item.kind {
        case .train:
            let (unit, points) = try await trainedUnit(for: item, storage: storage)
            if abandoned() { throw CancellationError() }
            written = Int64(try await storage.publish(unit, runID: item.runID, pointsRead: Int64(points), completing: claim))
            var metadata: Logger.Metadata = ["model": "\(unit.active?.model.cell.rawValue ?? "none")"]
            if let reason = unit.rejected?.model.reason { metadata["rejected"] = "\(reason)" }
            logger.info("unit trained", metadata: metadata)
        case .predict, .backtest:
            // A predict run is this one unit: an attempt after a lost one counts from zero.
            if item.attempts > 1 { try await storage.resetCounts(runID: item.runID) }
            let summary = try await predict(runID: item.runID, storage: storage)
            errors = summary.errors
            written = summary.rowsWritten
            try await storage.complete(claim)
            if !errors.isEmpty { logger.warning("predict finished with errors", metadata: ["errors": "\(errors.prefix(5).joined(separator: "; "))"]) }
        }
        try await finishRunIfDone(item.runID, storage: storage, extraErrors: errors)
        return written
    }

    /// Reads the unit's series and trains it on a thread of its own; also returns the rows read,
    /// which count in the run only with the unit's results (a retried unit is counted once).
    func trainedUnit(for item: WorkItem, storage: some JobStorage) async throws -> (unit: TrainedUnit, points: Int) {
        let end = now()
        let series = item.unit.isEmpty ? nil : item.unit
        let (outcomes, points, _, newest, ends) = try await readTrainingSeries(end: end, series: series, storage: storage)
        // The rows read count with the unit's results (see `JobStorage.publish`); the newest observation now.
        try await storage.addCounts(runID: item.runID, RunCounts(newestObservation: newest))
        // All of the unit's data is old, or (a global unit) some of its series are.
        let whole = newest.flatMap { dataAge.note(newest: $0, now: end, targets: nil) }.map { (series.map { "series \"\($0)\": " } ?? "") + $0 }
        if let line = whole ?? dataAge.note(seriesEnds: ends, now: end) {
            logger.warning("the data is old", metadata: ["note": "\(line)"])
            try await storage.addNote(runID: item.runID, line)
        }
        let trainer = UnitTrainer(plan: plan, readUntil: end), season = plan.season
        // A series without its future-known values is forecast by the fallback, never from an invented future.
        let servingFallback = { (unit: TrainedUnit) async throws -> TrainedUnit in
            var unit = unit
            let reasons = trainer.serveFallback(forUnknownFutureIn: &unit)
            if !reasons.isEmpty { try await storage.addNote(runID: item.runID, Self.futureNote(reasons)) }
            return unit
        }
        let ready = outcomes.compactMap(\.readySeries)
        // The unit carries the scope: "" is the global unit (queued by a global job, or by `auto`
        // when it chose global); the choice is described again from what the unit read.
        if job.model.scope == .global || (job.model.scope == .auto && series == nil) {
            guard !ready.isEmpty else { throw UnitError.nothingToTrain(outcomes.compactMap(\.skipReason).map(\.description).first ?? "no rows") }
            var scope = plan.scope(seriesCount: outcomes.count, observations: ready.map(\.observedCount))
            if !scope.global { scope = ScopeChoice(global: true, reason: "auto: queued as one global unit") }
            let chosen = scope
            return (try await servingFallback(await onOwnThread { trainer.train(ready, scope: chosen) }), points)
        }
        guard let outcome = outcomes.first(where: { $0.key == item.unit }) ?? outcomes.first else {
            throw UnitError.nothingToTrain("the series has no rows in the training window")
        }
        switch outcome {
        case .ready(let s):
            let scope = job.model.scope == .auto ? ScopeChoice(global: false, reason: "auto: queued as one unit per series")
                : plan.scope(seriesCount: 1, observations: [s.observedCount])
            return (try await servingFallback(await onOwnThread { trainer.train([s], scope: scope) }), points)
        case .skipped(let skipped):
            guard let s = outcome.fallbackSeries(season: season) else { throw UnitError.nothingToTrain("skipped: \(outcome.unservedReason(season: season))") }
            return (trainer.fallback([s], global: false, reason: skipped.reason.description, rejected: nil, points: s.observedCount), points)
        }
    }

    /// Closes a run once none of its units is queued or running: succeeded, partial or failed
    /// by its counters, with the errors of the units that failed for good.
    public func finishRunIfDone(_ runID: Int64, on connection: PostgresConnection, extraErrors: [String]) async throws {
        try await finishRunIfDone(runID, storage: storage(connection), extraErrors: extraErrors)
    }

    func finishRunIfDone(_ runID: Int64, storage: some JobStorage, extraErrors: [String]) async throws {
        try await storage.closeRunIfDone(runID: runID) { progress in
            let failures = progress.failures
            let errors = extraErrors + failures.map { "\($0.unit.isEmpty ? "unit" : "series \"\($0.unit)\""): \($0.error)" }
            let status: RunStatus = progress.seriesFailed == 0 && failures.isEmpty && progress.seriesTotal > 0 ? .succeeded
                : (progress.seriesFailed < progress.seriesTotal ? .partial : .failed)
            return (status, errors.isEmpty ? nil : String(errors.joined(separator: "\n").prefix(8000)))
        }
    }

    /// Records a unit that failed: retried after a backoff while attempts remain, else failed
    /// for good and counted in its run.
    public func recordFailure(_ item: WorkItem, owner: String, error: any Error, on connection: PostgresConnection) async throws {
        try await recordFailure(WorkClaim(item: item, owner: owner), error: error, storage: storage(connection))
    }

    func recordFailure(_ claim: WorkClaim, error: any Error, storage: some JobStorage) async throws {
        let item = claim.item
        // 10 s, 40 s, 90 s, ... capped at 10 minutes.
        let backoff = min(600, 10 * Double(item.attempts * item.attempts))
        let message = String(describing: error)
        let retried = try await storage.fail(claim, error: message, backoff: backoff, permanent: error is UnitError)
        logger.error("unit failed", metadata: ["run": "\(item.runID)", "series": "\(item.unit)", "error": "\(message)",
                                               "retry": "\(retried ? "in \(Int(backoff))s" : "no")"])
        if !retried { try await finishRunIfDone(item.runID, storage: storage, extraErrors: []) }
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
