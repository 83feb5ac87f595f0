import Foundation
import XCTest
@testable import ForecastConfig
@testable import ForecastStore
@testable import ForecastJobs

/// `forecastd backtest`: out-of-sample scores of the job's settings, recorded under the run.
extension JobRunnerTests {
    func testBacktestScoresEachSeriesOutOfSampleBesideSeasonalNaive() async throws {
        try await loadReadings()
        let (summary, scores) = try await runner(job()).backtest(on: db)
        XCTAssertEqual(summary.kind, .backtest)
        XCTAssertEqual(summary.status, .partial, "\(summary.errors)")
        XCTAssertEqual(summary.seriesTotal, 5)
        XCTAssertEqual(summary.seriesFailed, 3, "the all-NaN, single-row and constant series cannot be backtested: \(summary.errors)")
        XCTAssertEqual(scores.map(\.series).sorted(), ["a", "b"])
        for score in scores {
            XCTAssertEqual(score.result.windows.count, 2)
            XCTAssertTrue(score.result.model.mase.isFinite && score.result.baseline.mase.isFinite)
        }
        let stored = try await db.query("""
            SELECT series, count(*), min(windows) FROM \(table("backtest_results")) WHERE run_id = $1 GROUP BY series ORDER BY series
            """, summary.runID).map { (try $0.decode(0, as: String.self), try $0.decode(1, as: Int.self), try $0.decode(2, as: Int.self)) }
        XCTAssertEqual(stored.map(\.0), ["a", "b"])
        XCTAssertEqual(stored.map(\.1), [15, 15], "mae … pinball, their baseline_ twins and skill")
        XCTAssertEqual(stored.map(\.2), [2, 2])
        let status = try await db.query("SELECT kind, status FROM \(table("runs")) WHERE run_id = $1", summary.runID)[0]
        XCTAssertEqual(try status.decode(0, as: String.self), "backtest")
        XCTAssertEqual(try status.decode(1, as: String.self), "partial")
        let published = try await count("SELECT count(*) FROM \(table("models"))")
        XCTAssertEqual(published, 0, "a backtest publishes nothing")
    }

    /// The network must not have seen the windows: changing the last window's actuals leaves
    /// the forecast of the first window exactly as it was.
    func testBacktestTrainsOnlyOnTheHistoryBeforeItsWindows() async throws {
        try await loadReadings()
        let job = job(), backtester = try runner(job)
        let (_, before) = try await backtester.backtest(on: db, onlySeries: "a")
        try await db.execute("UPDATE \(table("readings")) SET reading = reading + 1000 WHERE sensor = 'a' AND ts >= $1",
                             now - Double(job.horizon) * 3600)
        let (_, after) = try await backtester.backtest(on: db, onlySeries: "a")
        let first = try XCTUnwrap(before.first?.result.windows.first), again = try XCTUnwrap(after.first?.result.windows.first)
        XCTAssertEqual(first.modelForecast, again.modelForecast)
        XCTAssertNotEqual(before.first?.result.windows.last?.model.mae, after.first?.result.windows.last?.model.mae,
                          "the last window's actuals did change")
    }
}
