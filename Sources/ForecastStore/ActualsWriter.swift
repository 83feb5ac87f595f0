import ForecastConfig
import Forecasting
import Foundation
import PostgresClient

/// Owns the `actuals` table: the grid values forecastd reads, kept so that forecasts can be
/// scored once their targets arrive (`forecast_accuracy`, drift).
///
/// Only what a forecast can be scored against is kept: observed steps (never interpolated or
/// missing ones) from the oldest prediction target of the series on, and after the first time
/// only the steps since the last recorded one, reaching back `revisit` steps so that a bucket
/// that was still filling, or rows that arrived late, are corrected. Writes go on the caller's
/// transaction, beside the unit's forecasts.
public struct ActualsWriter: Sendable {
    let names: StoreNames

    /// Rows per INSERT: two parameters each (time and value; job and series are shared) keep a
    /// statement far below PostgreSQL's 65535.
    static let rowsPerStatement = 1000

    public init(schema: String) { names = StoreNames(schema: schema) }

    public init(_ settings: DatabaseSettings) { self.init(schema: settings.schema) }

    /// Upserts the recent observed steps of each series of `job`; returns the rows written.
    @discardableResult
    public func record(job: String, series: [RegularSeries], revisit: Int, on db: isolated PostgresConnection) throws -> Int {
        var written = 0
        for s in series {
            guard let first = try firstStepToRecord(job: job, series: s, revisit: revisit, on: db), first < s.count else { continue }
            let steps = (first..<s.count).filter { s.states[$0] == .observed && s.values[$0].isFinite }
            var start = 0
            while start < steps.count {
                let chunk = steps[start..<min(start + Self.rowsPerStatement, steps.count)]
                var parameters: [any PostgresEncodable] = [job, s.key]
                var tuples: [String] = []
                tuples.reserveCapacity(chunk.count)
                for step in chunk {
                    let n = parameters.count
                    tuples.append("($1, $2, $\(n + 1)::timestamptz, $\(n + 2)::double precision)")
                    parameters += [s.date(ofStep: step), s.values[step]] as [any PostgresEncodable]
                }
                written += try db.execute("""
                    INSERT INTO \(names.actuals) (job, series, ts, value)
                    VALUES \(tuples.joined(separator: ", "))
                    ON CONFLICT (job, series, ts) DO UPDATE SET value = EXCLUDED.value, recorded_at = now()
                    WHERE \(names.actuals).value IS DISTINCT FROM EXCLUDED.value
                    """, parameters: parameters)
                start += chunk.count
            }
        }
        return written
    }

    /// The first step of `series` worth recording, or nil when no forecast of it exists yet.
    func firstStepToRecord(job: String, series: RegularSeries, revisit: Int, on db: isolated PostgresConnection) throws -> Int? {
        // Both lookups are served by an index: predictions_by_target and the key of actuals.
        let row = try db.query("""
            SELECT (SELECT min(target_ts) FROM \(names.predictions) WHERE job = $1 AND series = $2),
                   (SELECT max(ts) FROM \(names.actuals) WHERE job = $1 AND series = $2)
            """, job, series.key)[0]
        guard let oldestTarget = try row.decode(0, as: Date?.self) else { return nil }
        // A date the grid cannot place (none that forecastd writes) counts from the series' start.
        var first = series.step(of: oldestTarget) ?? 0
        if let lastRecorded = try row.decode(1, as: Date?.self), let step = series.step(of: lastRecorded) {
            first = max(first, step - revisit)
        }
        return max(first, 0)
    }
}
