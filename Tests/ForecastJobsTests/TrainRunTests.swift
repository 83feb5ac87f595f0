import Foundation
import Logging
import PostgresClient
import XCTest
@testable import ForecastConfig
@testable import ForecastJobs
@testable import ForecastStore
@testable import Forecasting

final class TrainRunTests: XCTestCase {
    let t0 = Date(timeIntervalSince1970: 1_700_002_800)
    let hours = 20 * 24

    func job() -> JobSettings {
        var job = JobSettings.sensors(table: "readings")
        job.statisticalChallengers = false
        return job
    }

    /// Hourly rows of series `key` over `hours` hours from `start`: a daily cycle on a level.
    func rows(_ key: String, level: Double, from start: Date) -> [SourcePoint] {
        (0..<hours).map { h -> SourcePoint in
            let daily: Double = 3 * sin(2 * Double.pi * Double(h) / 24)
            let wobble: Double = Double(h % 5) * 0.1
            return SourcePoint(series: key, time: start + Double(h) * 3600, value: level + daily + wobble)
        }
    }

    func storage(_ points: [SourcePoint]) -> InMemoryJobStorage {
        InMemoryJobStorage(points: points, plan: JobPlan(job()))
    }

    func runner(at clock: Date) -> JobRunner {
        var runner = JobRunner(job: job(), database: DatabaseSettings(url: "", schema: "unused"), logger: Logger(label: "test"))
        runner.now = { clock }
        return runner
    }

    func testATrainRunPublishesEachSeriesAndCountsItsRowsOnce() async throws {
        let store = storage(rows("a", level: 10, from: t0) + rows("b", level: 100, from: t0))
        let clock = t0 + Double(hours) * 3600
        let summary = try await runner(at: clock).train(storage: store, only: nil, trigger: nil, note: nil)
        XCTAssertEqual(summary.status, .succeeded, "\(summary.errors)")
        XCTAssertEqual(summary.seriesTotal, 2)
        XCTAssertEqual(summary.pointsRead, Int64(2 * hours))
        let published = await store.published
        XCTAssertEqual(published.map(\.series), [["a"], ["b"]])
        XCTAssertEqual(summary.rowsWritten, 12, "six steps for each series")
        XCTAssertEqual(published.flatMap(\.forecasts).map(\.issuedAt), [clock - 3600, clock - 3600])
        let run = await store.runs[summary.runID]
        XCTAssertEqual(run?.status, .succeeded)
        XCTAssertNil(run?.error)
        let counts = await store.runs[summary.runID]?.counts
        XCTAssertEqual(counts?.pointsRead, Int64(2 * hours))
        XCTAssertEqual(counts?.newestObservation, clock - 3600)
    }

    /// The window of a series that stopped two years ago counts back from its own end; the
    /// current series keep theirs, every row is counted once, and the note names the old one.
    func testASeriesThatStoppedLongAgoIsTrainedOverItsOwnWindow() async throws {
        let past = t0 - 730 * 86_400
        let store = storage(rows("a", level: 10, from: t0) + rows("c", level: 50, from: past))
        let clock = t0 + Double(hours) * 3600
        let summary = try await runner(at: clock).train(storage: store, only: nil, trigger: nil, note: nil)
        XCTAssertEqual(summary.status, .succeeded, "\(summary.errors)")
        XCTAssertEqual(summary.pointsRead, Int64(2 * hours))
        let issued = await store.published.flatMap(\.forecasts).map { ($0.series, $0.issuedAt) }
        XCTAssertEqual(issued.map(\.0), ["a", "c"])
        XCTAssertEqual(issued.map(\.1), [clock - 3600, past + Double(hours - 1) * 3600])
        let notes = await store.runs[summary.runID]?.notes ?? []
        XCTAssertEqual(notes.count, 1, "\(notes)")
        XCTAssertTrue(notes.first?.hasPrefix("series \"c\": data ends") == true, "\(notes)")
        XCTAssertEqual(summary.notes, notes)
    }

    func testAFailingSourceFailsTheRunWithItsError() async throws {
        let store = storage(rows("a", level: 10, from: t0))
        await store.failReads(with: .queryFailed(job: "sensors", underlying: PostgresError(.usage, "relation \"readings\" does not exist", sqlState: "42P01")))
        let summary = try await runner(at: t0 + Double(hours) * 3600).train(storage: store, only: nil, trigger: nil, note: nil)
        XCTAssertEqual(summary.status, .failed)
        let error = await store.runs[summary.runID]?.error
        XCTAssertEqual(error, "job \"sensors\": the source query failed: [42P01] relation \"readings\" does not exist")
        let published = await store.published
        XCTAssertTrue(published.isEmpty)
    }

    /// One unit that cannot be written fails alone: the other is published and the run is partial.
    func testAUnitThatCannotBeWrittenFailsAloneAndTheRunIsPartial() async throws {
        let store = storage(rows("a", level: 10, from: t0) + rows("b", level: 100, from: t0))
        await store.refuseWrites(of: ["b"])
        let summary = try await runner(at: t0 + Double(hours) * 3600).train(storage: store, only: nil, trigger: nil, note: nil)
        XCTAssertEqual(summary.status, .partial)
        XCTAssertEqual(summary.seriesFailed, 1)
        XCTAssertEqual(summary.errors, ["series b: PostgreSQL usage error: cannot write series b"])
        let published = await store.published
        XCTAssertEqual(published.map(\.series), [["a"]])
    }

    func testAnEmptySourceFailsTheRunNamingTheWindow() async throws {
        let store = storage([])
        let clock = t0 + Double(hours) * 3600
        let summary = try await runner(at: clock).train(storage: store, only: nil, trigger: nil, note: nil)
        XCTAssertEqual(summary.status, .failed)
        XCTAssertEqual(summary.errors.count, 1)
        XCTAssertTrue(summary.errors[0].hasPrefix("the source has no rows in the training window"), summary.errors[0])
    }
}
