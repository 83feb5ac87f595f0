import Foundation
import Logging
import PostgresClient
import XCTest
@testable import ForecastConfig
@testable import ForecastJobs
@testable import ForecastStore
@testable import Forecasting

/// The predict cycle, `run --once`, the backtest and the work queue's unit execution on an
/// in-memory `JobStorage`: their logic without PostgreSQL (the store's SQL has its own tests,
/// and `IncrementalPredictTests`, `RunMessagesTests` and `ConfigChangeTests` run the same paths
/// through a live server).
final class PredictRunTests: XCTestCase {
    let t0 = Date(timeIntervalSince1970: 1_700_002_800)
    let hours = 20 * 24

    func job(horizon: Int = 6) -> JobSettings {
        // 20 epochs: enough to learn the trend seasonal naive misses, so a network is published.
        var job = JobSettings.sensors(table: "readings", horizon: horizon, epochs: 20)
        job.fallback = .none
        job.statisticalChallengers = false
        return job
    }

    /// Hours `range` of the two sensors of `trendingReadings`, on which the guard publishes the network alone.
    func rows(_ range: Range<Int>) -> [SourcePoint] {
        let values = trendingReadings(hours: range.upperBound)
        return range.flatMap { h in
            [SourcePoint(series: "a", time: hour(h), value: values[h].a), SourcePoint(series: "b", time: hour(h), value: values[h].b)]
        }
    }

    func runner(_ job: JobSettings, at clock: Date) -> JobRunner {
        var runner = JobRunner(job: job, database: DatabaseSettings(url: "", schema: "unused"), logger: Logger(label: "test"))
        runner.now = { clock }
        return runner
    }

    func hour(_ h: Int) -> Date { t0 + Double(h) * 3600 }

    /// Trained at hour 480 on both series; returns the storage.
    func trained() async throws -> InMemoryJobStorage {
        let store = InMemoryJobStorage(points: rows(0..<hours), plan: JobPlan(job()), clock: hour(hours))
        let summary = try await runner(job(), at: hour(hours)).train(storage: store, only: nil, trigger: nil, note: nil)
        XCTAssertEqual(summary.status, .succeeded, "\(summary.errors)")
        let cells = await store.activeModels.map(\.cell)
        XCTAssertEqual(cells, [.lstm, .lstm], "the network is published alone, so it saves states")
        return store
    }

    func latest(_ store: InMemoryJobStorage, issuedAt: Date) async -> [String: [Double]] {
        var result: [String: [Double]] = [:]
        for row in await store.predictions where row.issuedAt == issuedAt {
            result[row.series, default: []] += [row.forecastValue, row.lowerBound ?? .nan, row.upperBound ?? .nan]
        }
        return result
    }

    func testAPredictReadsOnlyTheNewRowsFromTheSavedStatesAndEqualsAFullRead() async throws {
        let store = try await trained()
        await store.add(rows(hours..<(hours + 3)))
        await store.setClock(hour(hours + 3))
        let onward = try await runner(job(), at: hour(hours + 3)).predict(storage: store)
        XCTAssertEqual(onward.status, .succeeded, "\(onward.errors)")
        XCTAssertEqual(onward.seriesTotal, 2)
        XCTAssertEqual(onward.pointsRead, 6, "three new rows of each series, nothing older")
        XCTAssertEqual(onward.rowsWritten, 12)
        let continued = await latest(store, issuedAt: hour(hours + 2))
        let statesAfter = await store.states.mapValues(\.lastStep)
        XCTAssertEqual(statesAfter, ["a": hour(hours + 2), "b": hour(hours + 2)])

        // Without states (and no warm-up) the same cycle reads every series in full and must
        // publish the same numbers.
        await store.dropStates()
        var fullReader = runner(job(), at: hour(hours + 3))
        fullReader.warmsUpWithoutState = false
        let full = try await fullReader.predict(storage: store)
        XCTAssertEqual(full.status, .succeeded, "\(full.errors)")
        XCTAssertEqual(full.pointsRead, Int64(2 * (hours + 3)))
        let fromFull = await latest(store, issuedAt: hour(hours + 2))
        XCTAssertEqual(fromFull.keys.sorted(), ["a", "b"])
        XCTAssertEqual(fromFull, continued, "reading on from a state gives the forecast of a full read, bit for bit")
        let issued = await store.predictions.filter { $0.issuedAt == hour(hours + 2) }.count
        XCTAssertEqual(issued, 12, "writing an origin again replaced it")
    }

    func testAPredictWithoutNewRowsKeepsTheForecastsAndCountsTheSeriesAsServed() async throws {
        let store = try await trained()
        let before = await store.predictions
        let summary = try await runner(job(), at: hour(hours)).predict(storage: store)
        XCTAssertEqual(summary.status, .succeeded, "\(summary.errors)")
        XCTAssertEqual(summary.seriesTotal, 2)
        XCTAssertEqual(summary.rowsWritten, 0)
        let after = await store.predictions
        XCTAssertEqual(after, before)
    }

    /// Trains the two sensors, then under `changed` checks that predict refuses both models for
    /// `mismatch` and that `run --once` retrains and predicts; returns the storage and the summaries.
    func assertRefusedThenRetrained(under changed: JobSettings, mismatch: String) async throws -> (InMemoryJobStorage, [RunSummary]) {
        let store = try await trained()
        await store.add(rows(hours..<(hours + 1)))
        let refused = try await runner(changed, at: hour(hours + 1)).predict(storage: store)
        XCTAssertEqual(refused.status, .failed)
        XCTAssertEqual(refused.seriesFailed, 2)
        XCTAssertTrue(refused.errors.allSatisfy { $0.contains(mismatch) }, "\(refused.errors)")
        let summaries = try await runner(changed, at: hour(hours + 1)).runOnce(storage: store)
        XCTAssertEqual(summaries.map(\.kind), [.train, .predict])
        XCTAssertEqual(summaries.map(\.status), [.succeeded, .succeeded], "\(summaries.flatMap(\.errors))")
        return (store, summaries)
    }

    func testAModelTheConfigurationNoLongerFitsIsRefusedAndRunOnceRetrainsIt() async throws {
        let (store, summaries) = try await assertRefusedThenRetrained(under: job(horizon: 12), mismatch: "trained with horizon 6, the job now asks 12")
        let trigger = await store.runs[summaries[0].runID]?.trigger
        XCTAssertEqual(trigger, .config)
        let horizons = await store.predictions.filter { $0.issuedAt == hour(hours) }.reduce(into: [String: Int]()) { $0[$1.series, default: 0] += 1 }
        XCTAssertEqual(horizons, ["a": 12, "b": 12])
    }

    /// A job whose scope becomes global: the series' own networks would serve their series before
    /// the global model, so predict refuses them, `run --once` trains the global model, and
    /// publishing it retires them.
    func testAJobWhoseScopeBecomesGlobalRetrainsOneModelThatRetiresTheSeriesNetworks() async throws {
        var global = job()
        global.model.scope = .global
        let (store, _) = try await assertRefusedThenRetrained(under: global, mismatch: "trained with model.scope \"series\", the job now asks \"global\"")
        let active = await store.activeModels
        XCTAssertEqual(active.map(\.series), [nil], "one global model, the series' networks retired")
        let served = await Set(store.predictions.filter { $0.issuedAt == hour(hours) }.map(\.modelID))
        XCTAssertEqual(served, Set(active.map(\.modelID)))
    }

    /// `scope = "auto"` (the default): two series of nine days, under ten seasons of hourly data,
    /// train one global model, which records the choice and why; twenty days train one each.
    func testAutoScopeTrainsOneGlobalModelOverShortSeriesAndRecordsWhy() async throws {
        var auto = job()
        auto.model.scope = .auto
        let short = 9 * 24
        let store = InMemoryJobStorage(points: rows(0..<short), plan: JobPlan(auto), clock: hour(short))
        let summary = try await runner(auto, at: hour(short)).train(storage: store, only: nil, trigger: nil, note: nil)
        XCTAssertEqual(summary.status, .succeeded, "\(summary.errors)")
        let models = await store.models
        XCTAssertFalse(models.isEmpty)
        for model in models {
            XCTAssertNil(model.series, "one global model")
            XCTAssertTrue(model.hyperparameters.contains(#""scope":"global""#), model.hyperparameters)
            XCTAssertTrue(model.hyperparameters.contains(#""scope_reason":"auto: 2 series of median 216 observations, under 240 (10 seasons)""#),
                          model.hyperparameters)
        }
        let long = try await trained()
        let perSeries = await long.models.filter { $0.status == .active }
        XCTAssertEqual(perSeries.map(\.series), ["a", "b"])
        XCTAssertTrue(perSeries.allSatisfy { $0.hyperparameters.contains(#""scope_reason":"auto: 2 series of median 480 observations, 240 (10 seasons) or more""#) },
                      perSeries.map(\.hyperparameters).joined(separator: "\n"))
    }

    static func sine(_ i: Int, _ h: Int) -> Double { 10 * Double(i + 1) + 0.05 * Double(h) + 5 * sin(2 * Double.pi * Double(h + i) / 24) }

    /// Short clean sines on a trend: the challengers (on by default for short series) beat a
    /// weak network (one epoch at hidden 2 forecasts about its base, whose level trails the trend),
    /// and predict fits the published statistical model again for each series that got new rows
    /// after its mark, on the unit's threads, writing its horizon; the others keep their forecast.
    func testAStatisticalModelIsFittedAgainForEverySeriesWithNewRowsAtPredict() async throws {
        var sines = job()
        sines.statisticalChallengers = .auto
        sines.model.hiddenSize = 2
        sines.model.epochs = 1
        let keys = ["a", "b", "c"]
        let points = { (range: Range<Int>) -> [SourcePoint] in
            range.flatMap { (h: Int) -> [SourcePoint] in
                keys.indices.map { (i: Int) -> SourcePoint in SourcePoint(series: keys[i], time: self.hour(h), value: Self.sine(i, h)) }
            }
        }
        let store = InMemoryJobStorage(points: points(0..<hours), plan: JobPlan(sines), clock: hour(hours))
        let trained = try await runner(sines, at: hour(hours)).train(storage: store, only: nil, trigger: nil, note: nil)
        XCTAssertEqual(trained.status, .succeeded, "\(trained.errors)")
        let cells = await store.activeModels.map(\.cell)
        XCTAssertEqual(cells.count, 3)
        XCTAssertTrue(cells.allSatisfy { if case .statistical = $0 { true } else { false } }, "\(cells)")
        let marks = await store.states
        XCTAssertEqual(Set(marks.keys), Set(keys))
        for (key, row) in marks {
            XCTAssertEqual(row.state, SeriesStateArchive.fullReadMark, "series \(key) is read in full: a mark, no state")
            XCTAssertEqual(row.lastStep, hour(hours - 1))
        }

        // Nothing new: every forecast stands, nothing is read.
        let unchanged = try await runner(sines, at: hour(hours)).predict(storage: store)
        XCTAssertEqual(unchanged.status, .succeeded, "\(unchanged.errors)")
        XCTAssertEqual(unchanged.seriesTotal, 3)
        XCTAssertEqual(unchanged.pointsRead, 0)
        XCTAssertEqual(unchanged.rowsWritten, 0)

        // Rows for "a" only: "a" alone is read in full and fitted again.
        await store.add(points(hours..<(hours + 2)).filter { $0.series == "a" })
        await store.setClock(hour(hours + 2))
        let one = try await runner(sines, at: hour(hours + 2)).predict(storage: store)
        XCTAssertEqual(one.status, .succeeded, "\(one.errors)")
        XCTAssertEqual(one.rowsWritten, 6)
        XCTAssertEqual(one.pointsRead, 2 + Int64(hours + 2), "the new rows found after the mark, then the whole series")
        let movedOn = await store.states
        XCTAssertEqual(movedOn.mapValues(\.lastStep), ["a": hour(hours + 1), "b": hour(hours - 1), "c": hour(hours - 1)])

        await store.add(points(hours..<(hours + 2)).filter { $0.series != "a" })
        let predicted = try await runner(sines, at: hour(hours + 2)).predict(storage: store)
        XCTAssertEqual(predicted.status, .succeeded, "\(predicted.errors)")
        XCTAssertEqual(predicted.rowsWritten, 2 * 6)
        let issued = await store.predictions.filter { $0.issuedAt == hour(hours + 1) }
        XCTAssertEqual(Set(issued.map(\.series)), Set(keys))
        for row in issued {
            let i = keys.firstIndex(of: row.series)!, h = Int(row.targetTs.timeIntervalSince(t0) / 3600)
            XCTAssertEqual(row.forecastValue, Self.sine(i, h), accuracy: 0.5, "the sines forecast again from their new rows")
        }
    }

    /// A batch that cannot be written fails its series with the reason, and leaves their forecasts and states as they were.
    func testABatchThatCannotBeWrittenFailsItsSeriesAndChangesNothing() async throws {
        let store = try await trained()
        let predictionsBefore = await store.predictions, statesBefore = await store.states
        await store.add(rows(hours..<(hours + 2)))
        await store.refuseWrites(of: ["b"])
        let summary = try await runner(job(), at: hour(hours + 2)).predict(storage: store)
        XCTAssertEqual(summary.status, .failed)
        XCTAssertEqual(summary.seriesFailed, 2)
        XCTAssertEqual(summary.errors, ["series a to b: writing failed: PostgreSQL usage error: cannot write series b"])
        let predictionsAfter = await store.predictions, statesAfter = await store.states
        XCTAssertEqual(predictionsAfter, predictionsBefore)
        XCTAssertEqual(statesAfter, statesBefore)
    }

    /// A batch written in parts (PostgreSQL's storage writes one per lock stripe, at once) of
    /// which one fails: the other part's series are served and counted, the failed part's
    /// series fail with the write's error, and keep their old forecasts and states.
    func testAFailedPartOfABatchWriteFailsOnlyItsSeries() async throws {
        let store = try await trained()
        let statesBefore = await store.states
        await store.add(rows(hours..<(hours + 2)))
        await store.refuseWrites(of: ["b"])
        await store.writeInParts()
        let summary = try await runner(job(), at: hour(hours + 2)).predict(storage: store)
        XCTAssertEqual(summary.status, .partial)
        XCTAssertEqual([summary.seriesTotal, summary.seriesFailed], [2, 1])
        XCTAssertEqual(summary.errors, ["1 series of a to b: writing failed: PostgreSQL usage error: cannot write series b"])
        XCTAssertEqual(summary.rowsWritten, 6)
        let newest = await latest(store, issuedAt: hour(hours + 1))
        XCTAssertEqual(Set(newest.keys), ["a"], "a's new forecast is stored, b's is not")
        let statesAfter = await store.states
        XCTAssertEqual(statesAfter["b"], statesBefore["b"])
        XCTAssertNotEqual(statesAfter["a"], statesBefore["a"])
        let counts = await store.runs[summary.runID]?.counts
        XCTAssertEqual(counts?.seriesTotal, 2)
        XCTAssertEqual(counts?.seriesFailed, 1)
    }

    func testAPredictWithoutAModelFailsSayingSo() async throws {
        let store = InMemoryJobStorage(points: rows(0..<hours), plan: JobPlan(job()))
        let summary = try await runner(job(), at: hour(hours)).predict(storage: store)
        XCTAssertEqual(summary.status, .failed)
        XCTAssertEqual(summary.errors, ["no active model; train the job first"])
        let status = await store.runs[summary.runID]?.status
        XCTAssertEqual(status, .failed)
    }

    /// Queued units: the run stays open until its last unit, which closes it; a unit that cannot
    /// be trained fails for good at once (no retry) and names its series in the run's error.
    func testQueuedUnitsCloseTheirRunWithTheLastOneAndAPermanentFailureIsNotRetried() async throws {
        let store = InMemoryJobStorage(points: rows(0..<hours), plan: JobPlan(job()), clock: hour(hours))
        let runner = runner(job(), at: hour(hours))
        let items = await store.queueRun(kind: .train, units: ["a", "b", "gone"])
        let runID = items[0].runID
        let written = try await runner.execute(WorkClaim(item: items[0], owner: "w"), storage: store)
        XCTAssertEqual(written, 6)
        var status = await store.runs[runID]?.status
        XCTAssertEqual(status, .running, "two units are still queued")
        try await runner.execute(WorkClaim(item: items[1], owner: "w"), storage: store)

        do {
            try await runner.execute(WorkClaim(item: items[2], owner: "w"), storage: store)
            XCTFail("a series without rows cannot be trained")
        } catch {
            try await runner.recordFailure(WorkClaim(item: items[2], owner: "w"), error: error, storage: store)
        }
        let run = await store.runs[runID]
        XCTAssertEqual(run?.status, .partial)
        XCTAssertEqual(run?.counts.seriesTotal, 3)
        XCTAssertEqual(run?.counts.seriesFailed, 1)
        XCTAssertEqual(run?.counts.pointsRead, Int64(2 * hours))
        XCTAssertEqual(run?.error, "series \"gone\": the series has no rows in the training window")
        let queue = await store.queue[items[2].workID]?.state
        XCTAssertEqual(queue, .failed("the series has no rows in the training window"))
        status = await store.runs[runID]?.status
        XCTAssertEqual(status, .partial)
    }

    /// A unit whose lease was lost writes nothing: its model does not become active.
    func testATrainUnitWhoseLeaseIsLostPublishesNothing() async throws {
        let store = InMemoryJobStorage(points: rows(0..<hours), plan: JobPlan(job()), clock: hour(hours))
        let items = await store.queueRun(kind: .train, units: ["a"])
        _ = try await store.fail(WorkClaim(item: items[0], owner: "w"), error: "lease expired", backoff: 0, permanent: false)
        do {
            try await runner(job(), at: hour(hours)).execute(WorkClaim(item: items[0], owner: "w"), storage: store)
            XCTFail("the lease is gone")
        } catch WorkQueueError.leaseLost {}
        let models = await store.activeModels
        XCTAssertTrue(models.isEmpty)
    }

    func testABacktestScoresEverySeriesOnItsWithheldWindows() async throws {
        let store = InMemoryJobStorage(points: rows(0..<hours), plan: JobPlan(job()), clock: hour(hours))
        let (summary, scores) = try await runner(job(), at: hour(hours)).backtest(storage: store)
        XCTAssertEqual(summary.status, .succeeded, "\(summary.errors)")
        XCTAssertEqual(scores.map(\.series), ["a", "b"])
        let rows = await store.backtests[summary.runID] ?? []
        XCTAssertEqual(Set(rows.map(\.series)), ["a", "b"])
        XCTAssertTrue(rows.allSatisfy { $0.windows == 2 }, "\(rows)")
        let models = await store.activeModels
        XCTAssertTrue(models.isEmpty, "a backtest publishes nothing")
    }
}
