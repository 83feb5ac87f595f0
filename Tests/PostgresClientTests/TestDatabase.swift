import Foundation
import XCTest
@testable import PostgresClient

/// The throwaway server that scripts/test.sh starts; tests skip when it is not there.
enum TestDatabase {
    static func url() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["FORECASTD_TEST_DATABASE_URL"], !url.isEmpty else {
            throw XCTSkip("FORECASTD_TEST_DATABASE_URL is not set; run the tests through scripts/test.sh")
        }
        return url
    }

    static func connect() async throws -> PostgresConnection {
        try await PostgresConnection.connect(try url())
    }

    /// A table name no other test uses, so tests can run in any order and in parallel.
    static func uniqueTableName(_ prefix: String) -> String {
        "\(prefix)_\(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: ""))"
    }
}
