import ForecastService
import Logging

/// Log lines go to standard error, at the configured level.
enum LoggingSetup {
    nonisolated(unsafe) static var done = false

    static func bootstrap(_ daemon: DaemonSettings) {
        guard !done else { return }
        done = true
        let level = Logger.Level(rawValue: daemon.logLevel.rawValue) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
