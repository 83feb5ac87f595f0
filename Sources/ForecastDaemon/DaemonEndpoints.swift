/// The daemon's HTTP surface on `[daemon] metrics_listen`: `/metrics` (Prometheus text),
/// `/-/healthy` and `/-/ready`, and the database probe that keeps their answers current.
///
/// Every answer is built from memory: the probe loop reads the database on its own connection
/// every few seconds and leaves what it saw in `DaemonHealth`, so a scrape never waits on
/// PostgreSQL, and a probe that stops coming back counts as the database being down.
import ForecastConfig
import ForecastStore
import Foundation
import HTTPServing
import PostgresClient

/// What the probe last saw, and whether the daemon's loops run; read by the HTTP thread.
final class DaemonHealth: @unchecked Sendable {
    struct LastSuccess: Equatable {
        var job: String
        var kind: RunKind
        var finishedAt: Date
    }

    private let lock = NSLock()
    private var databaseUp = false
    private var schemaCurrent = false
    private var checkedAt: ContinuousClock.Instant?
    private var lastSuccesses: [LastSuccess] = []
    private var newestObservations: [String: Date] = [:]
    private var loopsRunning = false

    /// `lastSuccesses` nil: the database was not reached, keep the ones seen before (the
    /// ages go on growing from them).
    func record(databaseUp up: Bool, schemaCurrent current: Bool, lastSuccesses successes: [LastSuccess]? = nil,
                newestObservations newest: [String: Date]? = nil) {
        lock.withLock {
            databaseUp = up
            schemaCurrent = current
            checkedAt = .now
            if let successes { lastSuccesses = successes }
            if let newest { newestObservations = newest }
        }
    }

    func setLoopsRunning(_ running: Bool) { lock.withLock { loopsRunning = running } }

    struct Snapshot {
        var databaseUp: Bool
        var schemaCurrent: Bool
        var loopsRunning: Bool
        var lastSuccesses: [LastSuccess]
        /// The newest observation any run of each job read (`runs.newest_observation`).
        var newestObservations: [String: Date]
    }

    /// The state as of now: a probe older than `staleAfter` says the database is down, whatever
    /// it said then (the probe is hanging on it).
    func snapshot(staleAfter: Duration) -> Snapshot {
        lock.withLock {
            let fresh = checkedAt.map { ContinuousClock.now - $0 < staleAfter } ?? false
            return Snapshot(databaseUp: databaseUp && fresh, schemaCurrent: schemaCurrent, loopsRunning: loopsRunning,
                            lastSuccesses: lastSuccesses, newestObservations: newestObservations)
        }
    }
}

/// `daemon.metrics_listen` could not be bound: a start-up error that names the key.
public struct MetricsListenError: Error, CustomStringConvertible {
    public var setting: String
    public var underlying: String
    public var description: String {
        "daemon.metrics_listen = \"\(setting)\": \(underlying); choose a free HOST:PORT, or \"\" to turn the endpoint off"
    }
}

extension Daemon {
    /// Binds `[daemon] metrics_listen` and serves it on a thread of its own; nil when the setting
    /// is "". A change of the address takes effect at the next restart.
    public func startMetricsEndpoint() throws -> HTTPServer? {
        let setting = currentConfiguration.daemon.metricsListen
        guard !setting.isEmpty else { return nil }
        guard let address = ListenAddress(setting) else {
            throw MetricsListenError(setting: setting, underlying: "expected HOST:PORT")
        }
        let server: HTTPServer
        do {
            server = try HTTPServer(host: address.host, port: address.port) { [weak self] request in
                self?.respond(to: request) ?? HTTPResponse(status: 503, body: "stopping\n")
            }
        } catch {
            throw MetricsListenError(setting: setting, underlying: "\(error)")
        }
        server.start()
        logger.notice("serving /metrics, /-/healthy and /-/ready", metadata: ["listen": "\(setting)"])
        return server
    }

    func respond(to request: HTTPRequest) -> HTTPResponse {
        switch request.path {
        case "/metrics":
            return HTTPResponse(status: 200, contentType: PrometheusText.contentType,
                                body: PrometheusText.render(metrics.families() + gaugeFamilies(now: Date())))
        case "/-/healthy":
            let (healthy, why) = healthiness
            return HTTPResponse(status: healthy ? 200 : 503, body: why + "\n")
        case "/-/ready":
            let (ready, why) = readiness
            return HTTPResponse(status: ready ? 200 : 503, body: why + "\n")
        default:
            return HTTPResponse(status: 404, body: "not found; forecastd serves /metrics, /-/healthy and /-/ready\n")
        }
    }

    /// A probe this old no longer vouches for the database.
    var probeStaleAfter: Duration { probeInterval * 3 + .seconds(5) }

    /// Healthy while the scheduler (or, before it, the wait for the database) keeps beating:
    /// the rule the systemd watchdog follows too. A database that is away is not the process's
    /// illness, so it does not make the process unhealthy.
    var healthiness: (Bool, String) {
        let silent = sinceSchedulerBeat
        if silent < schedulerTolerance { return (true, "healthy") }
        return (false, "unhealthy: the scheduler has not run for \(silent)")
    }

    /// Ready once the loops run on a reachable database with a current schema, until stopping.
    var readiness: (Bool, String) {
        let state = health.snapshot(staleAfter: probeStaleAfter)
        if isStopping { return (false, "not ready: stopping") }
        if !state.databaseUp { return (false, "not ready: the database is not reachable") }
        if !state.schemaCurrent { return (false, "not ready: the database schema is not current; run forecastd migrate") }
        if !state.loopsRunning { return (false, "not ready: starting") }
        return (true, "ready")
    }

    func gaugeFamilies(now: Date) -> [MetricFamily] {
        let state = health.snapshot(staleAfter: probeStaleAfter)
        let jobs = Set(currentConfiguration.jobs.map(\.name))
        let successes = state.lastSuccesses.filter { jobs.contains($0.job) }
        func labels(_ s: DaemonHealth.LastSuccess) -> [(String, String)] { [("job", s.job), ("kind", s.kind.rawValue)] }
        return [
            MetricFamily(name: "forecastd_database_up", help: "1 when the daemon's last probe of PostgreSQL (every few seconds) succeeded, else 0.",
                         type: .gauge, samples: [MetricSample("forecastd_database_up", [], state.databaseUp ? 1 : 0)]),
            MetricFamily(name: "forecastd_last_success_timestamp_seconds",
                         help: "When the last succeeded run of each job and kind finished (any host), in Unix seconds; absent before the first one.",
                         type: .gauge, samples: successes.map {
                             MetricSample("forecastd_last_success_timestamp_seconds", labels($0), $0.finishedAt.timeIntervalSince1970)
                         }),
            MetricFamily(name: "forecastd_seconds_since_last_success",
                         help: "Seconds since the last succeeded run of each job and kind finished (any host); absent before the first one.",
                         type: .gauge, samples: successes.map {
                             MetricSample("forecastd_seconds_since_last_success", labels($0), max(0, now.timeIntervalSince($0.finishedAt)).rounded())
                         }),
            MetricFamily(name: "forecastd_newest_observation_age_seconds",
                         help: "Seconds since the newest observation any run of each job read from its source (any host); absent before the first read.",
                         type: .gauge, samples: state.newestObservations.filter { jobs.contains($0.key) }.sorted { $0.key < $1.key }.map {
                             MetricSample("forecastd_newest_observation_age_seconds", [("job", $0.key)], max(0, now.timeIntervalSince($0.value)).rounded())
                         }),
        ]
    }

    /// Reads the database every `probeInterval` on a connection of its own: whether it answers,
    /// whether the schema is current, when each job last succeeded, and how old its data is.
    func probeLoop() async {
        var connection: PostgresConnection?
        while !isStopping {
            connection = await probe(connection)
            await sleep(probeInterval) { false }
        }
        await connection?.close()
    }

    /// One probe; returns the connection to use next time (nil after a failure).
    func probe(_ connection: PostgresConnection?) async -> PostgresConnection? {
        let settings = currentConfiguration.database
        let runLog = RunLog(settings)
        var current = connection
        do {
            if let open = current, await open.isConnected {} else {
                await current?.close()
                current = nil
                let fresh = try await Database.connect(settings)
                current = fresh
                // A probe must not hang on a locked table: it would make the database look down.
                try await fresh.setStatementTimeout(seconds: 5)
            }
            guard let db = current else { return nil }
            let files = try MigrationFile.load(directory: MigrationFile.defaultDirectory())
            let current = try await Migrator(schema: settings.schema, files: files).status(on: db).isCurrent
            guard current else {
                health.record(databaseUp: true, schemaCurrent: false)
                return db
            }
            let successes = try await db.withConnection { try runLog.lastSuccesses(on: $0) }.map {
                DaemonHealth.LastSuccess(job: $0.job, kind: $0.kind, finishedAt: $0.finishedAt)
            }
            let newest = try await db.withConnection { try runLog.newestObservations(on: $0) }
            health.record(databaseUp: true, schemaCurrent: true, lastSuccesses: successes,
                          newestObservations: Dictionary(newest.map { ($0.job, $0.time) }, uniquingKeysWith: { a, _ in a }))
            return db
        } catch {
            logger.debug("database probe failed", metadata: ["error": "\(error)"])
            health.record(databaseUp: false, schemaCurrent: false)
            await current?.close()
            return nil
        }
    }
}
