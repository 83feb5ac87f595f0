import ForecastConfig
import ForecastStore
import Forecasting
import Foundation
import Logging
import NeuralNet

/// A predict cycle: every series with an active model is forecast from the end of its history.
///
/// A network reads on from the state saved with the series' last forecast (`series_state`), so
/// the cycle reads only the rows after each state's last step, in one streaming read over all
/// series, and the network runs only over the new steps. A series that a network serves without
/// a usable state (a new series, a model trained before states existed, states deleted or
/// damaged) is read over its last steps only, and the network warms its state up over them from
/// zero (`WarmUp`: not a full read's bits, but close); a series too short or stopped too long for
/// that, and one served without a network reading on (a seasonal-naive fallback, a statistical
/// model alone or combined with the network), is read in full from its model's first step. The
/// latter save a mark where they read (`FullReadMark`): the cycle reads them in full only when
/// a row came after it, and a series without new rows keeps its forecast, as with a state.
/// Series are written in batches, each one transaction holding the batch's forecasts, their
/// new states, the actuals they read and the run's counters, so a crash leaves every series
/// with its old forecast and old state or its new forecast and new state.
extension JobRunner {
    /// Series written per transaction: big enough that a cycle over thousands of series is a
    /// handful of COPYs, small enough to bound the memory of the rows waiting to be written.
    static let predictBatch = 1000
    /// Series without a state up to this many are read by key (`= ANY($3)` filter), each from
    /// its model's first step; more are read together in one pass over the job's history.
    static let separateFullReads = 64

    /// How the network meets a series in this cycle.
    enum Reading: Sendable {
        /// Reads on from a saved state over the steps built from the new rows.
        case continuing(SeriesStateRow, RegularSeries)
        /// Reads the whole series from its model's first step.
        case full(RegularSeries)
        /// Reads the series' last steps from the zero state (`WarmUp`).
        case warmUp(RegularSeries)

        var series: RegularSeries {
            switch self {
            case .continuing(_, let s), .full(let s), .warmUp(let s): s
            }
        }
    }

    /// Why a series goes back to the source after its first forecast failed.
    struct ReadAgain {
        /// Its saved state is unusable: it is read as a series without a state.
        var withoutState: [String] = []
        /// Its forecast needs the whole history (the fallback, when a future-known covariate is missing).
        var inFull: [String] = []

        var isEmpty: Bool { withoutState.isEmpty && inFull.isEmpty }
    }

    /// Where a cycle's time went, logged at its end.
    struct PredictTiming {
        var read = 0.0, forecast = 0.0, write = 0.0
        var continued = 0, readInFull = 0, warmedUp = 0, unchanged = 0
        /// The warm-up of each network that read a series without a state ("264 steps (at least 216)").
        var warmUps: Set<String> = []
        /// The first and last target of the forecasts written, for the note on old data.
        var targets: ClosedRange<Date>?

        mutating func noteWarmUps(_ work: [(key: String, reading: Reading)], warmUps: [Int64: WarmUp], servedBy: (String) -> StoredModel?) {
            for (key, reading) in work {
                if case .warmUp = reading, let warmUp = servedBy(key).flatMap({ warmUps[$0.modelID] }) { self.warmUps.insert(warmUp.description) }
            }
        }

        static func measure<T>(_ seconds: inout Double, _ work: () async throws -> T) async rethrows -> T {
            let started = Date()
            defer { seconds += Date().timeIntervalSince(started) }
            return try await work()
        }
    }

    /// The work of a predict run whose `runs` row exists; counts go to the row batch by batch,
    /// the run itself stays open.
    func predict(runID: Int64, storage: some JobStorage) async throws -> RunSummary {
        let jobName = job.name
        var summary = RunSummary(runID: runID, kind: .predict, status: .running)
        var logger = self.logger
        logger[metadataKey: "run"] = "\(runID)"
        let stored = try await storage.activeModels(includeWeights: false)
        guard !stored.isEmpty else {
            summary.errors.append("no active model; train the job first")
            return summary
        }
        // A model that the job's configuration no longer fits (another horizon, frequency,
        // quantiles, cell, ...) forecasts nothing; the series it serves fail, saying why.
        let refused = ConfigFitCheck(plan: plan).misfits(stored)
        let refusedIDs = Set(refused.map(\.modelID))
        if !refused.isEmpty {
            for misfit in refused {
                summary.errors.append(misfit.refusal(job: jobName))
                logger.error("model refused: the configuration changed", metadata: ["series": "\(misfit.series ?? "(global)")", "reason": "\(misfit.mismatch)"])
            }
            summary.seriesTotal += refused.count
            summary.seriesFailed += refused.count
            try await storage.addCounts(runID: runID, RunCounts(seriesTotal: refused.count, seriesFailed: refused.count))
        }
        let active = stored.filter { !refusedIDs.contains($0.modelID) }
        guard !active.isEmpty else { return summary }
        let end = now(), grid = plan.grid
        let global = active.first { $0.series == nil }
        let perSeries = Dictionary(stored.compactMap { m in m.series.map { ($0, m) } }, uniquingKeysWith: { a, _ in a })
        // A series whose own model was refused is not served by the global one instead.
        let servedBy: @Sendable (String) -> StoredModel? = { key in
            let model = perSeries[key] ?? global
            return model.flatMap { refusedIDs.contains($0.modelID) ? nil : $0 }
        }
        var timing = PredictTiming()
        // What each active model publishes, read from its cell and hyperparameters once per cycle.
        let published = Dictionary(active.map { ($0.modelID, PublishedForm(cell: $0.cell, hyperparameters: $0.hyperparameters, jobSeason: plan.season)) },
                                   uniquingKeysWith: { a, _ in a })

        // The saved states (and marks, for models that read their series in full) of the models
        // that serve their series now, and where each read starts.
        let saved = try await PredictTiming.measure(&timing.read) {
            let rows = try await storage.activeStates { row in
                guard servedBy(row.series)?.modelID == row.modelID, let form = published[row.modelID], grid.index(of: row.lastStep) != nil else { return false }
                return form.readsOnFromState != SeriesStateArchive.isFullReadMark(row.state)
            }
            return Dictionary(rows.map { ($0.series, $0) }, uniquingKeysWith: { _, last in last })
        }
        let readFrom = saved.mapValues { grid.start(ofBucket: grid.index(of: $0.lastStep)! + 1) }

        // One streaming read of the new rows of every series with a state.
        var work: [(key: String, reading: Reading)] = []
        var withoutState = Set(perSeries.keys.filter { saved[$0] == nil && servedBy($0) != nil })
        let everything = global != nil && saved.isEmpty
        if let from = readFrom.values.min(), !everything {
            do {
                let (continuing, unseen, points) = try await PredictTiming.measure(&timing.read) {
                    try await readNewSteps(from: from, to: end, readFrom: readFrom, hasGlobal: global != nil, storage: storage)
                }
                summary.pointsRead += Int64(points)
                for series in continuing {
                    let row = saved[series.key]!
                    // A model that reads in full fits the whole history again once a row arrives.
                    if SeriesStateArchive.isFullReadMark(row.state) { withoutState.insert(series.key) } else { work.append((series.key, .continuing(row, series))) }
                }
                withoutState.formUnion(unseen)
                timing.unchanged = saved.count - continuing.count
            } catch let error as SourceError {
                summary.errors.append(error.description)
                return summary
            }
        }

        // The series without a state: a network warms up over their last steps; the others (and
        // the series a warm-up cannot serve) are read in full.
        let warmUps = Dictionary(active.compactMap { model in
            warmsUpWithoutState && published[model.modelID]?.readsOnFromState == true ? WarmUp(hyperparameters: model.hyperparameters).map { (model.modelID, $0) } : nil
        }, uniquingKeysWith: { a, _ in a })
        do {
            let keys: Set<String>? = everything ? nil : withoutState
            if everything || !withoutState.isEmpty {
                let (read, points) = try await PredictTiming.measure(&timing.read) {
                    try await readWithoutState(keys, to: end, models: active, warmUps: warmUps, servedBy: servedBy, storage: storage)
                }
                summary.pointsRead += Int64(points)
                work += read
                timing.noteWarmUps(read, warmUps: warmUps, servedBy: servedBy)
            }
        } catch let error as SourceError {
            summary.errors.append(error.description)
            return summary
        }
        let pointsRead = summary.pointsRead
        // Each series' newest step: the last one read, or where an unchanged series' state stands.
        var ends = saved.mapValues(\.lastStep)
        for item in work {
            let s = item.reading.series
            ends[item.key] = s.date(ofStep: s.count - 1)
        }
        let newest = ends.values.max()
        // Series without new rows keep their forecast; they count as served.
        summary.seriesTotal += timing.unchanged
        try await storage.addCounts(runID: runID, RunCounts(seriesTotal: timing.unchanged, pointsRead: pointsRead, newestObservation: newest))

        work.sort { $0.key < $1.key }
        var again = try await forecast(work, servedBy: servedBy, published: published, globalID: global?.modelID, settledBefore: grid.index(of: end), runID: runID,
                                       summary: &summary, timing: &timing, logger: logger, storage: storage)
        // Saved states that could not be used are read again without them (a warm-up, which may
        // in turn need the whole history); a full read never goes back.
        while !again.isEmpty {
            let (read, points) = try await PredictTiming.measure(&timing.read) {
                let warmedUp = again.withoutState.isEmpty ? ([], 0)
                    : try await readWithoutState(Set(again.withoutState), to: end, models: active, warmUps: warmUps, servedBy: servedBy, storage: storage)
                let full = again.inFull.isEmpty ? ([], 0)
                    : try await readFullSeries(Set(again.inFull), to: end, models: active, servedBy: servedBy, storage: storage)
                return (warmedUp.0 + full.0.map { ($0.key, Reading.full($0)) }, warmedUp.1 + full.1)
            }
            summary.pointsRead += Int64(points)
            timing.noteWarmUps(read, warmUps: warmUps, servedBy: servedBy)
            try await storage.addCounts(runID: runID, RunCounts(pointsRead: Int64(points)))
            again = try await forecast(read.sorted { $0.key < $1.key }, servedBy: servedBy, published: published, globalID: global?.modelID,
                                       settledBefore: grid.index(of: end), runID: runID, summary: &summary, timing: &timing, logger: logger, storage: storage)
        }
        try await noteDataAge(newest: newest, ends: ends, end: end, forecasts: [], targets: timing.targets.map { [$0.lowerBound, $0.upperBound] } ?? [],
                              summary: &summary, logger: logger, storage: storage)
        logger.info("predict timing", metadata: [
            "read_s": "\(Self.seconds(timing.read))", "forecast_s": "\(Self.seconds(timing.forecast))",
            "write_s": "\(Self.seconds(timing.write))", "continued": "\(timing.continued)",
            "read_in_full": "\(timing.readInFull)", "warmed_up": "\(timing.warmedUp)", "unchanged": "\(timing.unchanged)",
            "warm_up": "\(timing.warmUps.isEmpty ? "-" : timing.warmUps.sorted().joined(separator: ", "))",
            "points_read": "\(summary.pointsRead)", "rows_written": "\(summary.rowsWritten)",
        ])
        return summary
    }

    static func seconds(_ value: Double) -> String { String(format: "%.3f", value) }

    /// Rows from `from` on, each kept only from its own series' `readFrom` on, laid on the grid
    /// per series; and the keys of rows whose series has no state but a model (a series the
    /// global model has not forecast yet).
    func readNewSteps(from: Date, to end: Date, readFrom: [String: Date], hasGlobal: Bool,
                      storage: some JobStorage) async throws -> (series: [RegularSeries], unseen: Set<String>, points: Int) {
        var settings = plan.seriesSettings
        settings.minimumLength = 1
        // A covariate read before the first new value is on a full read's grid too.
        settings.leadingCovariates = true
        let read = try await storage.readSeries(from: from, to: end, among: nil, settings: settings) { point in
            readFrom[point.series].map { point.time >= $0 } ?? false
        }
        let unseen: Set<String> = hasGlobal ? read.refusedKeys.filter { readFrom[$0] == nil } : []
        return (read.outcomes.compactMap { $0.series }, unseen, read.rowsRead)
    }

    /// The series `keys` (nil: every series) that have no usable state: those a network reading
    /// on from states serves over their last steps (`readWarmUps`), the others in full.
    func readWithoutState(_ keys: Set<String>?, to end: Date, models: [StoredModel], warmUps: [Int64: WarmUp],
                          servedBy: @escaping @Sendable (String) -> StoredModel?, storage: some JobStorage) async throws -> (work: [(key: String, reading: Reading)], points: Int) {
        let warmsUp: @Sendable (String) -> Bool = { key in servedBy(key).map { warmUps[$0.modelID] != nil } ?? false }
        var work: [(key: String, reading: Reading)] = [], points = 0
        // What is read in full: nil with `skipping` is every series but those.
        var inFull = keys.map { $0.filter { !warmsUp($0) } }, skipping: Set<String> = []
        if keys.map({ $0.contains(where: warmsUp) }) ?? !warmUps.isEmpty {
            let read = try await readWarmUps(keys.map { $0.filter(warmsUp) }, to: end, warmUps: warmUps, servedBy: servedBy, storage: storage)
            work += read.series.map { ($0.key, .warmUp($0)) }
            points += read.points
            if inFull != nil {
                inFull!.formUnion(read.unserved)
            } else if models.allSatisfy({ warmUps[$0.modelID] != nil }) {
                inFull = read.unserved
            } else {
                skipping = Set(read.series.map(\.key))
            }
        }
        if inFull.map({ !$0.isEmpty }) ?? true {
            let read = try await readFullSeries(inFull, skipping: skipping, to: end, models: models, servedBy: servedBy, storage: storage)
            work += read.series.map { ($0.key, .full($0)) }
            points += read.points
        }
        return (work, points)
    }

    /// The last `WarmUp.steps` steps before `end` of `keys` (nil: every series a network in
    /// `warmUps` serves), in one read that brings only those rows, and the series it cannot
    /// serve, to be read in full: those whose read holds fewer than `WarmUp.least` steps (younger
    /// than the warm-up), and those with no row in it (stopped before it). For `keys` nil those are the series forecast
    /// before (`forecastSeries`: training forecasts every series it reads) that the read did not
    /// find; asking the source which series stopped would scan it whole (0.45 s of 4M rows).
    func readWarmUps(_ keys: Set<String>?, to end: Date, warmUps: [Int64: WarmUp], servedBy: @escaping @Sendable (String) -> StoredModel?,
                     storage: some JobStorage) async throws -> (series: [RegularSeries], unserved: Set<String>, points: Int) {
        let grid = plan.grid
        // Each model's first step: `steps` before the bucket of `end`, not before its data's start.
        let starts: [Int64: Date] = warmUps.compactMapValues { warmUp in grid.date(-warmUp.steps, stepsAfter: end) }
        let from: @Sendable (String) -> Date? = { key in
            servedBy(key).flatMap { model in starts[model.modelID].map { max($0, model.dataStart ?? $0) } }
        }
        guard let earliest = starts.values.min() else { return ([], keys ?? [], 0) }
        var settings = plan.seriesSettings
        // A warm-up is shorter than training's least history; `least` judges it instead.
        settings.minimumLength = 1
        let among = keys.flatMap { $0.count <= Self.separateFullReads ? $0.sorted() : nil }
        let read = try await storage.readSeries(from: earliest, to: end, among: among, settings: settings) { point in
            (keys?.contains(point.series) ?? true) && from(point.series).map { point.time >= $0 } ?? false
        }
        var series: [RegularSeries] = [], unserved = Set<String>()
        for outcome in read.outcomes {
            if let s = outcome.series, let model = servedBy(s.key), let warmUp = warmUps[model.modelID], s.count >= warmUp.least {
                series.append(s)
            } else if servedBy(outcome.key) != nil {
                unserved.insert(outcome.key)
            }
        }
        let seen = Set(read.outcomes.map(\.key))
        if let keys {
            unserved.formUnion(keys.subtracting(seen))
        } else {
            let forecast = try await storage.forecastSeries()
            unserved.formUnion(forecast.filter { !seen.contains($0) && servedBy($0).map { warmUps[$0.modelID] != nil } ?? false })
        }
        return (series, unserved, read.rowsRead)
    }

    /// The whole history of `keys` (nil: every series but those `skipping`) from the first step
    /// of the models that serve them.
    func readFullSeries(_ keys: Set<String>?, skipping: Set<String> = [], to end: Date, models: [StoredModel], servedBy: @escaping @Sendable (String) -> StoredModel?,
                        storage: some JobStorage) async throws -> (series: [RegularSeries], points: Int) {
        let settings = plan.seriesSettings, fallbackStart = plan.trainingStart(end: end)
        let start: @Sendable (StoredModel?) -> Date = { model in model?.dataStart ?? fallbackStart }
        var outcomes: [SeriesOutcome] = [], points = 0
        if let keys, keys.count <= Self.separateFullReads {
            // One read per first step, not per series: the series a model serves share its
            // start, and each read also runs the job's holidays and static-covariate queries.
            let byStart = Dictionary(grouping: keys.sorted()) { start(servedBy($0)) }
            for (from, group) in byStart.sorted(by: { $0.key < $1.key }) {
                let read = try await storage.readSeries(from: from, to: end, among: group, settings: settings, keep: nil)
                outcomes += read.outcomes
                points += read.rowsRead
            }
        } else {
            let from = models.map(start).min() ?? fallbackStart
            var keep: (@Sendable (SourcePoint) -> Bool)?
            if let keys { keep = { keys.contains($0.series) } } else if !skipping.isEmpty { keep = { !skipping.contains($0.series) } }
            let read = try await storage.readSeries(from: from, to: end, among: nil, settings: settings, keep: keep)
            outcomes = read.outcomes
            points = read.rowsRead
        }
        let series = outcomes.compactMap { $0.series }.filter { servedBy($0.key) != nil }
        return (series.map { $0.trimmed(from: servedBy($0.key)!.dataStart) }, points)
    }

    /// Forecasts `work` batch by batch and writes each batch in one transaction. Returns the
    /// keys to read again: those whose saved state was unusable, and those whose forecast
    /// needs the whole history.
    func forecast(_ work: [(key: String, reading: Reading)], servedBy: @escaping @Sendable (String) -> StoredModel?, published: [Int64: PublishedForm],
                  globalID: Int64?, settledBefore: Int?,
                  runID: Int64, summary: inout RunSummary, timing: inout PredictTiming, logger: Logger,
                  storage: some JobStorage) async throws -> ReadAgain {
        let jobName = job.name
        var networks: [Int64: TrainedForecaster] = [:]
        var again = ReadAgain(), unknownFuture: [String] = []
        for batchStart in stride(from: 0, to: work.count, by: Self.predictBatch) {
            let batch = work[batchStart..<min(batchStart + Self.predictBatch, work.count)]
            // Networks of this batch: a global one is kept across batches, per-series ones only
            // for their batch, so memory does not grow with the number of series.
            let missing = Set(batch.compactMap { servedBy($0.key) }.filter { published[$0.modelID]?.needsWeights == true && networks[$0.modelID] == nil }.map(\.modelID))
            if !missing.isEmpty {
                let weights = try await PredictTiming.measure(&timing.read) {
                    try await storage.weights(modelIDs: Array(missing))
                }
                let decoding = Date()
                for (id, bytes) in weights { networks[id] = try? ModelArchive.decode(bytes) }
                timing.forecast += Date().timeIntervalSince(decoding)
            }
            var rows: [PredictionRow] = [], stateRows: [SeriesStateRow] = [], failed: [String] = []
            // What each forecast series read (the new steps only, when reading on), kept as actuals.
            var observed: [RegularSeries] = []
            let started = Date()
            // Series read from their first step by a network (in full or over a warm-up): read side
            // by side, one batched pass per model.
            var fullReads: [String: FullRead] = [:]
            var byModel: [Int64: [RegularSeries]] = [:]
            for (key, reading) in batch {
                if case .continuing = reading { continue }
                guard let model = servedBy(key), published[model.modelID]?.needsWeights == true, networks[model.modelID] != nil else { continue }
                byModel[model.modelID, default: []].append(reading.series)
            }
            for (id, series) in byModel.sorted(by: { $0.key < $1.key }) {
                let reads = networks[id]!.readInFull(series, settledBefore: settledBefore, threads: ComputeThreads.perUnit)
                for (s, read) in zip(series, reads) { if let read { fullReads[s.key] = read } }
            }
            // Series served without a network (a statistical model, fitted again per series at
            // every predict, or a baseline), or whose network's read is done above, are forecast
            // on the unit's threads first (a combination's statistical models are fitted there);
            // reading on from a state goes through the network's one inference workspace, so
            // those series go one by one below.
            let entries = Array(batch)
            let forecaster = { (model: StoredModel, form: PublishedForm) in
                PublishedForecaster(form: form, network: networks[model.modelID], horizon: job.horizon,
                                    levels: plan.forecaster.quantiles, maxGap: job.maxGap)
            }
            let withoutNetwork = ComputeThreads.map(entries.count, threads: ComputeThreads.perUnit) { i -> Result<(QuantileForecast, SeriesState?), any Error>? in
                let (key, reading) = entries[i]
                guard let model = servedBy(key), let form = published[model.modelID] else { return nil }
                let read = fullReads[key]
                guard !form.needsWeights || read != nil else { return nil }
                return Result { try forecastOne(reading, with: forecaster(model, form), settledBefore: settledBefore, read: read) }
            }
            for ((key, reading), ready) in zip(entries, withoutNetwork) {
                guard let model = servedBy(key), let form = published[model.modelID] else { continue }
                let result = ready ?? Result { try forecastOne(reading, with: forecaster(model, form), settledBefore: settledBefore, read: fullReads[key]) }
                do {
                    let (forecast, state) = try result.get()
                    let series = reading.series
                    switch reading {
                    case .continuing: timing.continued += 1
                    case .full: timing.readInFull += 1
                    case .warmUp: timing.warmedUp += 1
                    }
                    observed.append(series)
                    let published = SeriesForecast(after: series, forecast: forecast)
                    rows += Self.rows(published, job: jobName, modelID: model.modelID)
                    if let first = published.targets.first, let last = published.targets.last {
                        timing.targets = timing.targets.map { min($0.lowerBound, first)...max($0.upperBound, last) } ?? first...last
                    }
                    if let state {
                        stateRows.append(Self.stateRow(state, modelID: model.modelID, grid: plan.grid))
                    } else if !form.readsOnFromState, let mark = FullReadMark(after: series, settledBefore: settledBefore) {
                        stateRows.append(Self.stateRow(mark, modelID: model.modelID, grid: plan.grid))
                    }
                } catch let error as SeriesStateArchive.DamagedState {
                    logger.warning("saved state unusable; reading the series without it", metadata: ["series": "\(key)", "error": "\(error)"])
                    again.withoutState.append(key)
                } catch let missing as MissingFuture {
                    // The fallback needs the whole history: a series read on from its state or
                    // over a warm-up is read in full.
                    guard case .full(let series) = reading else { again.inFull.append(key); continue }
                    guard let published = plan.fallbackForecast(series) else {
                        failed.append(key)
                        summary.errors.append("\(missing); the series is too short for the fallback")
                        continue
                    }
                    unknownFuture.append(missing.description)
                    logger.warning("future-known covariate missing; fallback forecast", metadata: ["series": "\(key)", "reason": "\(missing)"])
                    observed.append(series)
                    timing.readInFull += 1
                    rows += Self.rows(published, job: jobName, modelID: model.modelID)
                } catch {
                    failed.append(key)
                    summary.errors.append("series \"\(key)\": \(error)")
                    logger.error("predict failed", metadata: ["series": "\(key)", "error": "\(error)"])
                }
            }
            timing.forecast += Date().timeIntervalSince(started)
            networks = networks.filter { $0.key == globalID }
            let readAgain = Set(again.withoutState + again.inFull)
            let served = batch.map(\.key).filter { !readAgain.contains($0) }, total = served.count
            let written: Int
            do {
                written = try await PredictTiming.measure(&timing.write) {
                    try await storage.write(PredictBatch(predictions: rows, states: stateRows, observed: observed,
                                                         series: served, failed: failed), runID: runID)
                }
            } catch {
                // A write in parts (`PartialBatchWrite`) counted the committed parts' series
                // itself; what failed, the whole batch or one part, is counted here.
                let partial = error as? PartialBatchWrite, cause = partial?.underlying ?? error
                let unwritten = partial?.unwritten.count ?? total
                summary.rowsWritten += Int64(partial?.written ?? 0)
                summary.seriesTotal += total
                summary.seriesFailed += (partial?.failedBeforeWriting ?? 0) + unwritten
                let which = partial == nil ? "series" : "\(unwritten) series of"
                summary.errors.append("\(which) \(batch.first!.key) to \(batch.last!.key): writing failed: \(cause)")
                logger.error("predict write failed", metadata: ["series": "\(partial == nil ? batch.count : unwritten) series", "error": "\(cause)"])
                guard await storage.isConnected else { throw cause }
                try await storage.addCounts(runID: runID, RunCounts(seriesTotal: unwritten, seriesFailed: unwritten))
                continue
            }
            summary.rowsWritten += Int64(written)
            summary.seriesTotal += total
            summary.seriesFailed += failed.count
        }
        if !unknownFuture.isEmpty {
            let note = Self.futureNote(unknownFuture)
            summary.notes.append(note)
            try await storage.addNote(runID: runID, note)
        }
        return again
    }

    /// The forecast of one series and the state to save after it (nil for the baseline).
    func forecastOne(_ reading: Reading, with forecaster: PublishedForecaster, settledBefore: Int?, read: FullRead? = nil) throws -> (QuantileForecast, SeriesState?) {
        switch reading {
        case .continuing(let row, let newSteps):
            return try forecaster.forecast(continuing: row.state, of: row.series, with: newSteps, settledBefore: settledBefore)
        case .full(let series), .warmUp(let series):
            return try forecaster.forecast(series, settledBefore: settledBefore, read: read)
        }
    }
}
