import XCTest
@testable import Forecasting

final class MetricsTests: XCTestCase {
    // Errors f − a: 1, 0, 1, −2; the last actual is missing.
    let actual: [Double] = [1, 2, 0, 4, .nan]
    let forecast: [Double] = [2, 2, 1, 2, 5]

    func testPointMetricsAgainstHandComputedValues() {
        XCTAssertEqual(Metrics.mae(actual: actual, forecast: forecast), 1)
        XCTAssertEqual(Metrics.rmse(actual: actual, forecast: forecast), 1.5.squareRoot(), accuracy: 1e-15)
        // Zero actual skipped: (1/1 + 0/2 + 2/4) / 3.
        XCTAssertEqual(Metrics.mape(actual: actual, forecast: forecast), 0.5, accuracy: 1e-15)
        // (2·1/3 + 0 + 2·1/1 + 2·2/6) / 4.
        XCTAssertEqual(Metrics.smape(actual: actual, forecast: forecast), 5.0 / 6.0, accuracy: 1e-15)
        XCTAssertEqual(Metrics.mase(actual: actual, forecast: forecast, scale: 0.5), 2)
    }

    func testUndefinedCasesAreNaN() {
        XCTAssertTrue(Metrics.mape(actual: [0, 0], forecast: [1, 2]).isNaN)
        XCTAssertTrue(Metrics.smape(actual: [0], forecast: [0]).isNaN)
        XCTAssertEqual(Metrics.smape(actual: [0, 1], forecast: [0, 3]), 1)  // only the second step counts
        XCTAssertTrue(Metrics.mae(actual: [.nan], forecast: [1]).isNaN)
        XCTAssertTrue(Metrics.mase(actual: [1], forecast: [2], scale: 0).isNaN)
        XCTAssertTrue(Metrics.mase(actual: [1], forecast: [2], scale: .nan).isNaN)
        XCTAssertTrue(Metrics.mae(actual: [1], forecast: [.nan]).isNaN)  // a forecast that failed is not skipped
    }

    func testSeasonalNaiveScale() {
        // |2−1|, |4−3|, |3−2|, |5−4| at lag 2.
        XCTAssertEqual(Metrics.seasonalNaiveScale(training: [1, 3, 2, 4, 3, 5], season: 2), 1)
        // Pairs with a missing value are left out: |3−1|, |5−3|, |8−5|.
        XCTAssertEqual(Metrics.seasonalNaiveScale(training: [1, .nan, 3, 5, 5, 8], season: 2), (2 + 2 + 3) / 3)
        // Shorter than a season + 1: the lag-1 error.
        XCTAssertEqual(Metrics.seasonalNaiveScale(training: [1, 2, 4], season: 24), 1.5)
        XCTAssertTrue(Metrics.seasonalNaiveScale(training: [1], season: 24).isNaN)
        XCTAssertEqual(Metrics.seasonalNaiveScale(training: [3, 3, 3], season: 1), 0)
    }

    func testCoverageAndPinball() {
        XCTAssertEqual(Metrics.coverage(actual: [1, 5, 3, .nan], lower: [0, 0, 3, 0], upper: [2, 4, 4, 1]), 2.0 / 3.0, accuracy: 1e-15)
        XCTAssertEqual(Metrics.pinball(actual: 10, quantile: 8, level: 0.9), 1.8, accuracy: 1e-15)
        XCTAssertEqual(Metrics.pinball(actual: 10, quantile: 12, level: 0.9), 0.2, accuracy: 1e-15)
        XCTAssertEqual(Metrics.pinball(actual: 10, quantile: 12, level: 0.5), 1)
        // Actual 11 against 8, 10, 12 at 0.1, 0.5, 0.9: (0.3 + 0.5 + 0.1) / 3; the second step is missing.
        let forecast = QuantileForecast(levels: [0.1, 0.5, 0.9], values: [8, 10, 12, 0, 0, 0])
        XCTAssertEqual(Metrics.pinball(actual: [11, .nan], forecast: forecast), 0.3, accuracy: 1e-15)
    }

    func testSkill() {
        XCTAssertEqual(Metrics.skill(mase: 0.8, baselineMase: 1), 0.2, accuracy: 1e-15)
        XCTAssertEqual(Metrics.skill(mase: 1.5, baselineMase: 1), -0.5, accuracy: 1e-15)
        XCTAssertEqual(Metrics.skill(mase: 0, baselineMase: 0), 0)
        XCTAssertEqual(Metrics.skill(mase: 0.1, baselineMase: 0), -.infinity)
        XCTAssertTrue(Metrics.skill(mase: .nan, baselineMase: 1).isNaN)
    }

    func testAccumulatorMatchesTheSingleMetrics() {
        let forecast = QuantileForecast(levels: [0.1, 0.5, 0.9], values: [1, 2, 3, 1, 2, 4, 0, 1, 2, 1, 2, 3, 4, 5, 6])
        let actual: [Double] = [1, 2, 0, 4, .nan]
        var accumulator = AccuracyAccumulator()
        accumulator.add(actual: actual, forecast: forecast, scale: 0.5)
        let report = accumulator.report
        XCTAssertEqual(report.count, 4)
        XCTAssertEqual(report.mae, Metrics.mae(actual: actual, forecast: forecast.point), accuracy: 1e-15)
        XCTAssertEqual(report.rmse, Metrics.rmse(actual: actual, forecast: forecast.point), accuracy: 1e-15)
        XCTAssertEqual(report.mape, Metrics.mape(actual: actual, forecast: forecast.point), accuracy: 1e-15)
        XCTAssertEqual(report.smape, Metrics.smape(actual: actual, forecast: forecast.point), accuracy: 1e-15)
        XCTAssertEqual(report.mase, Metrics.mase(actual: actual, forecast: forecast.point, scale: 0.5), accuracy: 1e-15)
        XCTAssertEqual(report.coverage, Metrics.coverage(actual: actual, lower: forecast.lower, upper: forecast.upper), accuracy: 1e-15)
        XCTAssertEqual(report.pinball, Metrics.pinball(actual: actual, forecast: forecast), accuracy: 1e-15)
        XCTAssertEqual(report.named(prefix: "baseline_").map(\.name),
                       ["baseline_mae", "baseline_rmse", "baseline_mape", "baseline_smape", "baseline_mase",
                        "baseline_coverage", "baseline_pinball"])
    }
}
