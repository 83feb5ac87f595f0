import ForecastConfig
import Forecasting
import Foundation
import PostgresClient

/// One observation of a job's source. Named apart from `Forecasting.SourceRow` (key, time,
/// value), which is what the series builder consumes, so the two modules' types never shadow
/// each other inside ForecastService.
public struct SourcePoint: Sendable, Hashable {
    public var series: String
    public var time: Date
    /// nil for SQL NULL; NaN and infinities arrive as they are stored.
    public var value: Double?
    /// The job's covariates (`source.pastCovariates`, then `source.futureCovariates`, in order),
    /// nil for SQL NULL.
    public var covariates: [Double?]

    public init(series: String, time: Date, value: Double?, covariates: [Double?] = []) {
        self.series = series
        self.time = time
        self.value = value
        self.covariates = covariates
    }
}

public enum SourceError: Error, Sendable, CustomStringConvertible {
    /// The source query itself failed on the server (missing table, permission, bad SQL...).
    case queryFailed(job: String, underlying: PostgresError)
    /// A row came back that cannot be read, e.g. a text value column.
    case unreadableRow(job: String, underlying: PostgresError)
    /// The job's `holidays` query failed, or returned what is not a date.
    case holidaysFailed(job: String, underlying: PostgresError)
    /// The job's `static_covariates` query failed on the server.
    case staticCovariatesFailed(job: String, underlying: PostgresError)
    /// The `static_covariates` query ran but its result cannot serve: no attribute column, a
    /// column named twice, a series key on two rows.
    case staticCovariatesInvalid(job: String, reason: String)

    public var job: String {
        switch self {
        case .queryFailed(let job, _), .unreadableRow(let job, _), .holidaysFailed(let job, _),
             .staticCovariatesFailed(let job, _), .staticCovariatesInvalid(let job, _): return job
        }
    }

    public var description: String {
        switch self {
        case .queryFailed(let job, let error):
            return "job \"\(job)\": the source query failed: \(error.sqlState.map { "[\($0)] " } ?? "")\(error.message)"
        case .unreadableRow(let job, let error):
            return "job \"\(job)\": a source row cannot be read: \(error.message)"
        case .holidaysFailed(let job, let error):
            return "job \"\(job)\": the holidays query failed: \(error.sqlState.map { "[\($0)] " } ?? "")\(error.message)"
        case .staticCovariatesFailed(let job, let error):
            return "job \"\(job)\": source.static_covariates: the query failed: \(error.sqlState.map { "[\($0)] " } ?? "")\(error.message)"
        case .staticCovariatesInvalid(let job, let reason):
            return "job \"\(job)\": source.static_covariates: \(reason)"
        }
    }
}

/// How many rows a read delivered, and how many it had to drop.
public struct SourceReadSummary: Sendable, Equatable {
    public var rows = 0
    /// Rows with a NULL series key or a NULL time: they belong to no series or no step.
    public var skipped = 0
}

/// What a read of a time range did not use (see `SourceReader.unreadRows`).
public struct UnreadRows: Sendable, Equatable, CustomStringConvertible {
    /// The end of the read: rows from it on are `future`.
    public var before: Date
    public var nullKeys = 0
    public var nullTimes = 0
    public var future = 0

    public init(before: Date, nullKeys: Int = 0, nullTimes: Int = 0, future: Int = 0) {
        self.before = before
        self.nullKeys = nullKeys
        self.nullTimes = nullTimes
        self.future = future
    }

    public var isEmpty: Bool { nullKeys == 0 && nullTimes == 0 && future == 0 }

    /// "12 rows with a NULL time skipped; 3 rows dated from 2026-12-01T10:00:00Z on (in the future) not read"
    public var description: String {
        var parts: [String] = []
        func rows(_ n: Int) -> String { n == 1 ? "1 row" : "\(n) rows" }
        if nullKeys > 0 { parts.append("\(rows(nullKeys)) with a NULL series key skipped") }
        if nullTimes > 0 { parts.append("\(rows(nullTimes)) with a NULL time skipped") }
        if future > 0 { parts.append("\(rows(future)) dated from \(ISO8601DateFormatter().string(from: before)) on (in the future) not read") }
        return parts.joined(separator: "; ")
    }
}

/// Reads a job's source rows for a time range, one row at a time.
///
/// With future-known covariates (`source.future_covariates`) a read of [from, to) also reads the
/// rows of the horizon after `to` (up to the start of the bucket `horizon + 1` after the one
/// holding `to`): the source's rows for steps still to come, which carry the known covariates
/// and a NULL value (a table's rows written ahead, or a `query` source's join with a forecast
/// table). Those rows come back with their value and past covariates blanked, whatever the
/// source holds there: with `--as-of` the table already has the values that a real forecast
/// at that time would not have had, and nothing of them may be read.
///
/// Rows stream in libpq's single-row mode, so a long history is held once (by whoever the
/// closure hands it to), never also as a whole result set. The job's SQL is wrapped in an
/// outer SELECT that picks the configured columns by name and casts the series key to text
/// on the server: any key type works, and the key is PostgreSQL's own text form, so users can
/// join `predictions.series` back to their table with `station::text`.
public struct SourceReader: Sendable {
    public var job: JobSettings

    public init(job: JobSettings) { self.job = job }

    /// The statement that runs; `$1` and `$2` are the range bounds.
    public var sql: String { Self.sql(for: job) }

    /// The statement that reads some series only: `$3` is their keys, a text array (`textArray`).
    public var selectedSeriesSQL: String {
        guard let column = job.source.seriesColumn else { return sql }
        return sql + " WHERE (s." + quoteIdentifier(column, qualified: false) + ")::text = ANY($3::text[])"
    }

    /// `keys` as a PostgreSQL array literal, bound as a parameter: every key is quoted, so
    /// commas, braces, quotes and backslashes in keys stay part of them.
    static func textArray(_ keys: [String]) -> String {
        "{" + keys.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
            .joined(separator: ",") + "}"
    }

    /// The statement counting the rows of each series key in [$1, $2) (`seriesRows`); empty
    /// for a job without a series column, whose one series is named after the job.
    public var rowsPerKeySQL: String {
        guard let column = job.source.seriesColumn else { return "" }
        return "SELECT k, count(*) FROM (SELECT (s." + quoteIdentifier(column, qualified: false) + ")::text AS k FROM ("
            + Self.sql(for: job) + ") AS s) AS keys WHERE k IS NOT NULL GROUP BY k ORDER BY k"
    }

    static func sql(for job: JobSettings) -> String {
        let source = SourceQuery(job.source)
        var inner = Substring(source.sql)
        // A trailing ';' is harmless on its own but breaks the subquery.
        while let last = inner.last, last == ";" || last.isWhitespace { inner.removeLast() }
        let time = "(s." + quoteIdentifier(source.timeColumn, qualified: false) + ")::timestamptz"
        let value = "s." + quoteIdentifier(source.valueColumn, qualified: false)
        let series = source.seriesColumn.map { "(s." + quoteIdentifier($0, qualified: false) + ")::text" } ?? "NULL::text"
        // Covariates come after the value, so that columns 0–2 stay where readers decode them.
        let covariates = (job.source.pastCovariates + job.source.futureCovariates).map { ", s." + quoteIdentifier($0, qualified: false) }.joined()
        // The newline before ')' keeps a trailing '-- comment' in a user's query from eating it.
        return "SELECT \(series), \(time), \(value)\(covariates) FROM (\n\(inner)\n) AS s"
    }

    /// Reads rows with `from <= time < to` and hands each to `body`; returns what was delivered.
    /// With `series`, only that series' rows are read.
    ///
    /// A `timestamp` (without time zone) or `date` column is read as local time of the job's
    /// zone: the session is put on that zone for the read and set back afterwards.
    ///
    /// Errors from `body` pass through unchanged; errors of the query are `SourceError`s naming
    /// the job, except a lost connection, which is the database's fault, not the source's: it
    /// stays a `PostgresError` of kind `connectionLost`, so callers stop and redo the work.
    @discardableResult
    public func read(from: Date, to: Date, series: String? = nil, on db: isolated PostgresConnection,
                     _ body: (SourcePoint) throws -> Void) throws -> SourceReadSummary {
        try read(from: from, to: to, among: series.map { [$0] }, on: db, body)
    }

    /// Reads rows with `from <= time < to` of the series in `keys` (every series when nil), the
    /// source filtering them on the server, and hands each to `body`.
    @discardableResult
    public func read(from: Date, to: Date, among keys: [String]?, on db: isolated PostgresConnection,
                     _ body: (SourcePoint) throws -> Void) throws -> SourceReadSummary {
        let jobName = job.name
        let hasSeries = job.source.seriesColumn != nil
        let past = job.source.pastCovariates.count, covariates = past + job.source.futureCovariates.count
        let selected = keys != nil && hasSeries
        let until = futureEnd(after: to)
        let sql = selected ? selectedSeriesSQL : self.sql
        let restoreZone = try enterJobTimeZone(on: db)
        defer { restoreZone() }

        var summary = SourceReadSummary()
        do {
            var parameters: [any PostgresEncodable] = [from, until]
            if selected, let keys { parameters.append(Self.textArray(keys)) }
            try db.stream(sql, parameters: parameters) { row in
                var point: SourcePoint?
                do {
                    point = try Self.point(row, hasSeries: hasSeries, jobName: jobName, covariates: covariates)
                } catch let error as PostgresError {
                    throw SourceError.unreadableRow(job: jobName, underlying: error)
                }
                guard var point else {
                    summary.skipped += 1
                    return
                }
                if point.time >= to {
                    // A row of the horizon: only its future-known covariates may be read.
                    point.value = nil
                    for c in 0..<past { point.covariates[c] = nil }
                }
                do {
                    try body(point)
                } catch {
                    throw CallerError(error: error)
                }
                summary.rows += 1
            }
        } catch let error as CallerError {
            throw error.error
        } catch let error as PostgresError where error.kind != .connectionLost {
            throw SourceError.queryFailed(job: jobName, underlying: error)
        }
        return summary
    }

    /// Where a read up to `to` stops: `to` itself, or with future-known covariates the end of
    /// the horizon after it (the start of the bucket `horizon + 1` after the one holding `to`,
    /// or the last before it when `to` is off the grid).
    public func futureEnd(after to: Date) -> Date {
        guard !job.source.futureCovariates.isEmpty else { return to }
        let grid = TimeGrid(frequency: job.frequency, timeZone: job.timeZone)
        guard let bucket = grid.index(of: to) ?? grid.completeBuckets(from: to.addingTimeInterval(-40 * 86_400), until: to)?.upperBound
        else { return to }
        return max(to, grid.start(ofBucket: bucket + job.horizon + 1))
    }

    /// The job's holidays (`holidays`), each the local date of its query's first column (a date,
    /// or a timestamp read in the job's time zone); nil for a job without. Read at every read
    /// of the series, so a holiday added to the table is seen by the next prediction.
    public func holidays(on db: isolated PostgresConnection) throws -> HolidayCalendar? {
        guard let query = job.holidays else { return nil }
        var inner = Substring(query)
        while let last = inner.last, last == ";" || last.isWhitespace { inner.removeLast() }
        let restoreZone = try enterJobTimeZone(on: db)
        defer { restoreZone() }
        do {
            var days = Set<Int>()
            for row in try db.query("SELECT to_char((h.d)::date, 'YYYY-MM-DD') FROM (\n\(inner)\n) AS h (d) WHERE h.d IS NOT NULL") {
                let text = try row.decode(0, as: String.self)
                // Years before 1 or after 9999 do not come back as YYYY-MM-DD: no holiday of a series.
                if let day = HolidayCalendar.day(parsing: text) { days.insert(day) }
            }
            return HolidayCalendar(days: days)
        } catch let error as PostgresError where error.kind != .connectionLost {
            throw SourceError.holidaysFailed(job: job.name, underlying: error)
        }
    }

    /// The job's static covariates (`source.static_covariates`): each key's attributes, numeric
    /// columns (integers, floats, numeric) as numbers and every other column as its text; nil
    /// for a job without. Read at every read of the series like the holidays, so an attribute
    /// changed in the table is read by the next prediction. Rows with a NULL key name no series
    /// and are skipped; a key on two rows is an error (which row would be meant?).
    public func staticCovariates(on db: isolated PostgresConnection) throws -> StaticTable? {
        guard let query = job.source.staticCovariates else { return nil }
        var inner = Substring(query)
        while let last = inner.last, last == ";" || last.isWhitespace { inner.removeLast() }
        let restoreZone = try enterJobTimeZone(on: db)
        defer { restoreZone() }
        func invalid(_ reason: String) -> SourceError { .staticCovariatesInvalid(job: job.name, reason: reason) }
        do {
            // The columns and their declared types first: a LEFT JOIN onto one row has them even
            // when the query returns no row.
            let shape = try db.query("SELECT s.* FROM (SELECT 1) AS one LEFT JOIN (\n\(inner)\n) AS s ON true LIMIT 1")[0]
            let names = shape.columnNames
            guard names.count >= 2 else {
                throw invalid("the query returns \(names.count) column\(names.count == 1 ? "" : "s"); it needs the series key first and at least one attribute after it")
            }
            if let twice = names.first(where: { name in names.filter { $0 == name }.count > 1 }) {
                throw invalid("the query returns two columns named \"\(twice)\"; name each once (AS)")
            }
            let numericTypes: Set<UInt32> = [PostgresTypeOID.int2, PostgresTypeOID.int4, PostgresTypeOID.int8,
                                             PostgresTypeOID.float4, PostgresTypeOID.float8, PostgresTypeOID.numeric]
            let numeric = (1..<names.count).map { numericTypes.contains(shape.columnType($0)) }
            // Then the values, each cast by the server (numbers to float8, the rest to text),
            // so any column type reads the same way.
            let columns = names.enumerated().map { c, name in
                "(s.\(quoteIdentifier(name, qualified: false)))::\(c > 0 && numeric[c - 1] ? "float8" : "text")"
            }
            var rows: [String: [StaticValue]] = [:]
            for row in try db.query("SELECT \(columns.joined(separator: ", ")) FROM (\n\(inner)\n) AS s") {
                guard let key = try row.decode(0, as: String?.self) else { continue }
                let values = try (1..<names.count).map { c -> StaticValue in
                    if numeric[c - 1] { return try row.decode(c, as: Double?.self).map { $0.isFinite ? .number($0) : .null } ?? .null }
                    return try row.decode(c, as: String?.self).map(StaticValue.text) ?? .null
                }
                guard rows.updateValue(values, forKey: key) == nil else {
                    throw invalid("the series key \"\(key)\" is on two rows; the query must return one row per series")
                }
            }
            return StaticTable(columns: Array(names.dropFirst()), numeric: numeric, rows: rows)
        } catch let error as PostgresError where error.kind != .connectionLost {
            throw SourceError.staticCovariatesFailed(job: job.name, underlying: error)
        }
    }

    /// `settings` with what the job's own queries return besides the source: the holidays
    /// (`holidays(on:)`) and the static covariates (`staticCovariates(on:)`). What every read
    /// that lays series on the grid builds them with.
    public func withJobQueries(_ settings: SeriesSettings, on db: isolated PostgresConnection) throws -> SeriesSettings {
        var settings = settings
        settings.holidays = try holidays(on: db)
        settings.statics = try staticCovariates(on: db)
        return settings
    }

    /// Sets the session's time zone to the job's and returns what sets it back. `date` and
    /// `timestamp` columns hold local times of the job's zone: with the session in that zone,
    /// PostgreSQL compares them with the bounds and converts them to instants (`::timestamptz`)
    /// as the job means them. In a caller's transaction that a failure aborted, setting it back
    /// fails too, but then the rollback undoes the SET as well.
    func enterJobTimeZone(on db: isolated PostgresConnection) throws -> () -> Void {
        let zone = try db.query("SELECT current_setting('TimeZone')")[0].decode(0, as: String.self)
        guard TimeZone(identifier: zone) != job.timeZone else { return {} }
        try db.execute("SELECT set_config('TimeZone', $1, false)", job.timeZone.name)
        return { _ = try? db.execute("SELECT set_config('TimeZone', $1, false)", zone) }
    }

    /// The series whose newest row with a value before `end` lies before `cutoff`, with that
    /// row's time (of `series` only, when given): series that stopped while the job's clock went
    /// on, so that each is trained from its own end rather than found missing. A job without a
    /// series column has one series, named after the job. The source is read up to `end`, with
    /// the job's time zone as `read` has it.
    public func seriesEnds(before cutoff: Date, end: Date, series: String? = nil, on db: isolated PostgresConnection) throws -> [String: Date] {
        let selected = series != nil && job.source.seriesColumn != nil
        let sql = "SELECT n.k, max(n.t) FROM (" + (selected ? selectedSeriesSQL : self.sql)
            + ") AS n (k, t, v) WHERE n.v IS NOT NULL AND n.t IS NOT NULL GROUP BY n.k HAVING max(n.t) < $" + (selected ? "4" : "3")
        let restoreZone = try enterJobTimeZone(on: db)
        defer { restoreZone() }
        var parameters: [any PostgresEncodable] = [Date.distantPast, end]
        if selected, let series { parameters.append(Self.textArray([series])) }
        parameters.append(cutoff)
        let hasSeries = job.source.seriesColumn != nil
        do {
            var ends: [String: Date] = [:]
            for row in try db.query(sql, parameters: parameters) {
                let key = hasSeries ? try row.decode(0, as: String?.self) : job.name
                if let key { ends[key] = try row.decode(1, as: Date.self) }
            }
            return ends
        } catch let error as PostgresError where error.kind != .connectionLost {
            throw SourceError.queryFailed(job: job.name, underlying: error)
        }
    }

    /// Counts the rows a read of [from, to) drops or never sees: rows in the range with a NULL
    /// series key (they belong to no series), rows of a `table` source with a NULL time (no range
    /// matches them; a `query` source's are not knowable), and rows dated at or after `to` (in
    /// the future when `to` is now; from `futureFrom` on when given, e.g. the wall clock when
    /// `--as-of` set `to` in the past). Three counts over the source, for train runs, so that
    /// such rows are reported instead of dropped without a word.
    public func unreadRows(from: Date, to: Date, futureFrom: Date? = nil, on db: isolated PostgresConnection) throws -> UnreadRows {
        let futureFrom = max(futureFrom ?? to, to)
        var unread = UnreadRows(before: futureFrom)
        do {
            if let column = job.source.seriesColumn {
                unread.nullKeys = try db.query("SELECT count(*) FROM (" + sql + ") AS r WHERE r." + quoteIdentifier(column, qualified: false) + " IS NULL",
                                               from, to)[0].decode(0, as: Int.self)
            }
            if case .table(let table) = job.source.origin {
                unread.nullTimes = try db.query("SELECT count(*) FROM " + quoteIdentifier(table) + " WHERE "
                                                + quoteIdentifier(job.source.timeColumn, qualified: false) + " IS NULL")[0].decode(0, as: Int.self)
            }
            // With future-known covariates, rows ahead without a value are read for them.
            let valued = job.source.futureCovariates.isEmpty ? "" : " (k, t, v) WHERE r.v IS NOT NULL"
            unread.future = try db.query("SELECT count(*) FROM (" + sql + ") AS r" + valued, futureFrom, Date.distantFuture)[0].decode(0, as: Int.self)
        } catch let error as PostgresError where error.kind != .connectionLost {
            throw SourceError.queryFailed(job: job.name, underlying: error)
        }
        return unread
    }

    /// The series with rows in [from, to) and how many rows each has there: what a training
    /// run's scope is chosen from (`JobPlan.scope`). A job without a series column has one
    /// series, named after the job, whose rows are not counted (one series needs no choice).
    public func seriesRows(from: Date, to: Date, on db: isolated PostgresConnection) throws -> [(key: String, rows: Int)] {
        guard job.source.seriesColumn != nil else { return [(job.name, 0)] }
        do {
            return try db.query(rowsPerKeySQL, from, to).compactMap { row in
                try row.decode(0, as: String?.self).map { (key: $0, rows: Int(try row.decode(1, as: Int64.self))) }
            }
        } catch let error as PostgresError where error.kind != .connectionLost {
            throw SourceError.queryFailed(job: job.name, underlying: error)
        }
    }

    /// The series keys with rows in [from, to), in order.
    public func seriesKeys(from: Date, to: Date, on db: isolated PostgresConnection) throws -> [String] {
        try seriesRows(from: from, to: to, on: db).map(\.key)
    }

    /// The declared types of the source's `columns` (as `pg_typeof` names them), read by running
    /// the source over an empty time range in a read-only transaction: a check that never writes
    /// and never reads the user's rows. Errors are the server's, unlabelled, for the caller to explain.
    public func columnTypes(_ columns: [String], on db: isolated PostgresConnection) throws -> [String] {
        // A LEFT JOIN onto one row keeps one row even when the range is empty, and pg_typeof of a
        // NULL still names the column's declared type.
        let typeList = columns.map { "pg_typeof(s.\(quoteIdentifier($0, qualified: false)))::text" }.joined(separator: ", ")
        let sql = "SELECT \(typeList) FROM (SELECT 1) AS one LEFT JOIN (\(SourceQuery(job.source).sql)) AS s ON true LIMIT 1"
        return try db.transaction { tx in
            try tx.execute("SET TRANSACTION READ ONLY")
            let now = Date()
            let row = try tx.query(sql, now, now)[0]
            return try (0..<columns.count).map { try row.decode($0, as: String.self) }
        }
    }

    static func point(_ row: PostgresRow, hasSeries: Bool, jobName: String, covariates: Int = 0) throws -> SourcePoint? {
        let series: String
        if hasSeries {
            guard let key = try row.decode(0, as: String?.self) else { return nil }
            series = key
        } else {
            series = jobName
        }
        guard let time = try row.decode(1, as: Date?.self) else { return nil }
        return SourcePoint(series: series, time: time, value: try row.decode(2, as: Double?.self),
                           covariates: try (0..<covariates).map { try row.decode(3 + $0, as: Double?.self) })
    }

    /// Carries an error of the caller's closure past the catch clauses that label query errors.
    private struct CallerError: Error {
        var error: any Error
    }
}
