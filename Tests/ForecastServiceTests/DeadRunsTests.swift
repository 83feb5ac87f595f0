import Foundation
import PostgresClient
import XCTest
@testable import ForecastConfig
@testable import ForecastStore
@testable import ForecastJobs
@testable import ForecastReport
@testable import ForecastDaemon

/// A one-off command closes the runs that dead processes of this host left `running`.
extension ReportTests {
    /// The pid of a process that has ended (and been reaped).
    func deadPID() throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }

    func testAOneOffCommandClosesTheRunsOfDeadProcessesOfThisHost() async throws {
        try await db.executeScript("CREATE TABLE \(table("readings")) (sensor text, ts timestamptz, reading double precision)")
        let runs = RunLog(schema: schema), dead = try deadPID()
        let (left, queued, elsewhere) = try await db.withConnection { db in
            (try runs.start(job: "sensors", kind: .train, pid: dead, on: db),
             try runs.start(job: "sensors", kind: .train, pid: dead, on: db),
             try runs.start(job: "sensors", kind: .train, host: "elsewhere", pid: dead, on: db))
        }
        // The other host's process still holds its run (see `RunLog.start(heldBySession:)`).
        let elsewhereSession = try await TestDatabase.connect()
        defer { Task { await elsewhereSession.close() } }
        try await elsewhereSession.execute("SELECT pg_advisory_lock($1::int4, $2::int4)", Int64(RunLog.runLockSpace), elsewhere)
        // A daemon's run whose unit is still queued: the next worker finishes it.
        let queue = WorkQueue(schema: schema)
        _ = try await db.withConnection { db in
            try queue.enqueue(job: "sensors", kind: .train, units: ["a"], runID: queued, maxAttempts: 3, on: db)
        }
        let predicted = try forecastd(["predict", "sensors", "--config", try writeConfig()])
        XCTAssertEqual(predicted.status, 1, "nothing to predict with: \(predicted.output)")
        let closed = try await db.withConnection { db in try runs.run(id: left, on: db) }
        XCTAssertEqual(closed?.status, .failed)
        XCTAssertNotNil(closed?.finishedAt)
        XCTAssertTrue(closed?.error?.contains("abandoned: the process (host \(RunLog.currentHost), pid \(dead))") == true, closed?.error ?? "")
        let stillRunning = try await db.withConnection { db in
            [try runs.run(id: queued, on: db)?.status, try runs.run(id: elsewhere, on: db)?.status]
        }
        XCTAssertEqual(stillRunning, [.running, .running], "a run with queued units, and another host's run that its process holds, are left alone")
    }
}
