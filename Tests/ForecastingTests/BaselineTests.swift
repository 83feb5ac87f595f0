import XCTest
@testable import Forecasting
import NeuralNet

final class BaselineTests: XCTestCase {
    func testSeasonalNaiveRepeatsTheLastSeason() {
        let model = SeasonalNaive(season: 3)
        XCTAssertEqual(model.pointForecast(history: [1, 2, 3, 4, 5, 6], horizon: 7), [4, 5, 6, 4, 5, 6, 4])
        XCTAssertEqual(model.pointForecast(history: [1, 2, 3, 4, 5, 6], horizon: 0), [])
        // A missing value in the last season is taken from the season before.
        XCTAssertEqual(model.pointForecast(history: [1, 2, 3, 4, .nan, 6], horizon: 3), [4, 2, 6])
        // Too short for a season: the steps without a value are NaN.
        assertValues(model.pointForecast(history: [1, 2], horizon: 3), [.nan, 1, 2])
        XCTAssertFalse(model.canForecast(history: [1, 2]))
        XCTAssertTrue(model.canForecast(history: [1, 2, 3]))
        XCTAssertFalse(model.canForecast(history: [1, .nan, 3]))
        XCTAssertTrue(model.canForecast(history: [1, 7, 3, 4, .nan, 6]))
    }

    /// The fallback's choice between naive and seasonal naive: many origins over the history.
    func testTheStrongerBaselineIsNaiveForARandomWalkAndSeasonalForACycle() {
        var generator = SplitMix64(state: 4)
        var walk: [Double] = [100]
        for _ in 1..<600 { walk.append(walk.last! + generator.normal()) }
        XCTAssertEqual(ForecastBase.stronger(on: [walk], horizon: 5, season: 5), .level)
        XCTAssertEqual(ForecastBase.level.baseline(season: 5), .naive)

        let cycle = (0..<(24 * 20)).map { t in 10 * sin(2 * .pi * Double(t % 24) / 24) + 0.3 * generator.normal() }
        XCTAssertEqual(ForecastBase.stronger(on: [cycle], horizon: 24, season: 24), .seasonal)
        XCTAssertEqual(ForecastBase.seasonal.baseline(season: 24), SeasonalNaive(season: 24))
        // Pooled over series, each weighed by its own scale: the walk a thousand times larger
        // does not outvote two seasonal series.
        XCTAssertEqual(ForecastBase.stronger(on: [walk.map { $0 * 1000 }, cycle, cycle], horizon: 24, season: 24), .seasonal)
    }

    func testSeasonalNaiveStaysTheBaselineOfRecordOnATieOrWithoutASeason() {
        let flat = [Double](repeating: 3, count: 100)
        XCTAssertEqual(ForecastBase.stronger(on: [flat], horizon: 6, season: 24), .seasonal, "a constant series: both errors are zero")
        XCTAssertEqual(ForecastBase.stronger(on: [(0..<50).map(Double.init)], horizon: 3, season: 1), .seasonal, "season 1: the two are one")
        XCTAssertEqual(ForecastBase.stronger(on: [], horizon: 3, season: 7), .seasonal)
    }

    func testNaiveRepeatsTheLastObservedValue() {
        XCTAssertEqual(SeasonalNaive.naive.pointForecast(history: [3, 1, 4, .nan], horizon: 3), [4, 4, 4])
        XCTAssertTrue(SeasonalNaive.naive.pointForecast(history: [Double.nan], horizon: 1)[0].isNaN)
    }

    func testIntervalsComeFromInSampleErrorsAtTheSameLeadTime() {
        // A straight line: every one-season error is +2 (season 2), every two-season error +4.
        let history = (0..<40).map(Double.init)
        let model = SeasonalNaive(season: 2)
        let forecast = model.forecast(history: history, horizon: 4, levels: [0.1, 0.5, 0.9])
        XCTAssertEqual(forecast.point, [38, 39, 38, 39])
        XCTAssertEqual(Array(forecast.quantiles(atStep: 0)), [40, 40, 40])
        XCTAssertEqual(Array(forecast.quantiles(atStep: 1)), [41, 41, 41])
        XCTAssertEqual(Array(forecast.quantiles(atStep: 2)), [42, 42, 42])
        XCTAssertEqual(Array(forecast.quantiles(atStep: 3)), [43, 43, 43])
    }

    func testIntervalsWidenWithLeadTimeAndStayOrdered() {
        var generator = SplitMix64(state: 9)
        let season = 24
        let history = (0..<(24 * 30)).map { t in 10 * sin(2 * .pi * Double(t % season) / Double(season)) + 2 * generator.normal() }
        let forecast = SeasonalNaive(season: season).forecast(history: history, horizon: 48, levels: [0.1, 0.5, 0.9])
        for step in 0..<48 {
            let q = forecast.quantiles(atStep: step)
            XCTAssertLessThanOrEqual(q[q.startIndex], q[q.startIndex + 1])
            XCTAssertLessThanOrEqual(q[q.startIndex + 1], q[q.startIndex + 2])
            XCTAssertLessThan(forecast.lower[step], forecast.point[step])
            XCTAssertGreaterThan(forecast.upper[step], forecast.point[step])
        }
        // Errors of the difference of two noisy values: ±1.28·√2·2 ≈ 3.6 around the point.
        XCTAssertEqual(forecast.upper[0] - forecast.point[0], 3.6, accuracy: 0.6)
        XCTAssertEqual(forecast.point[0] - forecast.lower[0], 3.6, accuracy: 0.6)
        // With little history, the second season widens the first one's errors by √2.
        let short = Array(history.prefix(24 * 2 + 5))
        let widened = SeasonalNaive(season: season).forecast(history: short, horizon: 48, levels: [0.1, 0.9])
        XCTAssertEqual(widened.upper[24] - widened.point[24], (widened.upper[0] - widened.point[0]) * 2.0.squareRoot(), accuracy: 1e-9)
    }

    func testNoErrorsGiveAZeroWidthInterval() {
        let forecast = SeasonalNaive(season: 3).forecast(history: [1, 2, 3], horizon: 2, levels: [0.1, 0.9])
        XCTAssertEqual(forecast.lower, [1, 2])
        XCTAssertEqual(forecast.upper, [1, 2])
    }
}
