/// What the service's test targets share: a freshly migrated schema per test (`StoreTestCase`),
/// the accuracy fixture behind the view and dashboard tests, and shorthands for model cells.
/// TestSupport (the throwaway database, a raw HTTP client) is re-exported with it.
@_exported import TestSupport
import Foundation
import PostgresClient
import XCTest
import ForecastStore

/// A freshly migrated schema of its own per test, dropped afterwards.
open class StoreTestCase: XCTestCase {
    public var schema = ""
    public var db: PostgresConnection!

    override open func setUp() async throws {
        _ = try TestDatabase.url()
        schema = TestDatabase.uniqueSchema("store")
        db = try await TestDatabase.connect()
        let files = try MigrationFile.load(directory: MigrationFile.defaultDirectory(environment: [:]))
        try await Migrator(schema: schema, files: files).migrate(on: db)
    }

    override open func tearDown() async throws {
        await db?.close()
        db = nil
        if !schema.isEmpty { try await TestDatabase.dropSchema(schema) }
    }

    public func table(_ name: String) -> String { quoteIdentifier(schema) + "." + quoteIdentifier(name) }

    public func count(_ sql: String, _ parameters: any PostgresEncodable...) async throws -> Int {
        try await db.query(sql, parameters: parameters)[0].decode(0, as: Int.self)
    }

    public static let t0 = Date(timeIntervalSince1970: 1_700_000_000)
}

