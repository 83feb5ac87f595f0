import Foundation
import PostgresClient
import XCTest
@testable import ForecastConfig
@testable import ForecastJobs
@testable import ForecastStore
@testable import Forecasting

/// Past-observed covariates through PostgreSQL (issue 14): check-config names a missing or
/// non-numeric column, train and predict read them, predict reads on from the saved states to a
/// full read's bits, and a changed covariate list is refused by predict and retrained by
/// `run --once`.
final class CovariateJobTests: CovariateJobTestCase {
    let t0 = Date(timeIntervalSince1970: 1_700_002_800)
    let hours = 20 * 24

    /// Two hourly sensors whose reading follows last hour's temperature, with a humidity beside
    /// and a text column; NULL temperatures, a NULL reading with its temperature, a missing
    /// hour, all among the last ten hours that predict reads on.
    func loadReadings() async throws {
        let readings = table("readings")
        try await db.executeScript("""
            CREATE TABLE \(readings) (sensor text, ts timestamptz, reading double precision, temp real, humid numeric, label text)
            """)
        let t0 = self.t0, hours = self.hours
        var generator = SeededNoise(seed: 91)
        func noise() -> Double { generator.next() }
        var previous = ["a": 20.0, "b": 20.0]
        _ = try await db.copyIn("COPY \(readings) FROM STDIN") { writer in
            for hour in 0..<hours where hour != hours - 4 {
                let daily = sin(2 * Double.pi * Double(hour) / 24), trend = Double(hour)
                for (sensor, base) in [("a", 10 + 0.05 * trend + 3 * daily), ("b", 100 - 0.04 * trend - 3 * daily)] {
                    let temp = 20 + 4 * daily + 4 * noise()
                    let reading = base + 0.5 * (previous[sensor]! - 20) + 0.3 * noise()
                    previous[sensor] = temp
                    try writer.append(sensor)
                    try writer.append(t0 + Double(hour) * 3600)
                    if sensor == "a" && hour == hours - 6 { try writer.appendNull() } else { try writer.append(reading) }
                    if hour % 31 == 3 || hour == hours - 8 || hour == hours - 7 { try writer.appendNull() } else { try writer.append(Float(temp)) }
                    try writer.append(String(format: "%.2f", 60 + 10 * noise()))
                    try writer.append("x")
                    try writer.endRow()
                }
            }
        }
    }

    func job(covariates: [String] = ["temp", "humid"]) -> JobSettings {
        var job = JobSettings.sensors(table: "\(schema).readings", epochs: 10, pastCovariates: covariates)
        job.fallback = .none  // the network is published, so its inputs matter
        job.statisticalChallengers = false
        return job
    }

    func testCheckConfigNamesAMissingOrNonNumericCovariate() async throws {
        try await loadReadings()
        let fine = try await SourceCheck.check(job(), on: db)
        XCTAssertEqual(fine.map(\.description), [])

        let missing = try await SourceCheck.check(job(covariates: ["temp", "dewpoint"]), on: db)
        XCTAssertEqual(missing.count, 1)
        XCTAssertEqual(missing.first?.key, "source.past_covariates")
        XCTAssertTrue(missing.first?.message.contains("column \"dewpoint\" does not exist in the source: ") == true, "\(missing)")
        XCTAssertTrue(missing.first?.message.contains("dewpoint") == true && missing.first?.message.contains("does not exist") == true)
        XCTAssertTrue(missing.first?.description.hasPrefix("job \"sensors\": source.past_covariates: ") == true, "\(missing)")

        let text = try await SourceCheck.check(job(covariates: ["label"]), on: db)
        XCTAssertEqual(text.map(\.description), ["job \"sensors\": source.past_covariates: column \"label\" is text, expected a numeric type (integer, real, double precision, numeric)"])

        // A query source names the columns it returns.
        var query = job(covariates: ["temp", "wind"])
        query.source.origin = .query("SELECT sensor, ts, reading, temp FROM \(table("readings")) WHERE ts >= $1 AND ts < $2")
        let fromQuery = try await SourceCheck.check(query, on: db)
        XCTAssertEqual(fromQuery.first?.key, "source.past_covariates", "\(fromQuery)")
        XCTAssertTrue(fromQuery.first?.message.contains("\"wind\"") == true, "\(fromQuery)")
    }

    func testTheReaderSelectsTheCovariatesAfterTheValue() async throws {
        try await loadReadings()
        let reader = SourceReader(job: job())
        XCTAssertTrue(reader.sql.hasPrefix("SELECT (s.\"sensor\")::text, (s.\"ts\")::timestamptz, s.\"reading\", s.\"temp\", s.\"humid\" FROM ("), reader.sql)
        let end = t0 + Double(hours) * 3600
        let points = try await db.withConnection { db in
            var points: [SourcePoint] = []
            try reader.read(from: end - 9 * 3600, to: end - 5 * 3600, series: "a", on: db) { points.append($0) }
            return points
        }
        XCTAssertEqual(points.map(\.time), (1...4).map { end - Double(10 - $0) * 3600 })
        XCTAssertEqual(points.map { $0.covariates.count }, [2, 2, 2, 2])
        XCTAssertNil(points[1].covariates[0], "a NULL temperature")
        XCTAssertNil(points[2].covariates[0])
        XCTAssertNotNil(points[2].covariates[1], "a numeric humidity")
        XCTAssertNotNil(points[3].covariates[0])
        XCTAssertNil(points[3].value, "a NULL reading keeps its temperature")
    }

    /// Trained 10 hours before the last reading; predict reads those hours on from the saved
    /// states (covariate gaps and a reading without a value among them) and forecasts bit for
    /// bit what a full read forecasts, saving the same states.
    func testTrainAndPredictReadCovariatesAndReadingOnEqualsAFullRead() async throws {
        try await checkReadingOn(scope: .series)
    }

    /// The same with one global model: each series keeps its own covariate scalers.
    func testAGlobalModelReadsOnWithEachSeriesCovariateScalers() async throws {
        try await checkReadingOn(scope: .global)
    }

    func checkReadingOn(scope: ModelScope) async throws {
        try await loadReadings()
        var job = job()
        job.model.scope = scope
        let trained = try await runner(job, at: t0 + Double(hours - 10) * 3600).train(on: db)
        XCTAssertEqual(trained.status, .succeeded, "\(trained.errors)")
        for row in try await db.query("SELECT cell, hyperparameters::text FROM \(table("models")) WHERE status = 'active'") {
            let text = try row.decode(1, as: String.self).replacingOccurrences(of: " ", with: "")
            XCTAssertTrue(text.contains("\"pastCovariates\":[\"temp\",\"humid\"]"), text)
        }
        let saved = try await states()
        XCTAssertEqual(saved.count, 2, "training saves a state per series")

        let predictor = runner(job, at: t0 + (Double(hours) - 0.5) * 3600)
        let incremental = try await predictor.predict(on: db)
        XCTAssertEqual(incremental.status, .succeeded, "\(incremental.errors)")
        XCTAssertEqual(incremental.seriesTotal, 2)
        let incrementalForecast = try await latest()
        XCTAssertEqual(incrementalForecast.count, 2)
        let incrementalStates = try await states()
        XCTAssertNotEqual(incrementalStates, saved, "the states moved on")

        try await db.execute("DELETE FROM \(table("series_state"))")
        var fullReader = predictor
        fullReader.warmsUpWithoutState = false
        let full = try await fullReader.predict(on: db)
        XCTAssertEqual(full.status, .succeeded, "\(full.errors)")
        XCTAssertGreaterThan(full.pointsRead, incremental.pointsRead, "without states (and no warm-up) the whole history is read")
        let fullForecast = try await latest()
        XCTAssertEqual(incrementalForecast, fullForecast, "bit for bit")
        let fullStates = try await states()
        XCTAssertEqual(incrementalStates, fullStates)

        // The model the predictions came from reads the covariates.
        let store = ModelStore(schema: schema)
        let active = try await db.withConnection { try store.activeModels(job: "sensors", includeWeights: true, on: $0) }
        for model in active {
            let network = try ModelArchive.decode(try XCTUnwrap(model.weights))
            XCTAssertEqual(network.settings.pastCovariates, ["temp", "humid"])
            XCTAssertEqual(network.covariateScalers.values.map(\.count), scope == .global ? [2, 2] : [2])
            if scope == .global { XCTAssertNotEqual(network.covariateScalers["a"], network.covariateScalers["b"]) }
        }
    }

    /// A job whose covariate list changed: predict refuses the models, `run --once` retrains.
    func testAChangedCovariateListIsRefusedAndRunOnceRetrainsIt() async throws {
        try await loadReadings()
        let end = t0 + Double(hours) * 3600
        let trained = try await runner(job(), at: end - 10 * 3600).train(on: db)
        XCTAssertEqual(trained.status, .succeeded, "\(trained.errors)")
        for (covariates, recorded) in [(["temp"], "\"pastCovariates\":[\"temp\"]"), ([], "\"cell\":\"lstm\"")] as [([String], String)] {
            let changed = job(covariates: covariates)
            let context = "with past_covariates \(covariates)"
            let predicted = try await runner(changed, at: end).predict(on: db)
            XCTAssertNotEqual(predicted.status, .succeeded, context)
            XCTAssertTrue(predicted.errors.contains { $0.contains("was trained with source.past_covariates ") && $0.contains("run forecastd train sensors") },
                          "\(context): \(predicted.errors)")
            let summaries = try await runner(changed, at: end).runOnce(on: db)
            XCTAssertEqual(summaries.map(\.kind), [.train, .predict], context)
            XCTAssertEqual(summaries[1].status, .succeeded, "\(context): \(summaries[1].errors)")
            let store = ModelStore(schema: schema)
            let active = try await db.withConnection { try store.activeModels(job: "sensors", includeWeights: false, on: $0) }
            XCTAssertEqual(active.count, 2, context)
            for model in active {
                XCTAssertNil(JobPlan(changed).requirements.mismatch(cell: model.cell, hyperparameters: model.hyperparameters), context)
                let text = model.hyperparameters.replacingOccurrences(of: " ", with: "")
                XCTAssertTrue(text.contains(recorded), "\(context): \(text)")
                XCTAssertEqual(text.contains("pastCovariates"), !covariates.isEmpty, "\(context): \(text)")
            }
        }
    }
}
