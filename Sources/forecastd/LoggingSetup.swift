/// The command line's entry to logging: every command that logs calls this once it has read
/// the configuration. Formatting and the journald/text/JSON choice live in
/// ForecastDaemon/LogHandlers.swift, so the daemon and its tests share them.
import Foundation
import ForecastConfig
import ForecastDaemon

enum LoggingSetup {
    /// Safe to call more than once: only the first call installs handlers (swift-log allows
    /// one bootstrap per process); later ones apply the level, as a reload would.
    static func bootstrap(_ daemon: DaemonSettings) {
        ForecastdLogging.bootstrap(format: daemon.logFormat, level: daemon.logLevel,
                                   environment: ProcessInfo.processInfo.environment)
    }
}
