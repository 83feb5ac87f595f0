import XCTest
@testable import Forecasting
import NeuralNet

/// ARIMA against R's `arima(method = "CSS")` (ARIMAReference.swift, fixed orders), and the
/// automatic choice on series whose right orders are known.
final class ARIMATests: XCTestCase {
    func testFixedOrdersAgreeWithR() throws {
        for c in ARIMAReference.cases {
            let spec = try XCTUnwrap(ARIMASpec(c.spec), c.spec)
            let model = try ARIMA.fit(c.history, season: c.season, spec: spec)
            let horizon = c.mean.count
            let f = model.forecast(horizon: horizon, levels: ETSTests.levels)
            let back = { (v: Double) in spec.logarithm ? exp(v) : v }
            let z = Numerics.normalQuantile(0.9)
            let point = ETSTests.relativeDifference(f.point, c.mean.map(back))
            let width = ETSTests.widthDifference(f, lower: zip(c.mean, c.standardError).map { back($0 - z * $1) },
                                                 upper: zip(c.mean, c.standardError).map { back($0 + z * $1) })
            let sigma = abs(model.sigma2 - c.sigma2) / c.sigma2
            print(String(format: "ARIMA%@ %@/%@: point %.3f%%, interval width %.2f%%, sigma2 %.3f%%",
                         c.spec, c.set, c.key, 100 * point, 100 * width, 100 * sigma))
            XCTAssertLessThanOrEqual(sigma, 0.01, "\(c.key) \(c.spec): sigma2")
            XCTAssertLessThanOrEqual(point, 0.02, "\(c.key) \(c.spec): point forecasts")
            XCTAssertLessThanOrEqual(width, 0.05, "\(c.key) \(c.spec): interval widths")
        }
    }

    func testTheAutomaticChoiceFindsTheOrdersOfKnownProcesses() throws {
        var random = SplitMix64(seed: 7)
        // AR(1), φ = 0.7, around 50: stationary, no differencing, an AR term, a mean.
        var ar = [50.0]
        for _ in 1..<240 { ar.append(50 + 0.7 * (ar.last! - 50) + random.normal()) }
        let arModel = try ARIMA.auto(ar, season: 1)
        XCTAssertEqual(arModel.spec.d, 0, arModel.spec.description)
        XCTAssertGreaterThanOrEqual(arModel.spec.p + arModel.spec.q, 1, arModel.spec.description)
        XCTAssertTrue(arModel.spec.constant, arModel.spec.description)
        // A random walk: differenced once.
        var walk = [10.0]
        for _ in 1..<240 { walk.append(walk.last! + random.normal()) }
        XCTAssertEqual(try ARIMA.auto(walk, season: 1).spec.d, 1)
        // A strong additive season on a level: seasonally differenced, not on logs.
        var seasonal: [Double] = []
        for t in 0..<120 { seasonal.append(100 + 10 * sin(2 * Double.pi * Double(t) / 12) + random.normal()) }
        let seasonalModel = try ARIMA.auto(seasonal, season: 12)
        XCTAssertEqual(seasonalModel.spec.seasonalD, 1, seasonalModel.spec.description)
        XCTAssertFalse(seasonalModel.spec.logarithm)
        // AirPassengers: the swing grows with the level, so the logarithm, seasonally differenced.
        let air = try XCTUnwrap(StatsforecastReference.cases.first { $0.key == "airpassengers" })
        let airModel = try ARIMA.auto(air.history, season: 12)
        XCTAssertTrue(airModel.spec.logarithm, airModel.spec.description)
        XCTAssertEqual(airModel.spec.seasonalD, 1, airModel.spec.description)
        let f = airModel.forecast(horizon: 12, levels: [0.1, 0.5, 0.9])
        for step in 0..<12 {
            XCTAssertLessThan(f.lower[step], f.point[step])
            XCTAssertGreaterThan(f.upper[step], f.point[step])
        }
        // A constant series: its value, with no spread.
        let flat = try ARIMA.auto([Double](repeating: 4, count: 30), season: 12)
        XCTAssertEqual(flat.pointForecast(horizon: 3), [4, 4, 4])
    }

    func testSpecificationsReadBackAndNonsenseDoesNot() {
        let specs = [ARIMASpec(p: 2, d: 1, q: 1, seasonalP: 0, seasonalD: 1, seasonalQ: 1, constant: false, logarithm: true),
                     ARIMASpec(p: 1, d: 0, q: 0, constant: true), ARIMASpec(p: 0, d: 1, q: 1, constant: true),
                     ARIMASpec(p: 0, d: 1, q: 1, seasonalD: 1)]
        XCTAssertEqual(specs.map(\.description),
                       ["(2,1,1)(0,1,1), on logs", "(1,0,0) with mean", "(0,1,1) with drift", "(0,1,1)(0,1,0)"])
        for spec in specs { XCTAssertEqual(ARIMASpec(spec.description), spec) }
        for nonsense in ["", "(1,1)", "(1,1,1) with", "MAdM", "(1,1,1)(0,1,1) on logs", "(1,1,1)(0,0,0)"] {
            XCTAssertNil(ARIMASpec(nonsense), nonsense)
        }
    }

    /// What predict does with a recorded specification the rows no longer allow.
    func testARecordedSpecificationIsEasedWhereTheHistoryNoLongerAllowsIt() throws {
        let model = StatisticalModel(method: .arima, season: 12, model: "(0,1,1)(0,1,1), on logs", window: 1000)
        XCTAssertEqual(model.name, "ARIMA(0,1,1)(0,1,1), on logs")
        let short = (0..<15).map { 10 + Double($0 % 12) }
        let eased = try model.fit(history: short, spec: model.model, horizon: 3, levels: [0.5])
        XCTAssertEqual(eased.spec, "(0,1,1), on logs")
        var negative = (0..<48).map { 10 + Double($0 % 12) }
        negative[5] = -1
        XCTAssertEqual(try model.fit(history: negative, spec: model.model, horizon: 3, levels: [0.5]).spec, "(0,1,1)(0,1,1)")
        XCTAssertThrowsError(try model.fit(history: [1, 2], spec: model.model, horizon: 3, levels: [0.5]))
        // Two years of a quarterly series (prisoners, fpp2's `prison`, QLD male sentenced) are too
        // short for the seasonal terms its six years chose: the seasonal difference is kept
        // alone, and where even that does not fit, the season goes and a mean takes the level's
        // place (a zero-mean (0,0,1) forecast 0 for a series near 4,000).
        let prisoners: [Double] = [3940, 3968, 4015, 3965, 4020, 4063, 4067, 4098]
        let quarterly = StatisticalModel(method: .arima, season: 4, model: "(0,0,1)(1,1,1)", window: 1000)
        let differenced = try quarterly.fit(history: prisoners, spec: quarterly.model, horizon: 8, levels: [0.1, 0.5, 0.9])
        XCTAssertEqual(differenced.spec, "(0,0,1)(0,1,0)")
        let level = try quarterly.fit(history: Array(prisoners.prefix(6)), spec: quarterly.model, horizon: 8, levels: [0.1, 0.5, 0.9])
        XCTAssertEqual(level.spec, "(0,0,1) with mean")
        for forecast in [differenced, level] {
            for point in forecast.forecast.point { XCTAssertEqual(point, 4040, accuracy: 100) }
        }
        XCTAssertEqual(ARIMASpec("(0,0,1)(1,1,1)")!.easedForShorterHistory.map(\.description), ["(0,0,1)(0,1,0)", "(0,0,1) with mean"])
        XCTAssertEqual(ARIMASpec("(1,1,0)(0,1,1)")!.easedForShorterHistory.map(\.description), ["(1,1,0)(0,1,0)", "(1,1,0)"])
        XCTAssertEqual(ARIMASpec("(1,0,0)(1,0,0) with mean")!.easedForShorterHistory.map(\.description), ["(1,0,0) with mean"])
    }
}
