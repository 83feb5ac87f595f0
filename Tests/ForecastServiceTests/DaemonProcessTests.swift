import Foundation
import PostgresClient
import XCTest
@testable import ForecastConfig
@testable import ForecastStore
@testable import ForecastJobs
@testable import ForecastReport
@testable import ForecastDaemon

/// Real `forecastd run` processes against the test server: sharing work, dying, stopping,
/// NOTIFY, SIGHUP and systemd's notify protocol.
final class DaemonProcessTests: StoreTestCase {
    var directory: URL!
    var daemons: [DaemonProcess] = []

    override func setUp() async throws {
        try await super.setUp()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("daemon-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() async throws {
        for daemon in daemons { daemon.kill9() }
        daemons = []
        // nil when setUp skipped the test (no test database).
        if let directory { try? FileManager.default.removeItem(at: directory) }
        try await super.tearDown()
    }

    /// Hourly readings of `sensors` series for `days` days up to the current hour.
    func loadReadings(sensors: [String], days: Int = 20, allNaN: [String] = []) async throws {
        let readings = table("readings")
        try await db.executeScript("CREATE TABLE \(readings) (sensor text, ts timestamptz, reading double precision)")
        let end = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 / 3600).rounded(.down) * 3600)
        let hours = days * 24
        _ = try await db.copyIn("COPY \(readings) FROM STDIN") { writer in
            for hour in 0..<hours {
                let ts = end - Double(hours - 1 - hour) * 3600
                for (index, sensor) in (sensors + allNaN).enumerated() {
                    let value = index < sensors.count
                        ? 10 + Double(index) + 5 * sin(2 * Double.pi * Double(hour) / 24) + Double((hour * (index + 3)) % 7) * 0.2
                        : Double.nan
                    try writer.append(sensor)
                    try writer.append(ts)
                    try writer.append(value)
                    try writer.endRow()
                }
            }
        }
    }

    /// One network per unit (`ensemble = 1`): these tests time the daemon's work, not the
    /// ensembles, whose default for these short series (`shortSeriesEnsemble`) would multiply
    /// every unit's training.
    func writeConfig(_ name: String = "forecastd.toml", lease: String = "3s", concurrency: Int = 1, epochs: Int = 3,
                     hidden: Int = 8, source: String? = nil, metricsListen: String = "", daemonExtra: String = "", jobExtra: String = "",
                     extra: String = "") throws -> String {
        let path = directory.appendingPathComponent(name).path
        let sourceLine = source.map { "query = \"\"\"\($0)\"\"\"" } ?? "table = \"\(schema).readings\""
        try """
            [database]
            url = "\(try TestDatabase.url())"
            schema = "\(schema)"
            [daemon]
            concurrency = \(concurrency)
            metrics_listen = "\(metricsListen)"
            lease = "\(lease)"
            \(daemonExtra)
            [[jobs]]
            name = "sensors"
            frequency = "1h"
            horizon = 6
            backtest_windows = 2
            \(jobExtra)
            [jobs.source]
            \(sourceLine)
            series_column = "sensor"
            time_column = "ts"
            value_column = "reading"
            [jobs.model]
            hidden_size = \(hidden)
            epochs = \(epochs)
            context = 24
            ensemble = 1
            \(extra)
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func start(_ config: String, environment: [String: String] = [:], arguments: [String]? = nil) throws -> DaemonProcess {
        let daemon = try DaemonProcess(config: config, log: directory.appendingPathComponent("daemon-\(daemons.count).log"), environment: environment,
                                       arguments: arguments)
        daemons.append(daemon)
        return daemon
    }

    /// Polls `condition` every 200 ms for up to `seconds`.
    func eventually(_ what: String, seconds: Double = 60, _ condition: () async throws -> Bool) async throws {
        let deadline = Date() + seconds
        while Date() < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        XCTFail("timed out waiting for \(what); logs:\n" + daemons.map(\.log).joined(separator: "\n---\n"))
        throw XCTSkip("timed out")
    }

    func runStatuses(_ kind: String) async throws -> [String] {
        try await db.query("SELECT status FROM \(table("runs")) WHERE kind = $1 ORDER BY run_id", kind).map { try $0.decode(0, as: String.self) }
    }

    // MARK: tests

    func testTwoDaemonsShareAJobAndEachUnitIsTrainedOnce() async throws {
        let sensors = (0..<6).map { "s\($0)" }
        try await loadReadings(sensors: sensors)
        // Units slow enough (about a second each) that the second daemon is up before the first is done.
        let config = try writeConfig(epochs: 40, hidden: 16)
        let a = try start(config), b = try start(config)
        try await eventually("the training run to finish") { try await self.runStatuses("train").first.map { $0 != "running" } ?? false }
        let statuses = try await runStatuses("train")
        XCTAssertEqual(statuses, ["succeeded"], "one training run, queued by one of the two")
        let completions = try await db.query("SELECT unit, attempts FROM \(table("work_queue")) WHERE kind = 'train' ORDER BY unit")
            .map { (try $0.decode(0, as: String.self), try $0.decode(1, as: Int.self)) }
        XCTAssertEqual(completions.map(\.0), sensors)
        XCTAssertEqual(Set(completions.map(\.1)), [1], "each unit trained once")
        let active = try await count("SELECT count(*) FROM \(table("models")) WHERE status = 'active'")
        XCTAssertEqual(active, 6)
        let trainedByA = a.log.components(separatedBy: "unit trained").count - 1
        let trainedByB = b.log.components(separatedBy: "unit trained").count - 1
        XCTAssertEqual(trainedByA + trainedByB, 6)
        XCTAssertGreaterThan(trainedByA, 0, "both daemons took units")
        XCTAssertGreaterThan(trainedByB, 0, "both daemons took units")
    }

    func testAKilledDaemonsUnitGoesToAnotherAfterTheLease() async throws {
        try await loadReadings(sensors: ["slow"], days: 40)
        let config = try writeConfig(lease: "2s", epochs: 400, hidden: 32)
        let first = try start(config)
        try await eventually("the first daemon to claim the unit") {
            try await self.count("SELECT count(*) FROM \(self.table("work_queue")) WHERE state = 'running'") == 1
        }
        first.kill9()
        let quick = try writeConfig("quick.toml", lease: "2s", epochs: 2, hidden: 8)
        let second = try start(quick)
        try await eventually("the second daemon to finish the unit", seconds: 90) {
            try await self.count("SELECT count(*) FROM \(self.table("work_queue")) WHERE state = 'completed'") == 1
        }
        // The unit completes in its results' transaction; the run closes in the next one.
        try await eventually("the run to close", seconds: 10) { try await self.runStatuses("train").first.map { $0 != "running" } ?? false }
        let attempts = try await db.query("SELECT attempts FROM \(table("work_queue"))")[0].decode(0, as: Int.self)
        XCTAssertEqual(attempts, 2, "the dead daemon's attempt, then the second one's")
        XCTAssertTrue(second.log.contains("unit trained"))
        let statuses = try await runStatuses("train")
        XCTAssertEqual(statuses, ["succeeded"])
    }

    /// Units far longer than the grace period: they are released (their attempt not counted)
    /// and the process exits; the run stays open for the next worker.
    func testSigtermReleasesUnitsThatCannotFinishWithinTheGrace() async throws {
        try await loadReadings(sensors: ["a", "b"])
        // A global model (the scheduler queues its one unit without reading the source) whose
        // read takes 25 s: past the 15 s grace however fast the machine is.
        let slow = "SELECT sensor, ts, reading FROM \(schema).readings, pg_sleep(25) WHERE ts >= $1 AND ts < $2"
        let daemon = try start(try writeConfig(source: slow, extra: "scope = \"global\""))
        try await eventually("a unit to be claimed") {
            try await self.count("SELECT count(*) FROM \(self.table("work_queue")) WHERE state = 'running'") == 1
        }
        daemon.terminate()
        let status = daemon.waitForExit(seconds: 60)
        XCTAssertEqual(status, 0, daemon.log)
        let held = try await count("SELECT count(*) FROM \(table("work_queue")) WHERE state = 'running'")
        XCTAssertEqual(held, 0, "leases released")
        let attempts = try await count("SELECT max(attempts) FROM \(table("work_queue"))")
        XCTAssertEqual(attempts, 0, "the abandoned attempt does not count")
        let statuses = try await runStatuses("train")
        XCTAssertEqual(statuses, ["running"], "its units are queued: the run is not closed")
        XCTAssertTrue(daemon.log.contains("stopping"))
        XCTAssertTrue(daemon.log.contains("abandoning them"), daemon.log)
    }

    /// Issue 15, defect 5: a unit that ends within the grace period is written, not thrown away.
    func testSigtermLetsAUnitInFlightFinishWithinTheGrace() async throws {
        try await loadReadings(sensors: ["a", "b"])
        // A unit of a second or so: well inside the 15 s grace, also on a loaded machine. Without
        // the statistical challengers: ETS's automatic choice at every backtest window of these
        // short hourly series (24 seasonal states) takes seconds in a debug build.
        let daemon = try start(try writeConfig(epochs: 40, hidden: 16, jobExtra: "statistical_challengers = false"))
        try await eventually("a unit to be claimed") {
            try await self.count("SELECT count(*) FROM \(self.table("work_queue")) WHERE state = 'running'") == 1
        }
        daemon.terminate()
        XCTAssertEqual(daemon.waitForExit(seconds: 60), 0, daemon.log)
        XCTAssertFalse(daemon.log.contains("unit abandoned at shutdown"), daemon.log)
        XCTAssertTrue(daemon.log.contains("unit trained"), daemon.log)
        let states = try await db.query("SELECT state, count(*) FROM \(table("work_queue")) GROUP BY state ORDER BY state")
            .map { "\(try $0.decode(0, as: String.self))=\(try $0.decode(1, as: Int.self))" }
        XCTAssertEqual(states, ["available=1", "completed=1"], "the unit in flight written, the other left queued")
        let active = try await count("SELECT count(*) FROM \(table("models")) WHERE status = 'active'")
        XCTAssertEqual(active, 1)
    }

    /// Issue 15, defect 4: a daemon stopped after some of a run's units leaves the run open, and
    /// the daemon that completes the last unit closes it with the true status.
    func testARunInterruptedBySigtermIsClosedByItsLastUnitWithTheTrueStatus() async throws {
        let sensors = (0..<20).map { String(format: "s%02d", $0) }
        try await loadReadings(sensors: sensors, days: 10)
        let config = try writeConfig(epochs: 2, hidden: 4)
        let first = try start(config)
        try await eventually("3 units to complete") {
            try await self.count("SELECT count(*) FROM \(self.table("work_queue")) WHERE state = 'completed'") >= 3
        }
        first.terminate()
        XCTAssertEqual(first.waitForExit(seconds: 60), 0, first.log)
        let left = try await count("SELECT count(*) FROM \(table("work_queue")) WHERE state = 'available'")
        guard left > 0 else { throw XCTSkip("the first daemon drained the queue before it was stopped") }
        let statuses = try await runStatuses("train")
        XCTAssertEqual(statuses, ["running"], "units are still queued: the stop must not close the run")
        let stoppedAt = Date()
        let second = try start(config)
        try await eventually("the run to close", seconds: 120) { try await self.runStatuses("train").first.map { $0 != "running" } ?? false }
        let run = try await db.query("SELECT status, series_total, series_failed, error, finished_at FROM \(table("runs")) WHERE kind = 'train'")[0]
        XCTAssertEqual(try run.decode(0, as: String.self), "succeeded", second.log)
        XCTAssertEqual(try run.decode(1, as: Int.self), 20)
        XCTAssertEqual(try run.decode(2, as: Int.self), 0)
        XCTAssertNil(try run.decode(3, as: String?.self))
        XCTAssertGreaterThan(try run.decode(4, as: Date.self), stoppedAt, "closed by the last unit, not at the stop")
    }

    /// A poison unit: its worker dies on it (here kill -9, as a crash would) at every attempt.
    /// Each claim counts an attempt; once they are spent the unit fails for good with the
    /// reason and its run closes, instead of every daemon retrying it for ever.
    func testAUnitWhoseWorkerDiesAtEveryAttemptFailsForGoodWithTheReason() async throws {
        try await loadReadings(sensors: ["a"])
        // A global model, so the scheduler queues its unit without reading; the read then takes
        // 10 s, so a daemon is always killed while it holds the unit.
        let slow = "SELECT sensor, ts, reading FROM \(schema).readings, pg_sleep(10) WHERE ts >= $1 AND ts < $2"
        let config = try writeConfig(lease: "2s", source: slow, daemonExtra: "max_attempts = 2", extra: "scope = \"global\"")
        var lastPID: pid_t = 0
        for attempt in 1...2 {
            let daemon = try start(config)
            try await eventually("attempt \(attempt) to be claimed", seconds: 60) {
                try await self.count("SELECT count(*) FROM \(self.table("work_queue")) WHERE state = 'running' AND attempts = $1", attempt) == 1
            }
            daemon.kill9()
            lastPID = daemon.pid
        }
        let survivor = try start(config)
        try await eventually("the unit to fail for good", seconds: 60) { try await self.runStatuses("train") == ["failed"] }
        let unit = try await db.query("SELECT state, attempts, last_error FROM \(table("work_queue"))")[0]
        XCTAssertEqual(try unit.decode(0, as: String.self), "failed")
        XCTAssertEqual(try unit.decode(1, as: Int.self), 2)
        XCTAssertEqual(try unit.decode(2, as: String.self),
                       "its worker stopped while running it 2 times (crashed or killed); last worker \(RunLog.currentHost):\(lastPID)")
        let run = try await db.query("SELECT series_total, series_failed, error FROM \(table("runs"))")[0]
        XCTAssertEqual(try run.decode(0, as: Int.self), 1)
        XCTAssertEqual(try run.decode(1, as: Int.self), 1)
        XCTAssertTrue(try run.decode(2, as: String.self).contains("crashed or killed"))
        XCTAssertTrue(survivor.log.contains("unit failed for good"), survivor.log)
        XCTAssertTrue(survivor.isRunning)
    }

    func testNotifyTriggersPredictionWithinSeconds() async throws {
        try await loadReadings(sensors: ["a"])
        _ = try start(try writeConfig())
        try await eventually("training") { try await self.runStatuses("train").first.map { $0 != "running" } ?? false }
        try await Task.sleep(for: .seconds(1))
        let before = try await runStatuses("predict").count
        let sent = Date()
        try await db.notify("forecastd", payload: #"{"job": "sensors", "action": "predict"}"#)
        try await eventually("a predict run", seconds: 10) { try await self.runStatuses("predict").count > before }
        try await eventually("the predict run to succeed", seconds: 10) { try await self.runStatuses("predict").last == "succeeded" }
        XCTAssertLessThan(Date().timeIntervalSince(sent), 10)
    }

    func testSighupWithABadFileKeepsTheOldConfiguration() async throws {
        try await loadReadings(sensors: ["a"])
        let config = try writeConfig()
        let daemon = try start(config)
        try await eventually("training") { try await self.runStatuses("train").first.map { $0 != "running" } ?? false }
        let good = try String(contentsOfFile: config, encoding: .utf8)
        try (good + "\nnot_a_key = 1\n").write(toFile: config, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        try await eventually("the reload to be refused", seconds: 10) { daemon.log.contains("configuration not reloaded") }
        XCTAssertTrue(daemon.log.contains("not_a_key"), "the reason names the key")
        try good.write(toFile: config, atomically: true, encoding: .utf8)
        try await db.notify("forecastd", payload: #"{"job": "sensors", "action": "predict"}"#)
        try await eventually("the daemon to keep working with the old configuration", seconds: 10) {
            try await self.runStatuses("predict").last == "succeeded"
        }
    }

    func testAFailingSourceAndASeriesFullOfNaNFailAloneAndShowInRuns() async throws {
        try await loadReadings(sensors: ["good"], allNaN: ["broken"])
        let daemon = try start(try writeConfig())
        try await eventually("training") { try await self.runStatuses("train").first.map { $0 != "running" } ?? false }
        let run = try await db.query("SELECT status, series_total, series_failed, error FROM \(table("runs")) WHERE kind = 'train'")[0]
        XCTAssertEqual(try run.decode(0, as: String.self), "partial", daemon.log)
        XCTAssertEqual(try run.decode(2, as: Int.self), 1)
        XCTAssertTrue(try run.decode(3, as: String?.self)?.contains("broken") ?? false)
        let active = try await db.query("SELECT series FROM \(table("models")) WHERE status = 'active'").map { try $0.decode(0, as: String.self) }
        XCTAssertEqual(active, ["good"])
    }

    func testASourceQueryThatFailsIsRecordedAsAFailedRun() async throws {
        _ = try start(try writeConfig(source: "SELECT sensor, ts, reading FROM \(schema).missing WHERE ts >= $1 AND ts < $2"))
        try await eventually("the failed run") { try await self.runStatuses("train") == ["failed"] }
        let error = try await db.query("SELECT error FROM \(table("runs"))")[0].decode(0, as: String.self)
        XCTAssertTrue(error.contains("sensors") && error.contains("missing"), error)
    }

    func testSystemdHearsReadyStatusWatchdogAndStopping() async throws {
        try await loadReadings(sensors: ["a"])
        let listener = try DatagramListener(address: directory.appendingPathComponent("notify").path)
        defer { listener.close() }
        let daemon = try start(try writeConfig(), environment: ["NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "2000000"])
        var heard: [String] = []
        func listen(until wanted: [String], seconds: Double) {
            let deadline = Date() + seconds
            while Date() < deadline, !wanted.allSatisfy({ word in heard.contains { $0.hasPrefix(word) } }) {
                guard let datagram = try? listener.receive() else { continue }
                heard += datagram.split(separator: "\n").map(String.init)
            }
        }
        listen(until: ["READY=1", "STATUS=", "WATCHDOG=1"], seconds: 30)
        XCTAssertTrue(heard.contains("READY=1"), "\(heard)\n\(daemon.log)")
        XCTAssertTrue(heard.contains { $0.hasPrefix("STATUS=") && $0.count > 7 }, "\(heard)")
        XCTAssertTrue(heard.contains("WATCHDOG=1"), "\(heard)")
        daemon.terminate()
        listen(until: ["STOPPING=1"], seconds: 20)
        XCTAssertTrue(heard.contains("STOPPING=1"), "\(heard)\n\(daemon.log)")
        XCTAssertEqual(daemon.waitForExit(seconds: 20), 0)
    }

    func testADatabaseRestartMidRunLosesNothing() async throws {
        guard let restart = ProcessInfo.processInfo.environment["FORECASTD_TEST_PG_RESTART"] else { throw XCTSkip("no restart command") }
        try await loadReadings(sensors: ["a", "b", "c"], days: 30)
        let daemon = try start(try writeConfig(epochs: 60, hidden: 16))
        try await eventually("a unit to be claimed") {
            try await self.count("SELECT count(*) FROM \(self.table("work_queue")) WHERE state = 'running'") == 1
        }
        let restarted = try DaemonProcess.run(restart)
        XCTAssertEqual(restarted, 0)
        try await db.reconnect()
        try await eventually("the run to finish after the restart", seconds: 120) {
            try await self.runStatuses("train").first.map { $0 != "running" } ?? false
        }
        let statuses = try await runStatuses("train")
        XCTAssertEqual(statuses, ["succeeded"], daemon.log)
        let active = try await count("SELECT count(*) FROM \(table("models")) WHERE status = 'active'")
        XCTAssertEqual(active, 3)
        let forecasts = try await count("SELECT count(*) FROM \(table("latest_forecasts"))")
        XCTAssertEqual(forecasts, 3 * 6, "each series forecast once, none half-written")
        XCTAssertTrue(daemon.isRunning, "the daemon carried on")
    }
}

/// A `forecastd run` child process with its output in a file. Spawned and reaped with
/// posix_spawn and waitpid: Foundation's `Process` was seen to leave its child a zombie here and
/// never report the exit.
final class DaemonProcess: @unchecked Sendable {
    let pid: pid_t
    let logURL: URL
    private let lock = NSLock()
    private var exitStatus: Int32?

    static var binary: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("forecastd").path
    }

    static var migrations: String {
        URL(fileURLWithPath: #filePath).appendingPathComponent("../../../migrations").standardized.path
    }

    /// `forecastd run --config CONFIG`, or `forecastd ARGUMENTS` (a one-off command).
    init(config: String, log: URL, environment: [String: String], arguments: [String]? = nil) throws {
        logURL = log
        var env = ProcessInfo.processInfo.environment
        env["FORECASTD_MIGRATIONS"] = Self.migrations
        for key in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM"] { env[key] = nil }
        env.merge(environment) { $1 }
        pid = try Self.spawn(Self.binary, arguments: arguments ?? ["run", "--config", config],
                             environment: env.map { "\($0.key)=\($0.value)" }, output: log.path)
    }

    /// Runs a helper program to its end, its output to `output`, and returns its exit status.
    static func run(_ path: String, arguments: [String] = [], environment: [String: String] = ProcessInfo.processInfo.environment,
                    output: String = "/dev/null") throws -> Int32 {
        let pid = try spawn(path, arguments: arguments, environment: environment.map { "\($0.key)=\($0.value)" }, output: output)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status >> 8) & 0xff
    }

    /// Starts `path` with stdout and stderr going to `output`; in a process group of its own
    /// with `newGroup`, so that a program with children (a browser) can be stopped as a whole.
    static func spawn(_ path: String, arguments: [String], environment: [String], output: String, newGroup: Bool = false) throws -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        if newGroup {
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        guard spawned == 0 else { throw POSIXError(.init(rawValue: spawned) ?? .EIO) }
        return pid
    }

    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    /// Reaps the child when it has exited; nil while it runs.
    private func poll(blocking: Bool) -> Int32? {
        lock.lock(); defer { lock.unlock() }
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        var reaped: pid_t
        repeat { reaped = waitpid(pid, &status, blocking ? 0 : WNOHANG) } while reaped < 0 && errno == EINTR
        guard reaped == pid else { return nil }
        // Exit code when it exited, 128 + signal when a signal ended it, as a shell reports it.
        let signal = status & 0x7f
        exitStatus = signal == 0 ? (status >> 8) & 0xff : 128 + signal
        return exitStatus
    }

    var isRunning: Bool { poll(blocking: false) == nil }

    func signal(_ number: Int32) { if isRunning { kill(pid, number) } }
    func terminate() { signal(SIGTERM) }

    func kill9() {
        guard isRunning else { return }
        kill(pid, SIGKILL)
        _ = poll(blocking: true)
    }

    /// The exit status, or nil when still running after `seconds`.
    func waitForExit(seconds: Double) -> Int32? {
        let deadline = Date() + seconds
        while Date() < deadline {
            if let status = poll(blocking: false) { return status }
            usleep(100_000)
        }
        return nil
    }
}
