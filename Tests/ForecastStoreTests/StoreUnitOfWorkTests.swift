import Foundation
import PostgresClient
import XCTest
@testable import ForecastConfig
@testable import ForecastStore

/// What a training unit does at its end, composed the way the job layer will: the new model,
/// its metrics and history, its forecasts and the run's counters in one transaction.
final class StoreUnitOfWorkTests: StoreTestCase {
    struct Abort: Error {}

    /// Publishes a model for `series` and returns its id; throws `Abort` at the very end when asked.
    static func publish(schema: String, runID: Int64, series: String?, forecastSeries: [String], origin: Date,
                        abort: Bool, on db: PostgresConnection) async throws -> Int64 {
        let models = ModelStore(schema: schema)
        let metrics = MetricsWriter(schema: schema)
        let predictions = PredictionWriter(schema: schema)
        let runs = RunLog(schema: schema)
        return try await db.transaction { tx in
            let id = try models.insert(NewModel(job: "j", series: series, cell: .lstm, hyperparameters: #"{"hidden": 8}"#, status: .active,
                                                dataStart: origin - 86_400, dataEnd: origin, trainSeconds: 0.5, epochs: 3, weights: [1, 2, 3]), on: tx)
            try metrics.write(metrics: [ModelMetricRow(modelID: id, split: .validation, metric: "mae", value: 0.5),
                                        ModelMetricRow(modelID: id, split: .backtest, metric: "skill", value: 0.2)], on: tx)
            try metrics.write(history: (1...3).map { TrainingHistoryRow(modelID: id, epoch: $0, trainLoss: 1, validationLoss: 1) }, on: tx)
            var rows: [PredictionRow] = []
            for name in forecastSeries {
                rows += (1...3).map { PredictionRow(job: "j", series: name, modelID: id, issuedAt: origin, targetTs: origin + Double($0) * 3600,
                                                    step: $0, forecastValue: Double($0), lowerBound: 0, upperBound: 9, confidenceLevel: 0.8) }
            }
            let written = try predictions.write(rows, on: tx)
            try runs.addCounts(runID: runID, seriesTotal: forecastSeries.count, pointsRead: 24, rowsWritten: Int64(written), on: tx)
            if abort { throw Abort() }
            return id
        }
    }

    func tableCounts() async throws -> [Int] {
        var counts: [Int] = []
        for name in ["models", "model_metrics", "training_history", "predictions"] {
            counts.append(try await count("SELECT count(*) FROM \(table(name))"))
        }
        return counts
    }

    func testAFailureAtTheEndLeavesNothingBehind() async throws {
        let runs = RunLog(schema: schema)
        let runID = try await runs.start(job: "j", kind: .train, host: "h", pid: 1, on: db)
        do {
            _ = try await Self.publish(schema: schema, runID: runID, series: "a", forecastSeries: ["a"], origin: Self.t0, abort: true, on: db)
            XCTFail("expected Abort")
        } catch is Abort {}
        let awaited1 = try await tableCounts()
        XCTAssertEqual(awaited1, [0, 0, 0, 0], "no model, metrics, history or predictions")
        let run = try await runs.run(id: runID, on: db)!
        XCTAssertEqual(run.status, .running)
        XCTAssertEqual([run.seriesTotal, run.seriesFailed], [0, 0])
        XCTAssertEqual([run.pointsRead, run.rowsWritten], [0, 0], "the run is as it was")

        // The identity sequence moved on, the version did not: the next model is still version 1.
        let id = try await Self.publish(schema: schema, runID: runID, series: "a", forecastSeries: ["a"], origin: Self.t0, abort: false, on: db)
        let awaited2 = try await ModelStore(schema: schema).model(id: id, on: db)?.version
        XCTAssertEqual(awaited2, 1)
    }

    func testPublishCommitsEverythingAndRetiresThePreviousModel() async throws {
        let runs = RunLog(schema: schema)
        let store = ModelStore(schema: schema)
        let runID = try await runs.start(job: "j", kind: .train, host: "h", pid: 1, on: db)

        let first = try await Self.publish(schema: schema, runID: runID, series: "a", forecastSeries: ["a"], origin: Self.t0, abort: false, on: db)
        let awaited3 = try await tableCounts()
        XCTAssertEqual(awaited3, [1, 2, 3, 3])
        let awaited4 = try await store.active(job: "j", series: "a", on: db)?.modelID
        XCTAssertEqual(awaited4, first)
        var run = try await runs.run(id: runID, on: db)!
        XCTAssertEqual([run.pointsRead, run.rowsWritten], [24, 3])

        // A later model for the same series; while it is being written, the first stays active
        // for every other session.
        let second = try await Self.publish(schema: schema, runID: runID, series: "a", forecastSeries: ["a"], origin: Self.t0 + 3600, abort: false, on: db)
        let awaited5 = try await store.model(id: first, on: db)?.status
        XCTAssertEqual(awaited5, .retired)
        let awaited6 = try await store.active(job: "j", series: "a", on: db)?.modelID
        XCTAssertEqual(awaited6, second)
        let awaited7 = try await store.model(id: second, on: db)?.version
        XCTAssertEqual(awaited7, 2)
        let awaited8 = try await count("SELECT count(*) FROM \(table("models")) WHERE job = 'j' AND series = 'a' AND status = 'active'")
        XCTAssertEqual(awaited8, 1)

        // A global model of the job, forecasting two series: it retires the per-series network,
        // which would serve its series before it (`ModelStore.retireSeriesNetworks`).
        let global = try await Self.publish(schema: schema, runID: runID, series: nil, forecastSeries: ["b", "c"], origin: Self.t0, abort: false, on: db)
        let actives = try await store.activeModels(job: "j", on: db)
        XCTAssertEqual(actives.map(\.modelID), [global])
        let retired = try await store.model(id: second, on: db)?.status
        XCTAssertEqual(retired, .retired)
        let awaited9 = try await count("SELECT count(DISTINCT series) FROM \(table("latest_forecasts")) WHERE model_id = $1", global)
        XCTAssertEqual(awaited9, 2)

        try await runs.finish(runID: runID, status: .succeeded, on: db)
        run = try await runs.run(id: runID, on: db)!
        XCTAssertEqual(run.status, .succeeded)
        XCTAssertEqual(run.seriesTotal, 4)
        XCTAssertEqual(run.rowsWritten, 3 + 3 + 6)
    }

    /// Another session reading the active model while a new one is being published sees the
    /// committed one until the commit, and never none.
    func testTheNewModelIsInvisibleUntilCommitted() async throws {
        let store = ModelStore(schema: schema)
        let committed = try await store.insert(NewModel(job: "j", series: "a", cell: .lstm, status: .active), on: db)
        let reader = try await TestDatabase.connect()
        // The publisher stops after activating, before its commit, on a lock the reader holds.
        let gate: Int64 = 917_000_001
        try await reader.execute("SELECT pg_advisory_lock($1)", gate)
        let publisher = db!
        let publication = Task {
            try await publisher.transaction { tx -> Int64 in
                let id = try store.insert(NewModel(job: "j", series: "a", cell: .rnn, status: .active), on: tx)
                try tx.execute("SELECT pg_advisory_xact_lock($1)", gate)
                return id
            }
        }
        var waiting = 0
        for _ in 0..<500 where waiting == 0 {
            waiting = try await reader.query("""
                SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND NOT granted
                """, gate)[0].decode(0, as: Int.self)
            if waiting == 0 { try await Task.sleep(nanoseconds: 10_000_000) }
        }
        XCTAssertEqual(waiting, 1, "the publisher reached the gate")
        let during = try await store.active(job: "j", series: "a", on: reader)?.modelID
        XCTAssertEqual(during, committed, "an uncommitted activation is invisible, and the old model is still there")
        try await reader.execute("SELECT pg_advisory_unlock($1)", gate)
        let published = try await publication.value
        let after = try await store.active(job: "j", series: "a", on: reader)?.modelID
        XCTAssertEqual(after, published)
        await reader.close()
    }
}
