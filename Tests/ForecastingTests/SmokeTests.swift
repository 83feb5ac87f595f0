import XCTest
@testable import Forecasting

final class ForecastingSmokeTests: XCTestCase {
    func testModuleLoads() {}
}
