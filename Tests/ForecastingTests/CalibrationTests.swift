import XCTest
@testable import Forecasting

/// The interval calibration fitted on the held-back tail.
final class CalibrationTests: XCTestCase {
    func testTheCoverageToFitHasTheFiniteSampleCorrectionOfSplitConformalPrediction() {
        // ⌈(n + 1)·0.8⌉ / n
        XCTAssertEqual(Calibration.conformalLevel(0.8, origins: 4), 1)
        XCTAssertEqual(Calibration.conformalLevel(0.8, origins: 9), 8.0 / 9, accuracy: 1e-12)
        XCTAssertEqual(Calibration.conformalLevel(0.8, origins: 25), 0.84, accuracy: 1e-12)
        XCTAssertEqual(Calibration.conformalLevel(0.8, origins: 1000), 0.801, accuracy: 1e-12)
        XCTAssertEqual(Calibration.conformalLevel(0.8, origins: 0), 1)
    }

    func testTheIntervalIsStretchedUntilItCoversThatShare() {
        // A unit spread around a zero median; actuals 0.2, 0.4, …, 2.0 away from it.
        let samples: [(base: Double, residuals: ArraySlice<Float>, actual: Double)] = (1...10).map { i in
            (base: 0, residuals: [Float(-1), 0, 1][...], actual: Double(i) * 0.2 * (i % 2 == 0 ? 1 : -1))
        }
        XCTAssertEqual(Calibration.fit(samples: samples, origins: 9, quantiles: [0.1, 0.5, 0.9]).intervalScale, 1.8, accuracy: 1e-9,
                       "8/9 of 10 samples: 9 inside, |actual| ≤ 1.8")
        XCTAssertEqual(Calibration.fit(samples: samples, origins: 4, quantiles: [0.1, 0.5, 0.9]).intervalScale, 2.0, accuracy: 1e-9,
                       "all of them")
    }
}
