import Foundation
import XCTest
@testable import PostgresClient

final class ConcurrencyTests: XCTestCase {
    /// Blocking libpq calls run on each connection's own thread: more connections than the
    /// cooperative pool has threads (one per core) wait on the server at the same time. Each
    /// call counts itself in and waits in the server until all have; calls that queued behind
    /// the pool's threads could never arrive, and the waiting ones would give up at the
    /// deadline. A barrier, not a stopwatch, so a loaded machine cannot fail it.
    func testBlockingCallsDoNotOccupyTheCooperativePool() async throws {
        let connectionCount = ProcessInfo.processInfo.activeProcessorCount * 2 + 2
        let tag = "barrier_" + UUID().uuidString.prefix(8).lowercased()
        let setup = try await TestDatabase.connect()
        // A sequence, because its counter is seen by every session at once, outside transactions.
        try await setup.executeScript("""
            CREATE SEQUENCE \(tag)_arrivals;
            CREATE FUNCTION \(tag)(expected int, timeout_s float8) RETURNS bigint LANGUAGE plpgsql AS $$
            DECLARE
                arrived bigint := nextval('\(tag)_arrivals');
                deadline timestamptz := clock_timestamp() + make_interval(secs => timeout_s);
            BEGIN
                WHILE arrived < expected AND clock_timestamp() < deadline LOOP
                    PERFORM pg_sleep(0.01);
                    SELECT last_value INTO arrived FROM \(tag)_arrivals;
                END LOOP;
                RETURN arrived;
            END $$;
            """)
        var connections: [PostgresConnection] = []
        for _ in 0..<connectionCount { connections.append(try await TestDatabase.connect()) }
        let met = try await withThrowingTaskGroup(of: Int.self) { group in
            for connection in connections {
                group.addTask {
                    try await connection.query("SELECT \(tag)(\(connectionCount), 30)")[0].decode(0, as: Int.self)
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        try await setup.executeScript("DROP FUNCTION \(tag); DROP SEQUENCE \(tag)_arrivals")
        XCTAssertEqual(met, Array(repeating: connectionCount, count: connectionCount),
                       "the calls each one saw arrive while it waited")
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
