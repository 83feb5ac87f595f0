import Foundation
import Logging
import PostgresClient
import Forecasting
import XCTest
@testable import ForecastConfig
@testable import ForecastStore
@testable import ForecastJobs

/// Real train and predict runs record the actuals they read, so that `forecast_accuracy`
/// scores the forecasts as their targets arrive; and a series whose level jumps is retrained
/// by drift, end to end, while the one that continues as before is not.
final class ActualsRecordingTests: StoreTestCase {
    /// The first reading, on the hour.
    let t0 = Date(timeIntervalSince1970: 1_700_002_800)

    func value(_ sensor: String, hour: Int) -> Double {
        let daily = sin(2 * Double.pi * Double(hour) / 24)
        // From hour 480 on, b's level jumps by 50: what its model has never seen.
        return sensor == "a" ? 10 + 5 * daily + Double(hour % 7) * 0.1 : 100 - 20 * daily + (hour >= 480 ? 50 : 0)
    }

    func load(hours: Range<Int>) async throws {
        let readings = table("readings"), t0 = self.t0
        let rows = hours.flatMap { hour in ["a", "b"].map { (sensor: $0, ts: t0 + Double(hour) * 3600, value: value($0, hour: hour)) } }
        _ = try await db.copyIn("COPY \(readings) FROM STDIN") { writer in
            for row in rows {
                try writer.append(row.sensor)
                try writer.append(row.ts)
                try writer.append(row.value)
                try writer.endRow()
            }
        }
    }

    func runner(hoursRead: Int) throws -> JobRunner {
        var job = JobSettings.sensors(table: "\(schema).readings")
        job.driftFactor = 3
        job.driftPoints = 6
        var runner = JobRunner(job: job, database: DatabaseSettings(url: "", schema: schema), logger: Logger(label: "test"))
        let now = t0 + Double(hoursRead) * 3600
        runner.now = { now }
        return runner
    }

    func actuals(_ series: String) async throws -> [Double] {
        try await db.query("SELECT value FROM \(table("actuals")) WHERE series = $1 ORDER BY ts", series).map { try $0.decode(0) }
    }

    func testRunsRecordTheActualsTheyReadAndTheViewScoresTheForecasts() async throws {
        try await db.executeScript("CREATE TABLE \(table("readings")) (sensor text, ts timestamptz, reading double precision)")
        try await load(hours: 0..<480)
        let trained = try await runner(hoursRead: 480).train(on: db)
        XCTAssertEqual(trained.status, .succeeded, "\(trained.errors)")
        let before = try await count("SELECT count(*) FROM \(table("actuals"))")
        XCTAssertEqual(before, 0, "nothing to score before the first forecast")

        // Six hours later the first forecasts (targets 480..485) have matured.
        try await load(hours: 480..<486)
        _ = try await runner(hoursRead: 486).predict(on: db)
        let a = try await actuals("a")
        XCTAssertEqual(a, (480..<486).map { value("a", hour: $0) }, "one value per step, from the oldest forecast target on")
        let scored = try await db.query("""
            SELECT count(*), count(*) FILTER (WHERE abs_error = abs(actual - forecast_value) AND target_ts > issued_at),
                   count(DISTINCT issued_at), min(step), max(step)
            FROM \(table("forecast_accuracy")) WHERE series = 'a'
            """)[0]
        XCTAssertEqual(try scored.decode(0, as: Int.self), 6)
        XCTAssertEqual(try scored.decode(1, as: Int.self), 6)
        XCTAssertEqual(try scored.decode(2, as: Int.self), 1, "the training run's forecast")
        XCTAssertEqual([try scored.decode(3, as: Int.self), try scored.decode(4, as: Int.self)], [1, 6])

        // Three more hours: only the new steps are written; and a late row at hour 487 that
        // moves its hourly mean is corrected by the next run that reads the series (a's
        // statistical model reads it in full when a new hour arrives; without one it keeps its
        // forecast, as a network reading on from its state does).
        try await load(hours: 486..<489)
        _ = try await runner(hoursRead: 489).predict(on: db)
        let nine = try await actuals("a")
        XCTAssertEqual(nine.count, 9)
        let late = t0 + 487 * 3600 + 600
        _ = try await db.execute("INSERT INTO \(table("readings")) VALUES ('a', $1, $2)", late, value("a", hour: 487) + 10)
        try await load(hours: 489..<490)
        _ = try await runner(hoursRead: 490).predict(on: db)
        let corrected = try await actuals("a")
        XCTAssertEqual(corrected[7], value("a", hour: 487) + 5, accuracy: 1e-9, "the mean of the two rows of hour 487")
        let matured = try await count("SELECT count(*) FROM \(table("forecast_accuracy")) WHERE series = 'a'")
        XCTAssertEqual(matured, 6 + 4 + 1, "origin 479: 6 steps; origin 485: steps 1-4; origin 488: step 1")
        _ = try await db.execute("DELETE FROM \(table("readings")) WHERE ts = $1", late)
        try await load(hours: 490..<491)
        _ = try await runner(hoursRead: 491).predict(on: db)
        let restored = try await actuals("a")
        XCTAssertEqual(restored, (480..<491).map { value("a", hour: $0) }, "the late row withdrawn, hour 487 is as before")

        // b jumped by 50 at hour 480; a continues as before (the control).
        let database = DatabaseSettings(url: "", schema: schema)
        let runner = try runner(hoursRead: 491)
        try await db.executeScript("""
            INSERT INTO \(table("job_schedule")) (job, next_train_at, next_predict_at) VALUES ('sensors', now() + interval '1 day', now())
            """)
        let logged = try await Scheduler(database: database, maxAttempts: 3).tick(runner, now: Date(), on: db)
        XCTAssertTrue(logged?.contains("series \"b\"") == true, "\(logged ?? "nil")")
        XCTAssertFalse(logged?.contains("series \"a\"") == true, "a's forecasts held: \(logged ?? "nil")")
        let item = try await db.withConnection { db in try WorkQueue(database).claim(owner: "test", lease: 60, jobs: ["sensors"], on: db) }
        let claimed = try XCTUnwrap(item)
        XCTAssertEqual(claimed.unit, "b")
        let oldModel = try await db.query("SELECT model_id FROM \(table("models")) WHERE series = 'b' AND status = 'active'")[0].decode(0, as: Int64.self)
        try await runner.execute(claimed, owner: "test", on: db)
        let run = try await db.query("SELECT status, trigger, note FROM \(table("runs")) WHERE run_id = $1", claimed.runID)[0]
        XCTAssertEqual(try run.decode(0, as: String.self), "succeeded")
        XCTAssertEqual(try run.decode(1, as: String.self), "drift")
        XCTAssertTrue(try run.decode(2, as: String.self).hasPrefix("series \"b\": realized MAE"))
        let newModel = try await db.query("SELECT model_id FROM \(table("models")) WHERE series = 'b' AND status = 'active'")[0].decode(0, as: Int64.self)
        XCTAssertGreaterThan(newModel, oldModel, "b has a new active model, trained on the data after the jump")
        let next = try await Scheduler(database: database, maxAttempts: 3).tick(runner, now: Date(), on: db)
        XCTAssertTrue(next?.hasPrefix("predict run") == true, "after the retraining the due prediction runs: \(next ?? "nil")")
    }
}
