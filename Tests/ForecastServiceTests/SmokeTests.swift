import XCTest
@testable import ForecastService

final class ForecastServiceSmokeTests: XCTestCase {
    func testModuleLoads() {}
}
