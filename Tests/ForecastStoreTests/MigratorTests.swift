import Foundation
import PostgresClient
import XCTest
@testable import ForecastConfig
@testable import ForecastStore

final class MigratorTests: XCTestCase {
    var schema = ""

    override func setUp() async throws {
        _ = try TestDatabase.url()
        schema = TestDatabase.uniqueSchema("migrate")
    }

    override func tearDown() async throws {
        if !schema.isEmpty { try await TestDatabase.dropSchema(schema) }
    }

    func projectMigrations() throws -> [MigrationFile] {
        try MigrationFile.load(directory: MigrationFile.defaultDirectory(environment: [:]))
    }

    func testMigrateCreatesEverySpecTableAndIsIdempotent() async throws {
        let connection = try await TestDatabase.connect()
        let migrator = Migrator(schema: schema, files: try projectMigrations())
        let first = try await migrator.migrate(on: connection)
        XCTAssertEqual(first.first, "0001_init.sql")
        let second = try await migrator.migrate(on: connection)
        XCTAssertEqual(second, [], "a second run applies nothing")
        let status = try await migrator.status(on: connection)
        XCTAssertTrue(status.isCurrent)

        let relations = try await connection.query("""
            SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v') ORDER BY 1
            """, schema).map { try $0.decode(0, as: String.self) }
        for name in ["latest_forecasts", "model_metrics", "models", "predictions", "runs", "schema_migrations", "training_history"] {
            XCTAssertTrue(relations.contains(name), "\(name) missing from \(relations)")
        }
        let recorded = try await connection.query("SELECT count(*) FROM \(quoteIdentifier(schema)).schema_migrations")[0].decode(0, as: Int.self)
        XCTAssertEqual(recorded, try projectMigrations().count)
        await connection.close()
    }

    func testTwoConcurrentMigratesBothSucceed() async throws {
        let files = try projectMigrations()
        let schema = self.schema
        async let a: [String] = Migrator(schema: schema, files: files).migrate(on: try await TestDatabase.connect())
        async let b: [String] = Migrator(schema: schema, files: files).migrate(on: try await TestDatabase.connect())
        let (appliedA, appliedB) = try await (a, b)
        XCTAssertEqual((appliedA + appliedB).sorted(), files.map(\.name).sorted(), "each file applied exactly once between the two")
        XCTAssertTrue(appliedA.isEmpty || appliedB.isEmpty)
    }

    func testEditedMigrationIsRefused() async throws {
        let connection = try await TestDatabase.connect()
        var files = try projectMigrations()
        try await Migrator(schema: schema, files: files).migrate(on: connection)
        files[0].sql += "\n-- a later edit\n"
        do {
            try await Migrator(schema: schema, files: files).migrate(on: connection)
            XCTFail("an edited migration must be refused")
        } catch let error as MigrationError {
            guard case .edited(let name, _, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(name, "0001_init.sql")
            XCTAssertTrue(error.description.contains("edited after it was applied"))
        }
        await connection.close()
    }

    func testFailingMigrationRollsBackAndLaterOnesWait() async throws {
        let connection = try await TestDatabase.connect()
        let files = [
            MigrationFile(version: 1, name: "0001_ok.sql", sql: "CREATE TABLE a (x int);"),
            MigrationFile(version: 2, name: "0002_bad.sql", sql: "CREATE TABLE b (x int); SELECT * FROM no_such_table;"),
        ]
        do {
            try await Migrator(schema: schema, files: files).migrate(on: connection)
            XCTFail("the second migration must fail")
        } catch let error as MigrationError {
            XCTAssertTrue(error.description.contains("0002_bad.sql"), error.description)
        }
        let tables = try await connection.query("SELECT to_regclass($1) IS NOT NULL, to_regclass($2) IS NOT NULL",
                                                "\(schema).a", "\(schema).b")[0]
        XCTAssertTrue(try tables.decode(0, as: Bool.self), "the first migration stays applied")
        XCTAssertFalse(try tables.decode(1, as: Bool.self), "the failed one left nothing behind")
        let status = try await Migrator(schema: schema, files: files).status(on: connection)
        XCTAssertEqual(status.pending, ["0002_bad.sql"])
        await connection.close()
    }

    func testDatabaseNewerThanTheBinaryIsRefused() async throws {
        let connection = try await TestDatabase.connect()
        let files = [MigrationFile(version: 1, name: "0001_a.sql", sql: "SELECT 1;"), MigrationFile(version: 2, name: "0002_b.sql", sql: "SELECT 2;")]
        try await Migrator(schema: schema, files: files).migrate(on: connection)
        do {
            try await Migrator(schema: schema, files: [files[0]]).migrate(on: connection)
            XCTFail("expected unknownApplied")
        } catch MigrationError.unknownApplied(let version, _) {
            XCTAssertEqual(version, 2)
        }
        await connection.close()
    }

    func testMigrationFilesMustBeNumberedWithoutGaps() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("migrations-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "SELECT 1;".write(toFile: dir + "/0001_a.sql", atomically: true, encoding: .utf8)
        try "SELECT 3;".write(toFile: dir + "/0003_c.sql", atomically: true, encoding: .utf8)
        try "not a migration".write(toFile: dir + "/README.md", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try MigrationFile.load(directory: dir)) { error in
            XCTAssertTrue("\(error)".contains("expected migration number 2"), "\(error)")
        }
        XCTAssertThrowsError(try MigrationFile.load(directory: dir + "/nope"))
    }
}
