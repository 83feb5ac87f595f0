import Foundation
import Logging
import PostgresClient
import Forecasting
import XCTest
@testable import ForecastConfig
@testable import ForecastStore
@testable import ForecastJobs

/// Drift: the scheduler retrains a series ahead of schedule when its realized error outgrows
/// its backtest error, records why, and leaves the series whose forecasts held alone.
final class DriftTests: StoreTestCase {
    func job(factor: Double = 2, points: Int = 6, scope: ModelScope = .series) -> JobSettings {
        var job = JobSettings(name: "sensors", frequency: try! Frequency(parsing: "1h"), horizon: 6,
                              source: SourceSettings(origin: .table("\(schema).readings"), seriesColumn: "sensor",
                                                     timeColumn: "ts", valueColumn: "reading"))
        job.driftFactor = factor
        job.driftPoints = points
        job.model.scope = scope
        return job
    }

    func runner(_ job: JobSettings) throws -> JobRunner {
        JobRunner(job: job, database: DatabaseSettings(url: "", schema: schema), logger: Logger(label: "test"))
    }

    /// Active models with a backtest MAE of 1 for series a and b (or one global model), each with
    /// one 6-step forecast of 10 from T, and the actuals `10 + errors[series]` at its targets.
    func seed(errors: [String: Double], global: Bool = false, dueToPredict: Bool = true) async throws {
        let s = quoteIdentifier(schema)
        var sql = "BEGIN; SET LOCAL search_path TO \(s);\n"
        if global {
            sql += "INSERT INTO models (model_id, job, series, version, cell, status) OVERRIDING SYSTEM VALUE VALUES (1, 'sensors', NULL, 1, 'lstm', 'active');\n"
            sql += "INSERT INTO model_metrics VALUES (1, 'backtest', 'mae', 1.0);\n"
        }
        for (index, (series, error)) in errors.sorted(by: { $0.key < $1.key }).enumerated() {
            let id = global ? 1 : index + 1
            if !global {
                sql += "INSERT INTO models (model_id, job, series, version, cell, status) OVERRIDING SYSTEM VALUE VALUES (\(id), 'sensors', '\(series)', 1, 'lstm', 'active');\n"
                sql += "INSERT INTO model_metrics VALUES (\(id), 'backtest', 'mae', 1.0), (\(id), 'validation', 'mae', 100);\n"
            }
            sql += """
                INSERT INTO predictions (job, series, model_id, issued_at, target_ts, step, forecast_value, lower_bound, upper_bound)
                SELECT 'sensors', '\(series)', \(id), '2024-01-01T00:00Z', '2024-01-01T00:00Z'::timestamptz + make_interval(hours => h), h, 10, 9, 11
                FROM generate_series(1, 6) h;
                INSERT INTO actuals (job, series, ts, value)
                SELECT 'sensors', '\(series)', '2024-01-01T00:00Z'::timestamptz + make_interval(hours => h), 10 + \(error)
                FROM generate_series(1, 6) h;

                """
        }
        let predictAt = dueToPredict ? "now() - interval '1 minute'" : "now() + interval '1 hour'"
        sql += "INSERT INTO job_schedule (job, next_train_at, next_predict_at) VALUES ('sensors', now() + interval '1 day', \(predictAt));\nCOMMIT;"
        try await db.executeScript(sql)
    }

    func queued() async throws -> [String] {
        try await db.query("SELECT kind || ':' || unit FROM \(table("work_queue")) WHERE state = 'available' ORDER BY kind, unit")
            .map { try $0.decode(0, as: String.self) }
    }

    func driftRuns() async throws -> [(runID: Int64, note: String)] {
        try await db.query("SELECT run_id, note FROM \(table("runs")) WHERE trigger = 'drift' ORDER BY run_id")
            .map { (try $0.decode(0, as: Int64.self), try $0.decode(1, as: String.self)) }
    }

    func tick(_ job: JobSettings) async throws -> String? {
        try await Scheduler(database: DatabaseSettings(url: "", schema: schema), maxAttempts: 3).tick(try runner(job), now: Date(), on: db)
    }

    func testADivergedSeriesIsRetrainedAheadOfScheduleAndTheOneThatHeldIsNot() async throws {
        // a: every forecast 5 off (MAE 5 > 2 × 1); b, the control: 0.5 off (MAE 0.5).
        try await seed(errors: ["a": 5, "b": 0.5])
        let logged = try await tick(job())
        XCTAssertTrue(logged?.hasPrefix("drift: train run") == true, "\(logged ?? "nil")")
        let units = try await queued()
        XCTAssertEqual(units, ["train:a"], "only the drifted series, and the prediction waits for it")
        let runs = try await driftRuns()
        XCTAssertEqual(runs.count, 1)
        XCTAssertEqual(runs.first?.note, "series \"a\": realized MAE 5 over the latest 6 matured forecasts exceeds 2 × the backtest MAE 1 of model 1")
        let kind = try await db.query("SELECT kind, status FROM \(table("runs")) WHERE run_id = $1", runs[0].runID)[0]
        XCTAssertEqual(try kind.decode(0, as: String.self), "train")
        XCTAssertEqual(try kind.decode(1, as: String.self), "running")
        let next = try await count("SELECT count(*) FROM \(table("job_schedule")) WHERE next_predict_at <= now() AND next_train_at > now()")
        XCTAssertEqual(next, 1, "the regular schedule is untouched: the prediction is still due, training is not")

        // Once the retraining is through, the prediction is queued, and the same evidence does
        // not trigger again (the old model still active, as when a retrained network is rejected).
        try await db.executeScript("UPDATE \(table("work_queue")) SET state = 'completed', finished_at = now()")
        try await db.executeScript("UPDATE \(table("runs")) SET status = 'succeeded', finished_at = now() WHERE trigger = 'drift'")
        let after = try await tick(job())
        XCTAssertTrue(after?.hasPrefix("predict run") == true, "\(after ?? "nil")")
        let unitsAfter = try await queued(), driftRunsAfter = try await driftRuns()
        XCTAssertEqual(unitsAfter, ["predict:"])
        XCTAssertEqual(driftRunsAfter.count, 1)
    }

    func testForecastsThatHoldTriggerNothing() async throws {
        try await seed(errors: ["a": 1.5, "b": -1.9])
        let logged = try await tick(job())
        XCTAssertTrue(logged?.hasPrefix("predict run") == true, "\(logged ?? "nil")")
        let units = try await queued(), runs = try await driftRuns()
        XCTAssertEqual(units, ["predict:"])
        XCTAssertEqual(runs.count, 0)
    }

    func testTooFewMaturedForecastsOrDriftTurnedOffTriggerNothing() async throws {
        try await seed(errors: ["a": 50, "b": 0])
        let database = DatabaseSettings(url: "", schema: schema)
        func findings(_ job: JobSettings) async throws -> [DriftFinding] {
            try await db.withConnection { db in try DriftDetector(job: job, database: database).findings(on: db) }
        }
        let seven = try await findings(job(points: 7))
        XCTAssertEqual(seven, [], "6 matured forecasts are fewer than drift_points = 7")
        let off = try await findings(job(factor: 0))
        XCTAssertEqual(off, [], "drift_factor = 0 turns drift off")
        let six = try await findings(job(points: 6))
        XCTAssertEqual(six.map(\.series), ["a"])
        XCTAssertEqual(six.first?.realizedMAE, 50)
        XCTAssertEqual(six.first?.points, 6)
        // Only the latest drift_points count: with 3, the same 50 error over 3 points.
        let three = try await findings(job(points: 3))
        XCTAssertEqual(three.first?.points, 3)
    }

    func testAGlobalModelIsJudgedOnTheMeanOverItsSeries() async throws {
        // Mean of 3.5 and 0 is 1.75 < 2 × 1: no drift; with 4.5 the mean 2.25 is over.
        try await seed(errors: ["a": 3.5, "b": 0], global: true)
        let globalJob = job(scope: .global), database = DatabaseSettings(url: "", schema: schema)
        let none = try await db.withConnection { db in try DriftDetector(job: globalJob, database: database).findings(on: db) }
        XCTAssertEqual(none, [])
        try await db.executeScript("UPDATE \(table("actuals")) SET value = 14.5 WHERE series = 'a'")
        _ = try await tick(job(scope: .global))
        let units = try await queued(), runs = try await driftRuns()
        XCTAssertEqual(units, ["train:"], "the global model's unit")
        XCTAssertTrue(runs.first?.note.hasPrefix("the global model: realized MAE 2.25 over the latest 12") == true, "\(runs)")
    }

}
