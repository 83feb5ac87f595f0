import Forecasting
import Foundation
import Logging
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
}

/// Runs one job's work against the database: reads the source, trains or predicts unit by
/// unit, and writes each unit's results in one transaction. A series that fails is recorded
/// in the run and the others go on.
public struct JobRunner: Sendable {
    public let plan: JobPlan
    public let database: DatabaseSettings
    public var logger: Logger
    public var now: @Sendable () -> Date = { Date() }
    /// Told of the runs this runner closes (the daemon's metrics); nil tells no one.
    public var runObserver: (any RunObserver)?

    public init(job: JobSettings, database: DatabaseSettings, logger: Logger) throws {
        plan = try JobPlan(job)
        self.database = database
        var logger = logger
        logger[metadataKey: "job"] = "\(job.name)"
        self.logger = logger
    }

    var job: JobSettings { plan.job }
    var runLog: RunLog { RunLog(database, observer: runObserver) }
    var models: ModelStore { ModelStore(database) }

    // MARK: reading

    /// Reads the job's rows in [from, to) and lays every series on the grid; with `series`,
    /// only that series' rows are read (the source filters them, see `SourceReader`).
    func readSeries(from: Date, to: Date, series: String? = nil, on connection: PostgresConnection) async throws -> (outcomes: [SeriesOutcome], points: Int) {
        let reader = SourceReader(job: job)
        let settings = plan.seriesSettings
        return try await connection.withConnection { db in
            var builder = SeriesBuilder(settings: settings)
            let summary = try reader.read(from: from, to: to, series: series, on: db) { point in
                builder.add(key: point.series, time: point.time, value: point.value)
            }
            return (builder.finish(), summary.rows)
        }
    }

    // MARK: train

    /// Trains every series (or the job's global model), publishes what passes the guards and
    /// the fallback for the rest. `onlySeries` limits a per-series job to one series.
    public func train(on connection: PostgresConnection, onlySeries: String? = nil) async throws -> RunSummary {
        let runLog = self.runLog
        let jobName = job.name
        try await HistoryMaintenance.preparePartitions(asOf: now(), database: database, on: connection)
        let runID = try await connection.withConnection { db in try runLog.start(job: jobName, kind: .train, on: db) }
        var summary = RunSummary(runID: runID, kind: .train, status: .running)
        var logger = self.logger
        logger[metadataKey: "run"] = "\(runID)"
        logger.info("training started")
        let end = now()
        let outcomes: [SeriesOutcome]
        var timing = (read: 0.0, train: 0.0, write: 0.0)
        let readStarted = Date()
        defer {
            logger.info("train timing", metadata: ["read_s": "\(Self.seconds(timing.read))", "train_s": "\(Self.seconds(timing.train))",
                                                   "write_s": "\(Self.seconds(timing.write))"])
        }
        do {
            defer { timing.read = Date().timeIntervalSince(readStarted) }
            let read = try await readSeries(from: plan.trainingStart(end: end), to: end, series: onlySeries, on: connection)
            outcomes = read.outcomes.filter { onlySeries == nil || $0.key == onlySeries }
            summary.pointsRead = Int64(read.points)
        } catch let error as SourceError {
            summary.errors.append(error.description)
            return try await finish(summary, status: .failed, on: connection, logger: logger)
        }
        if outcomes.isEmpty {
            let window = "the training window (\(plan.trainingStart(end: end)) to \(end))"
            summary.errors.append(onlySeries.map { "series \"\($0)\" has no rows in \(window)" } ?? "the source has no rows in \(window)")
            return try await finish(summary, status: .failed, on: connection, logger: logger)
        }
        let pointsRead = summary.pointsRead
        try await connection.withConnection { db in
            try runLog.addCounts(runID: runID, pointsRead: pointsRead, on: db)
        }
        let trainer = UnitTrainer(plan: plan, readUntil: end)
        var units: [(keys: [String], work: () -> TrainedUnit)] = []
        var ready: [RegularSeries] = []
        for outcome in outcomes {
            switch outcome {
            case .ready(let series):
                if job.model.scope == .global { ready.append(series) } else {
                    units.append(([series.key], { trainer.train([series], global: false) }))
                }
            case .skipped(let skipped):
                if let series = outcome.fallbackSeries(season: plan.season) {
                    units.append(([series.key], { trainer.fallback([series], global: false, reason: skipped.reason.description, rejected: nil, points: series.observedCount) }))
                } else {
                    summary.seriesTotal += 1
                    summary.seriesFailed += 1
                    summary.errors.append("series \"\(skipped.key)\": skipped: \(skipped.reason)")
                    logger.warning("series skipped", metadata: ["series": "\(skipped.key)", "reason": "\(skipped.reason)"])
                }
            }
        }
        if !ready.isEmpty {
            let all = ready
            units.append((all.map(\.key), { trainer.train(all, global: true) }))
        }
        for unit in units {
            summary.seriesTotal += unit.keys.count
            let trainStarted = Date()
            let trained = unit.work()
            timing.train += Date().timeIntervalSince(trainStarted)
            do {
                let writeStarted = Date()
                defer { timing.write += Date().timeIntervalSince(writeStarted) }
                let written = try await publish(trained, runID: runID, on: connection)
                summary.rowsWritten += Int64(written)
                if trained.active == nil {
                    summary.seriesFailed += unit.keys.count
                    summary.errors.append("series \(unit.keys.joined(separator: ", ")): no model published: \(trained.rejected?.model.reason ?? "no forecast possible")")
                }
                var metadata: Logger.Metadata = [
                    "series": "\(unit.keys.count == 1 ? unit.keys[0] : "\(unit.keys.count) series")",
                    "model": "\(trained.active?.model.cell.rawValue ?? "none")",
                ]
                if let reason = trained.rejected?.model.reason { metadata["rejected"] = "\(reason)" }
                logger.info("unit trained", metadata: metadata)
            } catch {
                summary.seriesFailed += unit.keys.count
                summary.errors.append("series \(unit.keys.joined(separator: ", ")): \(error)")
                logger.error("unit failed", metadata: ["series": "\(unit.keys.joined(separator: ","))", "error": "\(error)"])
                guard await connection.isConnected else { throw error }
            }
        }
        let status: RunStatus = summary.seriesFailed == 0 ? .succeeded : (summary.seriesFailed < summary.seriesTotal ? .partial : .failed)
        return try await finish(summary, status: status, on: connection, logger: logger)
    }

    /// Writes one unit in one transaction: the actuals it read, the rejected network (if any),
    /// the new active model (retiring the previous one), metrics, training history, forecasts
    /// and the run's counters commit together or not at all.
    func publish(_ unit: TrainedUnit, runID: Int64, completing claim: (item: WorkItem, owner: String)? = nil,
                 on connection: PostgresConnection) async throws -> Int {
        let models = self.models, metricsWriter = MetricsWriter(database), predictions = PredictionWriter(database)
        let runLog = self.runLog, jobName = job.name, queue = WorkQueue(database)
        let actuals = ActualsWriter(database), revisit = job.horizon
        let states = SeriesStateStore(database), grid = plan.grid
        return try await connection.transaction { tx in
            try actuals.record(job: jobName, series: unit.observed, revisit: revisit, on: tx)
            if let rejected = unit.rejected { _ = try Self.store(rejected, models: models, metrics: metricsWriter, on: tx) }
            var written = 0
            if let active = unit.active {
                let id = try Self.store(active, models: models, metrics: metricsWriter, on: tx)
                written = try predictions.write(unit.forecasts.flatMap { Self.rows($0, job: jobName, modelID: id) }, on: tx)
                try states.dropInactive(job: jobName, series: active.model.series, on: tx)
                try states.replace(unit.states.map { Self.stateRow($0, modelID: id, grid: grid) }, on: tx)
            }
            try runLog.addCounts(runID: runID, seriesTotal: unit.series.count, seriesFailed: unit.active == nil ? unit.series.count : 0,
                                 rowsWritten: Int64(written), on: tx)
            if let claim { try queue.complete(claim.item, owner: claim.owner, on: tx) }
            return written
        }
    }

    static func store(_ version: ModelVersion, models: ModelStore, metrics: MetricsWriter, on tx: isolated PostgresConnection) throws -> Int64 {
        let id = try models.insert(version.model, on: tx)
        _ = try metrics.write(metrics: version.metrics.map { ModelMetricRow(modelID: id, split: $0.split, metric: $0.name, value: $0.value) }, on: tx)
        _ = try metrics.write(history: version.history.map {
            TrainingHistoryRow(modelID: id, epoch: $0.epoch, trainLoss: $0.trainLoss, validationLoss: $0.validationLoss,
                               gradNorm: $0.gradNorm, learningRate: $0.learningRate, seconds: $0.seconds)
        }, on: tx)
        return id
    }

    static func stateRow(_ state: SeriesState, modelID: Int64, grid: TimeGrid) -> SeriesStateRow {
        SeriesStateRow(modelID: modelID, series: state.key, lastStep: grid.start(ofBucket: state.lastBucket),
                       state: SeriesStateArchive.encode(state))
    }

    static func rows(_ f: SeriesForecast, job: String, modelID: Int64) -> [PredictionRow] {
        let lower = f.forecast.lower, upper = f.forecast.upper, hasInterval = f.forecast.levels.count >= 2
        return f.targets.enumerated().map { i, target in
            PredictionRow(job: job, series: f.series, modelID: modelID, issuedAt: f.issuedAt, targetTs: target, step: i + 1,
                          forecastValue: f.forecast.point[i], lowerBound: hasInterval ? lower[i] : nil,
                          upperBound: hasInterval ? upper[i] : nil, confidenceLevel: f.forecast.confidenceLevel)
        }
    }

    func finish(_ summary: RunSummary, status: RunStatus, on connection: PostgresConnection, logger: Logger) async throws -> RunSummary {
        var summary = summary
        summary.status = status
        let error = summary.errors.isEmpty ? nil : String(summary.errors.joined(separator: "\n").prefix(8000))
        let runLog = self.runLog, final = summary
        try await connection.withConnection { db in
            try runLog.finish(runID: final.runID, status: status, seriesTotal: final.seriesTotal, seriesFailed: final.seriesFailed,
                              pointsRead: final.pointsRead, rowsWritten: final.rowsWritten, error: error, on: db)
        }
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
        let store = JobScheduleStore(database), jobName = job.name, now = now()
        let history = try await connection.withConnection { db in try store.history(job: jobName, on: db) }
        return DueRule(job: job).trainingIsDue(history, now: now)
    }

    // MARK: predict

    /// Forecasts every series that has an active model, from the end of its history, with
    /// that model; one transaction per model's unit.
    public func predict(on connection: PostgresConnection) async throws -> RunSummary {
        let runLog = self.runLog, jobName = job.name
        try await HistoryMaintenance.preparePartitions(asOf: now(), database: database, on: connection)
        let runID = try await connection.withConnection { db in try runLog.start(job: jobName, kind: .predict, on: db) }
        let summary = try await predict(runID: runID, on: connection)
        let status: RunStatus = summary.seriesFailed == 0 && summary.seriesTotal > 0 ? .succeeded
            : (summary.seriesFailed < summary.seriesTotal ? .partial : .failed)
        return try await finish(summary, status: status, on: connection, logger: logger)
    }
}

extension RegularSeries {
    /// The series from the bucket of `date` on (the start of a model's data), so a network
    /// reads it from the same first step it was trained from.
    func trimmed(from date: Date?) -> RegularSeries {
        guard let date, let bucket = grid.index(of: date), bucket > firstBucket, bucket < endBucket else { return self }
        let drop = bucket - firstBucket
        return RegularSeries(key: key, grid: grid, firstBucket: bucket, values: Array(values[drop...]),
                             states: Array(states[drop...]), rows: rows)
    }
}
