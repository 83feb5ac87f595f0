import ForecastConfig
import ForecastStore
import Forecasting
import Foundation
import PostgresClient

/// Series read from a job's source and laid on its grid.
public struct SeriesRead: Sendable {
    public var outcomes: [SeriesOutcome]
    /// Source rows used (those `keep` accepted).
    public var points: Int
    /// Source rows delivered, used or not: what a predict cycle counts as read.
    public var rowsRead: Int
    /// The time of the newest row used with a value.
    public var newest: Date?
    /// Keys of the rows `keep` refused.
    public var refusedKeys: Set<String>

    public init(outcomes: [SeriesOutcome], points: Int, rowsRead: Int? = nil, newest: Date?, refusedKeys: Set<String> = []) {
        self.outcomes = outcomes
        self.points = points
        self.rowsRead = rowsRead ?? points
        self.newest = newest
        self.refusedKeys = refusedKeys
    }

    /// Lays `points` on the grid with `settings`: the one loop both storages read through.
    public static func build(settings: SeriesSettings, keep: (@Sendable (SourcePoint) -> Bool)?,
                             _ feed: ((SourcePoint) throws -> Void) throws -> Int) rethrows -> SeriesRead {
        var builder = SeriesBuilder(settings: settings)
        var newest: Date?, points = 0, refused = Set<String>()
        let delivered = try feed { point in
            if let keep, !keep(point) {
                refused.insert(point.series)
                return
            }
            points += 1
            if point.value != nil, newest.map({ point.time > $0 }) ?? true { newest = point.time }
            builder.add(key: point.series, time: point.time, value: point.value, covariates: point.covariates)
        }
        return SeriesRead(outcomes: builder.finish(), points: points, rowsRead: delivered, newest: newest, refusedKeys: refused)
    }
}

/// What to add to a run's counters (`runs`); zero adds nothing.
public struct RunCounts: Sendable, Equatable {
    public var seriesTotal = 0
    public var seriesFailed = 0
    public var pointsRead: Int64 = 0
    public var rowsWritten: Int64 = 0
    /// Kept when newer than the run's.
    public var newestObservation: Date?

    public init(seriesTotal: Int = 0, seriesFailed: Int = 0, pointsRead: Int64 = 0, rowsWritten: Int64 = 0, newestObservation: Date? = nil) {
        self.seriesTotal = seriesTotal
        self.seriesFailed = seriesFailed
        self.pointsRead = pointsRead
        self.rowsWritten = rowsWritten
        self.newestObservation = newestObservation
    }
}

/// What one batch of a predict cycle writes, in one transaction.
public struct PredictBatch: Sendable {
    public var predictions: [PredictionRow]
    public var states: [SeriesStateRow]
    /// What the batch's series read (the new steps only, when reading on), kept as actuals.
    public var observed: [RegularSeries]
    /// The batch's series (not those put back to be read again), and those of them that
    /// failed, for the run's counters.
    public var series: [String]
    public var failed: [String]

    public var seriesTotal: Int { series.count }
    public var seriesFailed: Int { failed.count }

    /// The batch cut by lock stripe (`PredictionWriter.stripe(of:)`), parts without series
    /// left out: each part is whole for its series (forecasts, state, actuals, counters), so
    /// the parts can be written in transactions of their own, at once.
    func byStripe() -> [(stripe: Int, part: PredictBatch)] {
        var parts = (0..<PredictionWriter.stripes).map { _ in PredictBatch(predictions: [], states: [], observed: [], series: [], failed: []) }
        for row in predictions { parts[PredictionWriter.stripe(of: row.series)].predictions.append(row) }
        for row in states { parts[PredictionWriter.stripe(of: row.series)].states.append(row) }
        for series in observed { parts[PredictionWriter.stripe(of: series.key)].observed.append(series) }
        for key in series { parts[PredictionWriter.stripe(of: key)].series.append(key) }
        for key in failed { parts[PredictionWriter.stripe(of: key)].failed.append(key) }
        return parts.enumerated().map { (stripe: $0.offset, part: $0.element) }
            .filter { !$0.part.series.isEmpty || !$0.part.predictions.isEmpty || !$0.part.observed.isEmpty }
    }
}

/// A batch written in parts at once of which some committed and one failed: the committed
/// parts' series are served, the failed part's series are not (each part is whole for its
/// series, so no series is half-written).
public struct PartialBatchWrite: Error, CustomStringConvertible {
    /// Rows the committed parts wrote, and their series that had failed before writing.
    public var written: Int
    public var failedBeforeWriting: Int
    /// The failed part's series.
    public var unwritten: [String]
    public var underlying: any Error

    public var description: String { "\(unwritten.count) series not written: \(underlying)" }
}

/// A unit of the work queue, held by `owner` under a lease.
public struct WorkClaim: Sendable, Equatable {
    public var item: WorkItem
    public var owner: String

    public init(item: WorkItem, owner: String) {
        self.item = item
        self.owner = owner
    }
}

/// Where a queued run stands once none of its units is queued or running.
public struct RunProgress: Sendable, Equatable {
    public var seriesTotal: Int
    public var seriesFailed: Int
    /// Units that failed for good, with their last errors.
    public var failures: [WorkFailure]
}

public struct WorkFailure: Sendable, Equatable {
    public var unit: String
    public var error: String
}

/// What a job's runs read and write: the seam between the job logic (`JobRunner`'s train,
/// predict, backtest and unit execution: which series to read over which window, what to
/// train or forecast, how to count and report) and PostgreSQL. `PostgresJobStorage` implements
/// it on the store layer's types, where all the SQL lives; tests give the same logic an
/// in-memory storage, as `JobScheduling` does for the scheduler's decision.
public protocol JobStorage: Sendable {
    // MARK: the source

    /// The job's series from rows with `from <= time < to` (of `keys` only, when given), of
    /// the rows `keep` accepts (all when nil), laid on the grid with `settings`.
    func readSeries(from: Date, to: Date, among keys: [String]?, settings: SeriesSettings,
                    keep: (@Sendable (SourcePoint) -> Bool)?) async throws -> SeriesRead
    /// The series whose newest value before `end` lies before `cutoff`, with its time
    /// (`SourceReader.seriesEnds`).
    func seriesEnds(before cutoff: Date, end: Date, series: String?) async throws -> [String: Date]
    /// What a read of [from, to) cannot use (`SourceReader.unreadRows`).
    func unreadRows(from: Date, to: Date, futureFrom: Date) async throws -> UnreadRows

    // MARK: runs

    /// Makes sure forecasts issued around `asOf` have somewhere to go (history partitions).
    func prepareHistory(asOf: Date) async throws
    /// Opens a run that this process works itself (not through the queue).
    func startRun(kind: RunKind, trigger: RunTrigger?, note: String?) async throws -> Int64
    func addCounts(runID: Int64, _ counts: RunCounts) async throws
    /// Sets a running run's counters back to zero (a predict unit tried again counts afresh).
    func resetCounts(runID: Int64) async throws
    func addNote(runID: Int64, _ note: String) async throws
    func finish(_ summary: RunSummary, error: String?) async throws
    /// Closes a queued run once none of its units is queued or running, with the status and
    /// error `close` gives from its counters and failed units; nothing when it is closed
    /// already or has units left. Of two last completions at once, exactly one closes it.
    func closeRunIfDone(runID: Int64, _ close: @Sendable (RunProgress) -> (RunStatus, String?)) async throws
    /// The job's active models and the start of its last runs that went through.
    func history() async throws -> JobHistory
    /// When the job's last run with `trigger` started.
    func lastStart(trigger: RunTrigger) async throws -> Date?

    // MARK: models and forecasts

    func activeModels(includeWeights: Bool) async throws -> [StoredModel]
    func weights(modelIDs: [Int64]) async throws -> [Int64: [UInt8]]
    /// The saved states of the job's active models that `keep` accepts.
    func activeStates(keep: @Sendable (SeriesStateRow) -> Bool) async throws -> [SeriesStateRow]
    /// The series the job has a forecast of (`PredictionWriter.forecastSeries`).
    func forecastSeries() async throws -> Set<String>
    /// Writes one trained unit in one transaction: its actuals, models, metrics, history,
    /// forecasts, states and the run's counters (with `pointsRead`), and completes `claim`
    /// when given (and only while its lease holds). Returns the forecast rows written.
    func publish(_ unit: TrainedUnit, runID: Int64, pointsRead: Int64, completing claim: WorkClaim?) async throws -> Int
    /// Writes a predict batch in one transaction; returns the forecast rows written.
    func write(_ batch: PredictBatch, runID: Int64) async throws -> Int
    func writeBacktest(_ rows: [BacktestResultRow], runID: Int64) async throws

    // MARK: the work queue

    /// Marks a claimed unit completed (throws when its lease is lost).
    func complete(_ claim: WorkClaim) async throws
    /// Records a failed attempt: available again after `backoff` seconds unless `permanent` or
    /// its attempts are spent, in which case it counts as a failed series in its run. Returns
    /// whether it will be retried.
    func fail(_ claim: WorkClaim, error: String, backoff: Double, permanent: Bool) async throws -> Bool

    /// False once the database is gone, so a run stops instead of failing every unit after.
    var isConnected: Bool { get async }
}

extension JobStorage {
    func publish(_ unit: TrainedUnit, runID: Int64) async throws -> Int {
        try await publish(unit, runID: runID, pointsRead: 0, completing: nil)
    }
}

/// `JobStorage` on PostgreSQL, through ForecastStore's types, on one connection, and a second
/// one that predict's batch writes open when they are large enough to share.
public struct PostgresJobStorage: JobStorage {
    public let runner: JobRunner
    public let connection: PostgresConnection
    let secondSession: SecondSession
    /// The forecast rows from which a predict batch is worth the second session: below it,
    /// opening a session costs more than it saves.
    var sharedWriteRows = 10_000

    public init(runner: JobRunner, connection: PostgresConnection) {
        self.runner = runner
        self.connection = connection
        secondSession = SecondSession(beside: connection)
    }

    var database: DatabaseSettings { runner.database }
    var jobName: String { runner.job.name }

    public func readSeries(from: Date, to: Date, among keys: [String]?, settings: SeriesSettings,
                           keep: (@Sendable (SourcePoint) -> Bool)?) async throws -> SeriesRead {
        let reader = SourceReader(job: runner.job)
        return try await connection.withConnection { db in
            try SeriesRead.build(settings: try reader.withJobQueries(settings, on: db), keep: keep) { body in
                try reader.read(from: from, to: to, among: keys, on: db, body).rows
            }
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
        try await HistoryMaintenance.preparePartitions(asOf: asOf, database: database, on: connection)
    }

    public func startRun(kind: RunKind, trigger: RunTrigger?, note: String?) async throws -> Int64 {
        let runLog = runner.runLog, job = jobName
        return try await connection.withConnection { db in
            try runLog.start(job: job, kind: kind, trigger: trigger, note: note, heldBySession: true, on: db)
        }
    }

    public func addCounts(runID: Int64, _ counts: RunCounts) async throws {
        let runLog = runner.runLog
        try await connection.withConnection { db in try runLog.add(counts, runID: runID, on: db) }
    }

    public func resetCounts(runID: Int64) async throws {
        let runLog = runner.runLog
        try await connection.withConnection { db in try runLog.resetCounts(runID: runID, on: db) }
    }

    public func addNote(runID: Int64, _ note: String) async throws {
        let runLog = runner.runLog
        try await connection.withConnection { db in try runLog.addNote(runID: runID, note, on: db) }
    }

    public func finish(_ summary: RunSummary, error: String?) async throws {
        let runLog = runner.runLog
        try await connection.withConnection { db in
            try runLog.finish(runID: summary.runID, status: summary.status, seriesTotal: summary.seriesTotal, seriesFailed: summary.seriesFailed,
                              pointsRead: summary.pointsRead, rowsWritten: summary.rowsWritten, error: error, on: db)
        }
    }

    public func closeRunIfDone(runID: Int64, _ close: @Sendable (RunProgress) -> (RunStatus, String?)) async throws {
        let queue = WorkQueue(database), runLog = runner.runLog
        try await connection.transaction { tx in
            // The row lock serialises the last completions of a run, so exactly one closes it.
            guard let (total, failed) = try runLog.lockOpen(runID: runID, on: tx), try queue.pending(runID: runID, on: tx) == 0 else { return }
            let failures = try queue.failures(runID: runID, on: tx).map { WorkFailure(unit: $0.unit, error: $0.error) }
            let (status, error) = close(RunProgress(seriesTotal: total, seriesFailed: failed, failures: failures))
            try runLog.finish(runID: runID, status: status, error: error, on: tx)
        }
    }

    public func history() async throws -> JobHistory {
        let store = JobScheduleStore(database), job = jobName
        return try await connection.withConnection { db in try store.history(job: job, on: db) }
    }

    public func lastStart(trigger: RunTrigger) async throws -> Date? {
        let runLog = runner.runLog, job = jobName
        return try await connection.withConnection { db in try runLog.lastStart(job: job, trigger: trigger, on: db) }
    }

    public func activeModels(includeWeights: Bool) async throws -> [StoredModel] {
        let models = ModelStore(database), job = jobName
        return try await connection.withConnection { db in try models.activeModels(job: job, includeWeights: includeWeights, on: db) }
    }

    public func weights(modelIDs: [Int64]) async throws -> [Int64: [UInt8]] {
        let models = ModelStore(database)
        return try await connection.withConnection { db in try models.weights(modelIDs: modelIDs, on: db) }
    }

    public func activeStates(keep: @Sendable (SeriesStateRow) -> Bool) async throws -> [SeriesStateRow] {
        let states = SeriesStateStore(database), job = jobName
        return try await connection.withConnection { db in
            var kept: [SeriesStateRow] = []
            try states.activeStates(job: job, on: db) { row in if keep(row) { kept.append(row) } }
            return kept
        }
    }

    public func forecastSeries() async throws -> Set<String> {
        let predictions = PredictionWriter(database), job = jobName
        return try await connection.withConnection { db in try predictions.forecastSeries(job: job, on: db) }
    }

    public func publish(_ unit: TrainedUnit, runID: Int64, pointsRead: Int64, completing claim: WorkClaim?) async throws -> Int {
        let models = ModelStore(database), metricsWriter = MetricsWriter(database), predictions = PredictionWriter(database)
        let runLog = runner.runLog, job = jobName, queue = WorkQueue(database)
        let actuals = ActualsWriter(database), revisit = runner.job.horizon
        let states = SeriesStateStore(database), grid = runner.plan.grid
        return try await connection.transaction { tx in
            try predictions.lockJob(job, on: tx)
            let recorded = try actuals.record(job: job, series: unit.observed, revisit: revisit, on: tx)
            if let rejected = unit.rejected { _ = try Self.store(rejected, models: models, metrics: metricsWriter, on: tx) }
            var written = 0
            if let active = unit.active {
                let id = try Self.store(active, models: models, metrics: metricsWriter, on: tx)
                written = try predictions.write(unit.forecasts.flatMap { JobRunner.rows($0, job: job, modelID: id) }, recorded: recorded, on: tx)
                try states.dropInactive(job: job, series: active.model.series, on: tx)
                try states.replace(unit.stateRows(modelID: id, grid: grid), on: tx)
            } else {
                try predictions.write([], recorded: recorded, on: tx)
            }
            try runLog.addCounts(runID: runID, seriesTotal: unit.series.count, seriesFailed: unit.active == nil ? unit.series.count : 0,
                                 pointsRead: pointsRead, rowsWritten: Int64(written), on: tx)
            if let claim { try queue.complete(claim.item, owner: claim.owner, on: tx) }
            return written
        }
    }

    static func store(_ version: ModelVersion, models: ModelStore, metrics: MetricsWriter, on tx: isolated PostgresConnection) throws -> Int64 {
        let id = try models.insert(version.model, on: tx)
        _ = try metrics.write(metrics: version.metrics.map { ModelMetricRow(modelID: id, split: $0.split, metric: $0.name, value: $0.value) }, on: tx)
        _ = try metrics.write(history: version.history.map {
            TrainingHistoryRow(modelID: id, epoch: $0.epoch, trainLoss: $0.trainLoss, validationLoss: $0.validationLoss,
                               gradNorm: $0.gradNorm, learningRate: $0.learningRate, seconds: $0.seconds,
                               stepsPerSecond: $0.stepsPerSecond.isFinite ? $0.stepsPerSecond : nil)
        }, on: tx)
        return id
    }

    /// A batch of at least `sharedWriteRows` forecast rows is written in one transaction per
    /// lock stripe, at once, on this storage's two sessions: the write is the server's work (heap,
    /// primary key, WAL), so two backends do it in about half the time on a server with cores
    /// to spare. Each part is whole for its series; if one part fails, the others stay
    /// committed (`PartialBatchWrite`). Without a second session (the server refused one)
    /// the batch is one transaction, as smaller batches are.
    public func write(_ batch: PredictBatch, runID: Int64) async throws -> Int {
        let parts = batch.byStripe()
        guard parts.count > 1, batch.predictions.count >= sharedWriteRows, let second = await secondSession.connection() else {
            return try await write(batch, stripes: 0..<PredictionWriter.stripes, runID: runID, on: connection)
        }
        // Part i goes on session i % 2: the first part on the storage's own session.
        let sessions = [connection, second]
        let results = await withTaskGroup(of: (Int, Result<Int, any Error>).self) { group in
            for (index, (stripe, part)) in parts.enumerated() {
                group.addTask {
                    do { return (index, .success(try await write(part, stripes: [stripe], runID: runID, on: sessions[index % sessions.count]))) }
                    catch { return (index, .failure(error)) }
                }
            }
            var results: [(Int, Result<Int, any Error>)] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
        var written = 0, failedBeforeWriting = 0, unwritten: [String] = [], firstError: (any Error)?
        for ((_, part), result) in zip(parts, results) {
            switch result {
            case .success(let rows): written += rows; failedBeforeWriting += part.seriesFailed
            case .failure(let error): unwritten += part.series; firstError = firstError ?? error
            }
        }
        guard let firstError else { return written }
        // A second session that failed a write is not trusted with the next: the rest go on the first.
        if results.indices.contains(where: { $0 % sessions.count == 1 && (try? results[$0].get()) == nil }) { await secondSession.drop() }
        // Nothing committed: the batch failed as a whole, as a single transaction would have.
        guard results.contains(where: { (try? $0.get()) != nil }) else { throw firstError }
        throw PartialBatchWrite(written: written, failedBeforeWriting: failedBeforeWriting, unwritten: unwritten, underlying: firstError)
    }

    private func write(_ batch: PredictBatch, stripes: some Collection<Int> & Sendable, runID: Int64, on session: PostgresConnection) async throws -> Int {
        let predictions = PredictionWriter(database), states = SeriesStateStore(database), actuals = ActualsWriter(database)
        let runLog = runner.runLog, job = jobName, revisit = runner.job.horizon
        return try await session.transaction { tx in
            try predictions.lockJob(job, stripes: stripes, on: tx)
            let recorded = try actuals.record(job: job, series: batch.observed, revisit: revisit, on: tx)
            let written = try predictions.write(batch.predictions, recorded: recorded, on: tx)
            try states.replace(batch.states, on: tx)
            try runLog.addCounts(runID: runID, seriesTotal: batch.seriesTotal, seriesFailed: batch.seriesFailed, rowsWritten: Int64(written), on: tx)
            return written
        }
    }

    public func writeBacktest(_ rows: [BacktestResultRow], runID: Int64) async throws {
        let writer = BacktestResultsWriter(database), job = jobName
        try await connection.transaction { tx in try writer.write(rows, runID: runID, job: job, on: tx) }
    }

    public func complete(_ claim: WorkClaim) async throws {
        let queue = WorkQueue(database)
        try await connection.transaction { tx in try queue.complete(claim.item, owner: claim.owner, on: tx) }
    }

    public func fail(_ claim: WorkClaim, error: String, backoff: Double, permanent: Bool) async throws -> Bool {
        let queue = WorkQueue(database), runLog = runner.runLog
        let item = claim.item
        // A permanent failure spends the unit's attempts, so the queue fails it for good.
        let recorded = permanent ? WorkItem(workID: item.workID, job: item.job, kind: item.kind, unit: item.unit, runID: item.runID,
                                            attempts: item.maxAttempts, maxAttempts: item.maxAttempts) : item
        return try await connection.transaction { tx -> Bool in
            let retry = try queue.fail(recorded, owner: claim.owner, error: error, backoff: backoff, on: tx)
            if !retry { try runLog.addCounts(runID: item.runID, seriesTotal: 1, seriesFailed: 1, on: tx) }
            return retry
        }
    }

    public var isConnected: Bool { get async { await connection.isConnected } }
}

extension RunLog {
    /// Adds `counts` to a run (`addCounts`).
    func add(_ counts: RunCounts, runID: Int64, on db: isolated PostgresConnection) throws {
        try addCounts(runID: runID, seriesTotal: counts.seriesTotal, seriesFailed: counts.seriesFailed, pointsRead: counts.pointsRead,
                      rowsWritten: counts.rowsWritten, newestObservation: counts.newestObservation, on: db)
    }
}

/// The second session of `PostgresJobStorage`, opened on first use with the first one's
/// connection string and closed with the storage. If the server refuses it (its
/// max_connections reached), or it fails during a write, writes go on the first session alone.
actor SecondSession {
    let primary: PostgresConnection
    private var opened: PostgresConnection?
    private var unavailable = false

    init(beside primary: PostgresConnection) { self.primary = primary }

    func connection() async -> PostgresConnection? {
        if let opened { return opened }
        guard !unavailable else { return nil }
        opened = try? await primary.sibling()
        unavailable = opened == nil
        return opened
    }

    var isOpen: Bool { opened != nil }

    func drop() {
        opened = nil
        unavailable = true
    }
}
