import Foundation
import PostgresClient
import XCTest
@testable import ForecastConfig
@testable import ForecastJobs
@testable import ForecastStore
@testable import Forecasting

/// Future-known covariates through PostgreSQL (issue 14, items 2, 5 and 6): check-config names a
/// missing or non-numeric column, the reader reads the horizon after its end (a table's rows
/// written ahead, a `query` source's join with a calendar) with their values blanked, `--as-of`
/// reads no value after its time, train and predict read the horizon and reading on from the
/// saved states equals a full read, and a series without its future values gets the fallback
/// and a note naming it and the covariate.
final class FutureCovariateJobTests: CovariateJobTestCase {
    let t0 = Date(timeIntervalSince1970: 1_700_002_800)
    let hours = 20 * 24
    let horizon = 6

    /// Two regions' hourly load, which jumps on working hours (a flag known ahead), with a past
    /// temperature beside and a text column; rows for the `horizon` hours after the last load
    /// carry the flag and a NULL load (and temperature). A calendar table holds the flags alone.
    func loadDemand() async throws {
        let demand = table("demand"), calendar = table("calendar")
        try await db.executeScript("""
            CREATE TABLE \(demand) (region text, ts timestamptz, load double precision, temp real, workday integer, label text);
            CREATE TABLE \(calendar) (ts timestamptz, workday integer);
            """)
        let t0 = self.t0, hours = self.hours, horizon = self.horizon
        var generator = SeededNoise(seed: 17)
        func noise() -> Double { generator.next() }
        let flags = (0..<(hours + horizon)).map { hour in (hour / 3) % 5 < 3 && hour % 24 >= 6 ? 1 : 0 }
        _ = try await db.copyIn("COPY \(demand) FROM STDIN") { writer in
            for hour in 0..<(hours + horizon) {
                let daily = sin(2 * Double.pi * Double(hour) / 24)
                for (region, base) in [("a", 10 + 3 * daily), ("b", 50 - 3 * daily)] {
                    try writer.append(region)
                    try writer.append(t0 + Double(hour) * 3600)
                    if hour < hours { try writer.append(base + 4 * Double(flags[hour]) + 0.3 * noise()) } else { try writer.appendNull() }
                    if hour < hours, hour % 31 != 3 { try writer.append(Float(20 + 4 * daily + noise())) } else { try writer.appendNull() }
                    try writer.append(Int32(flags[hour]))
                    try writer.append("x")
                    try writer.endRow()
                }
            }
        }
        _ = try await db.copyIn("COPY \(calendar) FROM STDIN") { writer in
            for hour in 0..<(hours + horizon) {
                try writer.append(t0 + Double(hour) * 3600)
                try writer.append(Int32(flags[hour]))
                try writer.endRow()
            }
        }
    }

    func job(past: [String] = ["temp"], future: [String] = ["workday"]) -> JobSettings {
        var source = SourceSettings(origin: .table("\(schema).demand"), seriesColumn: "region", timeColumn: "ts", valueColumn: "load",
                                    pastCovariates: past)
        source.futureCovariates = future
        var job = JobSettings(name: "demand", frequency: try! Frequency(parsing: "1h"), horizon: horizon, source: source)
        job.trainWindow = 30 * 86_400
        job.backtestWindows = 2
        job.fallback = .none  // the network is published, so its inputs matter
        job.statisticalChallengers = false
        job.model.hiddenSize = 8
        job.model.epochs = 10
        job.model.context = 24
        return job
    }

    var end: Date { t0 + Double(hours) * 3600 }

    func note(run: Int64) async throws -> String {
        try await db.query("SELECT coalesce(note, '') FROM \(table("runs")) WHERE run_id = $1", run)[0].decode(0, as: String.self)
    }

    func testCheckConfigNamesAMissingOrNonNumericFutureCovariate() async throws {
        try await loadDemand()
        let fine = try await SourceCheck.check(job(), on: db)
        XCTAssertEqual(fine.map(\.description), [])
        let missing = try await SourceCheck.check(job(future: ["workday", "holiday"]), on: db)
        XCTAssertEqual(missing.first?.key, "source.future_covariates", "\(missing)")
        XCTAssertTrue(missing.first?.message.contains("column \"holiday\" does not exist in the source: ") == true, "\(missing)")
        let text = try await SourceCheck.check(job(future: ["label"]), on: db)
        XCTAssertEqual(text.map(\.description),
                       ["job \"demand\": source.future_covariates: column \"label\" is text, expected a numeric type (integer, real, double precision, numeric)"])
    }

    /// A read up to `end` also reads the horizon after it: the flags, never a value or a past
    /// covariate there, even where the table holds them (`--as-of` in the past).
    func testTheReaderReadsTheHorizonAfterItsEndWithValuesBlanked() async throws {
        try await loadDemand()
        let reader = SourceReader(job: job())
        XCTAssertTrue(reader.sql.hasPrefix("SELECT (s.\"region\")::text, (s.\"ts\")::timestamptz, s.\"load\", s.\"temp\", s.\"workday\" FROM ("), reader.sql)
        for to in [end, end - 48 * 3600 - 1800] {
            XCTAssertEqual(reader.futureEnd(after: to), TimeGrid(frequency: try Frequency(parsing: "1h")).start(ofBucket: TimeGrid(frequency: try Frequency(parsing: "1h")).index(of: to)! + horizon + 1))
            let points = try await db.withConnection { db in
                var points: [SourcePoint] = []
                try reader.read(from: to - 3 * 3600, to: to, series: "a", on: db) { points.append($0) }
                return points
            }
            let ahead = points.filter { $0.time >= to }
            XCTAssertEqual(ahead.count, horizon, "the horizon after the bucket holding the end")
            XCTAssertTrue(ahead.allSatisfy { $0.value == nil && $0.covariates[0] == nil && $0.covariates[1] != nil }, "\(ahead)")
            XCTAssertTrue(points.filter { $0.time < to }.allSatisfy { $0.value != nil })
        }
        // Without future-known covariates a read stops at its end.
        XCTAssertEqual(SourceReader(job: job(future: [])).futureEnd(after: end), end)

        // --as-of replays history: a table that already holds the values after the replayed time
        // gives the series that a table without them gives.
        let asOf = end - 30 * 3600
        let runner = runner(job(), at: asOf)
        let replayed = try await runner.readSeries(from: t0, to: asOf, on: db).outcomes.compactMap(\.series)
        try await db.execute("UPDATE \(table("demand")) SET load = NULL, temp = NULL WHERE ts >= $1", asOf)
        let unseen = try await runner.readSeries(from: t0, to: asOf, on: db).outcomes.compactMap(\.series)
        XCTAssertEqual(replayed.count, 2)
        XCTAssertEqual(replayed, unseen)
        XCTAssertNil(replayed[0].missingFuture(horizon: horizon))
        XCTAssertEqual(replayed[0].covariates[1].ahead?.count, horizon)
    }

    /// A `query` source returns the future rows by a join: here the calendar holds every hour's
    /// flag and the load table only the past.
    func testAQuerySourceReturnsTheFutureRowsByAJoin() async throws {
        try await loadDemand()
        let fromTable = try await runner(job(), at: end).readSeries(from: t0, to: end, on: db).outcomes.compactMap(\.series)
        try await db.execute("DELETE FROM \(table("demand")) WHERE load IS NULL")
        var query = job()
        query.source.origin = .query("""
            SELECT r.region, c.ts, d.load, d.temp, c.workday
            FROM \(table("calendar")) AS c CROSS JOIN (VALUES ('a'), ('b')) AS r (region)
            LEFT JOIN \(table("demand")) AS d ON d.region = r.region AND d.ts = c.ts
            WHERE c.ts >= $1 AND c.ts < $2
            """)
        let checked = try await SourceCheck.check(query, on: db)
        XCTAssertEqual(checked.map(\.description), [])
        let series = try await runner(query, at: end).readSeries(from: t0, to: end, on: db).outcomes.compactMap(\.series)
        XCTAssertEqual(series.map(\.key), ["a", "b"])
        XCTAssertNil(series[1].missingFuture(horizon: horizon))
        XCTAssertEqual(series[1].covariates[1].ahead, fromTable[1].covariates[1].ahead)
    }

    /// Trained 10 hours before the last load; predict reads those hours on from the saved states
    /// with the horizon ahead, and forecasts bit for bit what a full read forecasts.
    func testTrainAndPredictReadTheHorizonAndReadingOnEqualsAFullRead() async throws {
        try await loadDemand()
        let trained = try await runner(job(), at: end - 10 * 3600).train(on: db)
        XCTAssertEqual(trained.status, .succeeded, "\(trained.errors)")
        XCTAssertEqual(trained.notes, [])
        for row in try await db.query("SELECT hyperparameters::text FROM \(table("models")) WHERE status = 'active'") {
            let text = try row.decode(0, as: String.self).replacingOccurrences(of: " ", with: "")
            XCTAssertTrue(text.contains("\"futureCovariates\":[\"workday\"]"), text)
        }
        let saved = try await states()
        XCTAssertEqual(saved.count, 2)

        let predictor = runner(job(), at: end - 1800)
        let incremental = try await predictor.predict(on: db)
        XCTAssertEqual(incremental.status, .succeeded, "\(incremental.errors)")
        let incrementalForecast = try await latest()
        XCTAssertEqual(incrementalForecast.count, 2)
        XCTAssertEqual(incrementalForecast.values.map(\.count), [3 * horizon, 3 * horizon])
        let incrementalStates = try await states()
        XCTAssertNotEqual(incrementalStates, saved)

        try await db.execute("DELETE FROM \(table("series_state"))")
        var fullReader = predictor
        fullReader.warmsUpWithoutState = false
        let full = try await fullReader.predict(on: db)
        XCTAssertEqual(full.status, .succeeded, "\(full.errors)")
        XCTAssertGreaterThan(full.pointsRead, incremental.pointsRead)
        let fullForecast = try await latest(), fullStates = try await states()
        XCTAssertEqual(fullForecast, incrementalForecast, "bit for bit")
        XCTAssertEqual(fullStates, incrementalStates)

        // The backtest scores the windows with the flags stored for them.
        let (backtest, scored) = try await runner(job(), at: end).backtest(on: db)
        XCTAssertEqual(backtest.status, .succeeded, "\(backtest.errors)")
        XCTAssertEqual(scored.count, 2)
    }

    /// A future row missing (no row) or NULL for a series: training and predict publish the
    /// seasonal-naive fallback's forecast for it, each with a note naming the series and the
    /// covariate; never a forecast from an invented flag. The series keeps its network.
    func testAMissingFutureValueGivesTheFallbackAndANote() async throws {
        try await loadDemand()
        let trainedAt = end - 10 * 3600
        try await db.execute("UPDATE \(table("demand")) SET workday = NULL WHERE region = 'b' AND ts = $1", trainedAt + 2 * 3600)
        var job = job()
        job.fallback = .seasonalNaive
        let trained = try await runner(job, at: trainedAt).train(on: db)
        XCTAssertEqual(trained.status, .succeeded, "\(trained.errors)")
        let expected = "series \"b\": the future-known covariate \"workday\" has no value for step 3 of the horizon"
        XCTAssertEqual(trained.notes, ["forecast by the fallback: " + expected])
        let trainNote = try await note(run: trained.runID)
        XCTAssertTrue(trainNote.contains(expected), trainNote)
        // b keeps its network (the next prediction with the flags known uses it) and no state.
        let models = try await db.query("SELECT series, cell FROM \(table("models")) WHERE status = 'active' ORDER BY series")
        XCTAssertEqual(try models.map { try $0.decode(0, as: String.self) + " " + $0.decode(1, as: String.self) }, ["a lstm", "b lstm"])
        let trainedStates = try await states()
        XCTAssertEqual(trainedStates.keys.sorted(), ["a"])
        let forecasts = try await latest()
        XCTAssertEqual(forecasts.count, 2, "b has the fallback's forecast")
        let b = try XCTUnwrap(forecasts.first { $0.key.hasPrefix("b@") }?.value)
        let bHistory = try await db.query("SELECT load FROM \(table("demand")) WHERE region = 'b' AND ts >= $1 AND ts < $2 ORDER BY ts",
                                          trainedAt - 24 * 3600, trainedAt - 18 * 3600).map { try $0.decode(0, as: Double.self) }
        XCTAssertEqual(b.enumerated().filter { $0.offset % 3 == 0 }.map(\.element), bHistory.map { Optional($0) },
                       "seasonal naive: the same hours a day earlier")

        // A network's series whose flag is missing ahead: predict, reading on from its state, reads
        // it in full and serves the fallback, saying why.
        try await db.execute("DELETE FROM \(table("demand")) WHERE region = 'a' AND ts = $1", end + 5 * 3600)
        let predicted = try await runner(job, at: end + 1800).predict(on: db)
        XCTAssertEqual(predicted.status, .succeeded, "\(predicted.errors)")
        let fallback = "series \"a\": the future-known covariate \"workday\" has no value for step 6 of the horizon"
        XCTAssertEqual(predicted.notes, ["forecast by the fallback: " + fallback])
        let predictNote = try await note(run: predicted.runID)
        XCTAssertTrue(predictNote.contains(fallback), predictNote)
        let a = try await latest().filter { $0.key.hasPrefix("a@") }.values.first
        let history = try await db.query("SELECT load FROM \(table("demand")) WHERE region = 'a' AND ts >= $1 AND ts < $2 ORDER BY ts",
                                         end - 24 * 3600, end - 18 * 3600).map { try $0.decode(0, as: Double.self) }
        XCTAssertEqual(try XCTUnwrap(a).enumerated().filter { $0.offset % 3 == 0 }.map(\.element), history.map { Optional($0) },
                       "seasonal naive: the same hours a day earlier")
    }

    /// The daemon's train unit does the same as a one-off train run: a series without its
    /// future values keeps its network and gets the fallback's forecast and the run's note.
    func testADaemonTrainUnitServesTheFallbackForAMissingFutureValue() async throws {
        try await loadDemand()
        try await db.execute("DELETE FROM \(table("demand")) WHERE region = 'a' AND ts = $1", end + 4 * 3600)
        let queue = WorkQueue(schema: schema), runs = RunLog(schema: schema)
        let claimed = try await db.withConnection { db -> WorkItem? in
            let runID = try runs.start(job: "demand", kind: .train, on: db)
            try queue.enqueue(job: "demand", kind: .train, units: ["a"], runID: runID, maxAttempts: 3, on: db)
            return try queue.claim(owner: "w", lease: 600, jobs: ["demand"], on: db)
        }
        let item = try XCTUnwrap(claimed)
        _ = try await runner(job(), at: end).execute(item, owner: "w", on: db)
        let runNote = try await note(run: item.runID)
        XCTAssertTrue(runNote.contains("series \"a\": the future-known covariate \"workday\" has no value for step 5 of the horizon"), runNote)
        let models = try await db.query("SELECT cell FROM \(table("models")) WHERE status = 'active'").map { try $0.decode(0, as: String.self) }
        XCTAssertEqual(models, ["lstm"])
        let saved = try await states()
        XCTAssertEqual(saved.count, 0, "no state from a forecast that could not read the horizon")
        let forecasts = try await latest()
        let a = try XCTUnwrap(forecasts.first?.value)
        let history = try await db.query("SELECT load FROM \(table("demand")) WHERE region = 'a' AND ts >= $1 AND ts < $2 ORDER BY ts",
                                         end - 24 * 3600, end - 18 * 3600).map { try $0.decode(0, as: Double.self) }
        XCTAssertEqual(a.enumerated().filter { $0.offset % 3 == 0 }.map(\.element), history.map { Optional($0) })
    }

    /// Holidays from a query (issue 14, item 4): check-config runs it and names a failing one,
    /// train and predict lay its dates on every step and the horizon, reading on equals a full
    /// read, and a holiday declared in the horizon changes the next forecast.
    func testHolidaysFromAQueryAreFutureKnownFeatures() async throws {
        try await loadDemand()
        try await db.executeScript("""
            CREATE TABLE \(table("holidays")) (day date, name text);
            INSERT INTO \(table("holidays")) VALUES ('2023-11-23', 'Thanksgiving'), ('2023-11-24', NULL), (NULL, 'undated');
            """)
        var job = job(future: [])
        job.holidays = "SELECT day, name FROM \(table("holidays"));"
        XCTAssertEqual(JobPlan(job).forecaster.futureCovariates, HolidayCalendar.featureNames)
        let fine = try await SourceCheck.check(job, on: db)
        XCTAssertEqual(fine.map(\.description), [])
        var broken = job
        broken.holidays = "SELECT holiday_date FROM \(table("holidays"))"
        let problems = try await SourceCheck.check(broken, on: db)
        XCTAssertEqual(problems.map(\.key), ["holidays"])
        XCTAssertTrue(problems.first?.message.contains("holiday_date") == true, "\(problems)")

        let reader = SourceReader(job: job)
        let calendar = try await db.withConnection { db in try reader.holidays(on: db) }
        XCTAssertEqual(calendar?.days, Set(["2023-11-23", "2023-11-24"].map { HolidayCalendar.day(parsing: $0)! }))

        let trained = try await runner(job, at: end - 10 * 3600).train(on: db)
        XCTAssertEqual(trained.status, .succeeded, "\(trained.errors)")
        for row in try await db.query("SELECT hyperparameters::text FROM \(table("models")) WHERE status = 'active'") {
            XCTAssertTrue(try row.decode(0, as: String.self).contains("(day before a holiday)"))
        }
        // Without states it reads in full (no warm-up), to compare with reading on bit for bit.
        var predictor = runner(job, at: end - 1800)
        predictor.warmsUpWithoutState = false
        let incremental = try await predictor.predict(on: db)
        XCTAssertEqual(incremental.status, .succeeded, "\(incremental.errors)")
        let incrementalForecast = try await latest()
        try await db.execute("DELETE FROM \(table("series_state"))")
        let full = try await predictor.predict(on: db)
        XCTAssertEqual(full.status, .succeeded, "\(full.errors)")
        let fullForecast = try await latest()
        XCTAssertEqual(fullForecast, incrementalForecast, "bit for bit")

        // A holiday declared for the horizon (in the job's time zone, UTC here) is read by the next prediction.
        try await db.execute("INSERT INTO \(table("holidays")) VALUES ('2023-12-05', 'declared')")
        try await db.execute("DELETE FROM \(table("series_state"))")
        let again = try await predictor.predict(on: db)
        XCTAssertEqual(again.status, .succeeded, "\(again.errors)")
        let declared = try await latest()
        XCTAssertNotEqual(declared, fullForecast)
    }

    /// A job whose future-known list changed: predict refuses the models, `run --once` retrains.
    func testAChangedFutureCovariateListIsRefusedAndRunOnceRetrainsIt() async throws {
        try await loadDemand()
        let trained = try await runner(job(), at: end - 10 * 3600).train(on: db)
        XCTAssertEqual(trained.status, .succeeded, "\(trained.errors)")
        let changed = job(past: ["temp", "workday"], future: [])
        let predicted = try await runner(changed, at: end).predict(on: db)
        XCTAssertNotEqual(predicted.status, .succeeded)
        XCTAssertTrue(predicted.errors.contains { $0.contains("was trained with source.") && $0.contains("run forecastd train demand") }, "\(predicted.errors)")
        let summaries = try await runner(changed, at: end).runOnce(on: db)
        XCTAssertEqual(summaries.map(\.kind), [.train, .predict])
        XCTAssertEqual(summaries[1].status, .succeeded, "\(summaries[1].errors)")
        let store = ModelStore(schema: schema)
        for model in try await db.withConnection({ try store.activeModels(job: "demand", includeWeights: false, on: $0) }) {
            XCTAssertNil(JobPlan(changed).requirements.mismatch(cell: model.cell, hyperparameters: model.hyperparameters))
            XCTAssertFalse(model.hyperparameters.contains("futureCovariates"), model.hyperparameters)
        }
    }
}
