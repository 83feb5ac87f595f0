import Foundation
import PostgresClient
import XCTest
@testable import ForecastConfig
@testable import ForecastStore

final class StoreModelTests: StoreTestCase {
    func testInsertNumbersVersionsPerSeriesAndRoundTripsEveryColumn() async throws {
        let store = ModelStore(schema: schema)
        let weights: [UInt8] = [0, 1, 2, 0xff, 0x5c, 0x00]
        let start = Self.t0, end = Self.t0 + 86_400
        let (a1, a2, b1, g1) = try await db.transaction { tx in
            (try store.insert(NewModel(job: "j", series: "a", cell: .lstm, hyperparameters: #"{"hidden": 64, "layers": 2}"#,
                                       dataStart: start, dataEnd: end, trainSeconds: 1.25, epochs: 7, weights: weights), on: tx),
             try store.insert(NewModel(job: "j", series: "a", cell: .gru), on: tx),
             try store.insert(NewModel(job: "j", series: "b", cell: .rnn), on: tx),
             try store.insert(NewModel(job: "j", series: nil, cell: .lstm), on: tx))
        }
        let first = try await store.model(id: a1, on: db)!
        XCTAssertEqual(first.job, "j")
        XCTAssertEqual(first.series, "a")
        XCTAssertEqual(first.version, 1)
        XCTAssertEqual(first.cell, .lstm)
        XCTAssertEqual(first.status, .retired)
        XCTAssertEqual(first.hyperparameters, #"{"hidden": 64, "layers": 2}"#)
        XCTAssertEqual(first.dataStart, start)
        XCTAssertEqual(first.dataEnd, end)
        XCTAssertEqual(first.trainSeconds, 1.25)
        XCTAssertEqual(first.epochs, 7)
        XCTAssertEqual(first.weights, weights)
        XCTAssertLessThan(abs(first.trainedAt.timeIntervalSinceNow), 300)
        let versions = try await [a2, b1, g1].asyncMap { try await store.model(id: $0, on: self.db)!.version }
        XCTAssertEqual(versions, [2, 1, 1], "versions count per (job, series); the global model is a key of its own")
        let other = try await store.insert(NewModel(job: "other", series: "a", cell: .lstm), on: db)
        let awaited1 = try await store.model(id: other, on: db)?.version
        XCTAssertEqual(awaited1, 1)
        let awaited2 = try await store.active(job: "j", series: "a", on: db)
        XCTAssertNil(awaited2)
    }

    func testAnActiveInsertRetiresThePreviousAndKeepsExactlyOneActive() async throws {
        let store = ModelStore(schema: schema)
        let m1 = try await db.transaction { tx in try store.insert(NewModel(job: "j", series: "a", cell: .lstm, status: .active), on: tx) }
        let awaited3 = try await store.active(job: "j", series: "a", on: db)?.modelID
        XCTAssertEqual(awaited3, m1)

        let m2 = try await db.transaction { tx in try store.insert(NewModel(job: "j", series: "a", cell: .gru, status: .active), on: tx) }
        let awaited4 = try await store.active(job: "j", series: "a", on: db)?.modelID
        XCTAssertEqual(awaited4, m2)
        let awaited5 = try await store.model(id: m1, on: db)?.status
        XCTAssertEqual(awaited5, .retired)
        // A model stored as anything but active leaves the active one alone.
        let m3 = try await db.transaction { tx in try store.insert(NewModel(job: "j", series: "a", cell: .rnn), on: tx) }
        let awaited6 = try await store.active(job: "j", series: "a", on: db)?.modelID
        XCTAssertEqual(awaited6, m2)
        let awaited8 = try await store.model(id: m3, on: db)?.status
        XCTAssertEqual(awaited8, .retired)
        let awaited9 = try await count("SELECT count(*) FROM \(table("models")) WHERE status = 'active'")
        XCTAssertEqual(awaited9, 1)
    }

    func testRejectStoresTheReasonAndLeavesTheActiveModel() async throws {
        let store = ModelStore(schema: schema)
        let active = try await store.insert(NewModel(job: "j", series: "a", cell: .lstm, status: .active), on: db)
        let rejected = try await db.transaction { tx in
            try store.reject(NewModel(job: "j", series: "a", cell: .gru), reason: "mase 1.4 loses to seasonal naive 1.1", on: tx)
        }
        let stored = try await store.model(id: rejected, on: db)!
        XCTAssertEqual(stored.status, .rejected)
        XCTAssertEqual(stored.reason, "mase 1.4 loses to seasonal naive 1.1")
        XCTAssertEqual(stored.version, 2)
        let awaited10 = try await store.active(job: "j", series: "a", on: db)?.modelID
        XCTAssertEqual(awaited10, active, "a rejection leaves the active model alone")
        do {
            try await store.insert(NewModel(job: "j", series: "a", cell: .gru, status: .rejected), on: db)
            XCTFail("a rejection needs a reason")
        } catch ModelStoreError.rejectionWithoutReason {}
    }

    func testGlobalAndPerSeriesModelsCoexist() async throws {
        let store = ModelStore(schema: schema)
        let global = try await store.insert(NewModel(job: "j", series: nil, cell: .lstm, status: .active, weights: [1, 2, 3]), on: db)
        let a = try await store.insert(NewModel(job: "j", series: "a", cell: .gru, status: .active), on: db)
        let b = try await store.insert(NewModel(job: "j", series: "b", cell: .seasonalNaive, status: .active, reason: "diverged"), on: db)
        // An empty series name is a series, not the global model.
        let empty = try await store.insert(NewModel(job: "j", series: "", cell: .rnn, status: .active), on: db)
        _ = try await store.insert(NewModel(job: "other", series: nil, cell: .lstm, status: .active), on: db)

        let actives = try await store.activeModels(job: "j", on: db)
        XCTAssertEqual(actives.map(\.modelID), [global, empty, a, b])
        XCTAssertEqual(actives[0].weights, [1, 2, 3])
        XCTAssertEqual(actives[3].cell, .seasonalNaive)
        XCTAssertEqual(actives[3].reason, "diverged")
        let light = try await store.activeModels(job: "j", includeWeights: false, on: db)
        XCTAssertNil(light[0].weights)
        let awaited11 = try await store.active(job: "j", series: nil, on: db)?.modelID
        XCTAssertEqual(awaited11, global)
        let awaited12 = try await store.active(job: "j", series: "", on: db)?.modelID
        XCTAssertEqual(awaited12, empty)
        let awaited13 = try await store.versions(job: "j", series: nil, on: db).map(\.modelID)
        XCTAssertEqual(awaited13, [global])
    }

    /// A global model published after per-series ones (the job's scope became global) retires
    /// the series' networks, which would serve their series before it, and keeps the per-series
    /// fallbacks a global job publishes for series too short for its network.
    func testAGlobalModelRetiresTheJobsSeriesNetworksAndKeepsItsBaselines() async throws {
        let store = ModelStore(schema: schema)
        let a = try await store.insert(NewModel(job: "j", series: "a", cell: .lstm, status: .active), on: db)
        let b = try await store.insert(NewModel(job: "j", series: "b", cell: .seasonalNaive, status: .active, reason: "too short"), on: db)
        let other = try await store.insert(NewModel(job: "other", series: "a", cell: .gru, status: .active), on: db)
        let global = try await db.transaction { tx in try store.insert(NewModel(job: "j", series: nil, cell: .lstm, status: .active), on: tx) }
        let actives = try await store.activeModels(job: "j", includeWeights: false, on: db).map(\.modelID)
        XCTAssertEqual(actives, [global, b])
        let retired = try await store.model(id: a, on: db)?.status
        XCTAssertEqual(retired, .retired)
        let untouched = try await store.active(job: "other", series: "a", on: db)?.modelID
        XCTAssertEqual(untouched, other, "another job's networks stay")
    }

    func testInvalidHyperparametersFailTheInsert() async throws {
        let store = ModelStore(schema: schema)
        do {
            try await store.insert(NewModel(job: "j", series: "a", cell: .lstm, hyperparameters: "{not json"), on: db)
            XCTFail("expected a server error")
        } catch let error as PostgresError {
            XCTAssertEqual(error.sqlState, "22P02")
        }
    }

    /// Two workers training the same series at once: every version is taken once, and the model
    /// stored active last is the one left active.
    func testConcurrentInsertsFromTwoConnectionsNeverShareAVersion() async throws {
        let store = ModelStore(schema: schema)
        let perWorker = 15
        let ids = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for worker in 0..<2 {
                group.addTask {
                    let connection = try await TestDatabase.connect()
                    var ids: [Int64] = []
                    for i in 0..<perWorker {
                        let id = try await connection.transaction { tx in
                            let id = try store.insert(NewModel(job: "race", series: "s", cell: .lstm, hyperparameters: #"{"worker": \#(worker), "i": \#(i)}"#,
                                                               status: .active), on: tx)
                            // Hold the transaction open so the other worker's insert overlaps it.
                            try tx.execute("SELECT pg_sleep(0.005)")
                            return id
                        }
                        ids.append(id)
                    }
                    await connection.close()
                    return ids
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        XCTAssertEqual(ids.count, 2 * perWorker)
        let versions = try await store.versions(job: "race", series: "s", on: db)
        XCTAssertEqual(versions.map(\.version), Array(1...(2 * perWorker)))
        XCTAssertEqual(versions.filter { $0.status == .active }.map(\.version), [2 * perWorker],
                       "exactly one active: the last committed, which holds the highest version")
    }
}

extension StoreModelTests {
    /// The same without a surrounding transaction: `insert` makes its own, so the advisory
    /// lock still covers the statement that picks the version.
    func testConcurrentAutocommitInsertsNeverShareAVersion() async throws {
        let store = ModelStore(schema: schema)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<2 {
                group.addTask {
                    let connection = try await TestDatabase.connect()
                    for _ in 0..<20 {
                        try await store.insert(NewModel(job: "race", series: nil, cell: .rnn, status: .active), on: connection)
                    }
                    await connection.close()
                }
            }
            try await group.waitForAll()
        }
        let versions = try await store.versions(job: "race", series: nil, on: db)
        XCTAssertEqual(versions.map(\.version), Array(1...40))
        XCTAssertEqual(versions.filter { $0.status == .active }.count, 1)
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
