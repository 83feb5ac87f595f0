import Foundation
import PostgresClient
import XCTest
@testable import ForecastConfig
@testable import ForecastStore

/// The views of migration 0004 on the known rows of `AccuracyFixture`, every figure worked out
/// by hand.
final class AccuracyViewsTests: StoreTestCase {
    var fixture = AccuracyFixture()

    override func setUp() async throws {
        try await super.setUp()
        fixture = AccuracyFixture()
        try await fixture.load(into: schema, on: db)
    }

    func testForecastAccuracyPairsEveryMaturedForecastWithItsActual() async throws {
        let rows = try await db.query("""
            SELECT series, model_id, extract(epoch FROM issued_at)::float8, extract(epoch FROM target_ts)::float8, step,
                   forecast_value, actual, abs_error, inside_interval
            FROM \(table("forecast_accuracy")) ORDER BY series, target_ts, issued_at
            """)
        struct Row: Equatable {
            var series: String, model: Int64, issued: Double, target: Double, step: Int
            var forecast: Double, actual: Double, absError: Double, inside: Bool?
        }
        let t = fixture.base.timeIntervalSince1970
        let got = try rows.map {
            Row(series: try $0.decode(0), model: try $0.decode(1), issued: try $0.decode(2), target: try $0.decode(3), step: try $0.decode(4),
                forecast: try $0.decode(5), actual: try $0.decode(6), absError: try $0.decode(7), inside: try $0.decode(8))
        }
        XCTAssertEqual(got, [
            // The retired model's 2-step forecast still counts: 8 against 10.5, outside [7, 9].
            Row(series: "a", model: 1, issued: t - 3600, target: t + 3600, step: 2, forecast: 8, actual: 10.5, absError: 2.5, inside: false),
            Row(series: "a", model: 2, issued: t, target: t + 3600, step: 1, forecast: 10, actual: 10.5, absError: 0.5, inside: true),
            // 13 lies above the upper bound 12.
            Row(series: "a", model: 2, issued: t, target: t + 7200, step: 2, forecast: 11, actual: 13, absError: 2, inside: false),
            // No interval, so no verdict on it.
            Row(series: "b", model: 3, issued: t, target: t + 3600, step: 1, forecast: 20, actual: 19, absError: 1, inside: nil),
        ], "the step-3 target has no actual yet, and the actual at T has no forecast")
    }

    func testJobHealthShowsTheLastRunOfEachKindTheLagAndTheModelAges() async throws {
        let schema = self.schema
        // One transaction: now() is the same instant for the schedule, the models and the view.
        let rows = try await db.transaction { tx in
            try tx.execute("UPDATE \(quoteIdentifier(schema)).job_schedule SET next_predict_at = now() - interval '90 minutes', next_train_at = now() + interval '1 hour'")
            try tx.execute("UPDATE \(quoteIdentifier(schema)).models SET trained_at = now() - make_interval(hours => CASE model_id WHEN 2 THEN 5 WHEN 3 THEN 2 WHEN 4 THEN 1 ELSE 240 END)")
            return try tx.query("""
                SELECT job, kind, last_status, last_duration_seconds, last_series_total, last_series_failed, last_error,
                       extract(epoch FROM lag)::float8, active_models,
                       extract(epoch FROM oldest_model_age)::float8, extract(epoch FROM newest_model_age)::float8,
                       next_due_at IS NULL
                FROM \(quoteIdentifier(schema)).job_health ORDER BY job, kind
                """).map { try $0.cellTexts(12) }
        }
        XCTAssertEqual(rows, [
            // No schedule row for "other": only the kind that ran, and no lag.
            ["other", "backtest", "failed", "60.0", "1.0", "1.0", "series \"other\": too short", "-", "1.0", "3600.0", "3600.0", "true"],
            // The newest predict run (partial, 1 of 2 failed), 90 minutes overdue.
            ["sensors", "predict", "partial", "20.0", "2.0", "1.0", "series \"b\": boom", "5400.0", "2.0", "18000.0", "7200.0", "false"],
            // Training is not due for an hour: no lag. The retired model's age does not count.
            ["sensors", "train", "succeeded", "90.0", "2.0", "0.0", "-", "0.0", "2.0", "18000.0", "7200.0", "false"],
        ])
    }

    func testModelLeaderboardListsActiveModelsWithBacktestAndRealizedAccuracy() async throws {
        let rows = try await db.query("""
            SELECT job, coalesce(series, '-'), model_id, mae, baseline_mae, mase, baseline_mase, skill, coverage,
                   matured_points, realized_mae, realized_coverage, skill_rank
            FROM \(table("model_leaderboard")) ORDER BY job, skill_rank
            """).map { try $0.cellTexts(13).joined(separator: " ") }
        XCTAssertEqual(rows, [
            // A fallback without metrics is still listed, first (and last) in its job.
            "other - 4.0 - - - - - - 0.0 - - 1.0",
            "sensors b 3.0 2.0 - 0.5 1.0 0.5 - 1.0 1.0 - 1.0",
            // Validation MAE (99) is not a backtest figure; realized: |10-10.5| and |11-13| → 1.25, one of two inside.
            "sensors a 2.0 1.0 1.25 0.8 1.0 0.2 0.75 2.0 1.25 0.5 2.0",
        ], "the retired model 1 (backtest skill 0.9) is not on the board")
    }
}
