import Foundation
import PostgresClient
import XCTest
@testable import ForecastConfig
@testable import ForecastStore

/// Migration 0008's `forecastd_reader`: a dashboard login that is a member reads the forecast,
/// metric and health tables and views, and can neither write nor read the model weights.
final class ReaderRoleTests: StoreTestCase {
    var login = ""

    override func tearDown() async throws {
        if !login.isEmpty, let db {
            try? await db.executeScript("DROP ROLE IF EXISTS \(quoteIdentifier(login))")
        }
        try await super.tearDown()
    }

    /// The test server's URL with another user (trust authentication on its private socket).
    func url(asUser user: String) throws -> String {
        let url = try TestDatabase.url()
        guard let scheme = url.range(of: "://"), let at = url[scheme.upperBound...].firstIndex(of: "@") else {
            throw XCTSkip("cannot set the user in \(url)")
        }
        return String(url[..<scheme.upperBound]) + user + String(url[at...])
    }

    func testAMemberReadsForecastsAndHealthButCannotWriteOrReadWeights() async throws {
        try await AccuracyFixture().load(into: schema, on: db)
        try await db.execute("UPDATE \(table("models")) SET weights = '\\x0102'")
        login = "dashboard_\(UInt32.random(in: 0...UInt32.max))"
        try await db.executeScript("CREATE ROLE \(quoteIdentifier(login)) LOGIN IN ROLE forecastd_reader")
        let reader = try await PostgresConnection.connect(try url(asUser: login))

        for relation in ["predictions", "latest_forecasts", "actuals", "forecast_accuracy", "model_metrics", "training_history",
                         "backtest_results", "model_leaderboard", "runs", "job_schedule", "job_health"] {
            _ = try await reader.query("SELECT count(*) FROM \(table(relation))")
        }
        let latest = try await reader.query("SELECT count(*)::int FROM \(table("latest_forecasts")) WHERE job = 'sensors'")[0].decode(0, as: Int.self)
        XCTAssertEqual(latest, 4)
        let models = try await reader.query("SELECT count(*)::int FROM \(table("models")) WHERE status = 'active'")[0].decode(0, as: Int.self)
        XCTAssertEqual(models, 3, "the models' other columns are readable")

        for sql in ["SELECT weights FROM \(table("models"))",
                    "SELECT * FROM \(table("models"))",
                    "SELECT * FROM \(table("series_state"))",
                    "SELECT * FROM \(table("work_queue"))",
                    "SELECT * FROM \(table("schema_migrations"))",
                    "INSERT INTO \(table("predictions")) (job, series, model_id, issued_at, target_ts, step, forecast_value) VALUES ('x', 'x', 1, now(), now(), 1, 1)",
                    "DELETE FROM \(table("runs"))",
                    "UPDATE \(table("latest_origins")) SET model_id = 0",
                    "CREATE TABLE \(table("mine")) (x int)"] {
            do {
                _ = try await reader.execute(sql)
                XCTFail("the reader may not: \(sql)")
            } catch let error as PostgresError {
                XCTAssertEqual(error.sqlState, "42501", "\(sql): \(error)")
            }
        }
        await reader.close()
    }

    func testTheRoleMigrationRunsAgainInAnotherSchemaBesideThisOne() async throws {
        // The role exists (this schema's migration made sure); a second schema's migrations,
        // two at once, grant to the same role without failing.
        let files = try MigrationFile.load(directory: MigrationFile.defaultDirectory(environment: [:]))
        let other = [TestDatabase.uniqueSchema("reader"), TestDatabase.uniqueSchema("reader")]
        async let a: [String] = Migrator(schema: other[0], files: files).migrate(on: try await TestDatabase.connect())
        async let b: [String] = Migrator(schema: other[1], files: files).migrate(on: try await TestDatabase.connect())
        let (first, second) = try await (a, b)
        XCTAssertEqual(first.count, files.count)
        XCTAssertEqual(second.count, files.count)
        let granted = try await db.query("""
            SELECT count(*)::int FROM information_schema.role_table_grants
            WHERE grantee = 'forecastd_reader' AND table_schema = ANY($1::text[]) AND table_name = 'latest_forecasts'
            """, "{\(other[0]),\(other[1])}")[0].decode(0, as: Int.self)
        XCTAssertEqual(granted, 2)
        for schema in other { try await TestDatabase.dropSchema(schema) }
    }
}
