import Foundation
import Logging
import PostgresClient
import XCTest
@testable import ForecastService
@testable import Forecasting
import NeuralNet

/// Train and predict runs against a real database: what lands in the tables, and how bad
/// series and a failing source are recorded without stopping the others.
final class JobRunnerTests: StoreTestCase {
    /// The first reading, on the hour.
    let t0 = Date(timeIntervalSince1970: 1_700_002_800)
    /// The clock of the runs: one hour after the last reading.
    var now: Date { t0 + 20 * 86_400 }

    /// Hourly readings for 20 days: two seasonal series, one all NaN, one constant, one with
    /// a single row.
    func loadReadings() async throws {
        let readings = table("readings")
        try await db.executeScript("CREATE TABLE \(readings) (sensor text, ts timestamptz, reading double precision)")
        let t0 = self.t0
        _ = try await db.copyIn("COPY \(readings) FROM STDIN") { writer in
            for hour in 0..<(20 * 24) {
                let ts = t0 + Double(hour) * 3600
                let daily = sin(2 * Double.pi * Double(hour) / 24)
                for (sensor, value) in [("a", 10 + 5 * daily + Double(hour % 7) * 0.1), ("b", 100 - 20 * daily + Double(hour % 5) * 0.3),
                                        ("nan", Double.nan), ("flat", 3)] {
                    try writer.append(sensor)
                    try writer.append(ts)
                    try writer.append(value)
                    try writer.endRow()
                }
            }
            try writer.append("single")
            try writer.append(t0)
            try writer.append(1.0)
            try writer.endRow()
        }
    }

    func job(_ name: String = "sensors", source: SourceSettings.Origin? = nil, fallback: FallbackPolicy = .seasonalNaive) -> JobSettings {
        var job = JobSettings(name: name, frequency: "1h", horizon: 6,
                              source: SourceSettings(origin: source ?? .table("\(schema).readings"), seriesColumn: "sensor",
                                                     timeColumn: "ts", valueColumn: "reading"))
        job.trainWindow = 30 * 86_400
        job.backtestWindows = 2
        job.fallback = fallback
        job.model.hiddenSize = 8
        job.model.epochs = 3
        job.model.context = 24
        return job
    }

    func runner(_ job: JobSettings) throws -> JobRunner {
        var runner = try JobRunner(job: job, database: DatabaseSettings(url: "", schema: schema), logger: Logger(label: "test"))
        let now = self.now
        runner.now = { now }
        return runner
    }

    func testTrainPublishesModelsForecastsAndRecordsBadSeries() async throws {
        try await loadReadings()
        let summary = try await runner(job()).train(on: db)
        XCTAssertEqual(summary.status, .partial, "\(summary.errors)")
        XCTAssertEqual(summary.seriesTotal, 5)
        XCTAssertEqual(summary.seriesFailed, 2, "the all-NaN and the single-row series fail; \(summary.errors)")
        XCTAssertTrue(summary.errors.contains { $0.contains("\"nan\"") }, "\(summary.errors)")
        XCTAssertTrue(summary.errors.contains { $0.contains("\"single\"") }, "\(summary.errors)")

        let active = try await db.query("SELECT series, cell FROM \(table("models")) WHERE status = 'active' ORDER BY series")
            .map { (try $0.decode(0, as: String.self), try $0.decode(1, as: String.self)) }
        XCTAssertEqual(active.map(\.0), ["a", "b", "flat"])
        XCTAssertEqual(active.first { $0.0 == "flat" }?.1, "seasonal_naive", "a constant series is served by the fallback")
        let run = try await db.query("SELECT status, series_total, series_failed, rows_written, error FROM \(table("runs")) WHERE run_id = $1", summary.runID)[0]
        XCTAssertEqual(try run.decode(0, as: String.self), "partial")
        XCTAssertEqual(try run.decode(1, as: Int.self), 5)
        XCTAssertEqual(try run.decode(2, as: Int.self), 2)
        XCTAssertEqual(try run.decode(3, as: Int.self), 3 * 6)
        XCTAssertTrue(try run.decode(4, as: String.self).contains("nan"))

        let forecasts = try await count("SELECT count(*) FROM \(table("latest_forecasts"))")
        XCTAssertEqual(forecasts, 3 * 6)
        let ordered = try await count("SELECT count(*) FROM \(table("predictions")) WHERE NOT (lower_bound <= forecast_value AND forecast_value <= upper_bound)")
        XCTAssertEqual(ordered, 0, "the median lies inside the interval")
        let origin = try await db.query("SELECT max(issued_at), min(target_ts) FROM \(table("predictions")) WHERE series = 'a'")[0]
        XCTAssertEqual(try origin.decode(0, as: Date.self), t0 + Double(20 * 24 - 1) * 3600, "issued at the last observed step")
        XCTAssertEqual(try origin.decode(1, as: Date.self), t0 + Double(20 * 24) * 3600)
        let metrics = try await count("SELECT count(DISTINCT metric) FROM \(table("model_metrics")) WHERE split = 'backtest'")
        XCTAssertGreaterThanOrEqual(metrics, 15, "model and baseline metrics and skill")
    }

    func testPredictReusesTheActiveModelsAndTrainingReplacesThemAtomically() async throws {
        try await loadReadings()
        let runner = try runner(job())
        _ = try await runner.train(on: db)
        let before = try await db.query("SELECT model_id FROM \(table("models")) WHERE status = 'active' ORDER BY model_id").map { try $0.decode(0, as: Int64.self) }
        let predicted = try await runner.predict(on: db)
        XCTAssertEqual(predicted.status, .succeeded, "series without a model are not predicted: \(predicted.errors)")
        XCTAssertEqual(predicted.seriesTotal, 3)
        XCTAssertEqual(predicted.rowsWritten, 3 * 6)
        let usedModels = try await db.query("SELECT DISTINCT model_id FROM \(table("predictions")) ORDER BY 1").map { try $0.decode(0, as: Int64.self) }
        XCTAssertEqual(usedModels, before, "predict writes with the active models and trains nothing")

        _ = try await runner.train(on: db, onlySeries: "a")
        let versions = try await db.query("SELECT version, status FROM \(table("models")) WHERE series = 'a' ORDER BY version")
            .map { (try $0.decode(0, as: Int.self), try $0.decode(1, as: String.self)) }
        XCTAssertGreaterThan(versions.count, before.count == 3 ? 1 : 0)
        XCTAssertEqual(versions.filter { $0.1 == "active" }.map(\.0), [versions.map(\.0).max()!], "the newest version is the one active one")
        XCTAssertEqual(Set(versions.map(\.1)).subtracting(["active", "retired", "rejected"]), [])
    }

    func testTrainingOneSeriesReadsOnlyItsRows() async throws {
        try await loadReadings()
        let summary = try await runner(job()).train(on: db, onlySeries: "a")
        XCTAssertEqual(summary.seriesTotal, 1)
        XCTAssertEqual(summary.pointsRead, 20 * 24, "the source filters the series; the other four are not read")
        let trained = try await db.query("SELECT DISTINCT series FROM \(table("models"))").map { try $0.decode(0, as: String.self) }
        XCTAssertEqual(trained, ["a"])
    }

    func testPredictWithANaiveFallbackRepeatsTheLastValue() async throws {
        try await loadReadings()
        let store = ModelStore(schema: schema)
        _ = try await store.insert(NewModel(job: "sensors", series: "a", cell: .seasonalNaive,
                                            hyperparameters: UnitTrainer.json(FallbackBaseline(.level, season: 24)), status: .active,
                                            reason: "fallback: test"), on: db)
        let summary = try await runner(job()).predict(on: db)
        XCTAssertEqual(summary.status, .succeeded, "\(summary.errors)")
        let last = try await db.query("SELECT reading FROM \(table("readings")) WHERE sensor = 'a' ORDER BY ts DESC LIMIT 1")[0].decode(0, as: Double.self)
        let forecasts = try await db.query("SELECT forecast_value FROM \(table("predictions")) WHERE series = 'a' ORDER BY step").map { try $0.decode(0, as: Double.self) }
        XCTAssertEqual(forecasts, Array(repeating: last, count: 6), "season 1 from the model's hyperparameters, not the job's 24")
    }

    /// A network published combined with naive: predict reads the series in full (its saved
    /// state is not used) and publishes the mean of the network's forecast and naive's.
    func testPredictWithACombinedModelAveragesTheNetworkAndItsBaseline() async throws {
        try await loadReadings()
        var alone = job()
        alone.fallback = .none
        let runner = try runner(alone)
        _ = try await runner.train(on: db, onlySeries: "a")
        let model = try await db.query("SELECT model_id FROM \(table("models")) WHERE series = 'a' AND cell = 'lstm'")[0].decode(0, as: Int64.self)
        try await db.execute("""
            UPDATE \(table("models")) SET status = 'active', hyperparameters = hyperparameters - 'combined_with' WHERE model_id = $1
            """, model)
        try await db.execute("DELETE FROM \(table("series_state"))")
        let network = try await runner.predict(on: db)
        XCTAssertEqual(network.status, .succeeded, "\(network.errors)")
        let forecasts = { [self] in
            try await db.query("SELECT forecast_value FROM \(table("latest_forecasts")) WHERE series = 'a' ORDER BY step").map { try $0.decode(0, as: Double.self) }
        }
        let networkAlone = try await forecasts()
        let statesBefore = try await count("SELECT count(*) FROM \(table("series_state")) WHERE series = 'a'")
        XCTAssertEqual(statesBefore, 1, "the network alone reads on from a saved state")

        try await db.execute("""
            UPDATE \(table("models")) SET hyperparameters = hyperparameters || '{"combined_with": {"baseline": "naive", "season": 1}}'
            WHERE model_id = $1
            """, model)
        let combined = try await runner.predict(on: db)
        XCTAssertEqual(combined.status, .succeeded, "\(combined.errors)")
        XCTAssertEqual(combined.pointsRead, 20 * 24, "read in full, the saved state not used")
        let last = try await db.query("SELECT reading FROM \(table("readings")) WHERE sensor = 'a' ORDER BY ts DESC LIMIT 1")[0].decode(0, as: Double.self)
        let published = try await forecasts()
        XCTAssertEqual(published.count, 6)
        for (value, alone) in zip(published, networkAlone) {
            XCTAssertEqual(value, (alone + last) / 2, accuracy: 1e-9, "the mean of the network's point and naive's")
        }
    }

    func testAFailingSourceQueryFailsTheRunWithTheJobNamed() async throws {
        let broken = job("broken", source: .query("SELECT sensor, ts, reading FROM no_such_table WHERE ts >= $1 AND ts < $2"))
        let summary = try await runner(broken).train(on: db)
        XCTAssertEqual(summary.status, .failed)
        XCTAssertTrue(summary.errors.joined().contains("job \"broken\""), "\(summary.errors)")
        XCTAssertTrue(summary.errors.joined().contains("no_such_table"), "\(summary.errors)")
        let status = try await db.query("SELECT status, error FROM \(table("runs")) WHERE run_id = $1", summary.runID)[0]
        XCTAssertEqual(try status.decode(0, as: String.self), "failed")
        XCTAssertTrue(try status.decode(1, as: String.self).contains("no_such_table"))
        let running = try await count("SELECT count(*) FROM \(table("runs")) WHERE status = 'running'")
        XCTAssertEqual(running, 0)
    }

    func testPredictWithoutAModelFailsClearly() async throws {
        try await loadReadings()
        let summary = try await runner(job()).predict(on: db)
        XCTAssertEqual(summary.status, .failed)
        XCTAssertEqual(summary.errors, ["no active model; train the job first"])
    }

    func testTrainingIsDueWithoutAModelAndAfterTrainEvery() async throws {
        try await loadReadings()
        var runner = try runner(job())
        let due = try await runner.trainingIsDue(on: db)
        XCTAssertTrue(due)
        let trained = try await runner.train(on: db)
        runner.now = { Date() }
        let dueNow = try await runner.trainingIsDue(on: db)
        XCTAssertFalse(dueNow, "just trained (\(trained.status))")
        runner.now = { Date() + 2 * 86_400 }
        let dueLater = try await runner.trainingIsDue(on: db)
        XCTAssertTrue(dueLater, "train_every (24h) has passed")
    }
}

final class AccuracyGuardTests: XCTestCase {
    func testAModelThatDoesNotBeatTheBaselineIsRejectedWithTheReason() {
        XCTAssertEqual(AccuracyPool().rejection, "no backtest window could be scored")
    }

    /// A random walk: naive beats seasonal naive, so a network must beat naive to be published.
    func randomWalk(_ count: Int, seed: UInt64 = 3) -> [Double] {
        var generator = SplitMix64(state: seed)
        var values: [Double] = [100]
        for _ in 1..<count { values.append(values.last! + Double.random(in: -1...1, using: &generator)) }
        return values
    }

    func scored(_ values: [Double], season: Int, model: @escaping (ArraySlice<Double>) -> [Double]) -> (BacktestResult, BacktestResult) {
        let backtest = Backtest(horizon: 5, windows: 3, season: season, levels: [0.1, 0.5, 0.9])
        let point = { (history: ArraySlice<Double>) in
            let p = model(history)
            return QuantileForecast(levels: [0.1, 0.5, 0.9], values: p.flatMap { [$0 - 1, $0, $0 + 1] })
        }
        return (backtest.run(values: values) { point($0.history) },
                backtest.run(values: values) { SeasonalNaive.naive.forecast(history: $0.history, horizon: 5, levels: [0.1, 0.5, 0.9]) })
    }

    func testTheGuardRejectsANetworkThatBeatsSeasonalNaiveButLosesToNaive() throws {
        // A steady trend: naive misses step h by h, seasonal naive (season 5) by 5, and a
        // model that repeats the last value minus one by h + 1, in between.
        let trend = (0..<400).map(Double.init)
        let (model, naive) = scored(trend, season: 5) { history in Array(repeating: history.last! - 1, count: 5) }
        var pool = AccuracyPool()
        pool.add(model, naive: naive)
        XCTAssertLessThan(pool.value("mase"), pool.value("baseline_mase"), "the model beats seasonal naive")
        XCTAssertGreaterThan(pool.value("mase"), pool.value("naive_mase"), "and loses to naive")
        let reason = try XCTUnwrap(pool.rejection)
        XCTAssertTrue(reason.hasPrefix("backtest MASE "), reason)
        XCTAssertTrue(reason.contains("does not beat naive ("), reason)
        XCTAssertTrue(reason.contains("seasonal naive"), reason)
        XCTAssertEqual(pool.metrics.map(\.name).filter { $0.hasPrefix("naive_") }, ["naive_mae", "naive_mase"])

        var withoutNaive = AccuracyPool()
        withoutNaive.add(model)
        XCTAssertNil(withoutNaive.rejection, "scored against seasonal naive alone, the model passes")
    }

    func testTheGuardPassesANetworkThatBeatsBothBaselines() {
        let walk = randomWalk(400)
        // An oracle: the actual future values.
        var origin = 0
        let backtest = Backtest(horizon: 5, windows: 3, season: 5, levels: [0.5])
        let model = backtest.run(values: walk) { window in
            origin = window.origin
            return QuantileForecast(levels: [0.5], values: Array(walk[origin..<(origin + 5)]))
        }
        let naive = backtest.run(values: walk) { SeasonalNaive.naive.forecast(history: $0.history, horizon: 5, levels: [0.5]) }
        var pool = AccuracyPool()
        pool.add(model, naive: naive)
        XCTAssertNil(pool.rejection)
    }

    /// The network's and its combination's backtests on `values` (a steady trend, on which
    /// naive is the stronger baseline): `model` gives the point forecast from a history, the
    /// combination averages it with naive's.
    func pools(_ values: [Double], model: @escaping (ArraySlice<Double>) -> [Double]) -> (network: AccuracyPool, combined: AccuracyPool) {
        let levels = [0.1, 0.5, 0.9]
        let backtest = Backtest(horizon: 5, windows: 3, season: 5, levels: levels)
        let point = { (history: ArraySlice<Double>) in
            QuantileForecast(levels: levels, values: model(history).flatMap { [$0 - 1, $0, $0 + 1] })
        }
        let naive = backtest.run(values: values) { SeasonalNaive.naive.forecast(history: $0.history, horizon: 5, levels: levels) }
        var network = AccuracyPool(), combined = AccuracyPool()
        network.add(backtest.run(values: values) { point($0.history) }, naive: naive)
        combined.add(backtest.run(values: values) { window in
            point(window.history).combined(with: SeasonalNaive.naive.forecast(history: window.history, horizon: 5, levels: levels))
        }, naive: naive)
        return (network, combined)
    }

    func testTheGuardPublishesTheCombinationWhereItBeatsTheNetworkAndTheBaselines() throws {
        // On a trend of slope 1 naive misses step h by h; a model that overshoots by 2h + 0.5
        // misses by h + 0.5 and loses to it, but averaged with naive it misses by 0.25 only.
        let trend = (0..<400).map(Double.init)
        let naive = FallbackBaseline(.level, season: 5)
        let overshoot = pools(trend) { history in (1...5).map { history.last! + 2 * Double($0) + 0.5 } }
        XCTAssertNotNil(overshoot.network.rejection)
        guard case .combined(let why) = Verdict(network: overshoot.network, combined: overshoot.combined, with: naive) else {
            return XCTFail("the combination passes where the network alone does not")
        }
        XCTAssertTrue(why.hasPrefix("combined with naive: backtest MASE "), why)
        XCTAssertTrue(why.hasSuffix("beats the baselines, where the network alone does not (\(overshoot.network.rejection!))"), why)

        // Overshooting by 2h − 0.2 beats naive (h − 0.2), and the combination (0.1) beats it in turn.
        let close = pools(trend) { history in (1...5).map { history.last! + 2 * Double($0) - 0.2 } }
        XCTAssertNil(close.network.rejection)
        let verdict = Verdict(network: close.network, combined: close.combined, with: naive)
        XCTAssertEqual(verdict, .combined(reason: String(format: "combined with naive: backtest MASE %.3f beats the network alone (%.3f)",
                                                         close.combined.value("mase"), close.network.value("mase"))))
    }

    func testTheGuardPublishesTheNetworkAloneWhenItBeatsItsCombination() {
        // Missing by 0.6 at every step, the model beats naive and its combination with naive
        // (which inherits half of naive's error).
        let trend = (0..<400).map(Double.init)
        let (network, combined) = pools(trend) { history in (1...5).map { history.last! + Double($0) + 0.6 } }
        XCTAssertLessThan(network.value("mase"), combined.value("mase"))
        XCTAssertEqual(Verdict(network: network, combined: combined, with: FallbackBaseline(.level, season: 5)), .network)
    }

    func testTheGuardFallsBackWhenNeitherTheNetworkNorTheCombinationBeatsTheBaselines() throws {
        let trend = (0..<400).map(Double.init)
        let (network, combined) = pools(trend) { history in Array(repeating: history.last! - 10, count: 5) }
        XCTAssertNotNil(combined.rejection)
        XCTAssertEqual(Verdict(network: network, combined: combined, with: FallbackBaseline(.level, season: 5)),
                       .fallback(reason: try XCTUnwrap(network.rejection)), "the network's reason is recorded")
    }

    func testTheGuardScoresAWeekOfWindowsWhereTheNetworkReadsAWeek() throws {
        var job = JobSettings(name: "j", frequency: "30m", horizon: 48,
                              source: SourceSettings(origin: .table("t"), timeColumn: "ts", valueColumn: "v"))
        let halfHourly = try JobPlan(job)
        XCTAssertEqual(halfHourly.guardWindows(heldBack: 14 * 48), 3, "backtest_windows, for a network that reads a day")
        XCTAssertEqual(halfHourly.guardWindows(heldBack: 14 * 48, week: 336), 7, "a week of day-long windows")
        XCTAssertEqual(halfHourly.guardWindows(heldBack: 5 * 48, week: 336), 5, "no further than the held-back tail")
        XCTAssertEqual(halfHourly.guardWindows(heldBack: 2 * 48, week: 336), 3, "never fewer than backtest_windows")
        job.frequency = "1h"
        job.horizon = 6
        job.backtestWindows = 30
        XCTAssertEqual(try JobPlan(job).guardWindows(heldBack: 14 * 24, week: 168), 30, "a longer backtest_windows stands")
    }

    func testACombinedModelRecordsItsBaselineBesideTheNetworksSettings() throws {
        let settings = ForecasterSettings.defaults(frequency: Frequency(.hour), horizon: 6, season: 24, backtestWindows: 3)
        let json = UnitTrainer.json(CombinedSettings(settings: settings, combinedWith: FallbackBaseline(.seasonal, season: 24)))
        XCTAssertTrue(json.contains("\"combined_with\":{\"baseline\":\"seasonal_naive\",\"season\":24}"), json)
        XCTAssertEqual(try JSONDecoder().decode(ForecasterSettings.self, from: Data(json.utf8)), settings, "the settings read back as they were")
        XCTAssertEqual(FallbackBaseline.combinedWith(hyperparameters: json), FallbackBaseline(.seasonal, season: 24))
        XCTAssertNil(FallbackBaseline.combinedWith(hyperparameters: UnitTrainer.json(settings)), "a network published alone")
        XCTAssertNil(FallbackBaseline.combinedWith(hyperparameters: "not json"))
    }

    func plan(season: Int? = nil) throws -> JobPlan {
        var job = JobSettings(name: "j", frequency: "1h", horizon: 6,
                              source: SourceSettings(origin: .table("t"), timeColumn: "ts", valueColumn: "v"))
        job.season = season
        return try JobPlan(job)
    }

    func series(_ values: [Double]) -> RegularSeries {
        RegularSeries(key: "s", grid: try! TimeGrid(frequency: "1h"), firstBucket: 1000, values: values,
                      states: Array(repeating: .observed, count: values.count), rows: RowCounts())
    }

    func testTheFallbackPublishesNaiveForARandomWalkAndRecordsWhy() throws {
        let walk = randomWalk(24 * 30)
        let unit = try UnitTrainer(plan: plan()).fallback([series(walk)], global: false, reason: "backtest MASE 2.000 does not beat naive (1.000; seasonal naive 1.500)",
                                                            rejected: nil, points: walk.count)
        let model = try XCTUnwrap(unit.active?.model)
        XCTAssertEqual(model.cell, .seasonalNaive, "the cell of record for a fallback")
        XCTAssertEqual(FallbackBaseline(hyperparameters: model.hyperparameters, jobSeason: 24), FallbackBaseline(.level, season: 24))
        XCTAssertTrue(model.hyperparameters.contains("\"baseline\":\"naive\""), model.hyperparameters)
        XCTAssertTrue(model.hyperparameters.contains("\"season\":1"), model.hyperparameters)
        XCTAssertEqual(model.reason, "fallback: backtest MASE 2.000 does not beat naive (1.000; seasonal naive 1.500)"
                       + "; published naive (the last value), which forecasts this history better than seasonal naive")
        XCTAssertEqual(unit.forecasts.first?.forecast.point, Array(repeating: walk.last!, count: 6))
    }

    func testTheFallbackPublishesSeasonalNaiveForACycle() throws {
        let cycle: [Double] = (0..<(24 * 30)).map { (t: Int) -> Double in
            let phase = 2 * Double.pi * Double(t % 24) / 24
            return 10 * sin(phase) + Double(t % 5) * 0.1
        }
        let unit = try UnitTrainer(plan: plan()).fallback([series(cycle)], global: false, reason: "training failed", rejected: nil, points: cycle.count)
        let model = try XCTUnwrap(unit.active?.model)
        XCTAssertEqual(FallbackBaseline(hyperparameters: model.hyperparameters, jobSeason: 24), FallbackBaseline(.seasonal, season: 24))
        XCTAssertEqual(model.reason, "fallback: training failed")
        XCTAssertEqual(unit.forecasts.first?.forecast.point, Array(cycle[(cycle.count - 24)..<(cycle.count - 18)]))
    }

    func testAFallbackStoredBeforeTheBaselineWasRecordedUsesTheJobSeason() {
        XCTAssertEqual(FallbackBaseline(hyperparameters: "{\"season\": 24}", jobSeason: 24).forecaster, SeasonalNaive(season: 24))
        XCTAssertEqual(FallbackBaseline(hyperparameters: "{}", jobSeason: 12).forecaster, SeasonalNaive(season: 12))
        XCTAssertEqual(FallbackBaseline(hyperparameters: "{\"baseline\": \"naive\", \"season\": 1}", jobSeason: 24).forecaster, .naive)
    }
}

