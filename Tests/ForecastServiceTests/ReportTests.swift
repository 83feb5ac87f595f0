import Foundation
import Logging
import PostgresClient
import Forecasting
import XCTest
@testable import ForecastConfig
@testable import ForecastStore
@testable import ForecastJobs
@testable import ForecastReport
@testable import ForecastDaemon

/// `forecastd report` against a real database after a real training run: what the loader
/// reads, what the command writes and how it fails, and the page as headless Chromium draws it.
final class ReportTests: StoreTestCase {
    static let hostile = "<script>&\"x\""
    /// The first reading, on the hour.
    let t0 = Date(timeIntervalSince1970: 1_700_002_800)
    /// The clock of the runs and reports: one hour after the last reading.
    var now: Date { t0 + 20 * 86_400 }
    var directory: URL!

    override func setUp() async throws {
        try await super.setUp()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("report-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() async throws {
        // nil when setUp skipped the test (no test database).
        if let directory { try? FileManager.default.removeItem(at: directory) }
        try await super.tearDown()
    }

    /// Hourly readings for 20 days: a seasonal series under a hostile name, another one, and a
    /// constant one (served by the seasonal-naive fallback).
    func loadReadingsAndTrain() async throws {
        let readings = table("readings")
        try await db.executeScript("CREATE TABLE \(readings) (sensor text, ts timestamptz, reading double precision)")
        let t0 = self.t0, hostile = Self.hostile
        _ = try await db.copyIn("COPY \(readings) FROM STDIN") { writer in
            for hour in 0..<(20 * 24) {
                let daily = sin(2 * Double.pi * Double(hour) / 24)
                for (sensor, value) in [(hostile, 10 + 5 * daily + Double(hour % 7) * 0.1), ("b", 100 - 20 * daily + Double(hour % 5) * 0.3),
                                        ("flat", 3)] {
                    try writer.append(sensor)
                    try writer.append(t0 + Double(hour) * 3600)
                    try writer.append(value)
                    try writer.endRow()
                }
            }
        }
        var runner = JobRunner(job: job(), database: DatabaseSettings(url: "", schema: schema), logger: Logger(label: "test"))
        let now = self.now
        runner.now = { now }
        let summary = try await runner.train(on: db)
        XCTAssertEqual(summary.status, .succeeded, "\(summary.errors)")
    }

    func job() -> JobSettings {
        var job = JobSettings.sensors(table: "\(schema).readings")
        job.timeZone = TimeZone(identifier: "America/New_York")!
        return job
    }

    func loader() throws -> ReportLoader {
        var loader = ReportLoader(job: job(), database: DatabaseSettings(url: "", schema: schema))
        let now = self.now
        loader.now = { now }
        return loader
    }

    func testTheLoaderReadsModelsForecastsMetricsCurvesAndHistory() async throws {
        try await loadReadingsAndTrain()
        let loader = try loader()
        let report = try await db.withConnection { db in try loader.load(on: db) }
        XCTAssertEqual(report.series.map(\.key), [Self.hostile, "b", "flat"])
        XCTAssertEqual(report.timeZone.identifier, "America/New_York")
        let lastReading = t0 + Double(20 * 24 - 1) * 3600
        for series in report.series {
            XCTAssertEqual(series.forecast.count, 6, series.key)
            XCTAssertEqual(series.issuedAt, lastReading, series.key)
            XCTAssertEqual(series.confidenceLevel ?? 0, 0.8, accuracy: 1e-9)
            XCTAssertTrue(series.forecast.allSatisfy { ($0.lower ?? .infinity) <= $0.median && $0.median <= ($0.upper ?? -.infinity) })
            // History: `historySteps` steps up to the origin, then the forecast's steps, where
            // actuals will show once they arrive (none has yet).
            XCTAssertEqual(series.history.count, loader.historySteps + 6, series.key)
            XCTAssertEqual(series.history.last(where: { $0.value != nil })?.time, lastReading)
            XCTAssertEqual(series.history.last?.time, series.forecast.last?.target)
            XCTAssertEqual(series.history.filter { $0.value == nil }.count, 6, series.key)
            XCTAssertNotNil(series.metrics[.backtest]?["baseline_mae"], series.key)
        }
        let flat = try XCTUnwrap(report.series.last)
        XCTAssertEqual(flat.model?.cell, .seasonalNaive)
        XCTAssertTrue(flat.model?.reason?.hasPrefix("fallback: ") == true, flat.model?.reason ?? "")
        XCTAssertEqual(flat.history.first?.value, 3)
        let hostile = try XCTUnwrap(report.series.first)
        XCTAssertEqual(hostile.history.last(where: { $0.value != nil })?.value ?? 0, 10 + 5 * sin(2 * Double.pi * Double(20 * 24 - 1) / 24) + Double((20 * 24 - 1) % 7) * 0.1,
                       accuracy: 1e-9)
        if hostile.model?.cell == .lstm {
            XCTAssertEqual(hostile.training?.epochs.count, hostile.model?.epochs)
            XCTAssertNotNil(hostile.metrics[.backtest]?["skill"])
        } else {
            XCTAssertTrue(hostile.training?.caption.contains("rejected") ?? true, "a fallback shows the network it replaced")
        }

        let one = try await db.withConnection { db in try loader.load(onlySeries: "b", on: db) }
        XCTAssertEqual(one.series.map(\.key), ["b"])
        var capped = loader
        capped.maxSeries = 2
        let firstTwo = try await db.withConnection { [capped] db in try capped.load(on: db) }
        XCTAssertEqual(firstTwo.series.map(\.key), [Self.hostile, "b"])
        XCTAssertEqual(firstTwo.seriesTotal, 3)
        do {
            _ = try await db.withConnection { db in try loader.load(onlySeries: "nope", on: db) }
            XCTFail("an unknown series")
        } catch ReportError.unknownSeries(let job, let series) {
            XCTAssertEqual([job, series], ["sensors", "nope"])
        }
    }

    func testAJobThatWasNeverTrainedShowsItsSourceSeries() async throws {
        let readings = table("readings")
        try await db.executeScript("""
            CREATE TABLE \(readings) (sensor text, ts timestamptz, reading double precision);
            INSERT INTO \(readings) SELECT 'only', to_timestamp(1700002800) + g * interval '1 hour', g FROM generate_series(0, 479) g;
            """)
        let report = try await db.withConnection { [loader = try loader()] db in try loader.load(on: db) }
        XCTAssertEqual(report.series.map(\.key), ["only"])
        XCTAssertNil(report.series[0].model)
        XCTAssertEqual(report.series[0].history.compactMap(\.value).last, 479)
        let html = ReportPage.html(report)
        XCTAssertTrue(html.contains("No model yet"))
        XCTAssertTrue(html.contains("<polyline class=\"history\""))
    }

    // MARK: - The command and the browser

    func writeConfig(url: String? = nil) throws -> String {
        let path = directory.appendingPathComponent("forecastd.toml").path
        try """
            [database]
            url = "\(try url ?? TestDatabase.url())"
            schema = "\(schema)"
            [daemon]
            metrics_listen = ""
            [[jobs]]
            name = "sensors"
            frequency = "1h"
            horizon = 6
            timezone = "America/New_York"
            [jobs.source]
            table = "\(schema).readings"
            series_column = "sensor"
            time_column = "ts"
            value_column = "reading"
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Runs `forecastd ARGUMENTS` to its end: the exit status and what it printed.
    func forecastd(_ arguments: [String]) throws -> (status: Int32, output: String) {
        var environment = ProcessInfo.processInfo.environment
        environment["FORECASTD_MIGRATIONS"] = DaemonProcess.migrations
        return try run(DaemonProcess.binary, arguments, environment: environment, seconds: 120)
    }

    func run(_ path: String, _ arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment,
             seconds: Double) throws -> (status: Int32, output: String) {
        let log = directory.appendingPathComponent("output-\(UUID()).log").path
        let pid = try DaemonProcess.spawn(path, arguments: arguments, environment: environment.map { "\($0.key)=\($0.value)" },
                                          output: log, newGroup: true)
        let deadline = Date() + seconds
        var status: Int32 = 0
        while true {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid { break }
            if reaped < 0 && errno != EINTR { throw POSIXError(.ECHILD) }
            if Date() > deadline {
                kill(-pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                throw TimedOut(command: ([path] + arguments).joined(separator: " "), seconds: seconds,
                               output: (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
            }
            usleep(50_000)
        }
        // A browser may leave helpers behind in its group; they are of no further use.
        kill(-pid, SIGKILL)
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        let signal = status & 0x7f
        return (signal == 0 ? (status >> 8) & 0xff : 128 + signal, output)
    }

    func testTheCommandWritesTheReportAndFailsClearly() async throws {
        try await loadReadingsAndTrain()
        let config = try writeConfig()
        let file = directory.appendingPathComponent("sensors.html").path
        let asOf = ISO8601DateFormatter().string(from: now)
        let written = try forecastd(["report", "sensors", "--config", config, "--output", file, "--as-of", asOf])
        XCTAssertEqual(written.status, 0, written.output)
        XCTAssertTrue(written.output.contains("wrote \(file) (3 series"), written.output)
        let html = try String(contentsOfFile: file, encoding: .utf8)
        XCTAssertTrue(html.contains("<h2 class=\"series-name\">&lt;script&gt;&amp;&quot;x&quot;</h2>"))
        XCTAssertEqual(html.components(separatedBy: "<section class=\"series\"").count - 1, 3)
        XCTAssertFalse(html.contains("<script"))
        XCTAssertFalse(html.contains("://"))

        let one = try forecastd(["--config", config, "report", "sensors", "--series", "flat", "--output", file, "--as-of", asOf])
        XCTAssertEqual(one.status, 0, one.output)
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8).components(separatedBy: "<section class=\"series\"").count - 1, 1)

        let unknownJob = try forecastd(["report", "nosuchjob", "--config", config, "--output", file])
        XCTAssertEqual(unknownJob.status, 2, unknownJob.output)
        XCTAssertTrue(unknownJob.output.contains("no job named \"nosuchjob\""), unknownJob.output)
        let unknownSeries = try forecastd(["report", "sensors", "--config", config, "--series", "zz", "--output", file, "--as-of", asOf])
        XCTAssertEqual(unknownSeries.status, 2, unknownSeries.output)
        XCTAssertTrue(unknownSeries.output.contains("job \"sensors\" has no series \"zz\""), unknownSeries.output)
        let noOutput = try forecastd(["report", "sensors", "--config", config])
        XCTAssertEqual(noOutput.status, 2, noOutput.output)
        let badPath = try forecastd(["report", "sensors", "--config", config, "--output", "/nonexistent-dir/x.html", "--as-of", asOf])
        XCTAssertEqual(badPath.status, 1, badPath.output)
        XCTAssertTrue(badPath.output.contains("job \"sensors\": cannot write the report to /nonexistent-dir/x.html"), badPath.output)
        let unreachable = try forecastd(["report", "sensors", "--config", try writeConfig(url: "postgresql://127.0.0.1:1/none?connect_timeout=5"),
                                         "--output", file])
        XCTAssertEqual(unreachable.status, 1, unreachable.output)
        XCTAssertTrue(unreachable.output.contains("cannot connect to the database"), unreachable.output)
    }

    /// Headless Chromium takes a screenshot of the report: it is not blank, and each series
    /// heading was laid out visibly and painted where the browser put it.
    func testHeadlessChromiumRendersTheReport() async throws {
        guard let chromium = Self.chromium() else {
            XCTFail("chromium is not installed (looked for chromium, chromium-browser, google-chrome in PATH): "
                    + "run scripts/install-deps.sh, which installs Debian's chromium package")
            return
        }
        try await loadReadingsAndTrain()
        let file = directory.appendingPathComponent("sensors.html").path
        let written = try forecastd(["report", "sensors", "--config", try writeConfig(), "--output", file,
                                     "--as-of", ISO8601DateFormatter().string(from: now)])
        XCTAssertEqual(written.status, 0, written.output)
        let html = try String(contentsOfFile: file, encoding: .utf8)

        let size = (width: 1280, height: 1400)
        let browser = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--force-device-scale-factor=1",
                       "--no-first-run", "--user-data-dir=\(directory.appendingPathComponent("chromium").path)",
                       "--window-size=\(size.width),\(size.height)"]
        let screenshot = directory.appendingPathComponent("report.png").path
        let shot = try run(chromium, browser + ["--screenshot=\(screenshot)", "file://\(file)"], seconds: 180)
        XCTAssertEqual(shot.status, 0, shot.output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: screenshot), "no screenshot: \(shot.output)")
        // FORECASTD_TEST_ARTIFACTS=DIR keeps the page and its screenshot for a person to look at.
        if let keep = ProcessInfo.processInfo.environment["FORECASTD_TEST_ARTIFACTS"], !keep.isEmpty {
            try? FileManager.default.createDirectory(atPath: keep, withIntermediateDirectories: true)
            for (from, name) in [(file, "report.html"), (screenshot, "report.png")] {
                try? FileManager.default.removeItem(atPath: keep + "/" + name)
                try? FileManager.default.copyItem(atPath: from, toPath: keep + "/" + name)
            }
        }

        // The same page with a probe appended (and the no-script policy taken out for it) reports
        // where each series heading is and whether it can be seen.
        let probe = """
            <script>
            const found = [...document.querySelectorAll('h2.series-name')].map(h => {
              // The text's own box: a heading's block spans the page however short its text.
              const range = document.createRange();
              range.selectNodeContents(h);
              const r = range.getBoundingClientRect(), s = getComputedStyle(h);
              return {text: h.textContent, x: r.x, y: r.y, w: r.width, h: r.height, color: s.color,
                      visible: s.display !== 'none' && s.visibility === 'visible' && +s.opacity > 0 && r.width > 0 && r.height > 0};
            });
            const svgs = document.querySelectorAll('svg.chart').length;
            document.body.insertAdjacentHTML('beforeend', '<pre id="probe">PROBE' + encodeURIComponent(JSON.stringify({found, svgs})) + 'PROBE</pre>');
            </script>
            """
        let probePage = directory.appendingPathComponent("probe.html").path
        try html.replacingOccurrences(of: #"<meta http-equiv="Content-Security-Policy""#, with: "<meta name=\"csp-removed-for-probe\"")
            .replacingOccurrences(of: "</body>", with: probe + "</body>")
            .write(toFile: probePage, atomically: true, encoding: .utf8)
        let dom = try run(chromium, browser + ["--dump-dom", "file://\(probePage)"], seconds: 180)
        XCTAssertEqual(dom.status, 0, dom.output)
        let encoded = try XCTUnwrap(dom.output.components(separatedBy: "PROBE").dropFirst().first(where: { $0.hasPrefix("%7B") }),
                                    "the probe did not run: \(dom.output.suffix(2000))")
        struct Heading: Decodable { var text: String; var x, y, w, h: Double; var color: String; var visible: Bool }
        struct Probe: Decodable { var found: [Heading]; var svgs: Int }
        let result = try JSONDecoder().decode(Probe.self, from: Data(try XCTUnwrap(encoded.removingPercentEncoding).utf8))
        XCTAssertEqual(result.found.map(\.text), [Self.hostile, "b", "flat"], "the names as text, not markup")
        XCTAssertTrue(result.found.allSatisfy(\.visible), "\(result.found)")
        XCTAssertGreaterThanOrEqual(result.svgs, 3, "a chart per series at least")

        // Pixels: the page is not blank, and the headings inside the screenshot are painted.
        var arguments = [Self.pngStats, screenshot]
        let onScreen = result.found.filter { $0.y + $0.h <= Double(size.height) }
        XCTAssertFalse(onScreen.isEmpty, "the first heading lies within the first screen: \(result.found)")
        arguments += onScreen.map { "\(Int($0.x)),\(Int($0.y)),\(Int($0.w.rounded(.up))),\(Int($0.h))" }
        let stats = try run(Self.python(), arguments, seconds: 120)
        XCTAssertEqual(stats.status, 0, stats.output)
        struct Pixels: Decodable { var width, height: Int; var ink: Double; var colours: Int; var rects: [Double] }
        let pixels = try JSONDecoder().decode(Pixels.self, from: Data(stats.output.utf8))
        XCTAssertEqual([pixels.width, pixels.height], [size.width, size.height])
        XCTAssertGreaterThan(pixels.ink, 0.02, "a blank page has almost no pixels off its background: \(pixels)")
        XCTAssertGreaterThan(pixels.colours, 50, "lines, a band and anti-aliased text: \(pixels)")
        for (heading, ink) in zip(onScreen, pixels.rects) {
            XCTAssertGreaterThan(ink, 0.03, "heading \(heading.text) is painted in the screenshot")
        }
    }

    struct TimedOut: Error, CustomStringConvertible {
        var command: String
        var seconds: Double
        var output: String
        var description: String { "\(command) did not finish within \(Int(seconds)) s; its output: \(output.suffix(2000))" }
    }

    static var pngStats: String {
        URL(fileURLWithPath: #filePath).appendingPathComponent("../../Support/png_stats.py").standardized.path
    }

    static func executable(_ names: [String]) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") + ["/usr/bin", "/usr/local/bin"] {
            for name in names {
                let candidate = "\(directory)/\(name)"
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            }
        }
        return nil
    }

    static func chromium() -> String? { executable(["chromium", "chromium-browser", "google-chrome"]) }
    static func python() -> String { executable(["python3"]) ?? "/usr/bin/python3" }
}
