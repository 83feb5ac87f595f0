import ForecastConfig
import PostgresClient

/// The SQL that reads one job's rows for a time range [$1, $2): written by forecastd for a
/// `table` source, with every identifier quoted; the user's own text for a `query` source.
/// Either way the result has the job's series, time and value columns, named as configured.
public struct SourceQuery: Sendable, Equatable {
    public var sql: String
    public var seriesColumn: String?
    public var timeColumn: String
    public var valueColumn: String

    public init(_ source: SourceSettings) {
        seriesColumn = source.seriesColumn
        timeColumn = source.timeColumn
        valueColumn = source.valueColumn
        switch source.origin {
        case .query(let text):
            sql = text
        case .table(let table):
            let time = quoteIdentifier(source.timeColumn, qualified: false)
            let columns = ([source.seriesColumn, source.timeColumn, source.valueColumn].compactMap { $0 } + source.pastCovariates
                           + source.futureCovariates)
                .map { quoteIdentifier($0, qualified: false) }
                .joined(separator: ", ")
            sql = "SELECT \(columns) FROM \(quoteIdentifier(table)) WHERE \(time) >= $1 AND \(time) < $2"
        }
    }
}
