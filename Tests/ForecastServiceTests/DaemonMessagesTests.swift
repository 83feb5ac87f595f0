import Foundation
import PostgresClient
import XCTest
@testable import ForecastConfig
@testable import ForecastDaemon
@testable import ForecastJobs
@testable import ForecastReport
@testable import ForecastStore

/// Issue 15, defect 9: what the daemon logs when things go wrong.
extension DaemonProcessTests {
    /// The scheduler logged a failing source at `info`; it is an error, with the SQL error.
    func testAFailingSourceIsLoggedAsAnErrorWithTheSQLError() async throws {
        let daemon = try start(try writeConfig(source: "SELECT sensor, ts, reading FROM \(schema).missing WHERE ts >= $1 AND ts < $2"))
        try await eventually("the failed run") { try await self.runStatuses("train") == ["failed"] }
        try await eventually("the log line", seconds: 10) { daemon.log.contains("train run failed") }
        let line = daemon.log.split(separator: "\n").first { $0.contains("train run failed") }.map(String.init) ?? ""
        XCTAssertTrue(line.contains(" error "), line)
        XCTAssertTrue(line.contains("does not exist") && line.contains("missing"), line)
    }

    /// The daemon says it once per run too: the scheduler counts when it queues the train run.
    func testTheDaemonNotesRowsATrainRunCannotUse() async throws {
        try await loadReadings(sensors: ["a"])
        try await db.execute("INSERT INTO \(table("readings")) SELECT 'a', NULL, 1 FROM generate_series(1, 12)")
        let daemon = try start(try writeConfig())
        try await eventually("training") { try await self.runStatuses("train").first.map { $0 != "running" } ?? false }
        let note = try await db.query("SELECT note FROM \(table("runs")) WHERE kind = 'train'")[0].decode(0, as: String?.self)
        XCTAssertEqual(note, "12 rows with a NULL time skipped")
        XCTAssertEqual(daemon.log.components(separatedBy: "source rows not used").count - 1, 1, daemon.log)
    }
}
