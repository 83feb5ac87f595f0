import Foundation
import Logging
import PostgresClient
import XCTest
@testable import ForecastConfig
@testable import ForecastStore
@testable import ForecastJobs
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
        var job = JobSettings(name: name, frequency: try! Frequency(parsing: "1h"), horizon: 6,
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
        var runner = JobRunner(job: job, database: DatabaseSettings(url: "", schema: schema), logger: Logger(label: "test"))
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
        let unchanged = try await runner.predict(on: db)
        XCTAssertEqual(unchanged.status, .succeeded, "series without a model are not predicted: \(unchanged.errors)")
        XCTAssertEqual(unchanged.seriesTotal, 3)
        XCTAssertEqual(unchanged.rowsWritten, 0, "no new rows: every series keeps its forecast")
        // Without states or marks every series is read again.
        try await db.execute("DELETE FROM \(table("series_state"))")
        let predicted = try await runner.predict(on: db)
        XCTAssertEqual(predicted.status, .succeeded, "\(predicted.errors)")
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
                                            hyperparameters: hyperparametersJSON(FallbackBaseline(.level, season: 24)), status: .active,
                                            reason: "fallback: test"), on: db)
        let summary = try await runner(job()).predict(on: db)
        XCTAssertEqual(summary.status, .succeeded, "\(summary.errors)")
        let last = try await db.query("SELECT reading FROM \(table("readings")) WHERE sensor = 'a' ORDER BY ts DESC LIMIT 1")[0].decode(0, as: Double.self)
        let forecasts = try await db.query("SELECT forecast_value FROM \(table("predictions")) WHERE series = 'a' ORDER BY step").map { try $0.decode(0, as: Double.self) }
        XCTAssertEqual(forecasts, Array(repeating: last, count: 6), "season 1 from the model's hyperparameters, not the job's 24")
    }

    /// A network published combined with naive: without a state of its own (a state of the
    /// network alone keeps no baseline spread), predict reads the series in full, publishes
    /// the mean of the network's forecast and naive's, and saves a state to read on from.
    func testPredictWithACombinedModelAveragesTheNetworkAndItsBaseline() async throws {
        try await loadReadings()
        var alone = job()
        alone.fallback = .none
        alone.statisticalChallengers = false  // the network is what this test combines
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
        try await db.execute("DELETE FROM \(table("series_state"))")
        let combined = try await runner.predict(on: db)
        XCTAssertEqual(combined.status, .succeeded, "\(combined.errors)")
        XCTAssertEqual(combined.pointsRead, network.pointsRead, "the combination reads the network's warm-up, like the network alone")
        XCTAssertLessThan(combined.pointsRead, 20 * 24, "not the whole history")
        let statesAfter = try await count("SELECT count(*) FROM \(table("series_state")) WHERE series = 'a'")
        XCTAssertEqual(statesAfter, 1, "the combination saves a state too")
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
