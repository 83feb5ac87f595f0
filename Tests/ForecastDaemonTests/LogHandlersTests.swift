/// forecastd's log lines as an operator sees them: journald priorities, text and JSON lines,
/// the order of job/series/run, escaping, levels, and the choice of style from the environment.
import Foundation
import Logging
import XCTest
@testable import ForecastConfig
@testable import ForecastDaemon

final class LogHandlersTests: XCTestCase {
    /// 2026-04-01T12:34:56.789Z
    private static let fixedDate = Date(timeIntervalSince1970: 1_775_046_896.789)

    private func logger(_ style: LogLineStyle, level: Logger.Level = .trace,
                        provider: Logger.MetadataProvider? = nil) -> (Logger, LogBuffer) {
        let buffer = LogBuffer()
        let factory = ForecastdLogging.makeFactory(style: style, level: SharedLogLevel(level), sink: buffer,
                                                   clock: { Self.fixedDate })
        return (Logger(label: "forecastd", factory: { factory($0, provider) }), buffer)
    }

    func testJournaldLinesCarrySyslogPriorities() {
        let (log, buffer) = logger(.journald)
        log.trace("t"); log.debug("d"); log.info("i"); log.notice("n")
        log.warning("w"); log.error("e"); log.critical("c")
        XCTAssertEqual(buffer.lines, ["<7>t", "<7>d", "<6>i", "<5>n", "<4>w", "<3>e", "<2>c"])
    }

    func testJobSeriesAndRunLeadThenTheRestSorted() {
        var (log, buffer) = logger(.journald)
        log[metadataKey: "run"] = "42"
        log[metadataKey: "job"] = "nyc_temperature"
        log.info("unit trained", metadata: ["zeta": "1", "series": "KNYC", "alpha": "x y", "epochs": "50"])
        XCTAssertEqual(buffer.lines, ["<6>unit trained job=nyc_temperature series=KNYC run=42 alpha=\"x y\" epochs=50 zeta=1"])
    }

    func testTextLine() {
        let (log, buffer) = logger(.text)
        log.warning("series skipped", metadata: ["series": "a", "job": "j", "reason": "too short"])
        XCTAssertEqual(buffer.lines, ["2026-04-01T12:34:56.789Z warning series skipped job=j series=a reason=\"too short\""])
    }

    func testTextAndJournaldKeepOneLinePerEvent() {
        let (log, buffer) = logger(.text)
        log.error("first\nsecond", metadata: ["error": "syntax error at \"FROM\"\nLINE 1: ...", "path": "C:\\x", "empty": ""])
        XCTAssertEqual(buffer.lines, [
            "2026-04-01T12:34:56.789Z error first\\nsecond empty=\"\" error=\"syntax error at \\\"FROM\\\"\\nLINE 1: ...\" path=\"C:\\\\x\"",
        ])
        XCTAssertEqual(buffer.text.filter { $0 == "\n" }.count, 1)
    }

    func testJSONLineWithEscaping() throws {
        var (log, buffer) = logger(.json)
        log[metadataKey: "job"] = "temps"
        log.info("say \"hi\"\n\tbye\u{1}", metadata: [
            "series": "a\\b", "run": .stringConvertible(7), "loss": .stringConvertible(0.25),
            "ok": .stringConvertible(true), "nan": .stringConvertible(Double.nan),
            "tags": ["x", "y"], "more": ["k": "v"], "msg": "clash",
        ])
        XCTAssertEqual(buffer.lines, [
            #"{"ts":"2026-04-01T12:34:56.789Z","level":"info","msg":"say \"hi\"\n\tbye\u0001","logger":"forecastd","#
                + #""job":"temps","series":"a\\b","run":7,"loss":0.25,"more":{"k":"v"},"meta.msg":"clash","nan":"nan","ok":true,"tags":["x","y"]}"#,
        ])
        // And a real JSON parser agrees.
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(buffer.lines[0].utf8)) as? [String: Any])
        XCTAssertEqual(object["msg"] as? String, "say \"hi\"\n\tbye\u{1}")
        XCTAssertEqual(object["series"] as? String, "a\\b")
        XCTAssertEqual(object["run"] as? Int, 7)
        XCTAssertEqual(object["meta.msg"] as? String, "clash")
    }

    func testLevelsFilterAndCanChangeAtRunTime() {
        let shared = SharedLogLevel(.info)
        let buffer = LogBuffer()
        let factory = ForecastdLogging.makeFactory(style: .journald, level: shared, sink: buffer)
        var log = Logger(label: "forecastd", factory: { factory($0, nil) })
        log.debug("hidden"); log.info("shown")
        shared.value = .debug
        log.debug("now shown")
        log.logLevel = .error  // this logger only
        log.warning("hidden again")
        let other = Logger(label: "other", factory: { factory($0, nil) })
        other.debug("other still at the shared level")
        XCTAssertEqual(buffer.lines, ["<6>shown", "<7>now shown", "<7>other still at the shared level"])
    }

    func testMetadataProviderAndErrorsAreIncluded() {
        let provider = Logger.MetadataProvider { ["host": "db1", "job": "from-provider"] }
        let (log, buffer) = logger(.journald, provider: provider)
        log.info("a", metadata: ["job": "from-call"])
        XCTAssertEqual(buffer.lines, ["<6>a job=from-call host=db1"])
    }

    func testStyleFollowsJournalStreamThenFormat() {
        XCTAssertEqual(ForecastdLogging.style(format: .json, environment: ["JOURNAL_STREAM": "8:12345"]), .journald)
        XCTAssertEqual(ForecastdLogging.style(format: .text, environment: ["JOURNAL_STREAM": "8:12345"]), .journald)
        XCTAssertEqual(ForecastdLogging.style(format: .json, environment: [:]), .json)
        XCTAssertEqual(ForecastdLogging.style(format: .text, environment: ["JOURNAL_STREAM": ""]), .text)
    }

    func testTimestampFormat() {
        XCTAssertEqual(LogLineFormat.timestamp(Date(timeIntervalSince1970: 0)), "1970-01-01T00:00:00.000Z")
        XCTAssertEqual(LogLineFormat.timestamp(Self.fixedDate), "2026-04-01T12:34:56.789Z")
    }

    func testConfiguredLevelsMapOneForOne() {
        for level in LogLevel.allCases { XCTAssertEqual(Logger.Level(level).rawValue, level.rawValue) }
    }

    func testConcurrentLoggingKeepsLinesWhole() async {
        let (log, buffer) = logger(.json)
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<50 { group.addTask { log.info("event \(i)", metadata: ["pad": "\(String(repeating: "x", count: 5000))"]) } }
        }
        XCTAssertEqual(buffer.lines.count, 50)
        for line in buffer.lines { XCTAssertNotNil(try? JSONSerialization.jsonObject(with: Data(line.utf8))) }
    }

    func testFileDescriptorSinkWritesWholeLines() throws {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        defer { close(fds[0]) }
        let sink = FileDescriptorSink(fd: fds[1])
        sink.write("<6>hello\n")
        close(fds[1])
        let data = FileHandle(fileDescriptor: fds[0]).readDataToEndOfFile()
        XCTAssertEqual(String(decoding: data, as: UTF8.self), "<6>hello\n")
    }
}

/// A sink that keeps what was written, for assertions.
final class LogBuffer: LogSink, @unchecked Sendable {
    private let lock = NSLock()
    private var written = ""

    func write(_ line: String) { lock.withLock { written += line } }

    var text: String { lock.withLock { written } }
    /// Lines without their newline; every write must have ended with exactly one.
    var lines: [String] { text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init) }
}
