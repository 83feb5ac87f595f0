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

    public init(schema: String) { names = StoreNames(schema: schema) }

    public init(_ settings: DatabaseSettings) { self.init(schema: settings.schema) }

    /// Upserts the recent observed steps of each series of `job`.
    ///
    /// Three statements and a COPY per call, whatever the number of series: one lookup of
    /// `latest_origins` (where each series' oldest forecast target and newest recorded actual
    /// are kept), a binary COPY of the rows into a temporary table of the session, and one
    /// upsert from it. `latest_origins.last_actual_ts` is not moved here: the caller hands the
    /// result to `PredictionWriter.write(_:recorded:on:)` in the same transaction, whose one
    /// upsert of `latest_origins` moves it with the batch's new origins (migration 0012).
    public func record(job: String, series: [RegularSeries], revisit: Int, on db: isolated PostgresConnection) throws -> RecordedActuals {
        guard !series.isEmpty else { return RecordedActuals() }
        let bounds = try recordedBounds(job: job, keys: series.map(\.key), on: db)
        var rows: [(series: String, ts: Date, value: Double)] = []
        for s in series {
            guard let bound = bounds[s.key], let first = Self.firstStepToRecord(series: s, oldestTarget: bound.oldestTarget,
                                                                                lastRecorded: bound.lastRecorded, revisit: revisit),
                  first < s.count else { continue }
            for step in first..<s.count where s.states[step] == .observed && s.values[step].isFinite {
                rows.append((s.key, s.date(ofStep: step), s.values[step]))
            }
        }
        guard !rows.isEmpty else { return RecordedActuals() }
        let writer = self, staged = rows
        // A transaction (a savepoint inside the caller's) of its own: the staging table empties
        // at commit, so the COPY and the upsert must share one.
        let written = try db.transaction { tx in try writer.upsert(job: job, staged, on: tx) }
        var newest: [String: Date] = [:]
        for row in rows where newest[row.series].map({ row.ts > $0 }) ?? true { newest[row.series] = row.ts }
        return RecordedActuals(job: job, rows: written, newest: newest)
    }

    private func upsert(job: String, _ rows: [(series: String, ts: Date, value: Double)], on db: isolated PostgresConnection) throws -> Int {
        try db.executeScript("""
            SET LOCAL client_min_messages TO warning;
            CREATE TEMPORARY TABLE IF NOT EXISTS forecastd_actuals_in (
                series text NOT NULL, ts timestamptz NOT NULL, value double precision NOT NULL
            ) ON COMMIT DELETE ROWS;
            DELETE FROM pg_temp.forecastd_actuals_in;
            """)
        _ = try db.copyIn(into: "pg_temp.forecastd_actuals_in", columns: ["series", "ts", "value"]) { writer in
            for row in rows {
                try writer.append(row.series)
                try writer.append(row.ts)
                try writer.append(row.value)
                try writer.endRow()
            }
        }
        // DISTINCT ON: ON CONFLICT DO UPDATE may not touch a row twice in one statement.
        return try db.execute("""
            INSERT INTO \(names.actuals) AS a (job, series, ts, value)
            SELECT DISTINCT ON (series, ts) $1, series, ts, value FROM pg_temp.forecastd_actuals_in ORDER BY series, ts
            ON CONFLICT (job, series, ts) DO UPDATE SET value = EXCLUDED.value, recorded_at = now()
            WHERE a.value IS DISTINCT FROM EXCLUDED.value
            """, job)
    }

    /// Per series of `keys` that has a forecast: the oldest target forecast for it, and the
    /// newest actual recorded for it (nil before the first).
    func recordedBounds(job: String, keys: [String], on db: isolated PostgresConnection) throws -> [String: (oldestTarget: Date, lastRecorded: Date?)] {
        var bounds: [String: (oldestTarget: Date, lastRecorded: Date?)] = [:]
        let list = String(decoding: try JSONEncoder().encode(keys), as: UTF8.self)
        for row in try db.query("""
            SELECT series, oldest_target_ts, last_actual_ts FROM \(names.latestOrigins)
            WHERE job = $1 AND series IN (SELECT jsonb_array_elements_text($2::jsonb))
            """, job, list) {
            bounds[try row.decode(0)] = (try row.decode(1), try row.decode(2))
        }
        return bounds
    }

    /// The first step of `series` worth recording: from the oldest forecast target on, and after
    /// the first time from `revisit` steps before the last recorded one.
    static func firstStepToRecord(series: RegularSeries, oldestTarget: Date, lastRecorded: Date?, revisit: Int) -> Int? {
        // A date the grid cannot place (none that forecastd writes) counts from the series' start.
        var first = series.step(of: oldestTarget) ?? 0
        if let lastRecorded, let step = series.step(of: lastRecorded) {
            first = max(first, step - revisit)
        }
        return max(first, 0)
    }
}

/// What `ActualsWriter.record` wrote: the rows, and per series the newest step recorded, which
/// `PredictionWriter.write(_:recorded:on:)` moves `latest_origins.last_actual_ts` to.
public struct RecordedActuals: Sendable, Equatable {
    public var job = ""
    public var rows = 0
    public var newest: [String: Date] = [:]

    public init() {}

    public init(job: String, rows: Int, newest: [String: Date]) {
        self.job = job
        self.rows = rows
        self.newest = newest
    }
}
