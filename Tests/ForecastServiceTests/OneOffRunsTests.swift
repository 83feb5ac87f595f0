import Foundation
import PostgresClient
import XCTest
@testable import ForecastConfig
@testable import ForecastDaemon
@testable import ForecastJobs
@testable import ForecastReport
@testable import ForecastStore

/// Issue 15, defect 3: a one-off command (`train`, `predict`, `backtest`, `run --once`) never
/// leaves its run `running`, however it ends.
extension DaemonProcessTests {
    /// A `forecastd train` whose source read takes `seconds`, so it is always caught mid-run.
    func startSlowTrain(seconds: Int) async throws -> DaemonProcess {
        try await loadReadings(sensors: ["a"])
        let slow = "SELECT sensor, ts, reading FROM \(schema).readings, pg_sleep(\(seconds)) WHERE ts >= $1 AND ts < $2"
        let config = try writeConfig(source: slow)
        let train = try start(config, arguments: ["train", "sensors", "--config", config])
        try await eventually("the train run to start") { try await self.runStatuses("train") == ["running"] }
        return train
    }

    func testAOneOffCommandStoppedBySigtermClosesItsRunAsFailed() async throws {
        let train = try await startSlowTrain(seconds: 15)
        train.terminate()
        XCTAssertEqual(train.waitForExit(seconds: 30), 128 + SIGTERM, train.log)
        let run = try await db.query("SELECT status, error, finished_at FROM \(table("runs"))")[0]
        XCTAssertEqual(try run.decode(0, as: String.self), "failed", train.log)
        XCTAssertEqual(try run.decode(1, as: String?.self), "stopped by SIGTERM")
        XCTAssertNotNil(try run.decode(2, as: Date?.self))
    }

    func testAOneOffCommandThatLosesTheDatabaseClosesItsRunOnceItIsBack() async throws {
        guard let restart = ProcessInfo.processInfo.environment["FORECASTD_TEST_PG_RESTART"] else { throw XCTSkip("no restart command") }
        let train = try await startSlowTrain(seconds: 30)
        XCTAssertEqual(try DaemonProcess.run(restart), 0)
        try await db.reconnect()
        XCTAssertEqual(train.waitForExit(seconds: 90), 1, train.log)
        let run = try await db.query("SELECT status, error FROM \(table("runs"))")[0]
        XCTAssertEqual(try run.decode(0, as: String.self), "failed", train.log)
        let error = try run.decode(1, as: String?.self) ?? ""
        XCTAssertTrue(error.hasPrefix("the database connection was lost mid-run"), error)
    }

    /// A killed one-off command cannot close its run; the next start-up does: on this host by
    /// its pid, on another host because no session holds the run any more.
    func testTheRunOfAKilledOneOffCommandIsClosedByTheNextStartUpOnAnyHost() async throws {
        let train = try await startSlowTrain(seconds: 15)
        let runs = RunLog(schema: schema)
        // Another host looks while the command works: its run is held, so left alone.
        let whileAlive = try await db.withConnection { db in try runs.abandonOrphans(exceptHost: "another-host", on: db) }
        XCTAssertEqual(whileAlive, 0)
        train.kill9()
        // PostgreSQL ends the session, and its lock, when it next talks to the client: here
        // after the sleep, at once for a session that was idle.
        try await eventually("another host to close the orphaned run", seconds: 30) {
            try await self.db.withConnection { db in try runs.abandonOrphans(exceptHost: "another-host", on: db) } == 1
        }
        let run = try await db.query("SELECT status, error FROM \(table("runs"))")[0]
        XCTAssertEqual(try run.decode(0, as: String.self), "failed")
        XCTAssertEqual(try run.decode(1, as: String?.self),
                       "abandoned: the process (host \(RunLog.currentHost), pid \(train.pid)) no longer holds the run (it ended or lost its database connection)")
    }
}

extension DaemonProcessTests {
    /// The daemon's schedule runs on the wall clock: `run --as-of` without `--once` used to be
    /// accepted and the time silently ignored; it is a usage error now, and nothing starts.
    func testRunWithAsOfButWithoutOnceIsAUsageError() async throws {
        let config = try writeConfig(source: "SELECT sensor, ts, reading FROM \(schema).readings WHERE ts >= $1 AND ts < $2")
        let run = try start(config, arguments: ["run", "--as-of", "2020-01-01T00:00:00Z", "--config", config])
        XCTAssertEqual(run.waitForExit(seconds: 30), 2, run.log)
        XCTAssertTrue(run.log.contains("--as-of needs --once"), run.log)
        let runs = try await db.query("SELECT count(*) FROM \(table("runs"))")[0].decode(0, as: Int.self)
        XCTAssertEqual(runs, 0)
    }
}
