import Foundation
import Forecasting
import NeuralNet
import TOML

/// forecastd's configuration file, typed, with the defaults of SPEC.md filled in.
public struct Configuration: Sendable, Equatable {
    public var database: DatabaseSettings
    public var daemon: DaemonSettings
    public var jobs: [JobSettings]

    /// The file the configuration came from, for messages.
    public var path: String?

    package init(database: DatabaseSettings, daemon: DaemonSettings, jobs: [JobSettings], path: String? = nil) {
        self.database = database
        self.daemon = daemon
        self.jobs = jobs
        self.path = path
    }

    public func job(named name: String) -> JobSettings? { jobs.first { $0.name == name } }
}

public struct DatabaseSettings: Sendable, Equatable {
    /// Any libpq connection string or URI; empty means libpq's defaults (PG* variables, ~/.pgpass).
    public var url: String = ""
    /// Where forecastd keeps its tables.
    public var schema: String = "forecastd"
}

public struct DaemonSettings: Sendable, Equatable {
    /// Units of work (one series, or one global model) run at once.
    public var concurrency: Int = 2
    /// Prometheus /metrics, /-/healthy and /-/ready; empty turns it off.
    public var metricsListen: String = "127.0.0.1:9464"
    /// How long a claimed unit stays claimed without renewal before another worker may take it.
    public var leaseSeconds: Seconds = 60
    /// Failed series are retried this many times per schedule, with backoff, before waiting for the next one.
    public var maxAttempts: Int = 3
    /// `text` or `json` lines when not under journald.
    public var logFormat: LogFormat = .text
    public var logLevel: LogLevel = .info
    /// Forecast history older than this is dropped (whole daily partitions of predictions and
    /// actuals; runs, work units, old training history); nil keeps everything. A job may
    /// override it.
    public var retention: Seconds?
    /// Models that are not active keep their weights only while among the newest this many
    /// versions of their series; their rows and metrics stay. A job may override it.
    public var keepVersions: Int = 5
}

public enum LogFormat: String, Sendable, CaseIterable { case text, json }
public enum LogLevel: String, Sendable, CaseIterable { case trace, debug, info, notice, warning, error, critical }

public enum FallbackPolicy: String, Sendable, CaseIterable {
    case seasonalNaive = "seasonal_naive"
    /// Publish nothing from a rejected model; keep the previous active one.
    case none
}
/// `statistical_challengers`: true, false, or "auto" (for short series; `ModelGuard.challengersBelow`).
/// A Boolean literal reads as `always` or `never`.
public enum StatisticalChallengers: Sendable, Equatable, ExpressibleByBooleanLiteral {
    case always, never, auto

    public init(booleanLiteral value: Bool) { self = value ? .always : .never }
}

/// One model per series, one for all of a job's series, or the choice left to the data
/// (`JobPlan.scope(seriesCount:observations:)`).
public enum ModelScope: String, Sendable, CaseIterable { case series, global, auto }

public struct JobSettings: Sendable, Equatable {
    public var name: String
    /// The grid's step, read from e.g. "1h", "30m", "1mo", "1b".
    public var frequency: Frequency
    public var horizon: Int
    public var aggregation: Aggregation = .mean
    public var maxGap: Int = 3
    /// Where calendar buckets (days, months) are cut and cron schedules are read.
    public var timeZone: TimeZone = .utcZone
    /// nil: follows the frequency.
    public var season: Int?
    /// History used for training; nil: 365 days or 2,000 steps, whichever reaches further back.
    public var trainWindow: Seconds?
    public var trainEvery: Schedule = .every(86_400)
    public var predictEvery: Schedule = .every(3600)
    public var backtestWindows: Int = 3
    public var fallback: FallbackPolicy = .seasonalNaive
    /// Whether the guard backtests ETS and Theta beside the network and may publish them:
    /// `auto` (the default) for units of short series only (`ModelGuard.shortSeriesLength`).
    public var statisticalChallengers: StatisticalChallengers = .auto
    /// A series is retrained ahead of schedule when the MAE of its latest `driftPoints` matured
    /// forecasts exceeds its active model's backtest MAE by this factor; 0 turns drift off.
    public var driftFactor: Double = 2.0
    /// Matured forecasts (target steps with an actual) the realized MAE is taken over, and the
    /// fewest that drift is judged on.
    public var driftPoints: Int = 24
    /// nil: `[daemon] retention`. `.some(nil)`: keep everything, whatever the daemon says.
    public var retention: Seconds??
    /// nil: `[daemon] keep_versions`.
    public var keepVersions: Int?
    public var source: SourceSettings
    public var model: ModelSettings = ModelSettings()
    /// A query returning the job's holidays, a date (or timestamp) in its first column and
    /// optionally a name: three future-known features of every step (`HolidayCalendar`). nil: none.
    public var holidays: String?
}

public struct SourceSettings: Sendable, Equatable {
    public enum Origin: Sendable, Equatable {
        /// A table (optionally schema-qualified) that forecastd writes the query for.
        case table(String)
        /// A query with `$1` and `$2` bound to the start and end of the time range.
        case query(String)
    }
    public var origin: Origin
    /// nil: the job has one series, named after the job.
    public var seriesColumn: String?
    public var timeColumn: String
    public var valueColumn: String
    /// Columns of the source read with the value as past-observed covariates, in order: laid
    /// on the grid like the value and read by the network up to the forecast origin.
    public var pastCovariates: [String] = []
    /// Columns known ahead for every step of the horizon (a working-day flag, a planned
    /// promotion, a weather forecast), in order: read like past covariates, and for the horizon
    /// from the source's rows after the forecast origin (value NULL, or after `--as-of`).
    public var futureCovariates: [String] = []
    /// A query returning one row per series, its key in the first column and attributes after
    /// it (`StaticTable`): constant inputs of a global model (`StaticEncoding`). nil: none.
    public var staticCovariates: String?
}

/// `[jobs.model]`: the network's settings the user overrode (nil: Forecasting's default, see
/// `ForecasterSettings.resolved`), read as `job.model.hiddenSize`, and the model's scope.
@dynamicMemberLookup
public struct ModelSettings: Sendable, Equatable {
    public var overrides = ForecasterOverrides()
    public var scope: ModelScope = .auto

    public subscript<T>(dynamicMember path: WritableKeyPath<ForecasterOverrides, T>) -> T {
        get { overrides[keyPath: path] }
        set { overrides[keyPath: path] = newValue }
    }
}

extension Configuration {
    /// The path used when neither `--config` nor `$FORECASTD_CONFIG` says otherwise.
    public static let defaultPath = "/etc/forecastd/forecastd.toml"

    public static func resolvePath(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let fromEnvironment = environment["FORECASTD_CONFIG"], !fromEnvironment.isEmpty { return fromEnvironment }
        return defaultPath
    }

    public static func load(path: String) throws -> Configuration {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read" : "does not exist"
            throw ConfigurationError(file: path, message: "the configuration file \(reason)")
        }
        do {
            var configuration = try parse(text)
            configuration.path = path
            return configuration
        } catch var error as ConfigurationError {
            error.file = path
            throw error
        }
    }

    /// The configuration in `text`; throws every problem found (see `TableReader`), the first
    /// in the file's order carrying the others.
    public static func parse(_ text: String) throws -> Configuration {
        let document: TOMLTable
        do {
            document = try TOMLParser.parse(text)
        } catch let syntax as TOMLSyntaxError {
            throw ConfigurationError(line: syntax.line, message: "syntax error: \(syntax.message)")
        }
        var root = TableReader(document, path: "")
        var configuration = Configuration(database: DatabaseSettings(), daemon: DaemonSettings(), jobs: [])

        if var db = root.subtable("database") {
            configuration.database.url = db.string("url") ?? configuration.database.url
            if let schema = db.string("schema") {
                if Identifier.isPlain(schema) {
                    configuration.database.schema = schema
                } else {
                    db.report("schema", "must be a plain identifier (letters, digits, _), found \"\(schema)\"")
                }
            }
            db.reportUnknownKeys()
        }
        if var daemon = root.subtable("daemon") {
            var d = configuration.daemon
            d.concurrency = daemon.integer("concurrency", range: 1...256) ?? d.concurrency
            d.metricsListen = daemon.string("metrics_listen") ?? d.metricsListen
            if !d.metricsListen.isEmpty, ListenAddress(d.metricsListen) == nil {
                daemon.report("metrics_listen", "expected HOST:PORT (e.g. \"127.0.0.1:9464\") or \"\" to turn it off, found \"\(d.metricsListen)\"")
            }
            d.leaseSeconds = daemon.duration("lease") ?? d.leaseSeconds
            d.maxAttempts = daemon.integer("max_attempts", range: 1...100) ?? d.maxAttempts
            d.logFormat = daemon.choice("log_format", LogFormat.self) ?? d.logFormat
            d.logLevel = daemon.choice("log_level", LogLevel.self) ?? d.logLevel
            if let retention = daemon.retention("retention") { d.retention = retention }
            d.keepVersions = daemon.integer("keep_versions", range: 1...100_000) ?? d.keepVersions
            configuration.daemon = d
            daemon.reportUnknownKeys()
        }
        for var reader in root.tableArray("jobs") {
            // A job that cannot be read (no name, no source, ...) is reported; the next is read.
            do {
                let job = try JobSettings(reading: &reader)
                if configuration.jobs.contains(where: { $0.name == job.name }) {
                    reader.report("name", "another job is already named \"\(job.name)\"")
                }
                configuration.jobs.append(job)
            } catch {
                root.report(error)
            }
        }
        root.reportUnknownKeys()
        if let problems = root.problems.combined { throw problems }
        return configuration
    }
}

extension JobSettings {
    /// Reads one `[[jobs]]` table; problems go to the reader's list (`TableReader`), and what
    /// the job cannot be read without is thrown.
    init(reading job: inout TableReader) throws(ConfigurationError) {
        let name = try job.requiredString("name")
        if !(name.count <= 100 && name.allSatisfy({ $0.isLetter || $0.isNumber || "_-.".contains($0) })) {
            job.report("name", "may hold letters, digits, '_', '-' and '.', at most 100 characters; found \"\(name)\"")
        }
        let frequencyText = try job.requiredString("frequency")
        var frequency = Frequency(.hour)
        do {
            frequency = try Frequency(parsing: frequencyText)
        } catch {
            // Reported; the hour stands in so that the job's other keys are still checked.
            job.report("frequency", "\"\(frequencyText)\" is not a frequency (\(error.reason))")
        }
        let horizon = try job.requiredInteger("horizon", range: 1...10_000)
        guard var sourceReader = job.subtable("source") else {
            throw ConfigurationError(line: job.table.line, key: job.keyPath("source"), message: "is required: a [jobs.source] table with table or query, time_column and value_column")
        }
        let source = try SourceSettings(reading: &sourceReader)
        self.init(name: name, frequency: frequency, horizon: horizon, source: source)

        aggregation = job.choice("aggregation", Aggregation.self) ?? aggregation
        maxGap = job.integer("max_gap", range: 0...100_000) ?? maxGap
        if let name = job.string("timezone") {
            if let zone = TimeZone(identifier: name) {
                timeZone = zone
            } else {
                job.report("timezone", "\"\(name)\" is not a known time zone (use an IANA name such as \"UTC\" or \"America/New_York\")")
            }
        }
        season = job.integer("season", range: 1...100_000)
        trainWindow = job.duration("train_window")
        trainEvery = job.schedule("train_every", timeZone: timeZone) ?? trainEvery
        predictEvery = job.schedule("predict_every", timeZone: timeZone) ?? predictEvery
        backtestWindows = job.integer("backtest_windows", range: 0...1000) ?? backtestWindows
        fallback = job.choice("fallback", FallbackPolicy.self) ?? fallback
        statisticalChallengers = job.challengers("statistical_challengers") ?? statisticalChallengers
        if let factor = job.double("drift_factor", range: 0...1_000_000) {
            if factor == 0 || factor >= 1 {
                driftFactor = factor
            } else {
                job.report("drift_factor", "must be 0 (drift off) or at least 1 (a realized error that many times the backtest MAE), found \(factor)")
            }
        }
        driftPoints = job.integer("drift_points", range: 1...1_000_000) ?? driftPoints
        retention = job.retention("retention")
        keepVersions = job.integer("keep_versions", range: 1...100_000)
        if let query = job.string("holidays") {
            if query.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                job.report("holidays", "expected a query returning dates, e.g. \"SELECT day, name FROM public.holidays\"")
            } else {
                holidays = query
            }
        }
        if var modelReader = job.subtable("model") {
            model = ModelSettings(reading: &modelReader)
        }
        // A per-series model sees one row of attributes: constant inputs that tell it nothing.
        if source.staticCovariates != nil {
            if model.scope == .series {
                sourceReader.report("static_covariates", "needs a global model ([jobs.model] scope = \"global\" or \"auto\"): "
                                    + "a model of one series sees one row of attributes, which tells it nothing")
            } else if source.seriesColumn == nil {
                sourceReader.report("static_covariates", "needs series_column: the query's first column is matched with the series keys")
            }
        }
        job.reportUnknownKeys()
    }
}

extension SourceSettings {
    /// Reads `[jobs.source]`; as `JobSettings(reading:)`, problems are reported and the two
    /// columns it cannot be read without are thrown. A table or query that is wrong or missing
    /// is reported and stands in as given, so that the columns are still checked.
    init(reading source: inout TableReader) throws(ConfigurationError) {
        let table = source.string("table")
        let query = source.string("query")
        switch (table, query) {
        case (let table?, nil):
            if !Identifier.isQualifiedName(table) {
                source.report("table", "expected a table name such as \"weather\" or \"public.weather\", found \"\(table)\"")
            }
            origin = .table(table)
        case (nil, let query?):
            if !(query.contains("$1") && query.contains("$2")) {
                source.report("query", "must use $1 and $2 as the start and end of the time range (e.g. WHERE ts >= $1 AND ts < $2)")
            }
            origin = .query(query)
        case (let table?, .some):
            source.report("query", "give either table or query, not both")
            origin = .table(table)
        case (nil, nil):
            source.report(ConfigurationError(line: source.table.line, key: source.path, message: "needs table or query"))
            origin = .table("")
        }
        seriesColumn = source.string("series_column")
        timeColumn = try source.requiredString("time_column")
        valueColumn = try source.requiredString("value_column")
        // Each role its own column: the source query would name one column twice.
        let roles: [(key: String, column: String?)] = [("time_column", timeColumn), ("value_column", valueColumn), ("series_column", seriesColumn)]
        for (i, role) in roles.enumerated() {
            guard let column = role.column, let other = roles[..<i].first(where: { $0.column == column }) else { continue }
            source.report(role.key, "\"\(column)\" is also the \(other.key); each names another column of the source")
        }
        // One column, one kind: past-observed and future-known lists are checked as one.
        var seen: [String: String] = [:]
        func covariates(_ key: String) -> [String] {
            let names = source.strings(key) ?? []
            for name in names {
                if name.isEmpty {
                    source.report(key, "column names must not be empty")
                } else if let role = roles.first(where: { $0.column == name }) {
                    source.report(key, "\"\(name)\" is the \(role.key); a covariate is another column of the source")
                } else if let other = seen[name] {
                    source.report(key, other == key ? "\"\(name)\" is listed twice"
                                  : "\"\(name)\" is also in \(other); a covariate is either observed in the past or known ahead")
                }
                seen[name] = seen[name] ?? key
            }
            return names
        }
        pastCovariates = covariates("past_covariates")
        futureCovariates = covariates("future_covariates")
        if let query = source.string("static_covariates") {
            if query.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                source.report("static_covariates", "expected a query returning one row per series, the key first, e.g. "
                              + "\"SELECT sensor, region, capacity FROM public.sensors\"")
            } else {
                staticCovariates = query
            }
        }
        source.reportUnknownKeys()
    }
}

extension ModelSettings {
    /// Reads `[jobs.model]`; every problem is reported (`TableReader`) and its key left at the default.
    init(reading model: inout TableReader) {
        self.init()
        var o = ForecasterOverrides()
        o.cell = model.choice("cell", CellKind.self)
        o.hiddenSize = model.integer("hidden_size", range: 1...4096)
        o.layers = model.integer("layers", range: 1...8)
        o.context = model.integer("context", range: 1...100_000)
        let tbptt = model.integer("tbptt", range: 1...100_000)
        let k1 = model.integer("tbptt_k1", range: 1...100_000)
        let k2 = model.integer("tbptt_k2", range: 1...100_000)
        if tbptt != nil, k1 != nil || k2 != nil {
            model.report("tbptt", "give either tbptt or tbptt_k1/tbptt_k2, not both")
        }
        o.tbpttK1 = k1 ?? tbptt
        o.tbpttK2 = k2 ?? tbptt ?? k1
        if let a = o.tbpttK1, let b = o.tbpttK2, b < a {
            model.report("tbptt_k2", "must be at least tbptt_k1 (\(a)), found \(b)")
        }
        o.batchSize = model.integer("batch_size", range: 1...65_536)
        o.epochs = model.integer("epochs", range: 1...100_000)
        o.learningRate = model.double("learning_rate", range: 1e-9...10).map { Float($0) }
        o.clipNorm = model.double("clip_norm", range: 0.001...1e9).map { Float($0) }
        o.dropout = model.double("dropout", range: 0...0.9).map { Float($0) }
        if let q = model.doubles("quantiles", range: 0.001...0.999) {
            do {
                try Quantiles.validate(q, medianRequired: true)
                o.quantiles = q
            } catch {
                switch error.problem {
                case .notIncreasing: model.report("quantiles", "must be increasing without repeats, found \(q)")
                case .empty, .noMedian: model.report("quantiles", "must include 0.5, the median that becomes the point forecast")
                case .outOfRange: model.report("quantiles", error.description)
                }
            }
        }
        o.decoder = model.choice("decoder", DecoderKind.self)
        o.decoderLayers = model.integer("decoder_layers", range: 1...8)
        if o.decoderLayers != nil, o.decoder != .recurrent {
            model.report("decoder_layers", "needs decoder = \"recurrent\" (the dense head has no decoder layers)")
        }
        o.feedback = model.choice("feedback", FeedbackKind.self)
        if o.feedback == .output, o.decoder == .recurrent {
            model.report("feedback", "\"output\" needs decoder = \"dense\": the recurrent decoder already feeds its own forecasts back")
        }
        scope = model.choice("scope", ModelScope.self) ?? scope
        o.seed = model.integer("seed", range: 0...Int(Int32.max)).map { UInt64($0) }
        o.ensemble = model.integerOrAuto("ensemble", range: 1...32)
        overrides = o
        model.reportUnknownKeys()
    }
}

/// Host and port of a listening address, e.g. "127.0.0.1:9464" or "[::1]:9464".
public struct ListenAddress: Sendable, Equatable {
    public var host: String
    public var port: Int

    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65_535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self.host = host
        self.port = port
    }
}
