import Foundation
import PostgresClient
import XCTest
@testable import ForecastConfig
@testable import ForecastStore

final class StoreRunLogTests: StoreTestCase {
    func testStartFinishAndCounters() async throws {
        let runs = RunLog(schema: schema)
        let id = try await runs.start(job: "j", kind: .train, host: "h1", pid: 42, on: db)
        var record = try await runs.run(id: id, on: db)
        XCTAssertEqual(record?.status, .running)
        XCTAssertEqual(record?.kind, .train)
        XCTAssertEqual(record?.host, "h1")
        XCTAssertEqual(record?.pid, 42)
        XCTAssertNil(record?.finishedAt)

        try await db.transaction { tx in try runs.addCounts(runID: id, seriesTotal: 1, pointsRead: 100, rowsWritten: 24, on: tx) }
        try await db.transaction { tx in try runs.addCounts(runID: id, seriesTotal: 1, seriesFailed: 1, pointsRead: 50, on: tx) }
        try await runs.finish(runID: id, status: .partial, error: "series b: too short", on: db)
        record = try await runs.run(id: id, on: db)
        XCTAssertEqual(record?.status, .partial)
        XCTAssertEqual(record?.seriesTotal, 2)
        XCTAssertEqual(record?.seriesFailed, 1)
        XCTAssertEqual(record?.pointsRead, 150)
        XCTAssertEqual(record?.rowsWritten, 24)
        XCTAssertEqual(record?.error, "series b: too short")
        XCTAssertNotNil(record?.finishedAt)

        // Explicit totals replace the accumulated ones.
        try await runs.finish(runID: id, status: .succeeded, seriesTotal: 3, seriesFailed: 0, pointsRead: 7, rowsWritten: 8, on: db)
        record = try await runs.run(id: id, on: db)
        XCTAssertEqual([record?.seriesTotal, record?.seriesFailed], [3, 0])
        XCTAssertEqual([record?.pointsRead, record?.rowsWritten], [7, 8])
        XCTAssertNil(record?.error)

        do {
            try await runs.finish(runID: id + 1000, status: .failed, on: db)
            XCTFail("unknown run")
        } catch RunLogError.unknownRun(let missing) {
            XCTAssertEqual(missing, id + 1000)
        }
        do {
            try await runs.finish(runID: id, status: .running, on: db)
            XCTFail("running is not final")
        } catch RunLogError.notFinal {}
    }

    func testAbandonClosesTheRunsOfDeadProcessesOfThisHostOnly() async throws {
        let runs = RunLog(schema: schema)
        let dead = try await runs.start(job: "j", kind: .predict, host: "h1", pid: 100, on: db)
        let alive = try await runs.start(job: "j", kind: .predict, host: "h1", pid: 200, on: db)
        // Another host's one-off run, held by its process's session; and one whose process's
        // session is gone, or that works through the queue (its units keep it alive).
        let h2 = try await TestDatabase.connect()
        let otherHost = try await h2.withConnection { db in try runs.start(job: "j", kind: .backtest, host: "h2", pid: 100, heldBySession: true, on: db) }
        let orphan = try await runs.start(job: "j", kind: .train, host: "h3", pid: 300, heldBySession: true, on: db)
        try await db.execute("SELECT pg_advisory_unlock_all()")
        let queued = try await runs.start(job: "j", kind: .train, host: "h3", pid: 300, on: db)
        try await WorkQueue(schema: schema).enqueue(job: "j", kind: .train, units: ["a"], runID: queued, maxAttempts: 3, on: db)
        let done = try await runs.start(job: "j", kind: .train, host: "h1", pid: 100, on: db)
        try await runs.finish(runID: done, status: .succeeded, on: db)

        let closed = try await db.withConnection { db in
            try runs.abandonDeadProcesses(host: "h1", isAlive: { $0 == 200 }, on: db)
        }
        XCTAssertEqual(closed, 2, "h1's run of pid 100, and h3's orphan")
        let deadRecord = try await runs.run(id: dead, on: db)
        XCTAssertEqual(deadRecord?.status, .failed)
        XCTAssertTrue(deadRecord?.error?.contains("abandoned") == true && deadRecord?.error?.contains("pid 100") == true,
                      deadRecord?.error ?? "")
        XCTAssertNotNil(deadRecord?.finishedAt)
        let aliveStatus = try await runs.run(id: alive, on: db)?.status
        let otherStatus = try await runs.run(id: otherHost, on: db)?.status
        let doneStatus = try await runs.run(id: done, on: db)?.status
        XCTAssertEqual(aliveStatus, .running)
        XCTAssertEqual(otherStatus, .running, "another host's run whose process holds it")
        let orphanRecord = try await runs.run(id: orphan, on: db)
        XCTAssertEqual(orphanRecord?.status, .failed)
        XCTAssertEqual(orphanRecord?.error, "abandoned: the process (host h3, pid 300) no longer holds the run (it ended or lost its database connection)")
        let queuedStatus = try await runs.run(id: queued, on: db)?.status
        XCTAssertEqual(queuedStatus, .running, "a run worked through the queue is left to its units")
        await h2.close()
        let afterH2 = try await db.withConnection { db in try runs.abandonOrphans(exceptHost: "h1", on: db) }
        XCTAssertEqual(afterH2, 1, "h2's process gone: its run is orphaned")
        XCTAssertEqual(doneStatus, .succeeded)

        let awaited3 = try await runs.abandon(host: "h1", pid: 200, on: db)
        XCTAssertEqual(awaited3, 1)
        XCTAssertFalse(RunLog.processIsAlive(Int32.max))
        XCTAssertTrue(RunLog.processIsAlive(RunLog.currentPID))
    }
}
