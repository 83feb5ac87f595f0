import Foundation
import XCTest
@testable import PostgresClient

final class StreamingTests: XCTestCase {
    /// The process's resident set in bytes, from /proc/self/status.
    static func residentBytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kilobytes = Int(line.split(separator: " ")[1]) else { return 0 }
        return kilobytes * 1024
    }

    func testStreamsAMillionRowsWithBoundedMemory() async throws {
        let db = try await TestDatabase.connect()
        let rowCount = 1_000_000
        let start = ContinuousClock.now
        let (count, sum, peakGrowth) = try await db.withConnection { db in
            let baseline = StreamingTests.residentBytes()
            var peakGrowth = 0
            var sum = 0.0
            var seen = 0
            let count = try db.stream("""
                SELECT 'nyc_temperature' AS job, 'station_' || (i % 100) AS series, (i / 2400)::int8 AS model_id,
                       now() AS issued_at, now() + (i % 24) * interval '1 hour' AS target_ts, i % 24 + 1 AS step,
                       i * 0.001::float8 AS forecast_value, i * 0.001 - 1.5::float8 AS lower_bound,
                       i * 0.001 + 1.5::float8 AS upper_bound, 0.8::float8 AS confidence_level
                FROM generate_series(0, $1 - 1) i
                """, rowCount) { row in
                _ = try row.decode(1, as: String.self)
                _ = try row.decode(4, as: Date.self)
                sum += try row.decode(6, as: Double.self)
                seen += 1
                if seen % 50_000 == 0 { peakGrowth = max(peakGrowth, StreamingTests.residentBytes() - baseline) }
            }
            return (count, sum, peakGrowth)
        }
        print("streamed \(count) rows in \(ContinuousClock.now - start), peak RSS growth \(peakGrowth / 1024) KiB")
        XCTAssertEqual(count, rowCount)
        XCTAssertEqual(sum, (0..<rowCount).reduce(0.0) { $0 + Double($1) * 0.001 }, accuracy: 1e-3)
        // One million such rows held at once would take well over 100 MB.
        XCTAssertLessThan(peakGrowth, 32 * 1024 * 1024)
    }

    func testThrowingHandlerCancelsTheQueryAndKeepsTheConnectionUsable() async throws {
        struct Enough: Error {}
        let db = try await TestDatabase.connect()
        let start = ContinuousClock.now
        await XCTAssertThrowsErrorAsync(try await db.withConnection { db in
            var seen = 0
            // In the select list, generate_series yields rows as it goes (in FROM it would first
            // materialise all of them).
            try db.stream("SELECT generate_series(1, 1000000000)") { _ in
                seen += 1
                if seen == 10 { throw Enough() }
            }
        }) { error in XCTAssertTrue(error is Enough, "\(error)") }
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(5))
        let value = try await db.query("SELECT 42")[0].decode(0, as: Int.self)
        XCTAssertEqual(value, 42)
    }

    func testStatementInsideTheRowHandlerFailsAndLeavesTheConnectionUsable() async throws {
        let db = try await TestDatabase.connect()
        await XCTAssertThrowsErrorAsync(try await db.withConnection { db in
            try db.stream("SELECT generate_series(1, 10)") { _ in _ = try db.query("SELECT 1") }
        }) { error in XCTAssertEqual((error as? PostgresError)?.kind, .usage, "\(error)") }
        let value = try await db.query("SELECT 5")[0].decode(0, as: Int.self)
        XCTAssertEqual(value, 5)
    }

    func testStreamReportsServerErrors() async throws {
        let db = try await TestDatabase.connect()
        await XCTAssertThrowsErrorAsync(try await db.withConnection { db in
            try db.stream("SELECT 1 / (3 - i) FROM generate_series(1, 5) i") { _ in }
        }) { error in XCTAssertEqual((error as? PostgresError)?.sqlState, "22012") }
        let value = try await db.query("SELECT 1")[0].decode(0, as: Int.self)
        XCTAssertEqual(value, 1)
    }
}
