import Foundation
import XCTest
@testable import ForecastConfig
@testable import ForecastStore
@testable import ForecastJobs
@testable import ForecastReport
@testable import ForecastDaemon

/// The Prometheus text format and the service's counters, without a database.
final class PrometheusTextTests: XCTestCase {
    func testHelpTypeLabelsAndEscaping() {
        let text = PrometheusText.render([
            MetricFamily(name: "x_total", help: "Counts \\ things\nacross lines.", type: .counter, samples: [
                MetricSample("x_total", [("job", #"a "quoted" \ back"#), ("kind", "line\nfeed")], 3),
                MetricSample("x_total", [], 0.25),
            ]),
            MetricFamily(name: "g", help: "A gauge.", type: .gauge, samples: [MetricSample("g", [], -.infinity)]),
        ])
        XCTAssertEqual(text, #"""
            # HELP x_total Counts \\ things\nacross lines.
            # TYPE x_total counter
            x_total{job="a \"quoted\" \\ back",kind="line\nfeed"} 3
            x_total 0.25
            # HELP g A gauge.
            # TYPE g gauge
            g -Inf

            """#)
    }

    func testValuesAreWrittenAsGoReadsThem() {
        XCTAssertEqual(PrometheusText.format(2), "2")
        XCTAssertEqual(PrometheusText.format(-7), "-7")
        XCTAssertEqual(PrometheusText.format(0.5), "0.5")
        XCTAssertEqual(PrometheusText.format(.infinity), "+Inf")
        XCTAssertEqual(PrometheusText.format(.nan), "NaN")
        XCTAssertEqual(Double(PrometheusText.format(1e-7)), 1e-7)
        XCTAssertEqual(Double(PrometheusText.format(1.5e20)), 1.5e20)
    }

    func testHistogramBucketsAreCumulativeAndEndWithInf() {
        var histogram = Histogram(upperBounds: [0.5, 1, 5])
        for value in [0.1, 0.5, 0.7, 3, 4, 100] { histogram.observe(value) }
        let text = PrometheusText.render([
            MetricFamily(name: "d_seconds", help: "Durations.", type: .histogram,
                         samples: histogram.samples(name: "d_seconds", labels: [("job", "j")])),
        ])
        XCTAssertEqual(text, """
            # HELP d_seconds Durations.
            # TYPE d_seconds histogram
            d_seconds_bucket{job="j",le="0.5"} 2
            d_seconds_bucket{job="j",le="1"} 3
            d_seconds_bucket{job="j",le="5"} 5
            d_seconds_bucket{job="j",le="+Inf"} 6
            d_seconds_sum{job="j"} 108.3
            d_seconds_count{job="j"} 6

            """)
    }

    func testServiceMetricsCountRunsAndUnitsPerJobAndKind() throws {
        let metrics = ServiceMetrics()
        metrics.prepare(jobs: ["weather"])
        metrics.runFinished(job: "weather", kind: .train, status: .partial, seconds: 12)
        metrics.unitStarted()
        metrics.unitSucceeded(job: "weather", kind: .train, seconds: 0.3, rowsWritten: 24)
        metrics.unitStarted()
        metrics.unitEnded(job: "weather", kind: .train, seconds: 2, failed: true)
        metrics.unitStarted()
        let text = PrometheusText.render(metrics.families())
        for line in [
            #"forecastd_runs_total{job="weather",kind="train",status="partial"} 1"#,
            #"forecastd_runs_total{job="weather",kind="train",status="succeeded"} 0"#,
            #"forecastd_runs_total{job="weather",kind="predict",status="failed"} 0"#,
            #"forecastd_run_duration_seconds_bucket{job="weather",kind="train",le="10"} 0"#,
            #"forecastd_run_duration_seconds_bucket{job="weather",kind="train",le="30"} 1"#,
            #"forecastd_run_duration_seconds_sum{job="weather",kind="train"} 12"#,
            #"forecastd_units_total{job="weather",kind="train"} 1"#,
            #"forecastd_units_total{job="weather",kind="predict"} 0"#,
            #"forecastd_unit_failures_total{job="weather",kind="train"} 1"#,
            #"forecastd_unit_duration_seconds_count{job="weather",kind="train"} 2"#,
            #"forecastd_rows_written_total{job="weather",kind="train"} 24"#,
            "forecastd_units_in_progress 1",
            "# TYPE forecastd_build_info gauge",
        ] {
            XCTAssertTrue(text.contains(line + "\n"), "missing \(line) in\n\(text)")
        }
        XCTAssertFalse(text.contains("series="), "no per-series labels")
        let parsed = try PrometheusParser.parse(text)
        XCTAssertEqual(parsed["forecastd_runs"]?.type, "counter")
        XCTAssertEqual(parsed["forecastd_run_duration_seconds"]?.type, "histogram")
    }
}

/// `scripts/parse-prometheus-text.py`: the reference parser of PyPI's prometheus_client, run on
/// our text. Fails the test with instructions when no Python here has prometheus_client.
enum PrometheusParser {
    struct Family: Decodable {
        var type: String
        var samples: [Sample]
    }

    /// [name, labels, value]
    struct Sample: Decodable {
        var name: String
        var labels: [String: String]
        var value: Double?
        init(from decoder: Decoder) throws {
            var container = try decoder.unkeyedContainer()
            name = try container.decode(String.self)
            labels = try container.decode([String: String].self)
            value = try container.decodeIfPresent(Double.self)
        }
    }

    static var script: String {
        URL(fileURLWithPath: #filePath).appendingPathComponent("../../../scripts/parse-prometheus-text.py").standardized.path
    }

    /// Pythons to try: $FORECASTD_PYTHON, Debian's (where apt puts python3-prometheus-client),
    /// then the first python3 on PATH.
    static var pythons: [String] {
        let environment = ProcessInfo.processInfo.environment
        var candidates = [environment["FORECASTD_PYTHON"], "/usr/bin/python3"].compactMap { $0 }
        for directory in (environment["PATH"] ?? "").split(separator: ":") {
            let path = "\(directory)/python3"
            if FileManager.default.isExecutableFile(atPath: path) { candidates.append(path); break }
        }
        return candidates.filter { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func parse(_ text: String) throws -> [String: Family] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("prom-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("metrics.txt"), output = directory.appendingPathComponent("parsed.json")
        try text.write(to: input, atomically: true, encoding: .utf8)
        var tried: [String] = []
        for python in pythons {
            let status = try DaemonProcess.run(python, arguments: [script, input.path], output: output.path)
            let printed = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            switch status {
            case 0:
                return try JSONDecoder().decode([String: Family].self, from: Data(printed.utf8))
            case 3:
                tried.append(python)
            default:
                XCTFail("prometheus_client rejected the text (\(python)): \(printed)\n\(text)")
                throw POSIXError(.EINVAL)
            }
        }
        XCTFail("the Python module prometheus_client is missing (tried \(tried.joined(separator: ", "))); "
            + "run scripts/install-deps.sh (Debian: apt-get install python3-prometheus-client) or set FORECASTD_PYTHON")
        throw POSIXError(.ENOENT)
    }
}
