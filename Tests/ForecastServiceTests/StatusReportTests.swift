import Foundation
import PostgresClient
import XCTest
@testable import ForecastConfig
@testable import ForecastStore
@testable import ForecastJobs
@testable import ForecastReport
@testable import ForecastDaemon

/// `forecastd status` over known rows: the report read from a migrated schema, its table, and
/// the real binary.
final class StatusReportTests: StoreTestCase {
    let now = StoreTestCase.t0 + 10 * 86_400

    func insertRun(_ job: String, _ kind: String, _ status: String, startedAgo: Double, took: Double?,
                   total: Int = 0, failed: Int = 0, error: String? = nil) async throws {
        let started = now - startedAgo
        try await db.execute("""
            INSERT INTO \(table("runs")) (job, kind, status, started_at, finished_at, series_total, series_failed, error)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            """, job, kind, status, started, took.map { started + $0 }, total, failed, error)
    }

    func insertModel(_ job: String, _ series: String, cell: String, status: String = "active", backtest: [String: Double]) async throws {
        let id = try await db.query("""
            INSERT INTO \(table("models")) (job, series, version, cell, status, reason)
            VALUES ($1, $2, (SELECT count(*) + 1 FROM \(table("models")) WHERE job = $1 AND series = $2), $3, $4, $5)
            RETURNING model_id
            """, job, series, cell, status, status == "rejected" ? "test" : nil)[0].decode(0, as: Int64.self)
        for (metric, value) in backtest {
            try await db.execute("INSERT INTO \(table("model_metrics")) (model_id, split, metric, value) VALUES ($1, 'backtest', $2, $3)", id, metric, value)
        }
        try await db.execute("INSERT INTO \(table("model_metrics")) (model_id, split, metric, value) VALUES ($1, 'validation', 'mase', 9)", id)
    }

    /// weather: two train runs (the newer partial), a predict run, a schedule, three active
    /// models and a retired one; idle: nothing at all; gone: runs of a job no longer configured.
    func loadKnownRows() async throws {
        try await insertRun("weather", "train", "succeeded", startedAgo: 2 * 86_400, took: 100, total: 5)
        try await insertRun("weather", "train", "partial", startedAgo: 3 * 3600, took: 120, total: 5, failed: 1,
                            error: "series \"x\": skipped: too short\nseries \"y\": other")
        try await insertRun("weather", "predict", "succeeded", startedAgo: 12 * 60, took: 1.5, total: 4)
        try await insertRun("gone", "train", "failed", startedAgo: 60, took: 1, error: "nobody cares")
        try await db.execute("INSERT INTO \(table("job_schedule")) (job, next_train_at, next_predict_at) VALUES ('weather', $1, $2)",
                             now + 21 * 3600, now - 2 * 3600)
        try await insertModel("weather", "a", cell: "lstm", backtest: ["mase": 0.6, "skill": 0.4])
        try await insertModel("weather", "b", cell: "lstm", backtest: ["mase": 0.8, "skill": 0.2])
        try await insertModel("weather", "c", cell: "seasonal_naive", backtest: ["mase": 1.0, "skill": 0, "rmse": .nan])
        try await insertModel("weather", "a", cell: "gru", status: "retired", backtest: ["mase": 5, "skill": -3])
    }

    func testTheReportReadsRunsScheduleAndActiveModels() async throws {
        try await loadKnownRows()
        let report = try await StatusReport.load(jobs: ["weather", "idle"], schema: schema, on: db)
        XCTAssertEqual(report.jobs.map(\.job), ["weather", "idle"], "configured jobs only, in their order")
        let weather = report.jobs[0]
        XCTAssertEqual(weather.lastRuns[.train]?.status, .partial, "the newest train run")
        XCTAssertEqual(weather.lastRuns[.train]?.seriesFailed, 1)
        XCTAssertEqual(weather.lastRuns[.predict]?.status, .succeeded)
        XCTAssertEqual(weather.nextTrainAt, now + 21 * 3600)
        XCTAssertEqual(weather.activeCells, ["lstm": 2, "seasonal_naive": 1])
        XCTAssertEqual(weather.medianMASE ?? .nan, 0.8, accuracy: 1e-12)
        XCTAssertEqual(weather.medianSkill ?? .nan, 0.2, accuracy: 1e-12)
        XCTAssertEqual([weather.beatingBaseline, weather.withSkill], [2, 3])
        XCTAssertEqual(report.jobs[1], JobStatus(job: "idle"), "a job never run has nothing")
    }

    func testTheTableIsAlignedReadableAndColouredOnlyWhenAsked() async throws {
        try await loadKnownRows()
        let report = try await StatusReport.load(jobs: ["weather", "idle"], schema: schema, on: db)
        let text = report.render(now: now)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        func line(_ words: String...) -> String? { lines.first { l in words.allSatisfy { l.contains($0) } } }
        XCTAssertNotNil(line("weather", "train", "partial", "3h 00m ago", "2m 00s", "4 ok, 1 failed", "in 21h 00m"), text)
        XCTAssertNotNil(line("predict", "succeeded", "12m 00s ago", "1.5s", "4 ok", "overdue 2h 00m"), text)
        XCTAssertNotNil(line("idle", "train", "no runs yet", "not scheduled yet"), text)
        XCTAssertNotNil(line("weather", "3", "2 lstm, 1 naive", "0.800", "+0.200", "2 of 3"), text)
        XCTAssertNotNil(line("idle", "0", "-"), text)
        XCTAssertNotNil(line("weather train: series \"x\": skipped: too short"), text)
        XCTAssertFalse(text.contains("gone"), "jobs not in the configuration are left out")
        XCTAssertFalse(text.contains("\u{1B}"), "no colour unless asked")
        XCTAssertLessThanOrEqual(lines.map(\.count).max() ?? 0, 120, text)

        // Every row of the runs table has its status where the STATUS header starts.
        let header = try XCTUnwrap(lines.first { $0.hasPrefix("JOB") && $0.contains("STATUS") })
        let column = header.distance(from: header.startIndex, to: try XCTUnwrap(header.range(of: "STATUS")).lowerBound)
        let rows = lines.drop { $0 != header }.dropFirst().prefix { !$0.isEmpty }
        XCTAssertEqual(rows.count, 4)
        for row in rows {
            let status = row.dropFirst(column).prefix { $0 != " " }
            XCTAssertTrue(["partial", "succeeded", "no"].contains(String(status)), "misaligned: \(row)")
        }

        XCTAssertTrue(report.render(now: now, colour: true).contains("\u{1B}[33mpartial\u{1B}[0m"))
    }

    func writeConfig(url: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("status-\(UUID()).toml").path
        var text = "[database]\nurl = \"\(url)\"\nschema = \"\(schema)\"\n"
        for job in ["weather", "idle"] {
            text += """
                [[jobs]]
                name = "\(job)"
                frequency = "1h"
                horizon = 6
                [jobs.source]
                table = "public.readings"
                time_column = "ts"
                value_column = "reading"

                """
        }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testTheBinaryPrintsTheTableAndFailsClearlyWithoutTheDatabase() async throws {
        try await loadKnownRows()
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("status-\(UUID()).txt").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        let config = try writeConfig(url: try TestDatabase.url())
        XCTAssertEqual(try DaemonProcess.run(DaemonProcess.binary, arguments: ["status", "--config", config], output: output), 0)
        var printed = try String(contentsOfFile: output, encoding: .utf8)
        XCTAssertTrue(printed.contains("weather") && printed.contains("partial") && printed.contains("no runs yet"), printed)
        XCTAssertTrue(printed.contains("2 lstm, 1 naive"), printed)
        XCTAssertFalse(printed.contains("\u{1B}"), "no colour when not a terminal")
        let rows = try await count("SELECT count(*) FROM \(table("runs"))")
        XCTAssertEqual(rows, 4, "status writes nothing")

        let unreachable = try writeConfig(url: "postgresql:///nothing?host=/nonexistent-forecastd&connect_timeout=2")
        XCTAssertEqual(try DaemonProcess.run(DaemonProcess.binary, arguments: ["status", "--config", unreachable], output: output), 1)
        printed = try String(contentsOfFile: output, encoding: .utf8)
        XCTAssertTrue(printed.contains("forecastd: cannot read the status: cannot connect to the database"), printed)
        try? FileManager.default.removeItem(atPath: config)
        try? FileManager.default.removeItem(atPath: unreachable)
    }
}
