import Foundation
import PostgresClient
import XCTest
@testable import ForecastConfig
@testable import ForecastStore

final class StorePredictionTests: StoreTestCase {
    func forecast(series: String, model: Int64, origin: Date, horizon: Int, base: Double = 0) -> [PredictionRow] {
        (1...horizon).map { step in
            PredictionRow(job: "j", series: series, modelID: model, issuedAt: origin, targetTs: origin + Double(step) * 3600,
                          step: step, forecastValue: base + Double(step), lowerBound: base, upperBound: base + 10, confidenceLevel: 0.8)
        }
    }

    func makeModel(series: String?) async throws -> Int64 {
        try await ModelStore(schema: schema).insert(NewModel(job: "j", series: series, cell: .lstm, status: .active), on: db)
    }

    func testRewritingAnOriginReplacesItAndLatestForecastsShowsTheNewestOrigin() async throws {
        let writer = PredictionWriter(schema: schema)
        let model = try await makeModel(series: "a")
        let o1 = Self.t0, o2 = Self.t0 + 3600
        let firstBatch = forecast(series: "a", model: model, origin: o1, horizon: 4) + forecast(series: "b", model: model, origin: o1, horizon: 4)
        let secondBatch = forecast(series: "a", model: model, origin: o2, horizon: 4, base: 100)
        let awaited1 = try await db.transaction { tx in try writer.write(firstBatch, on: tx) }
        XCTAssertEqual(awaited1, 8)
        let awaited2 = try await db.transaction { tx in try writer.write(secondBatch, on: tx) }
        XCTAssertEqual(awaited2, 4)

        // A retried unit writes origin o2 again, with a shorter horizon and other values.
        let retried = forecast(series: "a", model: model, origin: o2, horizon: 3, base: 200)
        let awaited3 = try await db.transaction { tx in try writer.write(retried, on: tx) }
        XCTAssertEqual(awaited3, 3)
        let awaited4 = try await count("SELECT count(*) FROM \(table("predictions")) WHERE series = 'a' AND issued_at = $1", o2)
        XCTAssertEqual(awaited4, 3,
                       "the earlier rows of the origin are gone, step 4 included")
        let awaited5 = try await count("SELECT count(*) FROM \(table("predictions"))")
        XCTAssertEqual(awaited5, 4 + 4 + 3)

        let latest = try await db.query("""
            SELECT series, issued_at, step, forecast_value FROM \(table("latest_forecasts")) WHERE job = 'j' ORDER BY series, step
            """)
        let rows = try latest.map { (try $0.decode(0, as: String.self), try $0.decode(1, as: Date.self), try $0.decode(2, as: Int.self), try $0.decode(3, as: Double.self)) }
        XCTAssertEqual(rows.filter { $0.0 == "a" }.map(\.1), [o2, o2, o2], "only the newest origin of series a")
        XCTAssertEqual(rows.filter { $0.0 == "a" }.map(\.3), [201, 202, 203])
        XCTAssertEqual(rows.filter { $0.0 == "b" }.map(\.1), [o1, o1, o1, o1], "series b's newest origin is still o1")
        let awaited6 = try await PredictionWriter(schema: schema).write([], on: db)
        XCTAssertEqual(awaited6, 0)
    }

    /// forecastd's writer keeps latest_origins itself (migration 0011) and must leave it exactly
    /// as the trigger does for any other writer: the same rows through both paths, two origins
    /// per series in one batch, steps out of order, NULL and NaN bounds, and a replayed older
    /// origin that only moves oldest_target_ts back.
    func testTheWriterKeepsLatestOriginsAsTheTriggerDoes() async throws {
        let model = try await makeModel(series: nil)
        let o1 = Self.t0, o2 = Self.t0 + 3600, o0 = Self.t0 - 7200
        func batch(_ job: String) -> [[PredictionRow]] {
            var mixed = forecast(series: "a", model: model, origin: o2, horizon: 4, base: 100).reversed() + forecast(series: "a", model: model, origin: o1, horizon: 4)
            mixed[1].lowerBound = nil
            mixed[1].upperBound = nil
            mixed[2].forecastValue = .nan
            let second = forecast(series: "b", model: model, origin: o1, horizon: 3)
            let replay = forecast(series: "a", model: model, origin: o0, horizon: 2, base: 50)
            return [mixed + second, replay].map { rows in rows.map { var row = $0; row.job = job; return row } }
        }
        let writer = PredictionWriter(schema: schema)
        for rows in batch("j") { _ = try await db.transaction { tx in try writer.write(rows, on: tx) } }
        let predictions = "\(schema).predictions"
        for rows in batch("k") {
            try await db.transaction { tx in
                let copied = try tx.copyIn(into: predictions, columns: PredictionWriter.columns) { w in
                    for row in rows {
                        try w.appendRow(row.job, row.series, row.modelID, row.issuedAt, row.targetTs, row.step, row.forecastValue,
                                        row.lowerBound, row.upperBound, row.confidenceLevel)
                    }
                }
                XCTAssertEqual(copied, rows.count)
            }
        }
        let latest = try await db.query("""
            SELECT job, series, issued_at::text, model_id::text, target_ts::text, step::text, forecast_value::text, lower_bound::text,
                   upper_bound::text, confidence_level::text, oldest_target_ts::text
            FROM \(table("latest_origins")) ORDER BY series, job
            """).map { row in try (0..<11).map { i in i == 0 ? "" : try row.decode(i, as: String?.self) ?? "NULL" } }
        XCTAssertEqual(latest.count, 4)
        XCTAssertEqual(latest[0], latest[1], "series a: the writer's row is the trigger's")
        XCTAssertEqual(latest[2], latest[3], "series b")
        let a = try await db.query("SELECT issued_at, oldest_target_ts, forecast_value::text, lower_bound::text FROM \(table("latest_origins")) WHERE job = 'j' AND series = 'a'")[0]
        XCTAssertEqual(try a.decode(0, as: Date.self), o2, "the replayed older origin did not replace the newest")
        XCTAssertEqual(try a.decode(1, as: Date.self), o0 + 3600, "but moved the oldest target back")
        XCTAssertEqual(try a.decode(2, as: String.self), "{101,NaN,103,104}", "the newest origin's steps in target order")
        XCTAssertEqual(try a.decode(3, as: String.self), "{100,100,NULL,100}")
    }

    /// Issue 16: the newest actual a batch records moves latest_origins.last_actual_ts in the
    /// same upsert as the series' new origin (one new row version per cycle), forward only; a
    /// series with actuals but no new origin in the batch moves too.
    func testRecordedActualsMoveLastActualTsWithTheNewOrigin() async throws {
        let writer = PredictionWriter(schema: schema)
        let model = try await makeModel(series: nil)
        let o1 = Self.t0, o2 = Self.t0 + 3600
        let first = forecast(series: "a", model: model, origin: o1, horizon: 3) + forecast(series: "b", model: model, origin: o1, horizon: 3)
        let second = forecast(series: "a", model: model, origin: o2, horizon: 3)
        _ = try await db.transaction { tx in try writer.write(first, on: tx) }
        func lastActual(_ series: String) async throws -> Date? {
            try await db.query("SELECT last_actual_ts FROM \(table("latest_origins")) WHERE job = 'j' AND series = $1", series)[0].decode(0)
        }
        let aLatest = try await lastActual("a")
        XCTAssertNil(aLatest)
        let recorded = RecordedActuals(job: "j", rows: 5, newest: ["a": o2, "b": o1])
        let written = try await db.transaction { tx in try writer.write(second, recorded: recorded, on: tx) }
        XCTAssertEqual(written, 3)
        let (a, b) = (try await lastActual("a"), try await lastActual("b"))
        XCTAssertEqual(a, o2, "moved with a's new origin")
        XCTAssertEqual(b, o1, "b has no new origin in the batch and moves all the same")
        let issued: Date = try await db.query("SELECT issued_at FROM \(table("latest_origins")) WHERE job = 'j' AND series = 'a'")[0].decode(0)
        XCTAssertEqual(issued, o2)
        let older = RecordedActuals(job: "j", rows: 2, newest: ["a": o1, "b": o1 - 3600])
        _ = try await db.transaction { tx in try writer.write(second, recorded: older, on: tx) }
        _ = try await db.transaction { tx in try writer.write([], recorded: older, on: tx) }
        let (a2, b2) = (try await lastActual("a"), try await lastActual("b"))
        XCTAssertEqual(a2, o2, "never moves back")
        XCTAssertEqual(b2, o1)
    }

    /// Issue 15, defect 7: `forecastd predict J` beside `run --once` wrote the same origin from
    /// two transactions; both deleted its old rows, then the second COPY failed on the primary
    /// key when the first committed. Writers of one job's forecasts now serialise, and the later
    /// one replaces the origin.
    func testTwoWritersOfTheSameOriginAtOnceBothSucceed() async throws {
        let writer = PredictionWriter(schema: schema)
        let model = try await makeModel(series: "a")
        let first = forecast(series: "a", model: model, origin: Self.t0, horizon: 4)
        let second = forecast(series: "a", model: model, origin: Self.t0, horizon: 4, base: 100)
        let mine: PostgresConnection = db, other = try await TestDatabase.connect()
        // The first writer keeps its transaction open for a while after writing, as a predict
        // batch does while it writes states and counters.
        async let one: Int = mine.transaction { tx in
            let n = try writer.write(first, on: tx)
            Thread.sleep(forTimeInterval: 0.8)
            return n
        }
        try await Task.sleep(for: .milliseconds(200))
        async let two: Int = other.transaction { tx in try writer.write(second, on: tx) }
        let (a, b) = try await (one, two)
        XCTAssertEqual([a, b], [4, 4])
        let values = try await db.query("SELECT forecast_value FROM \(table("predictions")) ORDER BY step").map { try $0.decode(0, as: Double.self) }
        XCTAssertEqual(values, [101, 102, 103, 104], "the later writer's forecast replaced the earlier one")
        await other.close()
    }

    func testNaNAndNullBoundsAndAwkwardSeriesNames() async throws {
        let writer = PredictionWriter(schema: schema)
        let model = try await makeModel(series: nil)
        let rows = [
            PredictionRow(job: "j", series: "tab\there\\back\nline", modelID: model, issuedAt: Self.t0, targetTs: Self.t0 + 60, step: 1,
                          forecastValue: 1.5, lowerBound: .nan, upperBound: .infinity, confidenceLevel: 0.8),
            PredictionRow(job: "j", series: "ünïcode", modelID: model, issuedAt: Self.t0, targetTs: Self.t0 + 60, step: 1,
                          forecastValue: -0.25, lowerBound: nil, upperBound: nil, confidenceLevel: nil),
            PredictionRow(job: "j", series: "ünïcode", modelID: model, issuedAt: Self.t0, targetTs: Self.t0 + 120.000001, step: 2,
                          forecastValue: .nan),
        ]
        let awaited7 = try await db.transaction { tx in try writer.write(rows, on: tx) }
        XCTAssertEqual(awaited7, 3)
        let stored = try await db.query("""
            SELECT series, target_ts, forecast_value, lower_bound, upper_bound, confidence_level, created_at
            FROM \(table("predictions")) ORDER BY series, step
            """)
        XCTAssertEqual(try stored.map { try $0.decode(0, as: String.self) }, ["tab\there\\back\nline", "ünïcode", "ünïcode"])
        XCTAssertTrue(try stored[0].decode(3, as: Double?.self)!.isNaN, "NaN bound stored as NaN")
        XCTAssertEqual(try stored[0].decode(4, as: Double?.self), .infinity)
        XCTAssertEqual(try stored[0].decode(5, as: Double?.self), 0.8)
        XCTAssertNil(try stored[1].decode(3, as: Double?.self))
        XCTAssertNil(try stored[1].decode(4, as: Double?.self))
        XCTAssertNil(try stored[1].decode(5, as: Double?.self))
        XCTAssertEqual(try stored[1].decode(2, as: Double.self), -0.25)
        XCTAssertEqual(try stored[2].decode(1, as: Date.self).timeIntervalSince(Self.t0), 120.000001, accuracy: 1e-7)
        XCTAssertTrue(try stored[2].decode(2, as: Double.self).isNaN)
    }

    func testAFailingCopyLeavesTheOriginAsItWas() async throws {
        let writer = PredictionWriter(schema: schema)
        let model = try await makeModel(series: "a")
        let good = forecast(series: "a", model: model, origin: Self.t0, horizon: 2)
        try await db.transaction { tx in _ = try writer.write(good, on: tx) }
        // step 0 breaks the CHECK constraint mid-COPY; the delete before it must roll back too.
        var bad = forecast(series: "a", model: model, origin: Self.t0, horizon: 2, base: 50)
        bad[1].step = 0
        let badRows = bad
        do {
            try await db.transaction { tx in _ = try writer.write(badRows, on: tx) }
            XCTFail("expected a check violation")
        } catch let error as PostgresError {
            XCTAssertEqual(error.sqlState, "23514")
        }
        let awaited8 = try await count("SELECT count(*) FROM \(table("predictions")) WHERE forecast_value < 50")
        XCTAssertEqual(awaited8, 2)
    }

    func testMetricsUpsertWithNaNAndHistory() async throws {
        let writer = MetricsWriter(schema: schema)
        let model = try await makeModel(series: "a")
        let metrics = [
            ModelMetricRow(modelID: model, split: .validation, metric: "mae", value: 1.5),
            ModelMetricRow(modelID: model, split: .validation, metric: "mape", value: .nan),
            ModelMetricRow(modelID: model, split: .backtest, metric: "mae", value: 2),
            ModelMetricRow(modelID: model, split: .backtest, metric: "skill", value: nil),
            ModelMetricRow(modelID: model, split: .backtest, metric: "mae", value: 2.5),  // the last one for a key wins
        ]
        let awaited9 = try await db.transaction { tx in try writer.write(metrics: metrics, on: tx) }
        XCTAssertEqual(awaited9, 4)
        // backtest again later: overwrites, adds, and leaves the rest.
        try await writer.write(metrics: [ModelMetricRow(modelID: model, split: .backtest, metric: "mae", value: 3),
                                         ModelMetricRow(modelID: model, split: .backtest, metric: "rmse", value: 4)], on: db)
        let stored = try await db.query("SELECT split, metric, value FROM \(table("model_metrics")) ORDER BY split, metric")
        let values = try Dictionary(uniqueKeysWithValues: stored.map {
            ("\(try $0.decode(0, as: String.self)).\(try $0.decode(1, as: String.self))", try $0.decode(2, as: Double?.self))
        })
        XCTAssertEqual(values.count, 5)
        XCTAssertEqual(values["validation.mae"], 1.5)
        XCTAssertTrue(values["validation.mape"]!!.isNaN)
        XCTAssertEqual(values["backtest.mae"], 3)
        XCTAssertEqual(values["backtest.rmse"], 4)
        XCTAssertEqual(values["backtest.skill"], .some(nil))

        let history = (1...50).map { TrainingHistoryRow(modelID: model, epoch: $0, trainLoss: 1 / Double($0), validationLoss: $0 == 50 ? .nan : 2 / Double($0),
                                                        gradNorm: 0.5, learningRate: 0.003, seconds: 0.01) }
        let awaited10 = try await db.transaction { tx in try writer.write(history: history, on: tx) }
        XCTAssertEqual(awaited10, 50)
        let awaited11 = try await count("SELECT count(*) FROM \(table("training_history")) WHERE validation_loss = 'NaN'")
        XCTAssertEqual(awaited11, 1)
        // A retried unit writing the tail again replaces it.
        let awaited12 = try await writer.write(history: [TrainingHistoryRow(modelID: model, epoch: 50, trainLoss: 9)], on: db)
        XCTAssertEqual(awaited12, 1)
        let awaited13 = try await count("SELECT count(*) FROM \(table("training_history"))")
        XCTAssertEqual(awaited13, 50)
        let last = try await db.query("SELECT train_loss, validation_loss FROM \(table("training_history")) WHERE epoch = 50")[0]
        XCTAssertEqual(try last.decode(0, as: Double.self), 9)
        XCTAssertNil(try last.decode(1, as: Double?.self))
    }
}
