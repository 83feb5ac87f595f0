import Foundation
import PostgresClient
@testable import ForecastConfig
@testable import ForecastJobs
@testable import ForecastStore
@testable import Forecasting

/// `JobStorage` in memory: source rows, runs, models, states, forecasts and claimed units.
/// Lets the job logic (train, predict, run --once, backtest, unit execution) be tested
/// without PostgreSQL, as `InMemorySchedule` does for the scheduler's decision. It keeps the
/// same rules as the store where the logic relies on them: one active model per series (or
/// one global), a published unit's state replacing the series' old one, a failed write
/// changing nothing.
actor InMemoryJobStorage: JobStorage {
    struct Run: Equatable {
        var kind: RunKind
        var trigger: RunTrigger?
        var started: Date
        var status: RunStatus = .running
        var counts = RunCounts()
        var notes: [String] = []
        var error: String?
    }

    enum QueueState: Equatable { case running, completed, available, failed(String) }

    let job: String
    let grid: TimeGrid
    var points: [SourcePoint]
    /// Thrown by every read of the source.
    var sourceFailure: SourceError?
    /// Units and predict batches with one of these series cannot be written.
    var unwritable: Set<String> = []
    /// Whether the database still answers (`isConnected`).
    var connected = true
    /// The clock that dates runs (for `history` and `lastStart`).
    var clock: Date

    private(set) var runs: [Int64: Run] = [:]
    private(set) var models: [StoredModel] = []
    private(set) var states: [String: SeriesStateRow] = [:]
    private(set) var predictions: [PredictionRow] = []
    private(set) var published: [TrainedUnit] = []
    private(set) var backtests: [Int64: [BacktestResultRow]] = [:]
    /// Units of the work queue by work id: their state and the run they belong to.
    private(set) var queue: [Int64: (runID: Int64, unit: String, state: QueueState)] = [:]

    init(points: [SourcePoint], plan: JobPlan, clock: Date = Date(timeIntervalSince1970: 0)) {
        job = plan.job.name
        grid = plan.grid
        self.points = points
        self.clock = clock
    }

    func failReads(with error: SourceError) { sourceFailure = error }
    func refuseWrites(of series: Set<String>) { unwritable = series }
    /// Writes predict batches series by series, as PostgreSQL's storage writes one part per
    /// lock stripe: a refused series fails alone (`PartialBatchWrite`).
    var writesInParts = false
    func writeInParts() { writesInParts = true }
    func add(_ more: [SourcePoint]) { points += more }
    func setClock(_ date: Date) { clock = date }
    func dropStates() { states = [:] }
    func disconnect() { connected = false }

    /// A run the daemon queued, with its units, as the scheduler would leave it.
    func queueRun(kind: RunKind, units: [String]) -> [WorkItem] {
        let runID = Int64(runs.count + 1)
        runs[runID] = Run(kind: kind, trigger: nil, started: clock)
        return units.map { unit in
            let workID = Int64(queue.count + 1)
            queue[workID] = (runID, unit, .running)
            return WorkItem(workID: workID, job: job, kind: kind, unit: unit, runID: runID, attempts: 1, maxAttempts: 3)
        }
    }

    var activeModels: [StoredModel] { models.filter { $0.status == .active } }

    // MARK: the source

    func readSeries(from: Date, to: Date, among keys: [String]?, settings: SeriesSettings,
                    keep: (@Sendable (SourcePoint) -> Bool)?) async throws -> SeriesRead {
        if let sourceFailure { throw sourceFailure }
        let wanted = keys.map(Set.init)
        let rows = points.filter { $0.time >= from && $0.time < to && (wanted?.contains($0.series) ?? true) }
            .sorted { ($0.series, $0.time) < ($1.series, $1.time) }
        return try SeriesRead.build(settings: settings, keep: keep) { body in
            for point in rows { try body(point) }
            return rows.count
        }
    }

    func seriesEnds(before cutoff: Date, end: Date, series: String?) async throws -> [String: Date] {
        if let sourceFailure { throw sourceFailure }
        var newest: [String: Date] = [:]
        for point in points where point.value != nil && point.time < end && (series.map { point.series == $0 } ?? true) {
            newest[point.series] = max(newest[point.series] ?? point.time, point.time)
        }
        return newest.filter { $0.value < cutoff }
    }

    func unreadRows(from: Date, to: Date, futureFrom: Date) async throws -> UnreadRows { UnreadRows(before: futureFrom) }

    // MARK: runs

    func prepareHistory(asOf: Date) async throws {}

    func startRun(kind: RunKind, trigger: RunTrigger?, note: String?) async throws -> Int64 {
        let runID = Int64(runs.count + 1)
        runs[runID] = Run(kind: kind, trigger: trigger, started: clock, notes: note.map { [$0] } ?? [])
        return runID
    }

    func addCounts(runID: Int64, _ counts: RunCounts) async throws {
        guard var run = runs[runID] else { throw PostgresError(.usage, "no run \(runID)") }
        run.counts.seriesTotal += counts.seriesTotal
        run.counts.seriesFailed += counts.seriesFailed
        run.counts.pointsRead += counts.pointsRead
        run.counts.rowsWritten += counts.rowsWritten
        run.counts.newestObservation = [run.counts.newestObservation, counts.newestObservation].compactMap { $0 }.max()
        runs[runID] = run
    }

    func resetCounts(runID: Int64) async throws {
        runs[runID]?.counts = RunCounts()
    }

    func addNote(runID: Int64, _ note: String) async throws {
        if runs[runID]?.notes.contains(note) == false { runs[runID]?.notes.append(note) }
    }

    func finish(_ summary: RunSummary, error: String?) async throws {
        guard var run = runs[summary.runID] else { throw PostgresError(.usage, "no run \(summary.runID)") }
        run.status = summary.status
        run.counts.seriesTotal = summary.seriesTotal
        run.counts.seriesFailed = summary.seriesFailed
        run.counts.pointsRead = summary.pointsRead
        run.counts.rowsWritten = summary.rowsWritten
        run.error = error
        runs[summary.runID] = run
    }

    func closeRunIfDone(runID: Int64, _ close: @Sendable (RunProgress) -> (RunStatus, String?)) async throws {
        guard let run = runs[runID], run.status == .running else { return }
        let units = queue.values.filter { $0.runID == runID }
        guard !units.contains(where: { $0.state == .running || $0.state == .available }) else { return }
        let failures = units.compactMap { unit -> WorkFailure? in
            if case .failed(let error) = unit.state { return WorkFailure(unit: unit.unit, error: error) } else { return nil }
        }.sorted { $0.unit < $1.unit }
        let (status, error) = close(RunProgress(seriesTotal: run.counts.seriesTotal, seriesFailed: run.counts.seriesFailed, failures: failures))
        runs[runID]?.status = status
        runs[runID]?.error = error
    }

    func history() async throws -> JobHistory {
        let through = runs.values.filter { $0.status == .succeeded || $0.status == .partial }
        return JobHistory(activeModels: activeModels.count, lastTrainingStart: through.filter { $0.kind == .train }.map(\.started).max(),
                          lastRunStart: through.map(\.started).max())
    }

    func lastStart(trigger: RunTrigger) async throws -> Date? {
        runs.values.filter { $0.trigger == trigger }.map(\.started).max()
    }

    // MARK: models and forecasts

    func activeModels(includeWeights: Bool) async throws -> [StoredModel] {
        activeModels.map { model in
            var model = model
            if !includeWeights { model.weights = nil }
            return model
        }
    }

    func weights(modelIDs: [Int64]) async throws -> [Int64: [UInt8]] {
        Dictionary(models.compactMap { m in m.weights.flatMap { modelIDs.contains(m.modelID) ? (m.modelID, $0) : nil } }, uniquingKeysWith: { a, _ in a })
    }

    func activeStates(keep: @Sendable (SeriesStateRow) -> Bool) async throws -> [SeriesStateRow] {
        let active = Set(activeModels.map(\.modelID))
        return states.values.filter { active.contains($0.modelID) && keep($0) }.sorted { $0.series < $1.series }
    }

    func forecastSeries() async throws -> Set<String> { Set(predictions.map(\.series)) }

    func publish(_ unit: TrainedUnit, runID: Int64, pointsRead: Int64, completing claim: WorkClaim?) async throws -> Int {
        if let refused = unit.series.first(where: unwritable.contains) { throw PostgresError(.usage, "cannot write series \(refused)") }
        if let claim, queue[claim.item.workID]?.state != .running { throw WorkQueueError.leaseLost(workID: claim.item.workID) }
        published.append(unit)
        if let rejected = unit.rejected { _ = store(rejected.model) }
        var written = 0
        if let active = unit.active {
            let id = store(active.model)
            let rows = unit.forecasts.flatMap { JobRunner.rows($0, job: job, modelID: id) }
            predictions += rows
            written = rows.count
            for row in unit.stateRows(modelID: id, grid: grid) { states[row.series] = row }
        }
        try await addCounts(runID: runID, RunCounts(seriesTotal: unit.series.count, seriesFailed: unit.active == nil ? unit.series.count : 0,
                                                    pointsRead: pointsRead, rowsWritten: Int64(written)))
        if let claim { queue[claim.item.workID]?.state = .completed }
        return written
    }

    /// Stores a model version; an active one retires the active model of its series (or the
    /// global one), and a global one the job's per-series networks (`ModelStore.retireSeriesNetworks`).
    private func store(_ model: NewModel) -> Int64 {
        let id = Int64(models.count + 1)
        if model.status == .active {
            for i in models.indices where models[i].status == .active
                && (models[i].series == model.series || (model.series == nil && models[i].cell.isNetwork)) {
                models[i].status = .retired
            }
        }
        let version = models.filter { $0.series == model.series }.count + 1
        models.append(StoredModel(modelID: id, job: model.job, series: model.series, version: version, cell: model.cell,
                                  hyperparameters: model.hyperparameters, status: model.status, reason: model.reason, trainedAt: clock,
                                  dataStart: model.dataStart, dataEnd: model.dataEnd, trainSeconds: model.trainSeconds, epochs: model.epochs,
                                  weights: model.weights))
        return id
    }

    func write(_ batch: PredictBatch, runID: Int64) async throws -> Int {
        if writesInParts, batch.series.count > 1 {
            var written = 0, failedBeforeWriting = 0, unwritten: [String] = [], firstError: (any Error)?
            for key in batch.series {
                let part = PredictBatch(predictions: batch.predictions.filter { $0.series == key }, states: batch.states.filter { $0.series == key },
                                        observed: batch.observed.filter { $0.key == key }, series: [key], failed: batch.failed.filter { $0 == key })
                do {
                    written += try await write(part, runID: runID)
                    failedBeforeWriting += part.seriesFailed
                } catch {
                    unwritten.append(key)
                    firstError = firstError ?? error
                }
            }
            guard let firstError else { return written }
            guard unwritten.count < batch.series.count else { throw firstError }
            throw PartialBatchWrite(written: written, failedBeforeWriting: failedBeforeWriting, unwritten: unwritten, underlying: firstError)
        }
        if let refused = batch.predictions.map(\.series).first(where: unwritable.contains) {
            throw PostgresError(.usage, "cannot write series \(refused)")
        }
        // An origin written again replaces the earlier forecasts of that origin.
        let origins = Set(batch.predictions.map { "\($0.series)@\($0.issuedAt.timeIntervalSince1970)" })
        predictions.removeAll { origins.contains("\($0.series)@\($0.issuedAt.timeIntervalSince1970)") }
        predictions += batch.predictions
        for row in batch.states { states[row.series] = row }
        try await addCounts(runID: runID, RunCounts(seriesTotal: batch.seriesTotal, seriesFailed: batch.seriesFailed,
                                                    rowsWritten: Int64(batch.predictions.count)))
        return batch.predictions.count
    }

    func writeBacktest(_ rows: [BacktestResultRow], runID: Int64) async throws { backtests[runID] = rows }

    // MARK: the work queue

    func complete(_ claim: WorkClaim) async throws {
        guard queue[claim.item.workID]?.state == .running else { throw WorkQueueError.leaseLost(workID: claim.item.workID) }
        queue[claim.item.workID]?.state = .completed
    }

    func fail(_ claim: WorkClaim, error: String, backoff: Double, permanent: Bool) async throws -> Bool {
        let retry = !permanent && claim.item.attempts < claim.item.maxAttempts
        queue[claim.item.workID]?.state = retry ? .available : .failed(error)
        if !retry { try await addCounts(runID: claim.item.runID, RunCounts(seriesTotal: 1, seriesFailed: 1)) }
        return retry
    }

    var isConnected: Bool { connected }
}
