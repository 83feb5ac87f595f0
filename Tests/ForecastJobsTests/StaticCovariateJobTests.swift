import Foundation
import PostgresClient
import XCTest
@testable import ForecastConfig
@testable import ForecastJobs
@testable import ForecastStore
@testable import Forecasting

/// Static covariates through PostgreSQL (issue 14, item 3): a table of per-series attributes
/// joined by key; check-config names a failing query, a result without attributes and a key on
/// two rows; a global model trains and predicts with them, keeps their encoding, and reading on
/// from its saved states equals a full read; a changed query is refused and retrained.
final class StaticCovariateJobTests: CovariateJobTestCase {
    let t0 = Date(timeIntervalSince1970: 1_700_002_800)
    let hours = 20 * 24

    /// Three regions' hourly load, whose level and swing follow the region's kind, and a
    /// sensors table with a text kind, a numeric capacity (NULL for one) and a row for a series
    /// the source does not have.
    func load() async throws {
        let demand = table("demand"), sensors = table("sensors")
        try await db.executeScript("""
            CREATE TABLE \(demand) (region text, ts timestamptz, load double precision);
            CREATE TABLE \(sensors) (region text, kind text, capacity integer, note text);
            INSERT INTO \(sensors) VALUES ('a', 'city', 100, 'x'), ('b', 'rural', 20, 'y'), ('c', 'city', NULL, NULL), ('z', 'port', 5, NULL);
            """)
        let t0 = self.t0, hours = self.hours
        var generator = SeededNoise(seed: 23)
        func noise() -> Double { generator.next() }
        // A cycle of 15 hours, not the day's: a day-old value (seasonal naive) forecasts it
        // poorly, the network's lags see it.
        _ = try await db.copyIn("COPY \(demand) FROM STDIN") { writer in
            for hour in 0..<hours {
                let cycle = sin(2 * Double.pi * Double(hour) / 15)
                for (region, value) in [("a", 50 + 9 * cycle), ("b", 10 - 2 * cycle), ("c", 45 + 8 * cycle)] {
                    try writer.append(region)
                    try writer.append(t0 + Double(hour) * 3600)
                    try writer.append(value + 0.3 * noise())
                    try writer.endRow()
                }
            }
        }
    }

    func job(statics: String? = nil) -> JobSettings {
        var source = SourceSettings(origin: .table("\(schema).demand"), seriesColumn: "region", timeColumn: "ts", valueColumn: "load")
        source.staticCovariates = statics ?? "SELECT region, kind, capacity FROM \(table("sensors"));"
        var job = JobSettings(name: "demand", frequency: try! Frequency(parsing: "1h"), horizon: 6, source: source)
        job.trainWindow = 30 * 86_400
        job.backtestWindows = 2
        job.fallback = .none  // the network is published, so its inputs matter
        job.statisticalChallengers = false
        job.model.scope = .global
        job.model.hiddenSize = 8
        job.model.epochs = 10
        job.model.context = 24
        return job
    }

    var end: Date { t0 + Double(hours) * 3600 }

    func testTheReaderAndCheckConfigReadTheAttributesAndNameWhatIsWrong() async throws {
        try await load()
        let reader = SourceReader(job: job())
        let statics = try await db.withConnection { db in try reader.staticCovariates(on: db) }
        XCTAssertEqual(statics?.columns, ["kind", "capacity"])
        XCTAssertEqual(statics?.numeric, [false, true])
        XCTAssertEqual(statics?.rows["a"], [.text("city"), .number(100)])
        XCTAssertEqual(statics?.rows["c"], [.text("city"), .null])
        XCTAssertEqual(statics?.attributes(of: "q").values, [.null, .null], "a series without a row: unknown")
        let fine = try await SourceCheck.check(job(), on: db)
        XCTAssertEqual(fine.map(\.description), [])

        func problems(_ query: String) async throws -> [String] {
            try await SourceCheck.check(job(statics: query), on: db).map(\.description)
        }
        let failing = try await problems("SELECT region, kind, size FROM \(table("sensors"))")
        XCTAssertEqual(failing.count, 1)
        XCTAssertTrue(failing[0].hasPrefix("job \"demand\": source.static_covariates: the query fails: column \"size\" does not exist"), "\(failing)")
        let keyOnly = try await problems("SELECT region FROM \(table("sensors"))")
        XCTAssertEqual(keyOnly, ["job \"demand\": source.static_covariates: the query returns 1 column; it needs the series key first and at least one attribute after it"])
        let twice = try await problems("SELECT s.region, s.kind, 'a' AS region FROM \(table("sensors")) AS s")
        XCTAssertEqual(twice, ["job \"demand\": source.static_covariates: the query returns two columns named \"region\"; name each once (AS)"])
        let duplicated = try await problems("SELECT region, kind FROM \(table("sensors")) UNION ALL SELECT 'b', 'other'")
        XCTAssertEqual(duplicated, ["job \"demand\": source.static_covariates: the series key \"b\" is on two rows; the query must return one row per series"])
        // Read-only: a query that writes fails as the check runs it.
        let writing = try await problems("WITH gone AS (DELETE FROM \(table("sensors")) RETURNING region, kind) SELECT * FROM gone")
        XCTAssertEqual(writing.count, 1, "\(writing)")
        let left = try await db.query("SELECT count(*) FROM \(table("sensors"))")[0].decode(0, as: Int64.self)
        XCTAssertEqual(left, 4)
    }

    /// A global model reads the attributes, keeps their encoding, and reads on from its states
    /// to a full read's bits; an attribute changed in the table is read by the next prediction.
    func testAGlobalModelReadsThemAndReadingOnEqualsAFullRead() async throws {
        try await load()
        let trained = try await runner(job(), at: end - 10 * 3600).train(on: db)
        XCTAssertEqual(trained.status, .succeeded, "\(trained.errors)")
        let rows = try await db.query("SELECT hyperparameters::text FROM \(table("models")) WHERE status = 'active'")
        guard rows.count == 1 else { return XCTFail("one global model, found \(rows.count)") }
        let hyperparameters = try rows[0].decode(0, as: String.self)
        XCTAssertTrue(hyperparameters.contains("staticEncoding") && hyperparameters.contains("\"rural\""), hyperparameters)

        let saved = try await db.query("SELECT count(*) FROM \(table("series_state"))")[0].decode(0, as: Int64.self)
        XCTAssertEqual(saved, 3, "training saves each series' state: \(hyperparameters)")
        var predictor = runner(job(), at: end - 1800)
        let incremental = try await predictor.predict(on: db)
        XCTAssertEqual(incremental.status, .succeeded, "\(incremental.errors)")
        let incrementalForecast = try await latest()
        XCTAssertEqual(incrementalForecast.count, 3)
        let incrementalStates = try await states()
        try await db.execute("DELETE FROM \(table("series_state"))")
        // Without a state a series is read over a warm-up, which is close to a full read, not
        // its bits (an ensemble's later members differ by about 1e-8): read the whole history.
        predictor.warmsUpWithoutState = false
        let full = try await predictor.predict(on: db)
        XCTAssertEqual(full.status, .succeeded, "\(full.errors)")
        let fullForecast = try await latest()
        XCTAssertEqual(fullForecast, incrementalForecast, "bit for bit")
        let fullStates = try await states()
        XCTAssertEqual(fullStates, incrementalStates, "every network's state, bit for bit")
        let weights = try await db.query("SELECT weights FROM \(table("models")) WHERE status = 'active'")
        let model = try weights[0].decode(0, as: [UInt8].self)
        XCTAssertEqual(try ModelArchive.decode(model).members.count, ForecasterSettings.shortSeriesEnsemble, "the default networks of a unit of short series")

        try await db.execute("UPDATE \(table("sensors")) SET kind = 'rural', capacity = 20 WHERE region = 'a'")
        try await db.execute("DELETE FROM \(table("series_state"))")
        let again = try await predictor.predict(on: db)
        XCTAssertEqual(again.status, .succeeded, "\(again.errors)")
        let changed = try await latest()
        XCTAssertNotEqual(changed.filter { $0.key.hasPrefix("a@") }.map(\.value), fullForecast.filter { $0.key.hasPrefix("a@") }.map(\.value))
        XCTAssertEqual(changed.filter { $0.key.hasPrefix("b@") }.map(\.value), fullForecast.filter { $0.key.hasPrefix("b@") }.map(\.value))
    }

    /// A job whose static covariates query changed (a new attribute column): predict refuses
    /// the model, `run --once` retrains it.
    func testAChangedQueryIsRefusedAndRunOnceRetrainsIt() async throws {
        try await load()
        let trained = try await runner(job(), at: end - 10 * 3600).train(on: db)
        XCTAssertEqual(trained.status, .succeeded, "\(trained.errors)")
        let changed = job(statics: "SELECT region, kind, capacity, note FROM \(table("sensors"))")
        let predicted = try await runner(changed, at: end).predict(on: db)
        XCTAssertNotEqual(predicted.status, .succeeded)
        XCTAssertTrue(predicted.errors.contains { $0.contains("was trained with source.static_covariates") && $0.contains("run forecastd train demand") },
                      "\(predicted.errors)")
        let summaries = try await runner(changed, at: end).runOnce(on: db)
        XCTAssertEqual(summaries.map(\.kind), [.train, .predict])
        XCTAssertEqual(summaries[1].status, .succeeded, "\(summaries[1].errors)")
        let store = ModelStore(schema: schema)
        for model in try await db.withConnection({ try store.activeModels(job: "demand", includeWeights: false, on: $0) }) {
            XCTAssertNil(JobPlan(changed).requirements.mismatch(cell: model.cell, hyperparameters: model.hyperparameters))
            XCTAssertTrue(model.hyperparameters.contains("\"note\""), model.hyperparameters)
        }
    }

    /// The same query returning another column (`SELECT *` of a table that gained one): predict
    /// refuses each series, naming the columns, until the next training.
    func testTheSameQueryReturningOtherColumnsIsRefusedByPredict() async throws {
        try await load()
        let star = job(statics: "SELECT * FROM \(table("sensors"))")
        let trained = try await runner(star, at: end - 10 * 3600).train(on: db)
        XCTAssertEqual(trained.status, .succeeded, "\(trained.errors)")
        try await db.execute("ALTER TABLE \(table("sensors")) ADD COLUMN owner text")
        let predicted = try await runner(star, at: end).predict(on: db)
        XCTAssertNotEqual(predicted.status, .succeeded)
        XCTAssertTrue(predicted.errors.contains {
            $0.contains("has the static covariates [\"kind\", \"capacity\", \"note\", \"owner\"], the model reads [\"kind\", \"capacity\", \"note\"]")
        }, "\(predicted.errors)")
        let retrained = try await runner(star, at: end).train(on: db)
        XCTAssertEqual(retrained.status, .succeeded, "\(retrained.errors)")
        let again = try await runner(star, at: end + 1800).predict(on: db)
        XCTAssertEqual(again.status, .succeeded, "\(again.errors)")
    }
}
