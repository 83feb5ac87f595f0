import ForecastConfig
import ForecastJobs
import ForecastStore
import Foundation
import Logging
import PostgresClient

/// `forecastd run`: schedules every job, works the shared queue with `concurrency` workers,
/// answers NOTIFY requests, keeps systemd informed, and stops cleanly.
///
/// Each loop owns its connection and survives the database going away: it logs, reports
/// `STATUS=`, waits with backoff and reconnects; a unit in flight when the connection broke is
/// redone from the queue, never half-written, because its results commit in one transaction.
public final class Daemon: @unchecked Sendable {
    /// How often the scheduler looks at the jobs, and how long idle workers wait before asking
    /// the queue again (a NOTIFY or a scheduled run wakes them sooner).
    public var tickInterval: Duration = .seconds(2)
    public var idlePoll: Duration = .seconds(1)
    /// How long a stop waits for units in flight: a unit whose work ends within it is written
    /// as usual; past it the units still in hand are released and the process exits (systemd's
    /// stop timeout is 30 s in the shipped unit).
    public var stopGrace: Duration = .seconds(15)
    /// How often the database probe behind `/metrics` and `/-/ready` looks at the database.
    public var probeInterval: Duration = .seconds(5)

    let configPath: String
    let notifier: SystemdNotifier?
    let logger: Logger
    /// Identifies this process's leases: host, pid and a random suffix against pid reuse.
    public let owner: String
    /// The counters `/metrics` reports; workers feed them.
    public let metrics: ServiceMetrics
    let health = DaemonHealth()

    private let lock = NSLock()
    private var configuration: Configuration
    private var runners: [String: JobRunner] = [:]
    private var stopping = false
    /// Set when `stopGrace` has run out after a stop: units in hand are no longer written.
    private var pastGrace = false
    private var lastSchedulerBeat = ContinuousClock.now
    private var wakeScheduler = false
    private var shutdownStarted = false

    public init(configuration: Configuration, configPath: String, notifier: SystemdNotifier?, logger: Logger,
                metrics: ServiceMetrics = .shared) throws {
        self.configuration = configuration
        self.configPath = configPath
        self.notifier = notifier
        self.logger = logger
        self.metrics = metrics
        owner = "\(RunLog.currentHost):\(RunLog.currentPID):\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
        runners = Self.runners(for: configuration, logger: logger, metrics: metrics)
        metrics.prepare(jobs: configuration.jobs.map(\.name))
    }

    static func runners(for configuration: Configuration, logger: Logger, metrics: ServiceMetrics) -> [String: JobRunner] {
        var runners: [String: JobRunner] = [:]
        for job in configuration.jobs {
            var runner = JobRunner(job: job, database: configuration.database, logger: logger)
            runner.runObserver = metrics
            runners[job.name] = runner
        }
        return runners
    }

    // MARK: state shared by the loops

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    public var isStopping: Bool { locked { stopping } }
    /// True once a stop's grace period is over: work finished after it is not written.
    public var isPastGrace: Bool { locked { pastGrace } }
    var currentConfiguration: Configuration { locked { configuration } }
    var currentRunners: [String: JobRunner] { locked { runners } }

    public func requestStop() {
        let first = locked { () -> Bool in
            defer { stopping = true }
            return !stopping
        }
        guard first else { return }
        logger.notice("stopping: no new work is claimed")
        notifier?.stopping(status: "stopping: finishing the units in flight")
        // Units in flight finish and are written if their work ends within the grace period
        // (workers stop claiming, and the daemon exits once they are done). Training cannot be
        // interrupted midway: past the grace its units are abandoned (released for another
        // worker) and the process exits without writing them.
        let grace = stopGrace
        Task.detached {
            try? await Task.sleep(for: grace)
            self.locked { self.pastGrace = true }
            guard self.claimShutdown() else { return }
            self.logger.warning("units still in flight after \(grace); abandoning them")
            await self.shutDown()
            // _exit, not exit: the abandoned unit is still inside OpenBLAS on another thread,
            // and exit's handlers free OpenBLAS's buffers under it (a segfault, exit status 139).
            fflush(nil)
            _exit(0)
        }
    }

    /// True for the one caller that gets to run the shutdown.
    func claimShutdown() -> Bool {
        locked {
            defer { shutdownStarted = true }
            return !shutdownStarted
        }
    }

    func beat() { locked { lastSchedulerBeat = .now } }
    var sinceSchedulerBeat: Duration { locked { ContinuousClock.now - lastSchedulerBeat } }
    /// How long the scheduler may stay silent before the process counts as hung.
    var schedulerTolerance: Duration { max(tickInterval * 5, .seconds(10)) }
    func poke() { locked { wakeScheduler = true } }

    /// Reads the configuration file again; a bad file keeps the configuration in force.
    public func reload() {
        notifier?.reloading(status: "reloading \(configPath)")
        do {
            let fresh = try Configuration.load(path: configPath)
            let freshRunners = Self.runners(for: fresh, logger: logger, metrics: metrics)
            let old = currentConfiguration
            if fresh.database != old.database {
                logger.warning("database settings changed; they take effect at the next restart")
            }
            if fresh.daemon.metricsListen != old.daemon.metricsListen {
                logger.warning("daemon.metrics_listen changed; it takes effect at the next restart")
            }
            locked {
                configuration = Configuration(database: old.database, daemon: fresh.daemon, jobs: fresh.jobs, path: fresh.path)
                runners = freshRunners
            }
            ForecastdLogging.setLevel(fresh.daemon.logLevel)
            metrics.prepare(jobs: fresh.jobs.map(\.name))
            logger.notice("configuration reloaded", metadata: ["jobs": "\(fresh.jobs.count)"])
            poke()
        } catch {
            logger.error("configuration not reloaded; the previous one stays in force", metadata: ["error": "\(error)"])
        }
        notifier?.ready(status: statusLine())
    }

    func statusLine() -> String {
        let config = currentConfiguration
        return "\(config.jobs.count) job(s), \(config.daemon.concurrency) worker(s)"
    }

    // MARK: run

    /// Runs until `requestStop()`; returns the process exit status.
    public func run() async -> Int32 {
        logger.notice("forecastd \(ForecastdVersion.version) starting", metadata: ["owner": "\(owner)"])
        guard let control = await connectWhenReady() else { return 0 }
        await closeRunsOfDeadProcesses(on: control)
        notifier?.ready(status: statusLine())
        logger.notice("ready", metadata: ["jobs": "\(currentConfiguration.jobs.count)"])
        health.setLoopsRunning(true)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.schedulerLoop(control) }
            group.addTask { await self.listenerLoop() }
            group.addTask { await self.watchdogLoop() }
            group.addTask { await self.probeLoop() }
            group.addTask { await self.maintenanceLoop() }
            for index in 0..<currentConfiguration.daemon.concurrency {
                group.addTask { await self.workerLoop(index) }
            }
            await group.waitForAll()
        }
        health.setLoopsRunning(false)
        await control.close()
        if claimShutdown() { await shutDown() }
        return 0
    }

    /// Waits for the database and a current schema, reporting why it waits; nil when asked to stop meanwhile.
    func connectWhenReady() async -> PostgresConnection? {
        var delay = 1.0
        while !isStopping {
            beat()
            do {
                let connection = try await Database.connect(currentConfiguration.database)
                let files = try MigrationFile.load(directory: MigrationFile.defaultDirectory())
                let status = try await Migrator(schema: currentConfiguration.database.schema, files: files).status(on: connection)
                health.record(databaseUp: true, schemaCurrent: status.isCurrent)
                if status.isCurrent { return connection }
                report("waiting: the schema is not current (pending \(status.pending.joined(separator: ", "))); run forecastd migrate")
                await connection.close()
            } catch {
                health.record(databaseUp: false, schemaCurrent: false)
                report("waiting for the database: \(error)")
            }
            // Waiting is not hanging: keep systemd's start timeout from running out meanwhile.
            notifier?.extendTimeout(.seconds(delay + 30))
            try? await Task.sleep(for: .seconds(delay))
            delay = min(delay * 2, 30)
        }
        return nil
    }

    /// Fails the runs that processes of this host which no longer exist left `running` (a
    /// daemon or a one-off `train` killed before it could close them); runs with units still
    /// in the queue are left for the workers to finish.
    func closeRunsOfDeadProcesses(on db: PostgresConnection) async {
        let runLog = RunLog(currentConfiguration.database)
        do {
            let closed = try await db.withConnection { try runLog.abandonDeadProcesses(on: $0) }
            if closed > 0 { logger.warning("closed \(closed) run(s) left running by processes of this host that are gone") }
        } catch {
            logger.error("could not close the runs of dead processes", metadata: ["error": "\(error)"])
        }
    }

    func report(_ text: String) {
        logger.warning("\(text)")
        notifier?.status(text)
    }

    /// A connection for one loop: reconnects with backoff while the database is away, beating
    /// the scheduler's heart meanwhile when it is the scheduler asking.
    func reconnect(_ connection: PostgresConnection?, who: String, beats: Bool = false) async -> PostgresConnection? {
        if let connection, await connection.isConnected { return connection }
        await connection?.close()
        var delay = 0.5
        while !isStopping {
            if beats { beat() }
            do {
                let fresh = try await Database.connect(currentConfiguration.database)
                if delay > 0.5 { notifier?.status(statusLine()) }
                return fresh
            } catch {
                report("\(who): database unavailable, retrying in \(Int(delay.rounded(.up)))s: \(error)")
            }
            try? await Task.sleep(for: .seconds(delay))
            delay = min(delay * 2, 30)
        }
        return nil
    }

    // MARK: loops

    func schedulerLoop(_ first: PostgresConnection) async {
        var connection: PostgresConnection? = first
        while !isStopping {
            beat()
            connection = await reconnect(connection, who: "scheduler", beats: true)
            guard let db = connection else { break }
            let config = currentConfiguration
            let scheduler = Scheduler(database: config.database, maxAttempts: config.daemon.maxAttempts, runObserver: metrics)
            do {
                for (name, runner) in currentRunners.sorted(by: { $0.key < $1.key }) {
                    if let queued = try await scheduler.tick(runner, now: Date(), on: db) {
                        logger.info("\(queued)", metadata: ["job": "\(name)"])
                    }
                }
                try await closeFinishedWork(on: db)
            } catch {
                logger.error("scheduler", metadata: ["error": "\(error)"])
            }
            await sleep(tickInterval) { self.locked { let woken = self.wakeScheduler; self.wakeScheduler = false; return woken } }
        }
    }

    /// Fails the units whose workers died on their last attempt (poison units), counting them
    /// in their runs, and closes the runs whose units have all ended: those and any whose last
    /// worker lost its connection before closing it.
    func closeFinishedWork(on db: PostgresConnection) async throws {
        let config = currentConfiguration
        let queue = WorkQueue(config.database), runLog = RunLog(config.database)
        let exhausted = try await db.transaction { tx in
            let failed = try queue.failExhausted(on: tx)
            for (runID, units) in Dictionary(grouping: failed, by: \.runID) {
                try runLog.addCounts(runID: runID, seriesTotal: units.count, seriesFailed: units.count, on: tx)
            }
            return failed
        }
        for unit in exhausted {
            logger.error("unit failed for good", metadata: ["job": "\(unit.job)", "series": "\(unit.unit)", "run": "\(unit.runID)", "error": "\(unit.error)"])
        }
        let drained = try await db.withConnection { try runLog.drainedRuns(on: $0) }
        guard let runner = currentRunners.values.first else { return }
        for runID in Set(exhausted.map(\.runID) + drained).sorted() {
            try await runner.finishRunIfDone(runID, on: db, extraErrors: [])
        }
    }

    func workerLoop(_ index: Int) async {
        var connection: PostgresConnection?
        var logger = self.logger
        logger[metadataKey: "worker"] = "\(index)"
        while !isStopping {
            connection = await reconnect(connection, who: "worker \(index)")
            guard let db = connection else { break }
            let config = currentConfiguration, runners = currentRunners, owner = self.owner
            let lease = Double(config.daemon.leaseSeconds)
            let queue = WorkQueue(config.database)
            let item: WorkItem?
            do {
                item = try await db.withConnection { try queue.claim(owner: owner, lease: lease, jobs: runners.keys.sorted(), on: $0) }
            } catch {
                logger.error("claim failed", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: idlePoll)
                continue
            }
            guard let item, let runner = runners[item.job] else {
                await sleep(idlePoll) { false }
                continue
            }
            notifier?.status("\(statusLine()); working on \(item.job) \(item.kind.rawValue) \(item.unit)")
            // Renew the lease while the unit runs; training happens on its own thread, so this
            // keeps going however long it takes.
            let renewal = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(max(lease / 3, 0.2)))
                    guard !Task.isCancelled else { break }
                    let held = (try? await db.withConnection { try queue.renew(item, owner: owner, lease: lease, on: $0) }) ?? true
                    if !held { logger.warning("lease lost", metadata: ["job": "\(item.job)", "series": "\(item.unit)"]) }
                }
            }
            let started = ContinuousClock.now
            func seconds() -> Double { (ContinuousClock.now - started) / .seconds(1) }
            metrics.unitStarted()
            do {
                let written = try await runner.execute(item, owner: owner, on: db, abandoned: { [weak self] in self?.isPastGrace ?? true })
                metrics.unitSucceeded(job: item.job, kind: item.kind, seconds: seconds(), rowsWritten: written)
            } catch is CancellationError {
                metrics.unitEnded(job: item.job, kind: item.kind, seconds: seconds(), failed: false)
                logger.notice("unit abandoned at shutdown", metadata: ["job": "\(item.job)", "series": "\(item.unit)"])
            } catch {
                metrics.unitEnded(job: item.job, kind: item.kind, seconds: seconds(), failed: true)
                if await db.isConnected {
                    try? await runner.recordFailure(item, owner: owner, error: error, on: db)
                } else {
                    logger.error("database lost during a unit; it will be redone", metadata: ["job": "\(item.job)", "series": "\(item.unit)", "error": "\(error)"])
                }
            }
            renewal.cancel()
            notifier?.status(statusLine())
        }
        await connection?.close()
    }

    /// `NOTIFY forecastd, '{"job": "...", "action": "train" | "predict"}'` makes that work due now.
    func listenerLoop() async {
        var connection: PostgresConnection?
        var listening = false
        while !isStopping {
            let previous = connection
            connection = await reconnect(connection, who: "listener")
            guard let db = connection else { break }
            if db !== previous { listening = false }
            do {
                if !listening {
                    try await db.listen("forecastd")
                    listening = true
                }
                guard let message = try await db.waitForNotification(timeout: .seconds(1)) else { continue }
                try await handle(message.payload, on: db)
            } catch {
                logger.error("listener", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
        await connection?.close()
    }

    struct Request: Decodable {
        var job: String
        var action: String
    }

    func handle(_ payload: String, on db: PostgresConnection) async throws {
        guard let request = try? JSONDecoder().decode(Request.self, from: Data(payload.utf8)),
              let action = RunKind(rawValue: request.action), action != .backtest else {
            logger.warning("ignored a notification: expected {\"job\": \"...\", \"action\": \"train\" | \"predict\"}", metadata: ["payload": "\(payload)"])
            return
        }
        guard currentRunners[request.job] != nil else {
            logger.warning("ignored a notification for an unknown job", metadata: ["job": "\(request.job)"])
            return
        }
        let config = currentConfiguration
        try await Scheduler(database: config.database, maxAttempts: config.daemon.maxAttempts).makeDue(job: request.job, action: action, on: db)
        logger.notice("on-demand \(action.rawValue) requested", metadata: ["job": "\(request.job)"])
        poke()
    }

    /// Sends WATCHDOG=1 at half of WATCHDOG_USEC, but only while the scheduler loop is beating:
    /// a hung scheduler stops the pings and systemd restarts the service.
    func watchdogLoop() async {
        guard let notifier, let interval = notifier.watchdogInterval else { return }
        while !isStopping {
            let silent = sinceSchedulerBeat
            if silent < schedulerTolerance {
                notifier.watchdog()
            } else {
                logger.critical("the scheduler has not beaten for \(silent); withholding the watchdog")
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// Sleeps up to `duration`, waking early when asked to stop or when `woken` says so.
    func sleep(_ duration: Duration, woken: () -> Bool) async {
        let deadline = ContinuousClock.now + duration
        while ContinuousClock.now < deadline, !isStopping, !woken() {
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Gives back the leases this process holds. Their runs stay open: their units are queued
    /// again, and whichever worker completes a run's last unit closes it with its true status.
    func shutDown() async {
        let config = currentConfiguration
        guard let db = try? await Database.connect(config.database) else {
            logger.error("shutdown could not reach the database; the leases expire on their own")
            return
        }
        let queue = WorkQueue(config.database), owner = self.owner
        do {
            let released = try await db.withConnection { try queue.release(owner: owner, on: $0) }
            logger.notice("stopped", metadata: ["units_released": "\(released)"])
        } catch {
            logger.error("shutdown could not release its leases; they expire on their own", metadata: ["error": "\(error)"])
        }
        await db.close()
    }
}
