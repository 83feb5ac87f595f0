import ArgumentParser
import ForecastConfig
import ForecastStore
import ForecastJobs
import ForecastDaemon
import Forecasting
import Foundation
import HTTPServing
import Logging
import NeuralNet
import PostgresClient

/// Shared by the commands that run a job's work now.
struct JobContext {
    let configuration: Configuration
    let connection: PostgresConnection
    let logger: Logger

    /// `opensRuns`: the command will open runs, so the runs of this host's dead processes are
    /// closed first (see `closeRunsOfDeadProcesses`).
    static func open(_ options: ConfigOptions, opensRuns: Bool = true) async throws -> JobContext {
        let configuration = try options.load()
        LoggingSetup.bootstrap(configuration.daemon)
        let connection = try await Database.connect(configuration.database)
        let status = try await Migrator(schema: configuration.database.schema,
                                        files: try MigrationFile.load(directory: MigrationFile.defaultDirectory())).status(on: connection)
        guard status.isCurrent else {
            throw CommandFailure(message: "the database schema is not current (pending: \(status.pending.joined(separator: ", "))); run `forecastd migrate` first")
        }
        let context = JobContext(configuration: configuration, connection: connection, logger: Logger(label: "forecastd"))
        if opensRuns { try await context.closeRunsOfDeadProcesses() }
        return context
    }

    /// Fails the runs that processes of this host which no longer exist left `running`, before
    /// this command opens runs of its own (see `RunLog.abandonDeadProcesses`).
    func closeRunsOfDeadProcesses() async throws {
        let runLog = RunLog(configuration.database)
        let closed = try await connection.withConnection { try runLog.abandonDeadProcesses(on: $0) }
        if closed > 0 { logger.warning("closed \(closed) run(s) left running by processes of this host that are gone") }
    }

    /// Runs a one-off command's work so that it never leaves its runs `running`. SIGTERM,
    /// SIGINT or SIGHUP close them as failed ("stopped by SIGTERM") and end the process with
    /// 128 + the signal; an error closes them as failed with the error, and when the connection
    /// was lost (a PostgreSQL restart) it waits for the database to answer again to do so. Runs
    /// it cannot close are closed by the next start-up on this host (`abandonDeadProcesses`),
    /// or on another once its session lock is gone.
    func closingRuns<T>(_ body: () async throws -> T) async throws -> T {
        let database = configuration.database, logger = self.logger
        let signals = StopSignals([SIGTERM, SIGINT, SIGHUP]) { number in
            let name = StopSignals.name(number)
            logger.warning("\(name) received: closing this command's run(s) as failed and exiting")
            // However the database behaves, the process ends.
            DispatchQueue.global().asyncAfter(deadline: .now() + 10) { fflush(nil); _exit(128 + number) }
            Task.detached {
                _ = await JobContext.closeOwnRuns(database, reason: "stopped by \(name)", logger: logger, patience: 0)
                // _exit: training may be inside OpenBLAS on another thread (see Daemon.requestStop).
                fflush(nil)
                _exit(128 + number)
            }
        }
        defer { withExtendedLifetime(signals) {} }
        do {
            return try await body()
        } catch {
            let lost = !(await connection.isConnected)
            if lost { logger.warning("the database connection was lost; this command's run(s) are closed as failed once it answers again") }
            _ = await Self.closeOwnRuns(database, reason: lost ? "the database connection was lost mid-run: \(error)" : "\(error)",
                                        logger: logger, patience: lost ? 60 : 5)
            throw error
        }
    }

    /// Fails the runs this process left `running`, with `reason`, on a connection of its own
    /// (the command's may be broken or busy), retrying for up to `patience` seconds while the
    /// database does not answer. False when it could not.
    static func closeOwnRuns(_ database: DatabaseSettings, reason: String, logger: Logger, patience: Double) async -> Bool {
        let runLog = RunLog(database), deadline = Date() + patience
        var delay = 1.0
        while true {
            do {
                let db = try await Database.connect(database)
                defer { Task { await db.close() } }
                let closed = try await db.withConnection { db in
                    // A unit's transaction on the command's own connection may hold the run's row
                    // for a moment; never wait on it for long.
                    try db.execute("SET lock_timeout = '5s'")
                    return try runLog.abandon(host: RunLog.currentHost, pid: RunLog.currentPID, reason: reason, on: db)
                }
                if closed > 0 { logger.warning("closed \(closed) run(s) of this command as failed", metadata: ["reason": "\(reason)"]) }
                return true
            } catch {
                guard Date() + delay < deadline else {
                    logger.error("could not close this command's run(s); the next forecastd start-up will", metadata: ["error": "\(error)"])
                    return false
                }
                try? await Task.sleep(for: .seconds(delay))
                delay = min(delay * 2, 15)
            }
        }
    }

    func runner(for name: String, asOf: Date? = nil) throws -> JobRunner {
        guard let job = configuration.job(named: name) else {
            let known = configuration.jobs.map(\.name).joined(separator: ", ")
            throw CommandFailure(message: "no job named \"\(name)\" in \(configuration.path ?? "the configuration") (jobs: \(known))",
                                 status: ExitStatus.badUsageOrConfiguration)
        }
        var runner = JobRunner(job: job, database: configuration.database, logger: logger)
        if let asOf {
            runner.now = { asOf }
            runner.clockName = DataAge.clockName(asOf: asOf)
        }
        return runner
    }

    /// Prints a run the way `runs` records it and turns a failed run into exit status 1.
    func report(_ job: String, _ summary: RunSummary) throws {
        print("\(job): \(summary.kind.rawValue) run \(summary.runID) \(summary.status.rawValue): \(summary.seriesTotal) series, \(summary.seriesFailed) failed, \(summary.pointsRead) points read, \(summary.rowsWritten) rows written")
        for note in summary.notes { print("  note: \(note)") }
        for error in summary.errors.prefix(20) { print("  \(error)") }
        if summary.status == .failed { throw CommandFailure(message: "\(job): the \(summary.kind.rawValue) run failed") }
    }
}

/// `--as-of`: run as if the clock said this time, for backtests on historical data.
struct AsOfOption: ParsableArguments {
    @Option(name: .customLong("as-of"), help: "Act as if it were this time (ISO 8601, e.g. 2013-12-01T00:00:00Z): only rows before it are read.")
    var text: String?

    var date: Date? {
        get throws {
            guard let text else { return nil }
            let withTime = ISO8601DateFormatter()
            let dateOnly = ISO8601DateFormatter()
            dateOnly.formatOptions = [.withFullDate]
            guard let date = withTime.date(from: text) ?? dateOnly.date(from: text) else {
                throw CommandFailure(message: "--as-of: \"\(text)\" is not an ISO 8601 time such as 2013-12-01T00:00:00Z",
                                     status: ExitStatus.badUsageOrConfiguration)
            }
            return date
        }
    }
}

struct Train: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Train a job's models now (and publish their forecasts).")
    @OptionGroup var options: ConfigOptions
    @Argument(help: "The job's name.") var job: String
    @Option(help: "Train only this series.") var series: String?
    @OptionGroup var asOf: AsOfOption

    func run() async throws {
        let context = try await JobContext.open(options)
        let runner = try context.runner(for: job, asOf: try asOf.date)
        try context.report(job, try await context.closingRuns { try await runner.train(on: context.connection, onlySeries: series) })
    }
}

struct Predict: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Forecast a job's series now with their active models.")
    @OptionGroup var options: ConfigOptions
    @Argument(help: "The job's name.") var job: String
    @OptionGroup var asOf: AsOfOption

    func run() async throws {
        let context = try await JobContext.open(options)
        let runner = try context.runner(for: job, asOf: try asOf.date)
        try context.report(job, try await context.closingRuns { try await runner.predict(on: context.connection) })
    }
}

struct BacktestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backtest",
        abstract: "Score the job's settings out of sample on its last backtest_windows horizons, beside seasonal naive.",
        discussion: "The network is trained on the history before the windows only; nothing is published. Scores go to the backtest_results table.")
    @OptionGroup var options: ConfigOptions
    @Argument(help: "The job's name.") var job: String
    @Option(help: "Backtest only this series.") var series: String?
    @OptionGroup var asOf: AsOfOption

    func run() async throws {
        let context = try await JobContext.open(options)
        let runner = try context.runner(for: job, asOf: try asOf.date)
        let (summary, scores) = try await context.closingRuns { try await runner.backtest(on: context.connection, onlySeries: series) }
        if !scores.isEmpty { print(BacktestTable(scores).text) }
        try context.report(job, summary)
    }
}

/// The backtest's scores as an aligned table, with the mean over series last.
struct BacktestTable {
    let scores: [SeriesBacktest]

    init(_ scores: [SeriesBacktest]) { self.scores = scores }

    var text: String {
        let header = ["series", "windows", "mase", "baseline_mase", "skill", "mae", "baseline_mae", "smape", "coverage"]
        func row(_ name: String, _ windows: String, _ m: AccuracyReport, _ b: AccuracyReport) -> [String] {
            [name, windows, f(m.mase), f(b.mase), f(m.skill(against: b)), f(m.mae), f(b.mae), f(m.smape), f(m.coverage)]
        }
        var rows = scores.map { row($0.series, "\($0.result.windows.count)", $0.result.model, $0.result.baseline) }
        if scores.count > 1 {
            let means = ["mase", "baseline_mase", "skill", "mae", "baseline_mae", "smape", "coverage"].map { name in
                let values = scores.compactMap { $0.result.metrics.first { $0.name == name }?.value }.filter(\.isFinite)
                return values.isEmpty ? "-" : f(values.reduce(0, +) / Double(values.count))
            }
            rows.append(["mean of \(scores.count)", ""] + means)
        }
        let widths = header.indices.map { i in ([header] + rows).map { $0[i].count }.max() ?? 0 }
        return ([header] + rows).map { cells in
            cells.enumerated().map { i, cell in
                i == 0 ? cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                       : String(repeating: " ", count: widths[i] - cell.count) + cell
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    private func f(_ value: Double) -> String { value.isFinite ? String(format: "%.3f", value) : "-" }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run every job: with --once, train where no model is active or training is due (which publishes forecasts), else retrain the models the configuration no longer fits and predict, and exit.")
    @OptionGroup var options: ConfigOptions
    @Flag(help: "Run every job once and exit.") var once = false
    @OptionGroup var asOf: AsOfOption

    func validate() throws {
        // The daemon's schedule runs on the wall clock; a replayed clock is for one-off runs.
        if !once && asOf.text != nil { throw ValidationError("--as-of needs --once: the daemon runs on the wall clock") }
    }

    func run() async throws {
        guard once else { return try await runDaemon() }
        let context = try await JobContext.open(options)
        let asOfDate = try asOf.date
        let failed = try await context.closingRuns { () -> [String] in
            var failed: [String] = []
            for job in context.configuration.jobs {
                let runner = try context.runner(for: job.name, asOf: asOfDate)
                for summary in try await runner.runOnce(on: context.connection) {
                    do { try context.report(job.name, summary) } catch { if !failed.contains(job.name) { failed.append(job.name) } }
                }
            }
            return failed
        }
        guard failed.isEmpty else { throw CommandFailure(message: "failed: \(failed.joined(separator: ", "))") }
    }
}

extension Run {
    /// The daemon: runs until SIGTERM or SIGINT; SIGHUP reloads the configuration.
    func runDaemon() async throws {
        let path = Configuration.resolvePath(explicit: options.config)
        let configuration = try Configuration.load(path: path)
        LoggingSetup.bootstrap(configuration.daemon)
        // `concurrency` units at once share the cores (a reload keeps the workers, so this too).
        ComputeThreads.configure(concurrentUnits: configuration.daemon.concurrency)
        let logger = Logger(label: "forecastd")
        let daemon = try Daemon(configuration: configuration, configPath: path, notifier: SystemdNotifier(logger: logger), logger: logger)
        let metricsServer: HTTPServer?
        do { metricsServer = try daemon.startMetricsEndpoint() } catch { throw CommandFailure(message: "\(error)") }
        let signals = SignalHandlers(stop: { daemon.requestStop() }, reload: { daemon.reload() })
        let status = await daemon.run()
        metricsServer?.stop()
        withExtendedLifetime(signals) {}
        if status != 0 { throw CommandFailure(message: "the daemon stopped with status \(status)", status: status) }
    }
}

/// Hands the signals that stop a one-off command to `action` on a dispatch queue, not in a
/// signal handler.
final class StopSignals {
    let sources: [any DispatchSourceSignal]

    init(_ numbers: [Int32], action: @escaping @Sendable (Int32) -> Void) {
        let queue = DispatchQueue(label: "forecastd.stop-signals")
        sources = numbers.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { action(number) }
            source.resume()
            return source
        }
    }

    static func name(_ number: Int32) -> String {
        switch number {
        case SIGTERM: return "SIGTERM"
        case SIGINT: return "SIGINT"
        case SIGHUP: return "SIGHUP"
        default: return "signal \(number)"
        }
    }
}

/// Delivers SIGTERM/SIGINT and SIGHUP to closures on a dispatch queue rather than in a signal
/// handler, where almost nothing is safe to do.
final class SignalHandlers {
    let sources: [any DispatchSourceSignal]

    init(stop: @escaping @Sendable () -> Void, reload: @escaping @Sendable () -> Void) {
        let queue = DispatchQueue(label: "forecastd.signals")
        var sources: [any DispatchSourceSignal] = []
        for (number, action) in [(SIGTERM, stop), (SIGINT, stop), (SIGHUP, reload)] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler(handler: action)
            source.resume()
            sources.append(source)
        }
        self.sources = sources
    }
}
