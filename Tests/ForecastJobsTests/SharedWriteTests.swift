import Foundation
import Logging
import PostgresClient
import XCTest
@testable import ForecastConfig
@testable import ForecastStore
@testable import ForecastJobs

/// A large predict batch is written in one transaction per lock stripe, at once, on two
/// sessions (issue 16): the same rows as one transaction, each series whole, and a part that
/// fails leaves the others committed and counted.
final class SharedWriteTests: StoreTestCase {
    let origin = Date(timeIntervalSince1970: 1_700_002_800)

    func storage() -> PostgresJobStorage {
        let runner = JobRunner(job: JobSettings.sensors(table: "\(schema).readings"), database: DatabaseSettings(url: "", schema: schema),
                               logger: Logger(label: "test"))
        var storage = runner.storage(db)
        storage.sharedWriteRows = 1
        return storage
    }

    /// Ten series, so both stripes have some; `bad` gets a row that breaks a CHECK constraint.
    func batch(model: Int64, bad: String? = nil) -> PredictBatch {
        let series = (0..<10).map { "s\($0)" }
        var rows: [PredictionRow] = []
        for key in series {
            for step in 1...3 {
                rows.append(PredictionRow(job: "sensors", series: key, modelID: model, issuedAt: origin, targetTs: origin + Double(step) * 3600,
                                          step: step, forecastValue: Double(step), lowerBound: 0, upperBound: 9,
                                          confidenceLevel: key == bad ? 2 : 0.8))
            }
        }
        let states = series.map { SeriesStateRow(modelID: model, series: $0, lastStep: origin, state: [1, 2, 3]) }
        return PredictBatch(predictions: rows, states: states, observed: [], series: series, failed: [])
    }

    func runCounts(_ runID: Int64) async throws -> [Int] {
        let row = try await db.query("SELECT series_total, series_failed, rows_written FROM \(table("runs")) WHERE run_id = $1", runID)[0]
        return [try row.decode(0), try row.decode(1), try row.decode(2)]
    }

    func testALargeBatchIsWrittenByStripeOnTwoSessionsAndEqualsOneTransaction() async throws {
        let stripes = Set((0..<10).map { PredictionWriter.stripe(of: "s\($0)") })
        XCTAssertEqual(stripes, [0, 1], "the test's series fall in both stripes")
        let storage = storage()
        let model = try await ModelStore(schema: schema).insert(NewModel(job: "sensors", series: nil, cell: .lstm, status: .active), on: db)
        let runID = try await storage.startRun(kind: .predict, trigger: nil, note: nil)
        let written = try await storage.write(batch(model: model), runID: runID)
        XCTAssertEqual(written, 30)
        let opened = await storage.secondSession.isOpen
        XCTAssertTrue(opened, "the batch took the second session")
        let predictions = try await count("SELECT count(*) FROM \(table("predictions"))")
        let states = try await count("SELECT count(*) FROM \(table("series_state"))")
        let latest = try await count("SELECT count(*) FROM \(table("latest_forecasts"))")
        XCTAssertEqual([predictions, states, latest], [30, 10, 30])
        let counts = try await runCounts(runID)
        XCTAssertEqual(counts, [10, 0, 30], "each part counted its own series")
    }

    func testAFailedPartLeavesTheOtherCommittedAndCountsItsSeriesAsFailed() async throws {
        let storage = storage()
        let model = try await ModelStore(schema: schema).insert(NewModel(job: "sensors", series: nil, cell: .lstm, status: .active), on: db)
        let runID = try await storage.startRun(kind: .predict, trigger: nil, note: nil)
        let badStripe = PredictionWriter.stripe(of: "s3")
        let lost = (0..<10).map { "s\($0)" }.filter { PredictionWriter.stripe(of: $0) == badStripe }
        do {
            _ = try await storage.write(batch(model: model, bad: "s3"), runID: runID)
            XCTFail("the part with the bad row must fail")
        } catch let partial as PartialBatchWrite {
            XCTAssertEqual(Set(partial.unwritten), Set(lost))
            XCTAssertEqual(partial.written, 3 * (10 - lost.count))
        }
        let stored = try await db.query("SELECT DISTINCT series FROM \(table("predictions"))").map { try $0.decode(0, as: String.self) }
        XCTAssertEqual(Set(stored), Set((0..<10).map { "s\($0)" }).subtracting(lost), "only the good stripe's series")
        let states = try await db.query("SELECT series FROM \(table("series_state"))").map { try $0.decode(0, as: String.self) }
        XCTAssertEqual(Set(states), Set(stored), "a series' state goes with its forecasts")
        let counts = try await runCounts(runID)
        XCTAssertEqual(counts, [10 - lost.count, 0, 3 * (10 - lost.count)], "the committed part's own counts")
    }

    func testSmallBatchesStayOnOneSession() async throws {
        var storage = storage()
        storage.sharedWriteRows = 31
        let model = try await ModelStore(schema: schema).insert(NewModel(job: "sensors", series: nil, cell: .lstm, status: .active), on: db)
        let runID = try await storage.startRun(kind: .predict, trigger: nil, note: nil)
        do {
            _ = try await storage.write(batch(model: model, bad: "s3"), runID: runID)
            XCTFail("one transaction: the bad row fails it all")
        } catch is PartialBatchWrite {
            XCTFail("one transaction is never partial")
        } catch {}
        let stored = try await count("SELECT count(*) FROM \(table("predictions"))")
        XCTAssertEqual(stored, 0)
        let opened = await storage.secondSession.isOpen
        XCTAssertFalse(opened)
    }
}
