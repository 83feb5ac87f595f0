import Foundation
import XCTest
@testable import PostgresClient

final class ErrorTests: XCTestCase {
    func testUniqueViolationCarriesSQLStateAndDetail() async throws {
        let db = try await TestDatabase.connect()
        let table = TestDatabase.uniqueTableName("unique")
        try await db.execute("CREATE TEMP TABLE \(table) (id int PRIMARY KEY)")
        try await db.execute("INSERT INTO \(table) VALUES ($1)", 1)
        await XCTAssertThrowsErrorAsync(try await db.execute("INSERT INTO \(table) VALUES ($1)", 1)) { error in
            guard let error = error as? PostgresError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.kind, .server)
            XCTAssertEqual(error.sqlState, "23505")
            XCTAssertTrue(error.message.contains("duplicate key"), error.message)
            XCTAssertEqual(error.detail, "Key (id)=(1) already exists.")
            XCTAssertEqual(error.constraint, "\(table)_pkey")
            XCTAssertEqual(error.table, table)
        }
        do { let value = await db.isConnected; XCTAssertTrue(value) }
    }

    func testSyntaxErrorCarriesSQLState() async throws {
        let db = try await TestDatabase.connect()
        await XCTAssertThrowsErrorAsync(try await db.query("SELEC 1")) { error in
            guard let error = error as? PostgresError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.kind, .server)
            XCTAssertEqual(error.sqlState, "42601")
            XCTAssertTrue(error.message.contains("syntax error"), error.message)
            XCTAssertTrue(error.description.contains("42601"))
        }
        await XCTAssertThrowsErrorAsync(try await db.query("SELECT 1/0")) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, "22012")
        }
        await XCTAssertThrowsErrorAsync(try await db.query("SELECT * FROM no_table WHERE x = $1", "a")) { error in
            let error = error as? PostgresError
            XCTAssertEqual(error?.sqlState, "42P01")
            XCTAssertNotNil(error?.message)
        }
        do { let value = try await db.query("SELECT 1")[0].decode(0, as: Int.self); XCTAssertEqual(value, 1) }
    }

    func testClosedConnectionIsAUsageError() async throws {
        let db = try await TestDatabase.connect()
        await db.close()
        do { let value = await db.isConnected; XCTAssertFalse(value) }
        await XCTAssertThrowsErrorAsync(try await db.query("SELECT 1")) { error in
            XCTAssertEqual((error as? PostgresError)?.kind, .usage)
        }
        try await db.reconnect()
        do { let value = try await db.query("SELECT 1")[0].decode(0, as: Int.self); XCTAssertEqual(value, 1) }
    }

    func testUnreachableServerFailsFastWithAConnectionError() async throws {
        _ = try TestDatabase.url()
        let start = ContinuousClock.now
        // A TEST-NET-1 address (RFC 5737): never routed, so only connect_timeout ends the attempt.
        await XCTAssertThrowsErrorAsync(try await PostgresConnection.connect("host=192.0.2.1 port=5432 dbname=x connect_timeout=2")) { error in
            guard let error = error as? PostgresError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.kind, .connectionFailed)
            XCTAssertFalse(error.message.isEmpty)
        }
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(6))
    }

    func testSilentServerFailsAfterConnectTimeout() async throws {
        _ = try TestDatabase.url()
        let (socket, port) = try Self.listenWithoutAccepting()
        defer { close(socket) }
        let start = ContinuousClock.now
        // The kernel completes the TCP handshake, but no server ever answers the startup packet:
        // only connect_timeout (2 s, libpq's minimum) ends the attempt.
        await XCTAssertThrowsErrorAsync(try await PostgresConnection.connect("host=127.0.0.1 port=\(port) dbname=x connect_timeout=2")) { error in
            guard let error = error as? PostgresError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.kind, .connectionFailed)
            XCTAssertTrue(error.message.contains("timeout"), error.message)
        }
        let elapsed = ContinuousClock.now - start
        XCTAssertGreaterThanOrEqual(elapsed, .milliseconds(1500))
        XCTAssertLessThan(elapsed, .seconds(5))
    }

    /// A TCP socket on a free loopback port that listens but never accepts.
    static func listenWithoutAccepting() throws -> (Int32, UInt16) {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0 }
        }
        guard descriptor >= 0, bound, listen(descriptor, 8) == 0 else { throw XCTSkip("cannot open a loopback socket") }
        return (descriptor, UInt16(bigEndian: address.sin_port))
    }

    func testWrongDatabaseIsAConnectionError() async throws {
        let url = try TestDatabase.url()
        let wrong = url.replacingOccurrences(of: "/forecastd_test", with: "/no_such_database_here")
        await XCTAssertThrowsErrorAsync(try await PostgresConnection.connect(wrong)) { error in
            let error = error as? PostgresError
            XCTAssertEqual(error?.kind, .connectionFailed)
            XCTAssertTrue(error?.message.contains("no_such_database_here") ?? false, "\(String(describing: error))")
        }
    }

    func testRedactedConnectionInfoNeverContainsThePassword() {
        let secret = "s3cr3t-p4ss"
        for conninfo in [
            "host=db.example.com user=forecastd password=\(secret) dbname=metrics",
            "host=db password='\(secret)' sslmode=require",
            "postgresql://forecastd:\(secret)@db.example.com:5433/metrics?sslmode=require",
            "postgresql://db.example.com/metrics?user=u&password=\(secret)",
        ] {
            let redacted = PostgresConnectionInfo.redacted(conninfo)
            XCTAssertFalse(redacted.contains(secret), redacted)
            XCTAssertTrue(redacted.contains("password=********"), redacted)
            XCTAssertTrue(redacted.contains("db"), redacted)
        }
        XCTAssertEqual(PostgresConnectionInfo.redacted("dbname='my db' host=/tmp"), "dbname='my db' host=/tmp")
        let unparsable = PostgresConnectionInfo.redacted("password=\(secret) 'unterminated")
        XCTAssertFalse(unparsable.contains(secret), unparsable)
    }

    /// Issue 15, defect 6: libpq's own messages quote a connection string it cannot parse, so
    /// the error of a malformed string used to carry its password (and the daemon logged it on
    /// every retry). No error, nor the redacted form, may hold the password in any spelling.
    func testConnectingWithAMalformedStringNeverShowsThePassword() async throws {
        for (conninfo, secrets) in Self.malformedConnectionStrings {
            await XCTAssertThrowsErrorAsync(try await PostgresConnection.connect(conninfo)) { error in
                for text in ["\(error)", String(describing: (error as? PostgresError)?.message), PostgresConnectionInfo.redacted(conninfo)] {
                    for secret in secrets {
                        XCTAssertFalse(text.contains(secret), "\(conninfo) gave: \(text)")
                    }
                }
                XCTAssertEqual((error as? PostgresError)?.kind, .connectionFailed, "\(error)")
            }
        }
    }

    /// Malformed (or unreachable) connection strings with a password, and each spelling of
    /// that password that must not appear: as written and percent-decoded.
    static let malformedConnectionStrings: [(String, [String])] = {
        let secret = "s3cr3t-p4ss"
        return [
            ("postgresql://postgres:\(secret)@[bad", [secret]),
            ("postgresql://postgres:\(secret)@[::1]x/db", [secret]),
            ("postgresql://postgres:\(secret)@[]/db", [secret]),
            ("postgresql://postgres:\(secret)@db.example.com/db?sslmode=require&x", [secret]),
            ("postgresql://postgres:\(secret)@db.example.com/db?a=b=c", [secret]),
            ("postgresql://postgres:\(secret)@db.example.com/db?nosuchoption=1", [secret]),
            ("postgresql://postgres:\(secret)@db.example.com/db?application_name=%zz", [secret]),
            ("postgresql://postgres:\(secret)@db.example.com/db?application_name=%00", [secret]),
            ("postgresql://postgres:s%33cr%33t-p4ss@[bad", ["s%33cr%33t-p4ss", secret]),
            ("postgresql://postgres:s3cr3t%2Dp4ss@db.example.com/db?x=%zz", ["s3cr3t%2Dp4ss", secret]),
            ("postgresql://db.example.com/db?user=u&password=\(secret)&bad", [secret]),
            ("postgresql://db.example.com/db?password=\(secret)&a=%zz", [secret]),
            ("postgresql://db.example.com/db?password=s%33cr%33t-p4ss&=x", ["s%33cr%33t-p4ss", secret]),
            ("postgresql://db.example.com/db?password=\(secret)%", [secret]),
            ("host=db.example.com password=\(secret) 'unterminated", [secret]),
            ("host=db.example.com password='\(secret)", [secret]),
            ("host=db.example.com password = \(secret) dbname", [secret]),
            ("password=\(secret) nosuchoption=1", [secret]),
            ("host=db.example.com \(secret)", [secret]),
            ("host=127.0.0.1 sslpassword=\(secret) port=notaport", [secret]),
            ("postgresql://postgres:\(secret)@127.0.0.1:1/db?connect_timeout=2", [secret]),
            ("postgresql://postgres:\(secret)@127.0.0.1:notaport/db", [secret]),
        ]
    }()
}
