import ForecastConfig
import ForecastStore
import Forecasting
import Foundation
import Logging
import NeuralNet
import PostgresClient

/// What one run did, as `runs` records it.
public struct RunSummary: Sendable, Equatable {
    public var runID: Int64
    public var kind: RunKind
    public var status: RunStatus
    public var seriesTotal = 0
    public var seriesFailed = 0
    public var pointsRead: Int64 = 0
    public var rowsWritten: Int64 = 0
    public var errors: [String] = []
    /// What the reader should know besides errors: why the run started (a config change), that
    /// the data ended long ago (`DataAge`); also in `runs.note`.
    public var notes: [String] = []
}

/// Runs one job's work against the database: reads the source, trains or predicts unit by
/// unit, and writes each unit's results in one transaction. A series that fails is recorded
/// in the run and the others go on.
public struct JobRunner: Sendable {
    public let plan: JobPlan
    public let database: DatabaseSettings
    public var logger: Logger
    public var now: @Sendable () -> Date = { Date() }
    /// How notes on old data name `now`: "now", or the replayed time of `--as-of`.
    public var clockName = "now"
    /// Told of the runs this runner closes (the daemon's metrics); nil tells no one.
    public var runObserver: (any RunObserver)?
    /// Predict reads a series that a network serves without a usable state over its warm-up
    /// (`WarmUp`). false: in full, which forecasts the bits that reading on from a state does
    /// (what the tests of saved states compare with), at the cost of reading the whole history.
    public var warmsUpWithoutState = true

    public init(job: JobSettings, database: DatabaseSettings, logger: Logger) {
        plan = JobPlan(job)
        self.database = database
        var logger = logger
        logger[metadataKey: "job"] = "\(job.name)"
        self.logger = logger
    }

    var job: JobSettings { plan.job }
    var runLog: RunLog { RunLog(database, observer: runObserver) }
    var dataAge: DataAge { DataAge(plan: plan, clockName: clockName) }

    // MARK: reading

    /// This runner's storage on `connection`.
    func storage(_ connection: PostgresConnection) -> PostgresJobStorage { PostgresJobStorage(runner: self, connection: connection) }

    /// Reads the job's rows in [from, to) and lays every series on the grid (`JobStorage.readSeries`).
    func readSeries(from: Date, to: Date, among keys: [String]? = nil, storage: some JobStorage) async throws -> SeriesRead {
        try await storage.readSeries(from: from, to: to, among: keys, settings: plan.seriesSettings, keep: nil)
    }

    func readSeries(from: Date, to: Date, on connection: PostgresConnection) async throws -> SeriesRead {
        try await readSeries(from: from, to: to, storage: storage(connection))
    }

    /// The training data of a run at `end` (of `series` only, when given). Each series' window
    /// counts back from `end` while its data is recent; a series whose newest observation lies
    /// more than one horizon before `end` (`DataAge.isStale`) counts back from that observation
    /// instead, so that a series which stopped long ago, alone or with all the others, is
    /// trained and forecast from its end rather than found missing. `ends` holds those series'
    /// newest observations; `start` is the earliest window start.
    func readTrainingSeries(end: Date, series: String? = nil, storage: some JobStorage) async throws
        -> (outcomes: [SeriesOutcome], points: Int, start: Date, newest: Date?, ends: [String: Date]) {
        let start = plan.trainingStart(end: end)
        let read = try await readSeries(from: start, to: end, among: series.map { [$0] }, storage: storage)
        let age = dataAge
        var ends: [String: Date] = [:]
        for outcome in read.outcomes {
            guard let last = outcome.series.map({ $0.date(ofStep: $0.count - 1) }), age.isStale(newest: last, now: end) else { continue }
            ends[outcome.key] = last
        }
        // Series with no row in the window at all: one grouped pass over the older rows.
        let inWindow = Set(read.outcomes.map(\.key))
        let stopped = try await storage.seriesEnds(before: start, end: end, series: series)
        for (key, last) in stopped where !inWindow.contains(key) { ends[key] = last }
        guard !ends.isEmpty else { return (read.outcomes, read.points, start, read.newest, [:]) }

        let starts = ends.mapValues { plan.trainingStart(end: end, newest: $0) }
        let earliest = starts.values.min()!
        let again = try await storage.readSeries(from: earliest, to: end, among: ends.keys.sorted(), settings: plan.seriesSettings, keep: { point in
            starts[point.series].map { point.time >= $0 } ?? false
        })
        let outcomes = (read.outcomes.filter { ends[$0.key] == nil } + again.outcomes).sorted { $0.key < $1.key }
        let points = read.points - read.outcomes.filter { ends[$0.key] != nil }.reduce(0) { $0 + $1.rows.read } + again.points
        let newest = [read.newest, again.newest].compactMap { $0 }.max()
        return (outcomes, points, min(start, earliest), newest, ends)
    }

    /// Tells the run, its log and its reader that the data ended more than a horizon before the
    /// run's clock, with the dates its forecasts are for, or, when only some series did (`ends`:
    /// series' newest observations), which; nothing when the data is recent.
    func noteDataAge(newest: Date?, ends: [String: Date] = [:], end: Date, forecasts: [SeriesForecast], targets: [Date] = [],
                     summary: inout RunSummary, logger: Logger, storage: some JobStorage) async throws {
        let all = forecasts.flatMap(\.targets) + targets
        let whole = newest.flatMap { dataAge.note(newest: $0, now: end, targets: all.min().map { $0...all.max()! }) }
        guard let note = whole ?? dataAge.note(seriesEnds: ends, now: end) else { return }
        summary.notes.append(note)
        logger.warning("the data is old", metadata: ["note": "\(note)"])
        try await storage.addNote(runID: summary.runID, note)
    }

    // MARK: train

    /// Trains every series (or the job's global model), publishes what passes the guards and
    /// the fallback for the rest. `onlySeries` limits a per-series job to one series.
    public func train(on connection: PostgresConnection, onlySeries: String? = nil) async throws -> RunSummary {
        try await train(on: connection, only: onlySeries.map { [$0] }, trigger: nil, note: nil)
    }

    /// Trains the series in `only` (nil: every series, or the global model); `trigger` and
    /// `note` say why the run started outside its schedule (`runs.trigger`, `runs.note`).
    public func train(on connection: PostgresConnection, only: Set<String>?, trigger: RunTrigger?, note: String?) async throws -> RunSummary {
        try await train(storage: storage(connection), only: only, trigger: trigger, note: note)
    }

    /// The train run on any storage: what `train(on:)` does on PostgreSQL.
    public func train(storage: some JobStorage, only: Set<String>?, trigger: RunTrigger?, note: String?) async throws -> RunSummary {
        try await storage.prepareHistory(asOf: now())
        let runID = try await storage.startRun(kind: .train, trigger: trigger, note: note)
        var summary = RunSummary(runID: runID, kind: .train, status: .running)
        if let note { summary.notes.append(note) }
        var logger = self.logger
        logger[metadataKey: "run"] = "\(runID)"
        logger.info("training started", metadata: trigger.map { ["trigger": "\($0.rawValue)"] } ?? [:])
        let end = now()
        let outcomes: [SeriesOutcome]
        let oneSeries = only?.count == 1 ? only?.first : nil
        var timing = (read: 0.0, train: 0.0, write: 0.0), stages = StageTimes()
        let readStarted = Date()
        defer {
            // train_s is the whole of the units' computation; the stages split it (see `StageTimes`).
            logger.info("train timing", metadata: [
                "read_s": "\(Self.seconds(timing.read))", "train_s": "\(Self.seconds(timing.train))",
                "epochs_s": "\(Self.seconds(stages.epochs))", "validation_s": "\(Self.seconds(stages.validation))",
                "calibration_s": "\(Self.seconds(stages.calibration))", "backtest_s": "\(Self.seconds(stages.backtest))",
                "forecast_s": "\(Self.seconds(stages.forecast))", "write_s": "\(Self.seconds(timing.write))",
                "threads": "\(ComputeThreads.perUnit)",
            ])
        }
        var windowStart = plan.trainingStart(end: end), newest: Date?, ends: [String: Date] = [:]
        do {
            defer { timing.read = Date().timeIntervalSince(readStarted) }
            let read = try await readTrainingSeries(end: end, series: oneSeries, storage: storage)
            outcomes = read.outcomes.filter { only?.contains($0.key) ?? true }
            summary.pointsRead = Int64(read.points)
            windowStart = read.start
            newest = read.newest
            ends = read.ends.filter { key, _ in only?.contains(key) ?? true }
            try await noteUnreadRows(from: read.start, to: end, summary: &summary, storage: storage, logger: logger)
        } catch let error as SourceError {
            summary.errors.append(error.description)
            return try await finish(summary, status: .failed, storage: storage, logger: logger)
        }
        if outcomes.isEmpty {
            let window = "the training window (\(windowStart) to \(end))"
            summary.errors.append(oneSeries.map { "series \"\($0)\" has no rows in \(window)" } ?? "the source has no rows in \(window)")
            return try await finish(summary, status: .failed, storage: storage, logger: logger)
        }
        try await storage.addCounts(runID: runID, RunCounts(pointsRead: summary.pointsRead, newestObservation: newest))
        var forecasts: [SeriesForecast] = []
        let trainer = UnitTrainer(plan: plan, readUntil: end)
        var units: [(keys: [String], work: () -> TrainedUnit)] = []
        var ready: [RegularSeries] = []
        var unknownFuture: [String] = []
        // Retraining named series (`only`: their own models misfit) keeps them per series.
        let scope = only != nil && job.model.scope == .auto
            ? ScopeChoice(global: false, reason: "auto: retraining the series' own models")
            : plan.scope(seriesCount: outcomes.count, observations: outcomes.compactMap(\.readySeries).map(\.observedCount))
        if job.model.scope == .auto { logger.info("scope chosen", metadata: ["scope": "\(scope)"]) }
        for outcome in outcomes {
            switch outcome {
            case .ready(let series):
                if scope.global { ready.append(series) } else {
                    units.append(([series.key], { trainer.train([series], scope: scope) }))
                }
            case .skipped(let skipped):
                if let series = outcome.fallbackSeries(season: plan.season) {
                    units.append(([series.key], { trainer.fallback([series], global: false, reason: skipped.reason.description, rejected: nil, points: series.observedCount) }))
                } else {
                    summary.seriesTotal += 1
                    summary.seriesFailed += 1
                    let why = outcome.unservedReason(season: plan.season)
                    summary.errors.append("series \"\(skipped.key)\": skipped: \(why)")
                    logger.warning("series skipped", metadata: ["series": "\(skipped.key)", "reason": "\(why)"])
                }
            }
        }
        if !ready.isEmpty {
            let all = ready, epochLogger = logger
            units.append((all.map(\.key), {
                trainer.train(all, scope: scope) { epoch in
                    epochLogger.info("epoch", metadata: [
                        "epoch": "\(epoch.epoch)", "train_loss": "\(epoch.trainLoss)", "validation_loss": "\(epoch.validationLoss)",
                        "steps_per_s": "\(Int(epoch.stepsPerSecond.isFinite ? epoch.stepsPerSecond.rounded() : 0))",
                        "seconds": "\(Self.seconds(epoch.seconds))",
                    ])
                }
            }))
        }
        for unit in units {
            summary.seriesTotal += unit.keys.count
            let trainStarted = Date()
            var trained = unit.work()
            // A series without its future-known values is forecast by the fallback, never from an invented future.
            unknownFuture += trainer.serveFallback(forUnknownFutureIn: &trained)
            timing.train += Date().timeIntervalSince(trainStarted)
            stages.epochs += trained.times.epochs; stages.validation += trained.times.validation
            stages.calibration += trained.times.calibration; stages.backtest += trained.times.backtest
            stages.forecast += trained.times.forecast
            do {
                let writeStarted = Date()
                defer { timing.write += Date().timeIntervalSince(writeStarted) }
                let written = try await storage.publish(trained, runID: runID)
                summary.rowsWritten += Int64(written)
                if trained.active != nil { forecasts += trained.forecasts }
                if trained.active == nil {
                    summary.seriesFailed += unit.keys.count
                    summary.errors.append("\(Self.seriesList(unit.keys)): no model published: \(trained.rejected?.model.reason ?? "no forecast possible")")
                }
                var metadata: Logger.Metadata = [
                    "series": "\(unit.keys.count == 1 ? unit.keys[0] : "\(unit.keys.count) series")",
                    "model": "\(trained.active?.model.cell.rawValue ?? "none")",
                ]
                if let reason = trained.rejected?.model.reason { metadata["rejected"] = "\(reason)" }
                logger.info("unit trained", metadata: metadata)
            } catch {
                summary.seriesFailed += unit.keys.count
                summary.errors.append("\(Self.seriesList(unit.keys)): \(error)")
                logger.error("unit failed", metadata: ["series": "\(unit.keys.count == 1 ? unit.keys[0] : "\(unit.keys.count) series")", "error": "\(error)"])
                guard await storage.isConnected else { throw error }
            }
        }
        if !unknownFuture.isEmpty {
            let note = Self.futureNote(unknownFuture)
            summary.notes.append(note)
            logger.warning("future-known covariates missing; fallback forecasts", metadata: ["note": "\(note)"])
            try await storage.addNote(runID: runID, note)
        }
        try await noteDataAge(newest: newest, ends: ends, end: end, forecasts: forecasts, summary: &summary, logger: logger, storage: storage)
        let status: RunStatus = summary.seriesFailed == 0 ? .succeeded : (summary.seriesFailed < summary.seriesTotal ? .partial : .failed)
        return try await finish(summary, status: status, storage: storage, logger: logger)
    }

    /// Says once per train run, in the log and the run's note, how many source rows it could
    /// not use: NULL series keys, NULL times, rows in the future (`SourceReader.unreadRows`).
    func noteUnreadRows(from: Date, to: Date, summary: inout RunSummary, storage: some JobStorage, logger: Logger) async throws {
        let unread = try await storage.unreadRows(from: from, to: to, futureFrom: Date())
        guard !unread.isEmpty else { return }
        summary.notes.append(unread.description)
        logger.warning("source rows not used: \(unread)")
        try await storage.addNote(runID: summary.runID, unread.description)
    }

    /// The run's note on series served the fallback for want of a future-known covariate's
    /// values (`MissingFuture` descriptions), the first few of them when many.
    static func futureNote(_ reasons: [String]) -> String {
        let shown = reasons.prefix(5).joined(separator: "; ")
        return (reasons.count > 5 ? "\(reasons.count) series forecast by the fallback, e.g. " : "forecast by the fallback: ") + shown
            + (reasons.count > 5 ? "; …" : "")
    }

    /// The series of a unit as errors name them: all of them when few, else how many and the
    /// first three, so that a global model's error does not list thousands of names.
    static func seriesList(_ keys: [String]) -> String {
        keys.count <= 5 ? "series " + keys.joined(separator: ", ") : "\(keys.count) series (\(keys.prefix(3).joined(separator: ", ")), …)"
    }

    static func stateRow(_ state: SeriesState, modelID: Int64, grid: TimeGrid) -> SeriesStateRow {
        SeriesStateRow(modelID: modelID, series: state.key, lastStep: grid.start(ofBucket: state.lastBucket),
                       state: SeriesStateArchive.encode(state))
    }

    static func stateRow(_ mark: FullReadMark, modelID: Int64, grid: TimeGrid) -> SeriesStateRow {
        SeriesStateRow(modelID: modelID, series: mark.key, lastStep: grid.start(ofBucket: mark.lastBucket), state: SeriesStateArchive.fullReadMark)
    }

    static func rows(_ f: SeriesForecast, job: String, modelID: Int64) -> [PredictionRow] {
        let lower = f.forecast.lower, upper = f.forecast.upper, hasInterval = f.forecast.levels.count >= 2
        return f.targets.enumerated().map { i, target in
            PredictionRow(job: job, series: f.series, modelID: modelID, issuedAt: f.issuedAt, targetTs: target, step: i + 1,
                          forecastValue: f.forecast.point[i], lowerBound: hasInterval ? lower[i] : nil,
                          upperBound: hasInterval ? upper[i] : nil, confidenceLevel: f.forecast.confidenceLevel)
        }
    }

    func finish(_ summary: RunSummary, status: RunStatus, storage: some JobStorage, logger: Logger) async throws -> RunSummary {
        var summary = summary
        summary.status = status
        let error = summary.errors.isEmpty ? nil : String(summary.errors.joined(separator: "\n").prefix(8000))
        try await storage.finish(summary, error: error)
        let level: Logger.Level = status == .succeeded ? .info : (status == .partial ? .warning : .error)
        logger.log(level: level, "\(summary.kind.rawValue) run \(status.rawValue)", metadata: [
            "series": "\(summary.seriesTotal)", "failed": "\(summary.seriesFailed)",
            "points_read": "\(summary.pointsRead)", "rows_written": "\(summary.rowsWritten)",
        ])
        return summary
    }

    // MARK: schedule

    /// Training is due when the job has no active model, or `train_every` has come round
    /// since its last successful training run started (`DueRule`, shared with the scheduler).
    public func trainingIsDue(on connection: PostgresConnection) async throws -> Bool {
        try await trainingIsDue(storage: storage(connection))
    }

    func trainingIsDue(storage: some JobStorage) async throws -> Bool {
        DueRule(job: job).trainingIsDue(try await storage.history(), now: now())
    }

    /// The active models that the job's configuration no longer fits and that are due for a
    /// retraining (`ConfigFitCheck.dueForRetraining`): what the scheduler and `run --once` retrain.
    public func configMisfits(on connection: PostgresConnection) async throws -> [ConfigMisfit] {
        try await configMisfits(storage: storage(connection))
    }

    func configMisfits(storage: some JobStorage) async throws -> [ConfigMisfit] {
        ConfigFitCheck(plan: plan).dueForRetraining(try await storage.activeModels(includeWeights: false),
                                                    lastConfigRun: try await storage.lastStart(trigger: .config))
    }

    /// `run --once` for this job: trains when training is due (`trainingIsDue`); otherwise
    /// retrains the models that its configuration no longer fits (a train run with trigger
    /// `config`, the misfits in its note), then predicts.
    public func runOnce(on connection: PostgresConnection) async throws -> [RunSummary] {
        try await runOnce(storage: storage(connection))
    }

    public func runOnce(storage: some JobStorage) async throws -> [RunSummary] {
        if try await trainingIsDue(storage: storage) { return [try await train(storage: storage, only: nil, trigger: nil, note: nil)] }
        var summaries: [RunSummary] = []
        let misfits = try await configMisfits(storage: storage)
        // The scheduler's units (`retrainUnits`): "" is the global model, so every series; a
        // per-series job's units are its series, whatever their keys.
        let units = ConfigFitCheck(plan: plan).retrainUnits(misfits)
        let only: Set<String>? = job.model.scope != .series && units.contains("") ? nil : Set(units)
        if !misfits.isEmpty, only.map({ !$0.isEmpty }) ?? true {
            summaries.append(try await train(storage: storage, only: only, trigger: .config,
                                             note: misfits.map(\.description).joined(separator: "\n")))
        }
        summaries.append(try await predict(storage: storage))
        return summaries
    }

    // MARK: predict

    /// Forecasts every series that has an active model, from the end of its history, with
    /// that model; one transaction per batch of series.
    public func predict(on connection: PostgresConnection) async throws -> RunSummary {
        try await predict(storage: storage(connection))
    }

    /// The predict run on any storage: what `predict(on:)` does on PostgreSQL.
    public func predict(storage: some JobStorage) async throws -> RunSummary {
        try await storage.prepareHistory(asOf: now())
        let runID = try await storage.startRun(kind: .predict, trigger: nil, note: nil)
        let summary = try await predict(runID: runID, storage: storage)
        let status: RunStatus = summary.seriesFailed == 0 && summary.seriesTotal > 0 ? .succeeded
            : (summary.seriesFailed < summary.seriesTotal ? .partial : .failed)
        return try await finish(summary, status: status, storage: storage, logger: logger)
    }
}

extension RegularSeries {
    /// The series from the bucket of `date` on (the start of a model's data), so a network
    /// reads it from the same first step it was trained from.
    func trimmed(from date: Date?) -> RegularSeries {
        guard let date, let bucket = grid.index(of: date), bucket > firstBucket, bucket < endBucket else { return self }
        return steps((bucket - firstBucket)..<count)
    }
}
