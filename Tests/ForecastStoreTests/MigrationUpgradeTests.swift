import Foundation
import PostgresClient
import XCTest
@testable import ForecastConfig
@testable import ForecastStore

/// Migration 0007 converts a database written by the previous schema in place: every row of
/// every table is still there, and the views answer as they did.
final class MigrationUpgradeTests: XCTestCase {
    var schema = ""

    override func setUp() async throws {
        _ = try TestDatabase.url()
        schema = TestDatabase.uniqueSchema("upgrade")
    }

    override func tearDown() async throws {
        if !schema.isEmpty { try await TestDatabase.dropSchema(schema) }
    }

    static let tables = ["models", "predictions", "actuals", "model_metrics", "training_history", "runs", "work_queue",
                         "job_schedule", "backtest_results", "series_state"]

    func testADatabaseOfThePreviousSchemaUpgradesInPlaceWithEveryRow() async throws {
        let db = try await TestDatabase.connect()
        let files = try MigrationFile.load(directory: MigrationFile.defaultDirectory(environment: [:]))
        try await Migrator(schema: schema, files: files.filter { $0.version < 7 }).migrate(on: db)

        // The hand-worked fixture, and three days of hourly forecasts of three series beside it.
        let fixture = AccuracyFixture()
        try await fixture.load(into: schema, on: db)
        try await db.executeScript("""
            BEGIN;
            SET LOCAL search_path TO \(quoteIdentifier(schema));
            INSERT INTO models (model_id, job, series, version, cell, status, weights) OVERRIDING SYSTEM VALUE
                VALUES (5, 'bulk', NULL, 1, 'lstm', 'active', '\\x00010203');
            INSERT INTO predictions (job, series, model_id, issued_at, target_ts, step, forecast_value, lower_bound, upper_bound, confidence_level)
            SELECT 'bulk', 's' || n, m.model_id, timestamptz '2026-01-01' + h * interval '1 hour', timestamptz '2026-01-01' + (h + s) * interval '1 hour',
                   s, n + h + s, n, n + h + s + 1, 0.8
            FROM models m, generate_series(1, 3) n, generate_series(0, 71) h, generate_series(1, 24) s WHERE m.job = 'bulk';
            INSERT INTO actuals (job, series, ts, value)
            SELECT 'bulk', 's' || n, timestamptz '2026-01-01' + h * interval '1 hour', n + h FROM generate_series(1, 3) n, generate_series(0, 95) h;
            INSERT INTO runs (job, kind, status, finished_at) VALUES ('bulk', 'predict', 'succeeded', now());
            INSERT INTO work_queue (job, kind, unit, run_id, state, finished_at) SELECT 'bulk', 'predict', '', max(run_id), 'completed', now() FROM runs;
            INSERT INTO backtest_results (run_id, job, series, metric, value, windows) SELECT max(run_id), 'bulk', 's1', 'mae', 1.5, 3 FROM runs;
            INSERT INTO series_state (model_id, series, last_step, state) SELECT model_id, 's1', now(), '\\x01' FROM models WHERE job = 'bulk';
            COMMIT;
            """)
        let before = try await snapshot(db)
        XCTAssertEqual(before.counts["predictions"], 5 + 3 * 72 * 24)

        let applied = try await Migrator(schema: schema, files: files).migrate(on: db)
        XCTAssertEqual(applied.first, "0007_partitioned_history.sql")
        let after = try await snapshot(db)
        XCTAssertEqual(after.counts, before.counts, "no row lost or added")
        XCTAssertEqual(after.latest, before.latest)
        XCTAssertEqual(after.accuracy, before.accuracy)
        XCTAssertEqual(after.leaderboard, before.leaderboard)

        // The old rows are one partition now; a new day's forecasts go to a partition of their own.
        let partitions = try await db.query("""
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass ORDER BY 1
            """, "\(schema).predictions").map { try $0.decode(0, as: String.self) }
        XCTAssertEqual(partitions, ["predictions_default", "predictions_legacy"])
        let later = Date().addingTimeInterval(3 * 86_400)
        let schema = self.schema
        try await db.withConnection { _ = try HistoryStore(schema: schema).ensurePartitions(from: later, through: later, on: $0) }
        _ = try await db.transaction { tx in
            try PredictionWriter(schema: schema).write([PredictionRow(job: "bulk", series: "s1", modelID: 5, issuedAt: later, targetTs: later + 3600,
                                                                      step: 1, forecastValue: 42)], on: tx)
        }
        let newest = try await db.query("SELECT forecast_value, tableoid::regclass::text FROM \(quoteIdentifier(schema)).predictions WHERE issued_at = $1", later)[0]
        XCTAssertEqual(try newest.decode(0, as: Double.self), 42)
        let home = try newest.decode(1, as: String.self)
        XCTAssertTrue(home.contains("predictions_p"), home)
        let latest = try await db.query("SELECT forecast_value FROM \(quoteIdentifier(schema)).latest_forecasts WHERE job = 'bulk' AND series = 's1'")
        XCTAssertEqual(try latest.map { try $0.decode(0, as: Double.self) }, [42])
        await db.close()
    }

    struct Snapshot {
        var counts: [String: Int] = [:]
        var latest: [String] = []
        var accuracy: [String] = []
        var leaderboard: [String] = []
    }

    func snapshot(_ db: PostgresConnection) async throws -> Snapshot {
        let s = quoteIdentifier(schema)
        var snapshot = Snapshot()
        for table in Self.tables {
            snapshot.counts[table] = try await db.query("SELECT count(*)::int FROM \(s).\(table)")[0].decode(0, as: Int.self)
        }
        func rows(_ sql: String) async throws -> [String] { try await db.query(sql).map { try $0.decode(0, as: String.self) } }
        snapshot.latest = try await rows("SELECT row_to_json(v)::text FROM \(s).latest_forecasts v ORDER BY job, series, target_ts")
        snapshot.accuracy = try await rows("SELECT row_to_json(v)::text FROM \(s).forecast_accuracy v ORDER BY job, series, issued_at, target_ts")
        snapshot.leaderboard = try await rows("SELECT row_to_json(v)::text FROM \(s).model_leaderboard v ORDER BY job, series, model_id")
        return snapshot
    }
}
