import Foundation
import XCTest
@testable import PostgresClient

final class ConcurrencyTests: XCTestCase {
    /// Blocking libpq calls run on each connection's own thread: more connections than the
    /// cooperative pool has threads (one per core) wait on the server at the same time.
    func testBlockingCallsDoNotOccupyTheCooperativePool() async throws {
        let connectionCount = ProcessInfo.processInfo.activeProcessorCount * 2 + 2
        var connections: [PostgresConnection] = []
        for _ in 0..<connectionCount { connections.append(try await TestDatabase.connect()) }
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for connection in connections {
                group.addTask { _ = try await connection.query("SELECT pg_sleep(0.5)") }
            }
            try await group.waitForAll()
        }
        let elapsed = ContinuousClock.now - start
        XCTAssertLessThan(elapsed, .milliseconds(1400), "\(connectionCount) sleeps of 0.5 s took \(elapsed)")
    }

    func testCallsOnOneConnectionRunOnItsOwnThread() async throws {
        let db = try await TestDatabase.connect()
        let (first, second) = await db.withConnection { _ in (pthread_self(), pthread_self()) }
        let third = await db.withConnection { _ in pthread_self() }
        XCTAssertEqual(pthread_equal(first, second), 1)
        XCTAssertEqual(pthread_equal(first, third), 1)
        let other = try await TestDatabase.connect()
        let otherThread = await other.withConnection { _ in pthread_self() }
        XCTAssertEqual(pthread_equal(first, otherThread), 0)
    }
}
