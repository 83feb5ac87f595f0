/// How forecastd's log events become lines: `<N>`-prefixed lines for journald (which turns the
/// prefix into the entry's priority), plain text, or one JSON object per line, always one line
/// per event, with job, series and run first so a grep or a journal filter finds them.
///
/// Owned here, not taken from a logging package, because the format is part of what operators
/// script against and the package uses swift-log only. Handlers write to an injectable sink so
/// tests read exactly what an operator would see.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ForecastConfig
import Foundation
import Logging

/// The shape of a log line.
public enum LogLineStyle: String, Sendable {
    /// `<6>message key=value`: stderr connected to journald, which adds time and unit itself.
    case journald
    /// `2026-04-01T12:00:00.000Z info message key=value`.
    case text
    /// `{"ts":"...","level":"info","msg":"...","job":"..."}`.
    case json
}

/// Where finished lines go. A line arrives whole, newline included, so a sink can write it in
/// one call and concurrent events never interleave.
public protocol LogSink: Sendable {
    func write(_ line: String)
}

/// Writes to a file descriptor (stderr by default) with one write(2) per line under a
/// process-wide lock: lines longer than PIPE_BUF would otherwise interleave between threads.
public struct FileDescriptorSink: LogSink {
    public let fd: Int32
    private static let lock = NSLock()

    public init(fd: Int32 = STDERR_FILENO) { self.fd = fd }

    public func write(_ line: String) {
        let bytes = Array(line.utf8)
        Self.lock.withLock {
            bytes.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    #if canImport(Glibc)
                    let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                    #else
                    let n = Darwin.write(fd, raw.baseAddress! + offset, raw.count - offset)
                    #endif
                    if n < 0 && errno == EINTR { continue }
                    // A closed or broken stderr cannot be reported anywhere; the event is
                    // dropped rather than letting logging take the daemon down.
                    guard n > 0 else { return }
                    offset += n
                }
            }
        }
    }
}

/// The level shared by every handler that ForecastdLogging made, so a configuration reload can
/// change it at run time. A level set on one Logger still applies to that Logger only.
public final class SharedLogLevel: @unchecked Sendable {
    private let lock = NSLock()
    private var level: Logger.Level

    public init(_ level: Logger.Level) { self.level = level }

    public var value: Logger.Level {
        get { lock.withLock { level } }
        set { lock.withLock { level = newValue } }
    }
}

/// One swift-log handler for all three styles; they differ only in how a line is rendered.
public struct LineLogHandler: LogHandler {
    public let label: String
    public let style: LogLineStyle
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    private let sink: any LogSink
    private let sharedLevel: SharedLogLevel
    private var ownLevel: Logger.Level?
    private let clock: @Sendable () -> Date

    public init(
        label: String, style: LogLineStyle, level: SharedLogLevel, sink: any LogSink = FileDescriptorSink(),
        metadataProvider: Logger.MetadataProvider? = nil, clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.label = label
        self.style = style
        self.sharedLevel = level
        self.sink = sink
        self.metadataProvider = metadataProvider
        self.clock = clock
    }

    public var logLevel: Logger.Level {
        get { ownLevel ?? sharedLevel.value }
        set { ownLevel = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        // Later sources win: the handler's own, then the provider's (task-local context), then
        // the call site's.
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let given = event.metadata { merged.merge(given) { $1 } }
        if let error = event.error, merged["error"] == nil { merged["error"] = "\(error)" }
        sink.write(LogLineFormat.line(
            style: style, date: clock(), level: event.level, label: label,
            message: event.message.description, metadata: merged))
    }
}

/// Rendering of one event; pure, so tests can pin the exact text.
public enum LogLineFormat {
    /// The keys that lead every line, in this order; the rest follow sorted.
    public static let leadingKeys = ["job", "series", "run"]

    public static func line(
        style: LogLineStyle, date: Date, level: Logger.Level, label: String,
        message: String, metadata: Logger.Metadata
    ) -> String {
        let keys = orderedKeys(metadata)
        switch style {
        case .journald:
            return "<\(syslogPriority(level))>" + oneLine(message) + pairs(keys, metadata) + "\n"
        case .text:
            return timestamp(date) + " " + level.rawValue + " " + oneLine(message) + pairs(keys, metadata) + "\n"
        case .json:
            var out = "{\"ts\":" + jsonString(timestamp(date)) + ",\"level\":" + jsonString(level.rawValue)
                + ",\"msg\":" + jsonString(message) + ",\"logger\":" + jsonString(label)
            for key in keys {
                // Metadata never overwrites the fixed fields a log shipper parses.
                let name = ["ts", "level", "msg", "logger"].contains(key) ? "meta." + key : key
                out += "," + jsonString(name) + ":" + jsonValue(metadata[key]!)
            }
            return out + "}\n"
        }
    }

    /// syslog(3) priorities as journald reads them from a `<N>` prefix.
    public static func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    static func orderedKeys(_ metadata: Logger.Metadata) -> [String] {
        leadingKeys.filter { metadata[$0] != nil }
            + metadata.keys.filter { !leadingKeys.contains($0) }.sorted()
    }

    /// RFC 3339 in UTC with milliseconds, e.g. 2026-04-01T12:00:00.123Z.
    static func timestamp(_ date: Date) -> String {
        let interval = date.timeIntervalSince1970
        var seconds = time_t(interval.rounded(.down))
        let millis = min(999, Int(((interval - Double(seconds)) * 1000).rounded(.down)))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return pad(parts.tm_year + 1900, 4) + "-" + pad(parts.tm_mon + 1, 2) + "-" + pad(parts.tm_mday, 2)
            + "T" + pad(parts.tm_hour, 2) + ":" + pad(parts.tm_min, 2) + ":" + pad(parts.tm_sec, 2)
            + "." + pad(Int32(millis), 3) + "Z"
    }

    // MARK: key=value lines

    private static func pairs(_ keys: [String], _ metadata: Logger.Metadata) -> String {
        var out = ""
        for key in keys {
            out += " " + key + "=" + quotedIfNeeded(metadata[key]!.description)
        }
        return out
    }

    /// A line break inside a message would split one event into several journal entries.
    static func oneLine(_ text: String) -> String {
        guard text.contains(where: { $0 == "\n" || $0 == "\r" }) else { return text }
        return text.replacingOccurrences(of: "\r\n", with: "\\n")
            .replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\r", with: "\\r")
    }

    /// Bare when that parses back unambiguously, else double-quoted with backslash escapes.
    static func quotedIfNeeded(_ value: String) -> String {
        let plain = !value.isEmpty && value.unicodeScalars.allSatisfy {
            $0.value > 0x20 && $0 != "\"" && $0 != "\\" && $0 != "=" && $0.value != 0x7F
        }
        if plain { return value }
        return quoted(value, isControl: { $0 < 0x20 || $0 == 0x7F }) { "\\u{" + String($0, radix: 16) + "}" }
    }

    /// `text` in double quotes with `"`, `\`, newline, return and tab backslash-escaped, and the
    /// other control characters written by `escape`: the one escaper of text and JSON lines.
    static func quoted(_ text: String, isControl: (UInt32) -> Bool, escape: (UInt32) -> String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where isControl(scalar.value): out += escape(scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    // MARK: JSON

    static func jsonString(_ text: String) -> String {
        quoted(text, isControl: { $0 < 0x20 }) { value in
            let hex = String(value, radix: 16)
            return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        }
    }

    /// Numbers and booleans stay typed so a log query can compare them; everything else,
    /// including non-finite doubles that JSON cannot carry, is a string.
    static func jsonValue(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let text):
            return jsonString(text)
        case .stringConvertible(let item):
            switch item {
            case let flag as Bool: return flag ? "true" : "false"
            case let number as any BinaryInteger: return "\(number)"
            case let number as Double where number.isFinite: return "\(number)"
            case let number as Float where number.isFinite: return "\(number)"
            default: return jsonString(item.description)
            }
        case .array(let items):
            return "[" + items.map(jsonValue).joined(separator: ",") + "]"
        case .dictionary(let entries):
            return "{" + entries.keys.sorted().map { jsonString($0) + ":" + jsonValue(entries[$0]!) }
                .joined(separator: ",") + "}"
        }
    }
}

/// Process-wide logging for forecastd: picks the style and installs the handlers once.
public enum ForecastdLogging {
    private static let state = BootstrapState()

    /// journald when systemd connected stderr to the journal (`$JOURNAL_STREAM` set), else the
    /// configured format. Checked by presence only, as the daemon's tests set it by hand.
    public static func style(format: LogFormat, environment: [String: String]) -> LogLineStyle {
        if let stream = environment["JOURNAL_STREAM"], !stream.isEmpty { return .journald }
        switch format {
        case .text: return .text
        case .json: return .json
        }
    }

    /// A handler factory for LoggingSystem.bootstrap, exposed so tests can route it to a buffer.
    public static func makeFactory(
        style: LogLineStyle, level: SharedLogLevel, sink: any LogSink = FileDescriptorSink(),
        clock: @escaping @Sendable () -> Date = { Date() }
    ) -> @Sendable (String, Logger.MetadataProvider?) -> any LogHandler {
        { label, provider in
            LineLogHandler(label: label, style: style, level: level, sink: sink, metadataProvider: provider, clock: clock)
        }
    }

    /// Installs forecastd's handlers on stderr. swift-log accepts one bootstrap per process, so
    /// later calls only change the level (e.g. after a configuration reload); the style stays.
    /// Returns the style in use.
    @discardableResult
    public static func bootstrap(
        format: LogFormat, level: LogLevel,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> LogLineStyle {
        let wanted = style(format: format, environment: environment)
        return state.once(level: Logger.Level(level)) { shared in
            LoggingSystem.bootstrap(makeFactory(style: wanted, level: shared), metadataProvider: nil)
            return wanted
        }
    }

    /// Changes the level of every handler made by `bootstrap`, e.g. on SIGHUP.
    public static func setLevel(_ level: LogLevel) {
        state.setLevel(Logger.Level(level))
    }
}

extension Logger.Level {
    /// The configuration's level names are swift-log's, one for one.
    public init(_ level: LogLevel) {
        self = Logger.Level(rawValue: level.rawValue) ?? .info
    }
}

private final class BootstrapState: @unchecked Sendable {
    private let lock = NSLock()
    private var installed: (style: LogLineStyle, level: SharedLogLevel)?

    func once(level: Logger.Level, install: (SharedLogLevel) -> LogLineStyle) -> LogLineStyle {
        lock.withLock {
            if let installed {
                installed.level.value = level
                return installed.style
            }
            let shared = SharedLogLevel(level)
            let style = install(shared)
            installed = (style, shared)
            return style
        }
    }

    func setLevel(_ level: Logger.Level) {
        lock.withLock { installed?.level.value = level }
    }
}
