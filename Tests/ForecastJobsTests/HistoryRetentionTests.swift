import Foundation
import PostgresClient
import XCTest
@testable import ForecastConfig
@testable import ForecastJobs
@testable import ForecastStore

/// Migration 0007's partitions and `HistoryStore` / `HistoryMaintenance`: rows land in their
/// day's partition (or the DEFAULT one, until their day gets a partition), latest_forecasts
/// follows the newest origin, and retention drops whole days and prunes the rest.
final class HistoryRetentionTests: StoreTestCase {
    /// 2026-01-10T00:00:00Z, a UTC midnight.
    static let day0 = Date(timeIntervalSince1970: 1_768_003_200)

    static func rows(job: String = "j", series: String, model: Int64, issued: Date, horizon: Int = 3, value: Double = 1) -> [PredictionRow] {
        (1...horizon).map { step in
            PredictionRow(job: job, series: series, modelID: model, issuedAt: issued, targetTs: issued + Double(step) * 3600, step: step,
                          forecastValue: value + Double(step), lowerBound: value, upperBound: value + 10, confidenceLevel: 0.8)
        }
    }

    func partitionCounts(_ table: String) async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for row in try await db.query("""
            SELECT c.relname, (SELECT count(*) FROM \(self.table(table)) t WHERE t.tableoid = c.oid)::int
            FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass
            """, self.table(table)) {
            counts[try row.decode(0)] = try row.decode(1)
        }
        return counts
    }

    func testRowsGoToTheirDayAndStrayRowsMoveWhenTheirDayGetsAPartition() async throws {
        let store = HistoryStore(schema: schema), writer = PredictionWriter(schema: schema)
        let created = try await db.withConnection { try store.ensurePartitions(from: Self.day0, through: Self.day0 + 3600, on: $0) }
        XCTAssertEqual(created, ["predictions_p20260110", "actuals_p20260110"])
        try await db.transaction { tx in
            try writer.write(Self.rows(series: "a", model: 1, issued: Self.day0 + 3600), on: tx)
            // The next day has no partition yet: the DEFAULT one takes it.
            try writer.write(Self.rows(series: "a", model: 1, issued: Self.day0 + 86_400 + 3600), on: tx)
        }
        var counts = try await partitionCounts("predictions")
        XCTAssertEqual(counts, ["predictions_default": 3, "predictions_p20260110": 3])

        let adopted = try await db.withConnection { try store.adoptDefaultRows(on: $0) }
        XCTAssertEqual(adopted, ["predictions_p20260111"])
        counts = try await partitionCounts("predictions")
        XCTAssertEqual(counts, ["predictions_default": 0, "predictions_p20260110": 3, "predictions_p20260111": 3])
        let again = try await db.withConnection { try store.ensurePartitions(from: Self.day0, through: Self.day0 + 86_400, on: $0) }
        XCTAssertEqual(again, ["actuals_p20260111"], "existing partitions are left alone")

        let latest = try await db.query("SELECT issued_at, step FROM \(table("latest_forecasts")) WHERE job = 'j' ORDER BY step")
        XCTAssertEqual(try latest.map { try $0.decode(0, as: Date.self) }, Array(repeating: Self.day0 + 86_400 + 3600, count: 3))
    }

    func testLatestOriginsFollowTheNewestOriginAndTheOldestTarget() async throws {
        let writer = PredictionWriter(schema: schema)
        try await db.transaction { tx in
            try writer.write(Self.rows(series: "a", model: 1, issued: Self.day0 + 7200), on: tx)
            try writer.write(Self.rows(series: "a", model: 2, issued: Self.day0 + 10_800), on: tx)
            // A replay of an older origin moves only the oldest target back.
            try writer.write(Self.rows(series: "a", model: 1, issued: Self.day0), on: tx)
        }
        let row = try await db.query("SELECT issued_at, model_id, oldest_target_ts FROM \(table("latest_origins")) WHERE job = 'j' AND series = 'a'")[0]
        XCTAssertEqual(try row.decode(0, as: Date.self), Self.day0 + 10_800)
        XCTAssertEqual(try row.decode(1, as: Int64.self), 2)
        XCTAssertEqual(try row.decode(2, as: Date.self), Self.day0 + 3600)
        let latest = try await count("SELECT count(*) FROM \(table("latest_forecasts")) WHERE model_id = 2")
        XCTAssertEqual(latest, 3)
    }

    func testMaintenanceDropsWholeDaysPastTheLongestRetentionAndPrunesTheRest() async throws {
        let store = HistoryStore(schema: schema), writer = PredictionWriter(schema: schema)
        let now = Self.day0 + 10 * 86_400
        try await db.withConnection { _ = try store.ensurePartitions(from: Self.day0, through: now, on: $0) }
        for day in 0..<10 {
            _ = try await db.transaction { tx in try writer.write(Self.rows(series: "a", model: 1, issued: Self.day0 + Double(day) * 86_400 + 3600), on: tx) }
        }
        // Runs: three old predict runs and a newer one, an old train run (the newest of its kind, kept).
        let schema = self.schema
        try await db.executeScript("""
            SET search_path TO \(quoteIdentifier(schema));
            INSERT INTO runs (job, kind, status, started_at, finished_at) VALUES
                ('j', 'predict', 'succeeded', '2026-01-10', '2026-01-10'), ('j', 'predict', 'succeeded', '2026-01-11', '2026-01-11'),
                ('j', 'predict', 'failed', '2026-01-12', '2026-01-12'), ('j', 'predict', 'succeeded', '2026-01-19', '2026-01-19'),
                ('j', 'train', 'succeeded', '2026-01-10', '2026-01-10');
            INSERT INTO work_queue (job, kind, unit, run_id, state, finished_at)
            SELECT 'j', kind, 'a', run_id, 'completed', started_at FROM runs;
            INSERT INTO models (job, series, version, cell, status, trained_at, weights)
            SELECT 'j', 'a', v, 'lstm', CASE WHEN v = 8 THEN 'active' ELSE 'retired' END, timestamptz '2026-01-10' + v * interval '1 day', '\\x0102'
            FROM generate_series(1, 8) v;
            INSERT INTO training_history (model_id, epoch, train_loss) SELECT model_id, 1, 0.5 FROM models;
            RESET search_path;
            """)
        var configuration = try Configuration.parse("""
            [database]
            schema = "\(schema)"
            [daemon]
            retention = "5d"
            keep_versions = 3
            [[jobs]]
            name = "j"
            frequency = "1h"
            horizon = 3
            [jobs.source]
            table = "t"
            time_column = "ts"
            value_column = "v"
            [[jobs]]
            name = "k"
            frequency = "1h"
            horizon = 3
            retention = "7d"
            [jobs.source]
            table = "t"
            time_column = "ts"
            value_column = "v"
            """)
        configuration.database.schema = schema
        let maintenance = HistoryMaintenance(configuration: configuration)
        XCTAssertEqual(maintenance.partitionRetention, 7 * 86_400, "the longest retention keeps the shared partitions")
        let report = try await maintenance.run(now: now, on: db)

        // Days 10 to 12 (ending by the 13th, 7 days before the 20th) go whole; the 13th stays.
        XCTAssertEqual(report.dropped.sorted(), ["actuals_p20260110", "actuals_p20260111", "actuals_p20260112",
                                                 "predictions_p20260110", "predictions_p20260111", "predictions_p20260112"])
        let remaining = try await count("SELECT count(*) FROM \(table("predictions"))")
        XCTAssertEqual(remaining, 7 * 3)
        XCTAssertTrue(report.created.contains("predictions_p20260123"), "partitions ahead: \(report.created)")
        // Job j's own 5 days: the predict runs of the 10th to the 12th and their units go; the
        // newest train run stays though it is older, but its unit, finished before, goes.
        XCTAssertEqual(report.pruned.runs, 3)
        let kinds = try await db.query("SELECT kind, started_at FROM \(table("runs")) ORDER BY run_id").map { try $0.decode(0, as: String.self) }
        XCTAssertEqual(kinds, ["predict", "train"])
        let units = try await count("SELECT count(*) FROM \(table("work_queue"))")
        XCTAssertEqual(units, 1)
        XCTAssertEqual(report.pruned.workQueue, 4)
        // Weights: versions 6, 7 and 8 (active) keep them; all rows and metrics stay.
        let weighted = try await db.query("SELECT version FROM \(table("models")) WHERE weights IS NOT NULL ORDER BY 1").map { try $0.decode(0, as: Int.self) }
        XCTAssertEqual(weighted, [6, 7, 8])
        XCTAssertEqual(report.weightsDropped, 5)
        let modelRows = try await count("SELECT count(*) FROM \(table("models"))")
        XCTAssertEqual(modelRows, 8)
        // Training history of models no longer active trained before the 15th (versions 1-4) goes.
        let history = try await db.query("SELECT m.version FROM \(table("training_history")) h JOIN \(table("models")) m USING (model_id) ORDER BY 1")
            .map { try $0.decode(0, as: Int.self) }
        XCTAssertEqual(history, [5, 6, 7, 8])
        // A second pass finds nothing more to do.
        let second = try await maintenance.run(now: now, on: db)
        XCTAssertEqual(second.dropped, [])
        XCTAssertEqual(second.pruned, HistoryStore.Pruned())
        XCTAssertEqual(second.weightsDropped, 0)
    }

    func testAJobWithoutRetentionKeepsEveryPartition() async throws {
        var configuration = try Configuration.parse("""
            [daemon]
            retention = "5d"
            [[jobs]]
            name = "j"
            frequency = "1h"
            horizon = 3
            retention = ""
            [jobs.source]
            table = "t"
            time_column = "ts"
            value_column = "v"
            """)
        configuration.database.schema = schema
        XCTAssertNil(HistoryMaintenance(configuration: configuration).partitionRetention)
        XCTAssertThrowsError(try Configuration.parse("[daemon]\nretention = \"2h\"\n")) { error in
            XCTAssertTrue("\(error)".contains("at least a day"), "\(error)")
        }
    }
}
