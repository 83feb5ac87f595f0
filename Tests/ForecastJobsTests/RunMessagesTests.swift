import Foundation
import Logging
import PostgresClient
import XCTest
@testable import ForecastConfig
@testable import ForecastJobs
@testable import ForecastStore

/// Issue 15, defect 9: what runs and logs say when things go wrong.
extension JobRunnerTests {
    /// A predict unit whose read lost the connection said "transaction() called while a
    /// transaction begun outside it is open": the lost connection was taken for a source error
    /// and the unit went on to complete on the broken session.
    func testAConnectionLostDuringAPredictReadIsReportedAsSuch() async throws {
        try await loadReadings()
        _ = try await runner(job()).train(on: db)
        try await db.execute("DELETE FROM \(table("series_state"))")
        // The source ends its own session as the read starts, as a PostgreSQL restart would.
        let dying = job(source: .query("""
            SELECT sensor, ts, reading FROM \(schema).readings WHERE (SELECT pg_terminate_backend(pg_backend_pid())) AND ts >= $1 AND ts < $2
            """))
        let queue = WorkQueue(schema: schema), runs = RunLog(schema: schema)
        let claimed = try await db.withConnection { db -> WorkItem? in
            let runID = try runs.start(job: "sensors", kind: .predict, on: db)
            try queue.enqueue(job: "sensors", kind: .predict, units: [""], runID: runID, maxAttempts: 3, on: db)
            return try queue.claim(owner: "w", lease: 60, jobs: ["sensors"], on: db)
        }
        let item = try XCTUnwrap(claimed)
        let worker = try await TestDatabase.connect()
        do {
            _ = try await runner(dying).execute(item, owner: "w", on: worker)
            XCTFail("the read lost its connection")
        } catch let error as PostgresError {
            XCTAssertEqual(error.kind, .connectionLost, "\(error)")
        }
        await worker.close()
    }
}

extension JobRunnerTests {
    /// Claims the job's next unit with a lease far shorter than the unit and runs it: its
    /// completion is refused and its transaction rolls back.
    func executeWithLostLease(_ runner: JobRunner, queue: WorkQueue) async throws {
        let claimed = try await db.withConnection { db in try queue.claim(owner: "w1", lease: 0.001, jobs: ["sensors"], on: db) }
        let first = try XCTUnwrap(claimed)
        do {
            _ = try await runner.execute(first, owner: "w1", on: db)
            XCTFail("the lease ran out")
        } catch let error as WorkQueueError {
            XCTAssertEqual(error, .leaseLost(workID: first.workID))
        }
    }

    /// A train unit counted the rows it read in the run before its results committed, so a
    /// unit that was retried (here: it lost its lease, nothing of it was written) counted twice.
    func testARetriedTrainUnitCountsItsPointsOnce() async throws {
        try await loadReadings()
        let queue = WorkQueue(schema: schema), runs = RunLog(schema: schema)
        let runID = try await db.withConnection { db in
            let runID = try runs.start(job: "sensors", kind: .train, on: db)
            try queue.enqueue(job: "sensors", kind: .train, units: ["a"], runID: runID, maxAttempts: 3, on: db)
            return runID
        }
        let runner = try runner(job())
        try await executeWithLostLease(runner, queue: queue)
        let afterLoss = try await count("SELECT points_read FROM \(table("runs")) WHERE run_id = $1", runID)
        XCTAssertEqual(afterLoss, 0, "nothing of the lost attempt was written, its rows read included")
        let second = try await db.withConnection { db in try queue.claim(owner: "w2", lease: 60, jobs: ["sensors"], on: db) }
        _ = try await runner.execute(try XCTUnwrap(second), owner: "w2", on: db)
        let record = try await db.withConnection { db in try runs.run(id: runID, on: db) }
        XCTAssertEqual(record?.status, .succeeded)
        XCTAssertEqual(record?.pointsRead, 20 * 24, "series a's rows, once")
    }
}

extension JobRunnerTests {
    /// A predict unit counted its reads and series batch by batch, so a unit tried again after
    /// its lease ran out counted them twice.
    func testARetriedPredictUnitCountsItsPointsOnce() async throws {
        try await loadReadings()
        let runner = try runner(job())
        _ = try await runner.train(on: db)
        let queue = WorkQueue(schema: schema), runs = RunLog(schema: schema)
        let runID = try await db.withConnection { db in
            let runID = try runs.start(job: "sensors", kind: .predict, on: db)
            try queue.enqueue(job: "sensors", kind: .predict, units: [""], runID: runID, maxAttempts: 3, on: db)
            return runID
        }
        try await executeWithLostLease(runner, queue: queue)
        let once = try await db.withConnection { db in try runs.run(id: runID, on: db) }
        let second = try await db.withConnection { db in try queue.claim(owner: "w2", lease: 60, jobs: ["sensors"], on: db) }
        XCTAssertEqual(second?.attempts, 2)
        _ = try await runner.execute(try XCTUnwrap(second), owner: "w2", on: db)
        let record = try await db.withConnection { db in try runs.run(id: runID, on: db) }
        XCTAssertEqual(record?.status, .succeeded)
        XCTAssertEqual(record?.pointsRead, once?.pointsRead, "the rows of one read, not of both attempts")
        XCTAssertEqual(record?.seriesTotal, once?.seriesTotal)
        XCTAssertEqual(record?.rowsWritten, once?.rowsWritten)
    }
}

extension JobRunnerTests {
    /// With `fallback = "none"`, a rejected global network failed the run with an error that
    /// named every series of the job (2,000 in the report); a count and the first few now.
    func testARejectedGlobalNetworkSummarisesItsSeriesInTheError() async throws {
        let readings = table("readings")
        try await db.executeScript("CREATE TABLE \(readings) (sensor text, ts timestamptz, reading double precision)")
        let t0 = self.t0
        _ = try await db.copyIn("COPY \(readings) FROM STDIN") { writer in
            for hour in 0..<(20 * 24) {
                for index in 0..<12 {
                    try writer.append(String(format: "s%02d", index))
                    try writer.append(t0 + Double(hour) * 3600)
                    try writer.append(10 * Double(index + 1) + 5 * sin(2 * Double.pi * Double(hour + index) / 24))
                    try writer.endRow()
                }
            }
        }
        // A network of one epoch cannot beat seasonal naive on clean daily sines.
        var weak = job(fallback: .none)
        weak.statisticalChallengers = false  // ETS would win these sines: the test is about the network's rejection
        weak.model.scope = .global
        weak.model.hiddenSize = 2
        weak.model.epochs = 1
        let summary = try await runner(weak).train(on: db)
        let error = summary.errors.joined(separator: "\n")
        XCTAssertEqual(summary.status, .failed, error)
        XCTAssertTrue(error.contains("12 series (s00, s01, s02, …): no model published"), error)
        XCTAssertFalse(error.contains("s11"), error)
        let rejected = try await count("SELECT count(*) FROM \(table("models")) WHERE status = 'rejected'")
        XCTAssertEqual(rejected, 1, "the rejected network is kept")
    }
}

extension JobRunnerTests {
    /// Rows with a NULL key or time, and rows in the future, were dropped without a word; a
    /// train run now counts them and says so in its note (and the log).
    func testRowsATrainRunCannotUseAreCountedInItsNote() async throws {
        try await loadReadings()
        let readings = table("readings"), last = t0 + Double(20 * 24 - 1) * 3600
        try await db.execute("INSERT INTO \(readings) SELECT NULL, $1 - g * interval '1 hour', 1 FROM generate_series(1, 3) g", last)
        try await db.execute("INSERT INTO \(readings) SELECT 'a', NULL, 1 FROM generate_series(1, 12)")
        let future = Date() + 86_400
        try await db.execute("INSERT INTO \(readings) VALUES ('a', $1, 1), ('b', $1, 2)", future)
        let summary = try await runner(job()).train(on: db, onlySeries: "a")
        let note = try await db.query("SELECT note FROM \(table("runs")) WHERE run_id = $1", summary.runID)[0].decode(0, as: String?.self) ?? ""
        XCTAssertTrue(note.contains("3 rows with a NULL series key skipped"), note)
        XCTAssertTrue(note.contains("12 rows with a NULL time skipped"), note)
        XCTAssertTrue(note.contains("2 rows dated from "), note)
        XCTAssertTrue(note.contains("(in the future) not read"), note)
        XCTAssertTrue(summary.notes.contains { $0.contains("(in the future) not read") }, "the printed summary says it too: \(summary.notes)")
        XCTAssertEqual(summary.pointsRead, 20 * 24, "series a's rows in the window, as before")
    }
}
