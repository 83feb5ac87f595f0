import XCTest
@testable import Forecasting
import NeuralNet

final class QuantileTests: XCTestCase {
    func testCrossingQuantilesAreRearranged() {
        var values: [Double] = [3, 1, 2, /* step 2 */ 5, 5, 4, /* step 3 */ .nan, 1, 0]
        Quantiles.sortEachStep(&values, levelsPerStep: 3)
        assertValues(values, [1, 2, 3, 4, 5, 5, 0, 1, .nan])
        let forecast = QuantileForecast(levels: [0.1, 0.5, 0.9], values: [10, 9, 11, 20, 22, 18])
        XCTAssertEqual(forecast.values, [9, 10, 11, 18, 20, 22])
        XCTAssertEqual(forecast.point, [10, 20])
        XCTAssertEqual(forecast.lower, [9, 18])
        XCTAssertEqual(forecast.upper, [11, 22])
        XCTAssertEqual(forecast.horizon, 2)
        XCTAssertEqual(Array(forecast.quantiles(atStep: 1)), [18, 20, 22])
        XCTAssertEqual(forecast.confidenceLevel!, 0.8, accuracy: 1e-15)
    }

    func testRearrangementNeverIncreasesPinballLoss() {
        var generator = SplitMix64(state: 2)
        let levels = [0.1, 0.3, 0.5, 0.7, 0.9]
        for _ in 0..<200 {
            let raw = (0..<levels.count).map { _ in generator.normal() }
            let actual = generator.normal()
            let sorted = raw.sorted()
            func loss(_ values: [Double]) -> Double {
                zip(levels, values).map { Metrics.pinball(actual: actual, quantile: $0.1, level: $0.0) }.reduce(0, +)
            }
            XCTAssertLessThanOrEqual(loss(sorted), loss(raw) + 1e-12)
        }
    }

    func testMedianSelection() {
        XCTAssertEqual(Quantiles.median(levels: [0.1, 0.5, 0.9], values: [1, 2, 3]), 2)
        XCTAssertEqual(Quantiles.median(levels: [0.1, 0.4, 0.6, 0.9], values: [1, 2, 4, 5]), 3)
        XCTAssertEqual(Quantiles.median(levels: [0.25, 0.45, 0.9], values: [1, 2, 4]), 2 + 2 * (0.05 / 0.45), accuracy: 1e-12)
        XCTAssertEqual(Quantiles.median(levels: [0.1, 0.2], values: [1, 2]), 2)
        XCTAssertEqual(Quantiles.median(levels: [0.8, 0.9], values: [1, 2]), 1)
        XCTAssertEqual(Quantiles.median(levels: [0.9], values: [7]), 7)
    }

    func testLevelValidation() {
        XCTAssertNoThrow(try Quantiles.validate([0.1, 0.5, 0.9]))
        for bad in [[], [0.5, 0.5], [0.9, 0.1], [0, 0.5], [0.5, 1], [Double.nan]] {
            XCTAssertThrowsError(try Quantiles.validate(bad), "\(bad)")
        }
        XCTAssertNil(Quantiles.confidenceLevel([0.5]))
        XCTAssertEqual(Quantiles.confidenceLevel([0.05, 0.5, 0.95])!, 0.9, accuracy: 1e-15)
    }

    func testACombinationAveragesEachQuantileAndThePoints() {
        let network = QuantileForecast(levels: [0.1, 0.5, 0.9], values: [8, 10, 12, 18, 20, 22])
        let baseline = QuantileForecast(levels: [0.1, 0.5, 0.9], values: [4, 6, 10, 20, 24, 30], point: [5, 23])
        let combined = network.combined(with: baseline)
        XCTAssertEqual(combined.levels, [0.1, 0.5, 0.9])
        XCTAssertEqual(combined.values, [6, 8, 11, 19, 22, 26], "each quantile the mean of the two")
        XCTAssertEqual(combined.point, [7.5, 21.5], "the point the mean of the two points (the baseline keeps its own)")
        XCTAssertEqual(combined, baseline.combined(with: network), "the order does not matter")
        XCTAssertEqual(network.combined(with: network), network)
    }

    func testEmpiricalQuantiles() {
        XCTAssertEqual(Quantiles.quantile(of: [4, 1, 3, 2, .nan], level: 0.5), 2.5)
        XCTAssertEqual(Quantiles.quantile(of: [1, 2, 3, 4, 5], level: 0.25), 2)
        XCTAssertEqual(Quantiles.quantile(of: [1, 2], level: 0.9), 1.9, accuracy: 1e-15)
        XCTAssertTrue(Quantiles.quantile(of: [Double](), level: 0.5).isNaN)
    }
}
