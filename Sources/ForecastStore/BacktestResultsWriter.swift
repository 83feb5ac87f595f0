import ForecastConfig
import Foundation
import PostgresClient

/// One score of a `forecastd backtest` run: a metric of one series over its windows.
public struct BacktestResultRow: Sendable, Equatable {
    public var series: String
    public var metric: String
    /// nil is stored as NULL (a score that came out NaN or infinite).
    public var value: Double?
    public var windows: Int

    public init(series: String, metric: String, value: Double?, windows: Int) {
        self.series = series
        self.metric = metric
        self.value = value
        self.windows = windows
    }
}

/// The `backtest_results` table: the scores of `forecastd backtest`, under their run.
public struct BacktestResultsWriter: Sendable {
    let names: StoreNames

    public init(schema: String) { names = StoreNames(schema: schema) }
    public init(_ settings: DatabaseSettings) { self.init(schema: settings.schema) }

    public func write(_ rows: [BacktestResultRow], runID: Int64, job: String, on db: isolated PostgresConnection) throws {
        for row in rows {
            try db.execute("""
                INSERT INTO \(names.backtestResults) (run_id, job, series, metric, value, windows) VALUES ($1, $2, $3, $4, $5, $6)
                """, runID, job, row.series, row.metric, row.value, row.windows)
        }
    }
}
