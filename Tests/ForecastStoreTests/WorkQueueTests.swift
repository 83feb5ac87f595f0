import Foundation
import PostgresClient
import XCTest
@testable import ForecastConfig
@testable import ForecastStore

final class WorkQueueTests: StoreTestCase {
    var queue: WorkQueue { WorkQueue(schema: schema) }

    func newRun() async throws -> Int64 {
        let runs = RunLog(schema: schema)
        return try await db.withConnection { db in try runs.start(job: "j", kind: .train, on: db) }
    }

    func testEachUnitIsClaimedByOneWorkerAndQueuedOnce() async throws {
        let run = try await newRun()
        let queue = self.queue
        let queued = try await db.withConnection { db in try queue.enqueue(job: "j", kind: .train, units: ["a", "b", "c"], runID: run, maxAttempts: 3, on: db) }
        XCTAssertEqual(queued, 3)
        let again = try await db.withConnection { db in try queue.enqueue(job: "j", kind: .train, units: ["a", "d"], runID: run, maxAttempts: 3, on: db) }
        XCTAssertEqual(again, 1, "a unit already pending is not queued twice")

        // Two workers claim concurrently until the queue is empty: every unit exactly once.
        let other = try await TestDatabase.connect()
        let mine: PostgresConnection = db
        async let first: [String] = Self.drain(queue, owner: "w1", on: mine)
        async let second: [String] = Self.drain(queue, owner: "w2", on: other)
        let (a, b) = try await (first, second)
        XCTAssertEqual((a + b).sorted(), ["a", "b", "c", "d"])
        XCTAssertTrue(Set(a).isDisjoint(with: b))
        await other.close()
    }

    static func drain(_ queue: WorkQueue, owner: String, on connection: PostgresConnection) async throws -> [String] {
        var claimed: [String] = []
        while let item = try await connection.withConnection({ db in try queue.claim(owner: owner, lease: 30, jobs: ["j"], on: db) }) {
            claimed.append(item.unit)
        }
        return claimed
    }

    func testAnExpiredLeaseHandsTheUnitToAnotherWorkerAndTheFirstCannotComplete() async throws {
        let run = try await newRun()
        let queue = self.queue
        let first = try await db.withConnection { db -> WorkItem? in
            try queue.enqueue(job: "j", kind: .train, units: ["a"], runID: run, maxAttempts: 3, on: db)
            return try queue.claim(owner: "dead", lease: 0.2, jobs: ["j"], on: db)
        }
        let item = try XCTUnwrap(first)
        let none = try await db.withConnection { db in try queue.claim(owner: "w2", lease: 30, jobs: ["j"], on: db) }
        XCTAssertNil(none, "held while the lease runs")
        try await Task.sleep(for: .milliseconds(400))
        let taken = try await db.withConnection { db in try queue.claim(owner: "w2", lease: 30, jobs: ["j"], on: db) }
        XCTAssertEqual(taken?.unit, "a")
        XCTAssertEqual(taken?.attempts, 2)
        do {
            try await db.transaction { tx in try queue.complete(item, owner: "dead", on: tx) }
            XCTFail("the first worker lost its lease")
        } catch let error as WorkQueueError {
            XCTAssertEqual(error, .leaseLost(workID: item.workID))
        }
        let renewed = try await db.withConnection { db in try queue.renew(item, owner: "dead", lease: 30, on: db) }
        XCTAssertFalse(renewed)
        try await db.transaction { tx in try queue.complete(taken!, owner: "w2", on: tx) }
        let pending = try await db.withConnection { db in try queue.pending(runID: run, on: db) }
        XCTAssertEqual(pending, 0)
    }

    func testFailuresRetryWithBackoffThenFailForGood() async throws {
        let run = try await newRun()
        let queue = self.queue
        try await db.withConnection { db in _ = try queue.enqueue(job: "j", kind: .train, units: ["a"], runID: run, maxAttempts: 2, on: db) }
        let one = try await db.withConnection { db in try queue.claim(owner: "w", lease: 30, jobs: ["j"], on: db) }!
        let retried = try await db.withConnection { db in try queue.fail(one, owner: "w", error: "boom 1", backoff: 0.3, on: db) }
        XCTAssertTrue(retried)
        let early = try await db.withConnection { db in try queue.claim(owner: "w", lease: 30, jobs: ["j"], on: db) }
        XCTAssertNil(early, "not before the backoff")
        try await Task.sleep(for: .milliseconds(500))
        let two = try await db.withConnection { db in try queue.claim(owner: "w", lease: 30, jobs: ["j"], on: db) }
        XCTAssertEqual(two?.attempts, 2)
        let retriedAgain = try await db.withConnection { db in try queue.fail(two!, owner: "w", error: "boom 2", backoff: 0, on: db) }
        XCTAssertFalse(retriedAgain, "attempts spent")
        let failures = try await db.withConnection { db in try queue.failures(runID: run, on: db) }
        XCTAssertEqual(failures.map(\.unit), ["a"])
        XCTAssertEqual(failures.first?.error, "boom 2")
    }

    func testReleaseGivesHeldUnitsBackAndUnknownJobsAreNotClaimed() async throws {
        let run = try await newRun()
        let queue = self.queue
        let item = try await db.withConnection { db -> WorkItem? in
            try queue.enqueue(job: "j", kind: .train, units: ["a"], runID: run, maxAttempts: 3, on: db)
            try queue.enqueue(job: "other", kind: .train, units: ["x"], runID: run, maxAttempts: 3, on: db)
            return try queue.claim(owner: "stopping", lease: 30, jobs: ["j"], on: db)
        }
        XCTAssertEqual(item?.unit, "a")
        let released = try await db.withConnection { db in try queue.release(owner: "stopping", on: db) }
        XCTAssertEqual(released, 1)
        let again = try await db.withConnection { db in try queue.claim(owner: "w2", lease: 30, jobs: ["j"], on: db) }
        XCTAssertEqual(again?.unit, "a")
        XCTAssertEqual(again?.attempts, 1, "a released unit does not count the abandoned attempt")
        let none = try await db.withConnection { db in try queue.claim(owner: "w2", lease: 30, jobs: ["j"], on: db) }
        XCTAssertNil(none, "units of jobs this worker does not know are left alone")
    }

    /// A poison unit: its worker dies on it at every attempt. `claim` counts each attempt, and
    /// once they are spent the unit fails for good with the reason, not retried for ever.
    func testExhaustedExpiredUnitsFailInsteadOfLooping() async throws {
        let run = try await newRun()
        let queue = self.queue
        try await db.withConnection { db in _ = try queue.enqueue(job: "j", kind: .train, units: ["a"], runID: run, maxAttempts: 2, on: db) }
        for owner in ["h1:101:ab12", "h2:202:cd34"] {
            let item = try await db.withConnection { db in try queue.claim(owner: owner, lease: 0.1, jobs: ["j"], on: db) }
            XCTAssertEqual(item?.unit, "a", "claimed again once the dead worker's lease ran out")
            // The worker dies: no fail(), no release(), the lease just runs out.
            try await Task.sleep(for: .milliseconds(300))
        }
        let none = try await db.withConnection { db in try queue.claim(owner: "w", lease: 30, jobs: ["j"], on: db) }
        XCTAssertNil(none, "attempts spent: nobody claims it a third time")
        let failed = try await db.withConnection { db in try queue.failExhausted(on: db) }
        XCTAssertEqual(failed.map(\.runID), [run])
        XCTAssertEqual(failed.first?.error, "its worker stopped while running it 2 times (crashed or killed); last worker h2:202")
        let failures = try await db.withConnection { db in try queue.failures(runID: run, on: db) }
        XCTAssertEqual(failures.map(\.unit), ["a"])
        let again = try await db.withConnection { db in try queue.failExhausted(on: db) }
        XCTAssertTrue(again.isEmpty)
    }

    /// A worker that completed a run's last unit and lost its connection before closing the run
    /// leaves it `running`; the scheduler finds it once its units have all ended a while ago.
    func testARunWhoseUnitsAllEndedButWhichIsStillOpenIsFound() async throws {
        let run = try await newRun(), other = try await newRun()
        let queue = self.queue, runs = RunLog(schema: schema)
        try await db.withConnection { db in
            try queue.enqueue(job: "j", kind: .train, units: ["a"], runID: run, maxAttempts: 3, on: db)
            try queue.enqueue(job: "j", kind: .train, units: ["b"], runID: other, maxAttempts: 3, on: db)
        }
        let item = try await db.withConnection { db in try queue.claim(owner: "w", lease: 30, jobs: ["j"], on: db) }
        XCTAssertEqual(item?.unit, "a")
        try await db.transaction { tx in try queue.complete(item!, owner: "w", on: tx) }
        let fresh = try await db.withConnection { db in try runs.drainedRuns(on: db) }
        XCTAssertEqual(fresh, [], "its worker may still be closing it")
        let settled = try await db.withConnection { db in try runs.drainedRuns(settled: 0, on: db) }
        XCTAssertEqual(settled, [run], "not the run whose unit is still queued")
    }
}
