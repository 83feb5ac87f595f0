import Foundation
import XCTest
@testable import PostgresClient

final class TransactionTests: XCTestCase {
    struct Boom: Error {}

    func testCommittedTransactionKeepsItsWork() async throws {
        let db = try await TestDatabase.connect()
        let table = TestDatabase.uniqueTableName("tx_commit")
        try await db.execute("CREATE TABLE \(table) (x int)")
        let inserted = try await db.transaction { db in
            try db.execute("INSERT INTO \(table) VALUES (1), (2)")
        }
        XCTAssertEqual(inserted, 2)
        do { let value = try await db.query("SELECT count(*) FROM \(table)")[0].decode(0, as: Int.self); XCTAssertEqual(value, 2) }
        try await db.execute("DROP TABLE \(table)")
    }

    func testThrowingBodyRollsBackEverything() async throws {
        let db = try await TestDatabase.connect()
        let table = TestDatabase.uniqueTableName("tx_rollback")
        do {
            try await db.transaction { db in
                try db.execute("CREATE TABLE \(table) (x int)")
                try db.execute("INSERT INTO \(table) VALUES (1)")
                throw Boom()
            }
            XCTFail("the transaction should have thrown")
        } catch is Boom {}
        let exists = try await db.query("SELECT to_regclass($1) IS NOT NULL", table)[0]
        XCTAssertEqual(try exists.decode(0, as: Bool.self), false)
        do { let value = await db.isConnected; XCTAssertTrue(value) }
    }

    func testNestedTransactionsUseSavepoints() async throws {
        let db = try await TestDatabase.connect()
        let table = TestDatabase.uniqueTableName("tx_nested")
        try await db.execute("CREATE TEMP TABLE \(table) (x int)")
        try await db.transaction { db in
            try db.execute("INSERT INTO \(table) VALUES (1)")
            do {
                try db.transaction { db in
                    try db.execute("INSERT INTO \(table) VALUES (2)")
                    throw Boom()
                }
            } catch is Boom {}
            _ = try db.transaction { db in try db.execute("INSERT INTO \(table) VALUES (3)") }
        }
        do { let value = try await db.query("SELECT x FROM \(table) ORDER BY x").map { try $0.decode(0, as: Int.self) }; XCTAssertEqual(value, [1, 3]) }
    }

    func testSwallowedStatementErrorDoesNotPretendToCommit() async throws {
        let db = try await TestDatabase.connect()
        let table = TestDatabase.uniqueTableName("tx_aborted")
        try await db.execute("CREATE TEMP TABLE \(table) (x int)")
        await XCTAssertThrowsErrorAsync(try await db.transaction { db in
            try db.execute("INSERT INTO \(table) VALUES (1)")
            _ = try? db.execute("SELECT * FROM no_such_table_anywhere")
        })
        do { let value = try await db.query("SELECT count(*) FROM \(table)")[0].decode(0, as: Int.self); XCTAssertEqual(value, 0) }
        do { let value = try await db.query("SELECT 1")[0].decode(0, as: Int.self); XCTAssertEqual(value, 1) }
    }
}

func XCTAssertThrowsErrorAsync<T>(_ expression: @autoclosure () async throws -> T, file: StaticString = #filePath, line: UInt = #line,
                                  _ handler: (Error) -> Void = { _ in }) async {
    do {
        _ = try await expression()
        XCTFail("expected an error", file: file, line: line)
    } catch {
        handler(error)
    }

    /// After a statement found the session gone, `transaction()` reports the lost connection,
    /// not "a transaction begun outside it" (libpq has no transaction status for a broken session).
    func testATransactionOnALostConnectionSaysTheConnectionWasLost() async throws {
        let db = try await TestDatabase.connect()
        do {
            try await db.execute("SELECT pg_terminate_backend(pg_backend_pid())")
            XCTFail("the session ended")
        } catch let error as PostgresError {
            XCTAssertEqual(error.kind, .connectionLost, "\(error)")
        }
        do {
            _ = try await db.transaction { db in try db.execute("SELECT 1") }
            XCTFail("the session is gone")
        } catch let error as PostgresError {
            XCTAssertEqual(error.kind, .connectionLost, "\(error)")
            XCTAssertFalse(error.message.contains("begun outside it"), error.message)
        }
        await db.close()
    }
}
