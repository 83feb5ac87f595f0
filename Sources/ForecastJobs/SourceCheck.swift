import ForecastConfig
import ForecastStore
import Foundation
import PostgresClient

/// Checks that a job's source can be read: the table and columns exist, the time column holds
/// times and the value column and every covariate numbers, from the declared types `SourceReader.columnTypes` reads
/// over an empty time range, read-only, so a check never writes and never reads the user's rows.
public enum SourceCheck {
    public struct Problem: Error, Sendable, CustomStringConvertible {
        public var job: String
        public var key: String
        public var message: String
        public var description: String { "job \"\(job)\": \(key): \(message)" }
    }

    static let timeTypes: Set<String> = ["timestamp with time zone", "timestamp without time zone", "date"]
    static let numericTypes: Set<String> = ["smallint", "integer", "bigint", "real", "double precision", "numeric"]

    /// Returns the problems of the job's source; empty when it can be read.
    public static func check(_ job: JobSettings, on connection: PostgresConnection) async throws -> [Problem] {
        let source = job.source
        let columns = [("time_column", source.timeColumn), ("value_column", source.valueColumn)]
            + (source.seriesColumn.map { [("series_column", $0)] } ?? [])
            + source.pastCovariates.map { ("past_covariates", $0) } + source.futureCovariates.map { ("future_covariates", $0) }
        let reader = SourceReader(job: job)
        let jobName = job.name
        return try await connection.withConnection { db in
            let types: [String]
            do {
                types = try reader.columnTypes(columns.map(\.1), on: db)
            } catch let error as PostgresError where error.kind == .server {
                return [problem(for: error, job: jobName, sourceKey: source.originKey, columns: columns)]
            }
            var problems: [Problem] = []
            // The holidays query runs as predict runs it, read-only.
            if job.holidays != nil {
                do {
                    _ = try db.transaction { tx in
                        try tx.execute("SET TRANSACTION READ ONLY")
                        return try reader.holidays(on: tx)
                    }
                } catch SourceError.holidaysFailed(_, let error) {
                    problems.append(Problem(job: jobName, key: "holidays", message: "the query fails: \(error.message)"))
                }
            }
            // So does the static covariates query, which must return one row per series.
            if job.source.staticCovariates != nil {
                do {
                    _ = try db.transaction { tx in
                        try tx.execute("SET TRANSACTION READ ONLY")
                        return try reader.staticCovariates(on: tx)
                    }
                } catch SourceError.staticCovariatesFailed(_, let error) {
                    problems.append(Problem(job: jobName, key: "source.static_covariates", message: "the query fails: \(error.message)"))
                } catch SourceError.staticCovariatesInvalid(_, let reason) {
                    problems.append(Problem(job: jobName, key: "source.static_covariates", message: reason))
                }
            }
            for ((key, name), type) in zip(columns, types) {
                if key == "time_column", !timeTypes.contains(type) {
                    problems.append(Problem(job: jobName, key: "source.\(key)", message: "column \"\(name)\" is \(type), expected timestamptz, timestamp or date"))
                }
                if key == "value_column" || key.hasSuffix("_covariates"), !numericTypes.contains(type) {
                    problems.append(Problem(job: jobName, key: "source.\(key)", message: "column \"\(name)\" is \(type), expected a numeric type (integer, real, double precision, numeric)"))
                }
            }
            return problems
        }
    }

    static func problem(for error: PostgresError, job: String, sourceKey: String, columns: [(String, String)]) -> Problem {
        switch error.sqlState {
        case "42P01":
            return Problem(job: job, key: sourceKey, message: "the table does not exist: \(error.message)")
        case "42703":
            // "column s.temp does not exist" or, inside the source, "column "temp" does not exist".
            if let (key, name) = columns.first(where: { error.message.contains("\"\($0.1)\"") || error.message.contains("s.\($0.1) ") || error.message.hasSuffix("s.\($0.1)") }) {
                // A covariate names the server's words too: which of several columns it was.
                let detail = key.hasSuffix("_covariates") ? ": \(error.message)" : ""
                return Problem(job: job, key: "source.\(key)", message: "column \"\(name)\" does not exist in the source\(detail)")
            }
            return Problem(job: job, key: sourceKey, message: error.message)
        case "42501":
            return Problem(job: job, key: sourceKey, message: "permission denied: \(error.message)")
        default:
            return Problem(job: job, key: sourceKey, message: "the source query fails: \(error.message)")
        }
    }
}

extension SourceSettings {
    /// The configuration key that holds the source: `source.table` or `source.query`.
    public var originKey: String {
        switch origin {
        case .table: return "source.table"
        case .query: return "source.query"
        }
    }
}
