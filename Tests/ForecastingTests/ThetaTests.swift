import XCTest
@testable import Forecasting

/// Theta against statsforecast's AutoTheta (StatsforecastReference.swift). statsforecast
/// simulates its intervals with 200 paths (about 7% standard error on a step's 80% width), so
/// the interval tolerance is wider than the point tolerance.
final class ThetaTests: XCTestCase {
    func testAutoThetaAgreesWithStatsforecast() throws {
        for c in StatsforecastReference.cases {
            let model = try Theta.auto(c.history, season: c.season)
            let f = model.forecast(horizon: c.horizon, levels: ETSTests.levels)
            let point = ETSTests.relativeDifference(f.point, c.autoTheta.mean)
            let width = ETSTests.widthDifference(f, lower: c.autoTheta.lower80, upper: c.autoTheta.upper80)
            print(String(format: "AutoTheta %@/%@: %@ (statsforecast %@), point %.3f%%, interval width %.2f%%",
                         c.set, c.key, model.name, c.autoTheta.model, 100 * point, 100 * width))
            XCTAssertEqual(model.name, c.autoTheta.model, c.key)
            XCTAssertLessThanOrEqual(point, 0.03, "\(c.key): point forecasts")
            XCTAssertLessThanOrEqual(width, 0.12, "\(c.key): interval widths")
        }
    }

    func testIntervalsAreReproducibleAndOrdered() throws {
        let air = try XCTUnwrap(StatsforecastReference.cases.first { $0.key == "airpassengers" })
        let model = try Theta.auto(air.history, season: 12)
        let a = model.forecast(horizon: 12, levels: [0.05, 0.5, 0.95]), b = model.forecast(horizon: 12, levels: [0.05, 0.5, 0.95])
        XCTAssertEqual(a, b)
        for step in 0..<12 {
            XCTAssertLessThan(a.lower[step], a.point[step])
            XCTAssertGreaterThan(a.upper[step], a.point[step])
        }
    }

    func testNonSeasonalDataAreNotDeseasonalised() throws {
        let trend: [Double] = (0..<50).map { t in
            let wiggle: Double = (t * 7919) % 13 == 0 ? 0.4 : -0.1
            return 3 + 0.5 * Double(t) + wiggle
        }
        let model = try Theta.auto(trend, season: 12)
        XCTAssertNil(model.seasonalMode)
        let f = model.pointForecast(horizon: 3)
        XCTAssertGreaterThan(f[2], f[0], "the drift of the theta line continues the trend")
    }

    func testMissingValuesAreInterpolated() throws {
        let air = try XCTUnwrap(StatsforecastReference.cases.first { $0.key == "airpassengers" })
        var gappy = air.history
        gappy[50] = .nan
        let model = try Theta.auto(gappy, season: 12)
        XCTAssertTrue(model.pointForecast(horizon: 12).allSatisfy(\.isFinite))
        XCTAssertThrowsError(try Theta.auto([1, .nan, 2], season: 1))
    }
}
