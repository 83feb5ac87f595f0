import Foundation
import Logging
import PostgresClient
import Forecasting
import XCTest
@testable import ForecastConfig
@testable import ForecastStore
@testable import ForecastJobs

/// Predict reads on from the states saved in `series_state`: only the new rows are read, the
/// forecasts equal those of a full read, and a write that fails leaves the old states.
final class IncrementalPredictTests: StoreTestCase {
    let t0 = Date(timeIntervalSince1970: 1_700_002_800)
    let hours = 20 * 24

    func loadReadings() async throws {
        let readings = table("readings")
        try await db.executeScript("CREATE TABLE \(readings) (sensor text, ts timestamptz, reading double precision)")
        let t0 = self.t0, hours = self.hours
        // The guards publish the network alone on this data (`trendingReadings`).
        let values = trendingReadings(hours: hours)
        _ = try await db.copyIn("COPY \(readings) FROM STDIN") { writer in
            for hour in 0..<hours where hour != hours - 4 {  // a short gap among the new rows
                for (sensor, value) in [("a", values[hour].a), ("b", values[hour].b)] {
                    try writer.append(sensor)
                    try writer.append(t0 + Double(hour) * 3600)
                    try writer.append(value)
                    try writer.endRow()
                }
            }
        }
    }

    func runner(scope: ModelScope, at now: Date, design: (inout ModelSettings) -> Void = { _ in }) throws -> JobRunner {
        // 20 epochs: enough to learn the trend that seasonal naive misses.
        var job = JobSettings.sensors(table: "\(schema).readings", epochs: 20)
        job.fallback = .none
        job.statisticalChallengers = false  // these tests are about the network's saved states (ETS fits this data exactly)
        job.model.scope = scope
        design(&job.model)
        var runner = JobRunner(job: job, database: DatabaseSettings(url: "", schema: schema), logger: Logger(label: "test"))
        runner.now = { now }
        return runner
    }

    typealias Forecast = [String: [Double?]]

    /// Deletes the saved states and predicts again reading in full (no warm-up): the whole
    /// history is read, and the forecasts and states must be those of the read on from the
    /// states, bit for bit.
    func assertAFullReadGives(_ forecast: Forecast, _ states: [String: [UInt8]], predictor: JobRunner,
                              file: StaticString = #filePath, line: UInt = #line) async throws {
        try await db.execute("DELETE FROM \(table("series_state"))")
        var predictor = predictor
        predictor.warmsUpWithoutState = false
        let full = try await predictor.predict(on: db)
        XCTAssertEqual(full.status, .succeeded, "\(full.errors)", file: file, line: line)
        let readInFull = try await pointsRead(full.runID)
        XCTAssertEqual(readInFull, 2 * (hours - 1), "without states the whole history is read", file: file, line: line)
        let fullForecast = try await latest()
        XCTAssertEqual(forecast, fullForecast, "bit for bit", file: file, line: line)
        let fullStates = try await self.states()
        XCTAssertEqual(states, fullStates, file: file, line: line)
    }

    func pointsRead(_ runID: Int64) async throws -> Int {
        try await count("SELECT points_read FROM \(table("runs")) WHERE run_id = $1", runID)
    }

    /// Trained 10 hours before the last reading; predict then reads those 10 hours only, and
    /// forecasts bit for bit what a full read forecasts (and saves the same states).
    func checkIncrementalEqualsFullRead(scope: ModelScope, design: @escaping (inout ModelSettings) -> Void = { _ in },
                                        recorded: String? = nil) async throws {
        try await loadReadings()
        let trained = try await runner(scope: scope, at: t0 + Double(hours - 10) * 3600, design: design).train(on: db)
        XCTAssertEqual(trained.status, .succeeded, "\(trained.errors)")
        if let recorded {
            for row in try await db.query("SELECT hyperparameters::text FROM \(table("models")) WHERE status = 'active'") {
                let text = try row.decode(0, as: String.self)
                XCTAssertTrue(text.replacingOccurrences(of: " ", with: "").contains(recorded), "the model records its design: \(text)")
            }
        }
        let saved = try await count("SELECT count(*) FROM \(table("series_state")) s JOIN \(table("models")) m USING (model_id) WHERE m.status = 'active'")
        XCTAssertEqual(saved, 2, "training saves a state per series")

        // Half an hour into the hour after the last reading: the last bucket is still open.
        let predictor = try runner(scope: scope, at: t0 + (Double(hours) - 0.5) * 3600, design: design)
        let incremental = try await predictor.predict(on: db)
        XCTAssertEqual(incremental.status, .succeeded, "\(incremental.errors)")
        XCTAssertEqual(incremental.seriesTotal, 2)
        let readIncrementally = try await pointsRead(incremental.runID)
        XCTAssertEqual(readIncrementally, 2 * 9, "only the rows after the saved states (10 hours, one missing) are read")
        let incrementalForecast = try await latest()
        XCTAssertEqual(incrementalForecast.count, 2)
        XCTAssertEqual(incrementalForecast.keys.sorted(), ["a@\((t0 + Double(hours - 1) * 3600).timeIntervalSince1970)",
                                                          "b@\((t0 + Double(hours - 1) * 3600).timeIntervalSince1970)"])
        let incrementalStates = try await states()

        try await assertAFullReadGives(incrementalForecast, incrementalStates, predictor: predictor)

        // Nothing new: the forecasts stand and nothing is read but the open last hour.
        let again = try await predictor.predict(on: db)
        XCTAssertEqual(again.status, .succeeded, "\(again.errors)")
        let readAgain = try await pointsRead(again.runID)
        XCTAssertEqual(readAgain, 2, "the bucket the last read ended in is read again")
        let againForecast = try await latest()
        XCTAssertEqual(againForecast, incrementalForecast)
    }

    func testGlobalModelReadsOnlyNewRowsAndEqualsAFullRead() async throws {
        try await checkIncrementalEqualsFullRead(scope: .global)
    }

    func testPerSeriesModelsReadOnlyNewRowsAndEqualAFullRead() async throws {
        try await checkIncrementalEqualsFullRead(scope: .series)
    }

    /// Issue 13: the encoder–decoder publishes, saves the encoder's state and forecasts from it
    /// (the decoder restarts there) what a full read forecasts.
    func testARecurrentDecoderReadsOnlyNewRowsAndEqualsAFullRead() async throws {
        try await checkIncrementalEqualsFullRead(scope: .series, design: { $0.decoder = .recurrent }, recorded: "\"decoder\":\"recurrent\"")
    }

    /// Issue 13: Jordan output feedback; the saved state keeps the fed-back forecast.
    func testOutputFeedbackReadsOnlyNewRowsAndEqualsAFullRead() async throws {
        try await checkIncrementalEqualsFullRead(scope: .global, design: { $0.feedback = .output; $0.cell = .gru },
                                                 recorded: "\"feedback\":\"output\"")
    }

    /// Issue 12: an ensemble of networks (here two) saves one state per series holding every
    /// network's, and reads on from it to the forecast of a full read.
    func testAnEnsembleReadsOnlyNewRowsAndEqualsAFullRead() async throws {
        try await checkIncrementalEqualsFullRead(scope: .global, design: { $0.ensemble = 2 }, recorded: "\"ensemble\":2")
    }

    /// Issue 12: a network published combined with seasonal naive reads on from its saved
    /// states like the network alone (the states keep the baseline's spread, fitted at
    /// training and kept in the model's archive) and forecasts bit for bit what a full read does.
    func testACombinedModelReadsOnlyNewRowsAndEqualsAFullRead() async throws {
        try await loadReadings()
        let trained = try await runner(scope: .global, at: t0 + Double(hours - 20) * 3600).train(on: db)
        XCTAssertEqual(trained.status, .succeeded, "\(trained.errors)")
        // Published as a combination: what the guard stores when the combination wins.
        let (id, weights) = try await db.query("SELECT model_id, weights FROM \(table("models")) WHERE status = 'active'").map {
            (try $0.decode(0, as: Int64.self), try $0.decode(1, as: [UInt8].self))
        }[0]
        let network = try ModelArchive.decode(weights)
        let readings = try await db.query("SELECT sensor, reading FROM \(table("readings")) WHERE ts < $1 ORDER BY ts",
                                          t0 + Double(hours - 20) * 3600)
        var history: [String: [Double]] = [:]
        for row in readings { history[try row.decode(0, as: String.self), default: []].append(try row.decode(1, as: Double.self)) }
        let spreads = history.mapValues { SeasonalNaive(season: 24).spread(history: $0, horizon: 6, levels: network.settings.quantiles) }
        try await db.execute("""
            UPDATE \(table("models")) SET weights = $2,
                hyperparameters = hyperparameters || '{"combined_with": {"baseline": "seasonal_naive", "season": 24}}' WHERE model_id = $1
            """, id, try ModelArchive.encode(network.withBaselineSpreads(spreads)))
        try await db.execute("DELETE FROM \(table("series_state"))")

        // A first predict reads in full (no warm-up: the chain of states starts from a full
        // read's) and saves states; the next reads the new rows only.
        var firstReader = try runner(scope: .global, at: t0 + Double(hours - 10) * 3600)
        firstReader.warmsUpWithoutState = false
        let first = try await firstReader.predict(on: db)
        XCTAssertEqual(first.status, .succeeded, "\(first.errors)")
        let firstStates = try await states()
        XCTAssertEqual(firstStates.count, 2, "a state per series")
        let predictor = try runner(scope: .global, at: t0 + (Double(hours) - 0.5) * 3600)
        let incremental = try await predictor.predict(on: db)
        XCTAssertEqual(incremental.status, .succeeded, "\(incremental.errors)")
        let readIncrementally = try await pointsRead(incremental.runID)
        XCTAssertEqual(readIncrementally, 2 * 9, "only the rows after the saved states (10 hours, one missing)")
        let incrementalForecast = try await latest()
        let incrementalStates = try await states()

        try await assertAFullReadGives(incrementalForecast, incrementalStates, predictor: predictor)
        for (key, bytes) in incrementalStates {
            let state = try SeriesStateArchive.decode(bytes, key: key, config: network.network.config)
            XCTAssertEqual(state.baselineSpread, spreads[key], "the spread of the archive, not one refitted on the longer history")
        }
    }

    /// Issue 17: a network without saved states reads only its warm-up (`WarmUp`: the last
    /// steps of each series, in SQL), not the whole history, and forecasts close to what reading
    /// on from the states forecasts; it saves states after the warm-up, which the next cycle
    /// reads on from.
    func testWithoutStatesANetworkReadsOnlyItsWarmUpAndForecastsCloseToReadingOn() async throws {
        try await loadReadings()
        let trained = try await runner(scope: .global, at: t0 + Double(hours - 10) * 3600).train(on: db)
        XCTAssertEqual(trained.status, .succeeded, "\(trained.errors)")
        let hyperparameters = try await db.query("SELECT hyperparameters::text FROM \(table("models")) WHERE status = 'active'")[0].decode(0, as: String.self)
        let warmUp = try XCTUnwrap(WarmUp(hyperparameters: hyperparameters))
        XCTAssertLessThan(warmUp.steps, hours / 4, "the warm-up is a small part of the history")

        let predictor = try runner(scope: .global, at: t0 + (Double(hours) - 0.5) * 3600)
        let readingOn = try await predictor.predict(on: db)
        XCTAssertEqual(readingOn.status, .succeeded, "\(readingOn.errors)")
        let fromStates = try await latest()

        try await db.execute("DELETE FROM \(table("series_state"))")
        let warmedUp = try await predictor.predict(on: db)
        XCTAssertEqual(warmedUp.status, .succeeded, "\(warmedUp.errors)")
        XCTAssertEqual(warmedUp.seriesTotal, 2)
        // The warm-up's first step is `steps` before the open last hour: steps + 1 hours, one missing.
        let read = try await pointsRead(warmedUp.runID)
        XCTAssertEqual(read, 2 * warmUp.steps, "only the warm-up's rows are read, not the \(2 * (hours - 1)) of the whole history")
        let fromWarmUp = try await latest()
        XCTAssertEqual(fromWarmUp.keys.sorted(), fromStates.keys.sorted(), "the same origins")
        for (key, values) in fromStates {
            let warm = try XCTUnwrap(fromWarmUp[key])
            let differences = zip(values, warm).compactMap { a, b in a.flatMap { a in b.map { abs(a - $0) } } }
            let scale = values.compactMap { $0.map(abs) }.reduce(0, +) / Double(values.count)
            let relative = differences.reduce(0, +) / Double(differences.count) / scale
            XCTAssertLessThan(relative, 0.02, "\(key): the warm-up forecasts close to reading on (mean difference \(relative) of the level)")
            XCTAssertNotEqual(values, warm, "\(key): a warm-up is not the bits of a full read")
        }
        let saved = try await states()
        XCTAssertEqual(saved.count, 2, "a warm-up saves states")
        let next = try await predictor.predict(on: db)
        XCTAssertEqual(next.status, .succeeded, "\(next.errors)")
        let readNext = try await pointsRead(next.runID)
        XCTAssertEqual(readNext, 2, "the next cycle reads on from the warm-up's states")
    }

    /// A series that stopped before the warm-up's window has no row in it: when every series is
    /// read without a state, the series forecast before (`latest_origins`) that the warm-up's
    /// read did not find are read in full, so none goes unforecast.
    func testWithoutStatesASeriesThatStoppedBeforeTheWarmUpIsReadInFull() async throws {
        try await loadReadings()
        let stopped = 200
        let values = trendingReadings(hours: stopped)
        for hour in 0..<stopped {
            try await db.execute("INSERT INTO \(table("readings")) VALUES ('c', $1, $2)", t0 + Double(hour) * 3600, values[hour].a)
        }
        let trained = try await runner(scope: .global, at: t0 + Double(hours - 10) * 3600).train(on: db)
        XCTAssertEqual(trained.status, .succeeded, "\(trained.errors)")
        let hyperparameters = try await db.query("SELECT hyperparameters::text FROM \(table("models")) WHERE status = 'active'")[0].decode(0, as: String.self)
        let warmUp = try XCTUnwrap(WarmUp(hyperparameters: hyperparameters))
        XCTAssertLessThan(warmUp.steps, hours - stopped, "c stopped before the warm-up's window")

        try await db.execute("DELETE FROM \(table("series_state"))")
        let predicted = try await runner(scope: .global, at: t0 + (Double(hours) - 0.5) * 3600).predict(on: db)
        XCTAssertEqual(predicted.status, .succeeded, "\(predicted.errors)")
        XCTAssertEqual(predicted.seriesTotal, 3, "a and b over the warm-up, c in full")
        let read = try await pointsRead(predicted.runID)
        XCTAssertEqual(read, 2 * warmUp.steps + stopped, "a and b's warm-ups and the whole of c")
        let forecast = try await latest()
        XCTAssertEqual(forecast.keys.filter { $0.hasPrefix("c@") }, ["c@\((t0 + Double(stopped - 1) * 3600).timeIntervalSince1970)"],
                       "c is forecast from its last reading")
    }

    /// A write that fails after the forecasts were copied (here a trigger, as a crash or a lost
    /// connection would) rolls the batch back: old forecasts, old states; the retry catches up.
    func testAFailedWriteLeavesTheOldStatesAndTheRetryCatchesUp() async throws {
        try await loadReadings()
        let trained = try await runner(scope: .global, at: t0 + Double(hours - 10) * 3600).train(on: db)
        XCTAssertEqual(trained.status, .succeeded, "\(trained.errors)")
        let statesBefore = try await states()
        let forecastBefore = try await latest()
        let stateTable = table("series_state")
        try await db.executeScript("""
            CREATE FUNCTION \(quoteIdentifier(schema)).fail_write() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'simulated crash while writing states'; END $$;
            CREATE TRIGGER fail_write BEFORE INSERT ON \(stateTable) FOR EACH ROW EXECUTE FUNCTION \(quoteIdentifier(schema)).fail_write();
            """)
        let predictor = try runner(scope: .global, at: t0 + Double(hours) * 3600)
        let failed = try await predictor.predict(on: db)
        XCTAssertEqual(failed.status, .failed)
        XCTAssertTrue(failed.errors.joined().contains("simulated crash"), "\(failed.errors)")
        let statesAfterFailure = try await states()
        XCTAssertEqual(statesAfterFailure, statesBefore, "the old states stay")
        let forecastAfterFailure = try await latest()
        XCTAssertEqual(forecastAfterFailure, forecastBefore, "no forecast of the failed batch was kept")

        try await db.execute("DROP TRIGGER fail_write ON \(stateTable)")
        let retried = try await predictor.predict(on: db)
        XCTAssertEqual(retried.status, .succeeded, "\(retried.errors)")
        let readOnRetry = try await pointsRead(retried.runID)
        XCTAssertEqual(readOnRetry, 2 * 9, "the retry reads on from the old states")
        let statesAfterRetry = try await states()
        XCTAssertNotEqual(statesAfterRetry, statesBefore)
    }

    func testRetrainingReplacesTheStatesWithTheNewModels() async throws {
        try await loadReadings()
        _ = try await runner(scope: .series, at: t0 + Double(hours - 10) * 3600).train(on: db)
        _ = try await runner(scope: .series, at: t0 + Double(hours) * 3600).train(on: db, onlySeries: "a")
        let rows = try await db.query("""
            SELECT s.series, m.status FROM \(table("series_state")) s JOIN \(table("models")) m USING (model_id) ORDER BY 1
            """).map { "\(try $0.decode(0, as: String.self)):\(try $0.decode(1, as: String.self))" }
        XCTAssertEqual(rows, ["a:active", "b:active"], "the retired model's state is gone")
    }
}
