#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import XCTest
@testable import ForecastService

/// The Prometheus text format, the service's counters and the small HTTP server, without a database.
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

final class HTTPServerTests: XCTestCase {
    var server: HTTPServer!

    override func setUp() async throws {
        server = try HTTPServer(host: "127.0.0.1", port: 0) { request in
            HTTPResponse(status: request.path == "/hello" ? 200 : 404, body: "you asked for \(request.path)\n")
        }
        server.requestTimeout = 1
        server.start()
    }

    override func tearDown() async throws { server.stop() }

    func testGetHeadAndErrors() throws {
        var answer = try HTTPTestClient.request(port: server.port, "GET /hello?x=1 HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertEqual(answer.status, 200)
        XCTAssertEqual(answer.body, "you asked for /hello\n")
        XCTAssertEqual(answer.headers["content-length"], "21")
        XCTAssertEqual(answer.headers["connection"], "close")

        answer = try HTTPTestClient.request(port: server.port, "HEAD /hello HTTP/1.1\r\n\r\n")
        XCTAssertEqual(answer.status, 200)
        XCTAssertEqual(answer.body, "")
        XCTAssertEqual(answer.headers["content-length"], "21", "a HEAD answer tells the GET body's length")

        XCTAssertEqual(try HTTPTestClient.request(port: server.port, "GET /other HTTP/1.1\r\n\r\n").status, 404)
        answer = try HTTPTestClient.request(port: server.port, "POST /hello HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(answer.status, 405)
        XCTAssertEqual(answer.headers["allow"], "GET, HEAD")
        XCTAssertEqual(try HTTPTestClient.request(port: server.port, "nonsense\r\n\r\n").status, 400)
        let huge = "GET /hello HTTP/1.1\r\nX-Padding: " + String(repeating: "a", count: 20_000) + "\r\n\r\n"
        XCTAssertEqual(try HTTPTestClient.request(port: server.port, huge).status, 431)
    }

    func testAClientThatNeverFinishesItsRequestIsCutOff() throws {
        let answer = try HTTPTestClient.request(port: server.port, "GET /hello HTTP/1.1\r\n")
        XCTAssertEqual(answer.status, 408)
        // The server still serves others afterwards.
        XCTAssertEqual(try HTTPTestClient.request(port: server.port, "GET /hello HTTP/1.1\r\n\r\n").status, 200)
    }

    func testAnAddressInUseIsAnErrorThatNamesIt() {
        XCTAssertThrowsError(try HTTPServer(host: "127.0.0.1", port: server.port) { _ in HTTPResponse(status: 200, body: "") }) { error in
            XCTAssertTrue("\(error)".contains("127.0.0.1:\(server.port)"), "\(error)")
            XCTAssertTrue("\(error)".lowercased().contains("in use"), "\(error)")
        }
    }
}

/// Sends raw bytes to a local port and reads the whole answer (the server closes the connection).
enum HTTPTestClient {
    struct Answer {
        var status: Int
        var headers: [String: String]
        var body: String
    }

    static func get(port: Int, _ path: String) throws -> Answer {
        try request(port: port, "GET \(path) HTTP/1.1\r\nHost: localhost\r\n\r\n")
    }

    static func request(port: Int, _ raw: String) throws -> Answer {
        #if os(Linux)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw POSIXError(.EIO) }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .ECONNREFUSED) }
        let bytes = Array(raw.utf8)
        // The server may answer (and close) before a too-large request is all sent.
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { break }
            received += buffer[..<count]
        }
        let text = String(decoding: received, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw POSIXError(.EBADMSG) }
        let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
        let status = Int(lines[0].split(separator: " ")[1]) ?? 0
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return Answer(status: status, headers: headers, body: String(text[split.upperBound...]))
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
