import Foundation
import XCTest
@testable import Forecasting

/// Issue 15, defect 9: SPEC keeps rejected models, and a network whose training diverged is one.
extension ModelGuardTests {
    func testANetworkWhoseTrainingDivergedIsReturnedAsRejected() throws {
        var settings = ForecasterSettings.defaults(frequency: Frequency(.hour), horizon: 6, season: 24, backtestWindows: 3)
        // A learning rate no configuration accepts (it stops at 10): the first update overflows.
        settings.learningRate = .greatestFiniteMagnitude
        settings.epochs = 3
        settings.hiddenSize = 4
        let guarded = ModelGuard(settings: settings, season: 24, backtestWindows: 3, fallbackAllowed: true)
        let cycle: [Double] = (0..<(24 * 20)).map { (t: Int) -> Double in
            let phase = 2 * Double.pi * Double(t % 24) / 24
            return 10 * sin(phase) + Double(t % 5) * 0.1
        }
        let outcome = guarded.train([series(cycle)])
        let published = try XCTUnwrap(outcome.published)
        XCTAssertTrue(published.reason?.contains("training failed: training diverged") == true, published.reason ?? "")
        let rejected = try XCTUnwrap(outcome.rejected, "the diverged network is kept as rejected")
        XCTAssertEqual(rejected.cell, .network(settings.cell))
        XCTAssertTrue(rejected.reason?.hasPrefix("training diverged") == true, rejected.reason ?? "")
        XCTAssertNil(rejected.weights, "no usable weights")
        XCTAssertEqual(try JSONDecoder().decode(ForecasterSettings.self, from: Data(rejected.hyperparameters.utf8)), settings)
    }
}
