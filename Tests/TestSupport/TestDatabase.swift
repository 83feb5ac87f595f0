import Foundation
import PostgresClient
import XCTest

/// The throwaway server that scripts/test.sh starts; tests that need it skip without it.
public enum TestDatabase {
    public static func url() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["FORECASTD_TEST_DATABASE_URL"], !url.isEmpty else {
            throw XCTSkip("FORECASTD_TEST_DATABASE_URL is not set; run the tests through scripts/test.sh")
        }
        return url
    }

    public static func connect() async throws -> PostgresConnection {
        try await PostgresConnection.connect(try url())
    }

    /// A table name no other test uses, so tests can run in any order and in parallel.
    public static func uniqueTableName(_ prefix: String) -> String {
        "\(prefix)_\(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: ""))"
    }

    /// A schema name no other test uses, dropped again by `dropSchema`.
    public static func uniqueSchema(_ prefix: String) -> String {
        "\(prefix)_\(UInt32.random(in: 0...UInt32.max))"
    }

    public static func dropSchema(_ schema: String) async throws {
        let connection = try await connect()
        try await connection.executeScript("SET client_min_messages TO warning; DROP SCHEMA IF EXISTS \(quoteIdentifier(schema)) CASCADE")
        await connection.close()
    }
}
