import Foundation
import XCTest
@testable import PostgresClient

final class ReconnectTests: XCTestCase {
    func testServerRestartIsReportedAsConnectionLostAndReconnectWorks() async throws {
        let db = try await TestDatabase.connect()
        guard let restart = ProcessInfo.processInfo.environment["FORECASTD_TEST_PG_RESTART"] else {
            throw XCTSkip("FORECASTD_TEST_PG_RESTART is not set")
        }
        let channel = "forecastd_restart_\(UUID().uuidString.prefix(8))"
        try await db.listen(channel)
        _ = try await db.query("SELECT 1")

        XCTAssertEqual(try Self.run(restart), 0)

        await XCTAssertThrowsErrorAsync(try await db.query("SELECT 1")) { error in
            XCTAssertEqual((error as? PostgresError)?.kind, .connectionLost, "\(error)")
        }
        let connected = await db.isConnected
        XCTAssertFalse(connected)

        try await db.reconnect()
        let value = try await db.query("SELECT 2")[0].decode(0, as: Int.self)
        XCTAssertEqual(value, 2)

        // LISTEN was restored with the session.
        let sender = try await TestDatabase.connect()
        try await sender.notify(channel, payload: "after restart")
        let notification = try await db.waitForNotification(timeout: .seconds(5))
        XCTAssertEqual(notification?.payload, "after restart")
    }

    /// Runs a program and waits for it with posix_spawn and waitpid. Foundation's
    /// `Process.waitUntilExit()` was seen to hang here when called from a test's task: the
    /// child became a zombie that Foundation never noticed.
    static func run(_ path: String) throws -> Int32 {
        var pid: pid_t = 0
        let spawned = withCStrings([path]) { argv in
            posix_spawn(&pid, path, nil, nil, argv.map { $0.map { UnsafeMutablePointer(mutating: $0) } }, environ)
        }
        guard spawned == 0 else { throw PostgresError(.usage, "could not start \(path): error \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status >> 8) & 0xff
    }
}
