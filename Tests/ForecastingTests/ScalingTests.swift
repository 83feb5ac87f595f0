import XCTest
@testable import Forecasting
import NeuralNet

final class ScalingTests: XCTestCase {
    func testMedianAndInterquartileRange() throws {
        let scaler = try XCTUnwrap(RobustScaler(fitting: [9, 1, 5, 3, 7, 2, 8, 4, 6]))
        XCTAssertEqual(scaler.center, 5)
        XCTAssertEqual(scaler.scale, 4 / 1.3489795003921634, accuracy: 1e-15)  // Q3 7 − Q1 3
        XCTAssertEqual(scaler.transform(5), 0)
        XCTAssertEqual(scaler.transform(7), 0.6744897501960817, accuracy: 1e-12)
    }

    func testOutliersBarelyMoveTheScaler() throws {
        var generator = SplitMix64(state: 11)
        let clean = (0..<1_000).map { _ in 20 + 3 * generator.normal() }
        let spiky = clean + [1e6, -1e6, 5e5]
        let a = try XCTUnwrap(RobustScaler(fitting: clean)), b = try XCTUnwrap(RobustScaler(fitting: spiky))
        XCTAssertEqual(a.center, b.center, accuracy: 0.05)
        XCTAssertEqual(a.scale, b.scale, accuracy: 0.05)
        XCTAssertEqual(a.scale, 3, accuracy: 0.3)  // the IQR estimate matches the standard deviation
    }

    func testRoundTripIsExact() throws {
        var generator = SplitMix64(state: 5)
        for magnitude in [1e-6, 1.0, 1e3, 1e9] {
            let values = (0..<500).map { _ in magnitude * (generator.normal() + (generator.uniform(in: 0...1) < 0.02 ? 50 : 0)) }
            let scaler = try XCTUnwrap(RobustScaler(fitting: values))
            for value in values {
                XCTAssertEqual(scaler.inverse(scaler.transform(value)), value, accuracy: 1e-12 * max(abs(value), magnitude))
            }
            assertValues(scaler.inverse(scaler.transform(values)), values, accuracy: 1e-12 * magnitude * 300)
        }
    }

    func testDegenerateSpreadsHaveAFloor() throws {
        // IQR is zero (and so is the median absolute deviation): the mean absolute deviation is used.
        let mostlyFlat = try XCTUnwrap(RobustScaler(fitting: [0, 0, 0, 0, 0, 0, 0, 1, 100]))
        XCTAssertEqual(mostlyFlat.center, 0)
        XCTAssertEqual(mostlyFlat.scale, 101.0 / 9 * 1.2533141373155003, accuracy: 1e-12)
        let stuck = try XCTUnwrap(RobustScaler(fitting: [1, 5, 5, 5, 5, 5, 5, 5, 5, 9, 9]))
        XCTAssertEqual(stuck.center, 5)
        XCTAssertEqual(stuck.scale, 12.0 / 11 * 1.2533141373155003, accuracy: 1e-12)
        // Constant series: scale |median|, or 1 for zeros; transforms stay finite.
        XCTAssertEqual(RobustScaler(fitting: [250, 250, 250])?.scale, 250)
        XCTAssertEqual(RobustScaler(fitting: [0, 0])?.scale, 1)
        XCTAssertEqual(RobustScaler(fitting: [-4, -4])?.transform(-4), 0)
        XCTAssertNil(RobustScaler(fitting: [Double.nan, .infinity]))
    }

    func testFittedOnFiniteTrainingValuesOnly() throws {
        let training: [Double] = [1, .nan, 2, 3, .nan, 4, 5]
        let scaler = try XCTUnwrap(RobustScaler(fitting: training))
        XCTAssertEqual(scaler.center, 3)
        let series: [Double] = training + [1_000, 2_000]
        let trainedOnPrefix = try XCTUnwrap(RobustScaler(fitting: series[..<training.count]))
        XCTAssertEqual(trainedOnPrefix, scaler)
        XCTAssertTrue(scaler.transform(.nan).isNaN)
        var buffer = [Float](repeating: 9, count: 6)
        scaler.transformForNetwork(training[0..<3], into: &buffer, at: 0, stride: 2)
        XCTAssertEqual(buffer, [Float(scaler.transform(1)), 9, 0, 9, Float(scaler.transform(2)), 9])
    }
}
