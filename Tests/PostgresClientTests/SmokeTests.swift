import XCTest
@testable import PostgresClient

final class PostgresClientSmokeTests: XCTestCase {
    func testModuleLoads() {}
}
