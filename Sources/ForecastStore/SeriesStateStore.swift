import ForecastConfig
import Foundation
import PostgresClient

/// One row of `series_state`: where a model stands after reading a series.
public struct SeriesStateRow: Sendable, Equatable {
    public var modelID: Int64
    public var series: String
    /// The first instant of the last step read into the state.
    public var lastStep: Date
    /// `SeriesStateArchive`'s bytes.
    public var state: [UInt8]

    public init(modelID: Int64, series: String, lastStep: Date, state: [UInt8]) {
        self.modelID = modelID
        self.series = series
        self.lastStep = lastStep
        self.state = state
    }
}

/// The saved states of `series_state`, per (model, series). Writes run on the caller's
/// transaction, beside the forecasts made from the same reading, so a state never runs ahead
/// of (or behind) the forecasts stored for its series.
public struct SeriesStateStore: Sendable {
    let names: StoreNames

    public init(schema: String) { names = StoreNames(schema: schema) }
    public init(_ settings: DatabaseSettings) { self.init(schema: settings.schema) }

    /// The states of the job's active models, streamed (one predict cycle reads them all).
    public func activeStates(job: String, on db: isolated PostgresConnection, _ body: (SeriesStateRow) throws -> Void) throws {
        try db.stream("""
            SELECT s.model_id, s.series, s.last_step, s.state FROM \(names.seriesState) s
            JOIN \(names.models) m ON m.model_id = s.model_id
            WHERE m.job = $1 AND m.status = 'active'
            """, parameters: [job]) { row in
            try body(SeriesStateRow(modelID: try row.decode(0), series: try row.decode(1), lastStep: try row.decode(2),
                                    state: try row.decode(3)))
        }
    }

    /// Replaces the states of the rows' (model, series) pairs. Atomic on its own as well (a
    /// savepoint), so a failed write leaves every old state in place.
    public func replace(_ rows: [SeriesStateRow], on db: isolated PostgresConnection) throws {
        guard !rows.isEmpty else { return }
        let names = self.names
        try db.transaction { tx in
            for (modelID, group) in Dictionary(grouping: rows, by: \.modelID) {
                // One statement per model: the keys travel as one JSON array parameter.
                let keys = String(decoding: try JSONEncoder().encode(group.map(\.series)), as: UTF8.self)
                try tx.execute("""
                    DELETE FROM \(names.seriesState)
                    WHERE model_id = $1 AND series IN (SELECT jsonb_array_elements_text($2::jsonb))
                    """, modelID, keys)
            }
            _ = try tx.copyIn(into: names.unquoted("series_state"), columns: ["model_id", "series", "last_step", "state"]) { writer in
                for row in rows {
                    try writer.append(row.modelID)
                    try writer.append(row.series)
                    try writer.append(row.lastStep)
                    try writer.append(row.state)
                    try writer.endRow()
                }
            }
        }
    }

    /// Drops the states of the (job, series) models that are no longer active: a new version
    /// starts from its own states.
    public func dropInactive(job: String, series: String?, on db: isolated PostgresConnection) throws {
        // The predicates match models_version_key's expressions, so the index finds the versions.
        try db.execute("""
            DELETE FROM \(names.seriesState) WHERE model_id IN (
                SELECT model_id FROM \(names.models)
                WHERE job = $1 AND (series IS NULL) = $2 AND coalesce(series, '') = $3 AND status <> 'active')
            """, job, series == nil, series ?? "")
    }
}
