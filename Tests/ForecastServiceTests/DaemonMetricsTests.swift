import Foundation
import HTTPServing
import PostgresClient
import TestSupport
import XCTest
@testable import ForecastConfig
@testable import ForecastStore
@testable import ForecastJobs
@testable import ForecastReport
@testable import ForecastDaemon

/// `/metrics`, `/-/healthy` and `/-/ready` of real `forecastd run` processes, checked with
/// PyPI's prometheus_client parser and against the `runs` table.
extension DaemonProcessTests {
    /// A port nobody listens on right now (the system's pick, released again).
    func freePort() throws -> Int {
        let probe = try HTTPServer(host: "127.0.0.1", port: 0) { _ in HTTPResponse(status: 404, body: "") }
        probe.stop()
        return probe.port
    }

    func value(_ families: [String: PrometheusParser.Family], _ family: String, _ sample: String, _ labels: [String: String]) -> Double? {
        families[family]?.samples.first { $0.name == sample && $0.labels == labels }?.value
    }

    func testMetricsHealthAndReadinessAfterATrainingRun() async throws {
        try await loadReadings(sensors: ["a", "b"])
        let port = try freePort()
        let daemon = try start(try writeConfig(metricsListen: "127.0.0.1:\(port)"))
        try await eventually("the endpoint to answer") { (try? HTTPTestClient.get(port: port, "/-/healthy"))?.status == 200 }
        try await eventually("training") { try await self.runStatuses("train").first.map { $0 != "running" } ?? false }
        let statuses = try await runStatuses("train")
        XCTAssertEqual(statuses, ["succeeded"], daemon.log)
        var text = ""
        try await eventually("the probe to see the succeeded run", seconds: 30) {
            text = try HTTPTestClient.get(port: port, "/metrics").body
            return text.contains(#"forecastd_seconds_since_last_success{job="sensors",kind="train"}"#)
        }
        let families = try PrometheusParser.parse(text)
        let train = ["job": "sensors", "kind": "train"]
        XCTAssertEqual(families["forecastd_runs"]?.type, "counter")
        XCTAssertEqual(value(families, "forecastd_runs", "forecastd_runs_total", train.merging(["status": "succeeded"]) { $1 }), 1)
        XCTAssertEqual(value(families, "forecastd_runs", "forecastd_runs_total", train.merging(["status": "failed"]) { $1 }), 0)
        XCTAssertEqual(value(families, "forecastd_units", "forecastd_units_total", train), 2, "one unit per series")
        XCTAssertEqual(value(families, "forecastd_unit_failures", "forecastd_unit_failures_total", train), 0)
        let rowsWritten = try await db.query("SELECT rows_written FROM \(table("runs")) WHERE kind = 'train'")[0].decode(0, as: Int.self)
        XCTAssertEqual(rowsWritten, 2 * 6)
        XCTAssertEqual(value(families, "forecastd_rows_written", "forecastd_rows_written_total", train), Double(rowsWritten))
        XCTAssertEqual(families["forecastd_run_duration_seconds"]?.type, "histogram")
        XCTAssertEqual(value(families, "forecastd_run_duration_seconds", "forecastd_run_duration_seconds_count", train), 1)
        XCTAssertEqual(value(families, "forecastd_unit_duration_seconds", "forecastd_unit_duration_seconds_count", train), 2)
        XCTAssertEqual(value(families, "forecastd_unit_duration_seconds", "forecastd_unit_duration_seconds_bucket", train.merging(["le": "+Inf"]) { $1 }), 2)
        XCTAssertEqual(value(families, "forecastd_database_up", "forecastd_database_up", [:]), 1)
        XCTAssertEqual(value(families, "forecastd_build_info", "forecastd_build_info", ["version": ForecastdVersion.version, "build": ForecastdVersion.build]), 1)
        let finished = try await db.query("SELECT extract(epoch FROM finished_at)::float8 FROM \(table("runs")) WHERE kind = 'train'")[0].decode(0, as: Double.self)
        let stamp = try XCTUnwrap(value(families, "forecastd_last_success_timestamp_seconds", "forecastd_last_success_timestamp_seconds", train))
        XCTAssertEqual(stamp, finished, accuracy: 0.001)
        let age = try XCTUnwrap(value(families, "forecastd_seconds_since_last_success", "forecastd_seconds_since_last_success", train))
        XCTAssertGreaterThanOrEqual(age, 0)
        XCTAssertLessThan(age, 120)
        // The age of the newest observation the runs read, as runs.newest_observation has it.
        let dataAge = try await db.query("SELECT extract(epoch FROM now() - max(newest_observation))::float8 FROM \(table("runs"))")[0].decode(0, as: Double.self)
        let gauge = try XCTUnwrap(value(families, "forecastd_newest_observation_age_seconds", "forecastd_newest_observation_age_seconds", ["job": "sensors"]))
        XCTAssertEqual(gauge, dataAge, accuracy: 120)
        XCTAssertFalse(families.values.contains { $0.samples.contains { $0.labels["series"] != nil } }, "no per-series labels")

        XCTAssertEqual(try HTTPTestClient.get(port: port, "/-/healthy").status, 200)
        let ready = try HTTPTestClient.get(port: port, "/-/ready")
        XCTAssertEqual(ready.status, 200, ready.body)
        XCTAssertEqual(try HTTPTestClient.get(port: port, "/nothing").status, 404)
        XCTAssertEqual(try HTTPTestClient.request(port: port, "DELETE /metrics HTTP/1.1\r\n\r\n").status, 405)

        // A schema that is no longer current (a newer migration pending) makes the daemon unready, not unhealthy.
        let newest = try await db.query("SELECT max(version) FROM \(table("schema_migrations"))")[0].decode(0, as: Int.self)
        try await db.execute("DELETE FROM \(table("schema_migrations")) WHERE version = $1", newest)
        try await eventually("the daemon to report itself unready", seconds: 30) {
            try HTTPTestClient.get(port: port, "/-/ready").status == 503
        }
        XCTAssertTrue(try HTTPTestClient.get(port: port, "/-/ready").body.contains("migrate"))
        XCTAssertEqual(try HTTPTestClient.get(port: port, "/-/healthy").status, 200)
    }

    func testWithoutTheDatabaseTheDaemonIsHealthyNotReadyAndScrapesDoNotWait() async throws {
        let port = try freePort()
        let config = try writeConfig(metricsListen: "127.0.0.1:\(port)")
        // A server socket that does not exist: every connection attempt fails.
        let unreachable = "postgresql:///nothing?host=\(directory.path)/no-server&connect_timeout=2"
        let text = try String(contentsOfFile: config, encoding: .utf8)
            .replacingOccurrences(of: "url = \"\(try TestDatabase.url())\"", with: "url = \"\(unreachable)\"")
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        let daemon = try start(config)
        try await eventually("the endpoint to answer") { (try? HTTPTestClient.get(port: port, "/-/healthy"))?.status == 200 }
        let ready = try HTTPTestClient.get(port: port, "/-/ready")
        XCTAssertEqual(ready.status, 503)
        XCTAssertTrue(ready.body.contains("database"), ready.body)
        let started = Date()
        let metrics = try HTTPTestClient.get(port: port, "/metrics")
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "a scrape answers from memory")
        let families = try PrometheusParser.parse(metrics.body)
        XCTAssertEqual(value(families, "forecastd_database_up", "forecastd_database_up", [:]), 0)
        XCTAssertEqual(families["forecastd_seconds_since_last_success"]?.samples.count, 0, "no success known yet")
        XCTAssertTrue(daemon.isRunning)
    }

    func testAMetricsAddressInUseStopsTheStartWithAnErrorNamingTheKey() async throws {
        let taken = try HTTPServer(host: "127.0.0.1", port: 0) { _ in HTTPResponse(status: 404, body: "") }
        taken.start()
        defer { taken.stop() }
        let daemon = try start(try writeConfig(metricsListen: "127.0.0.1:\(taken.port)"))
        XCTAssertEqual(daemon.waitForExit(seconds: 30), 1, daemon.log)
        XCTAssertTrue(daemon.log.contains("daemon.metrics_listen"), daemon.log)
        XCTAssertTrue(daemon.log.contains("127.0.0.1:\(taken.port)"), daemon.log)
    }
}
