import Foundation
import Logging
import NeuralNet
import PostgresClient
import XCTest
@testable import ForecastConfig
@testable import ForecastJobs
@testable import ForecastStore
@testable import Forecasting

/// Issue 15, defects 1, 2 and 8: a job whose configuration changed after training, and data
/// that ended long before the clock.
final class ConfigChangeTests: StoreTestCase {
    let t0 = Date(timeIntervalSince1970: 1_700_002_800)
    let hours = 20 * 24

    /// The two sensors of `trendingReadings` (where the network is published alone), starting at `start`.
    func loadReadings(start: Date? = nil) async throws {
        let readings = table("readings")
        try await db.executeScript("CREATE TABLE \(readings) (sensor text, ts timestamptz, reading double precision)")
        let t0 = start ?? self.t0, hours = self.hours
        let values = trendingReadings(hours: hours)
        _ = try await db.copyIn("COPY \(readings) FROM STDIN") { writer in
            for hour in 0..<hours {
                for (sensor, value) in [("a", values[hour].a), ("b", values[hour].b)] {
                    try writer.append(sensor)
                    try writer.append(t0 + Double(hour) * 3600)
                    try writer.append(value)
                    try writer.endRow()
                }
            }
        }
    }

    func baseJob() -> JobSettings {
        var job = JobSettings.sensors(table: "\(schema).readings", epochs: 20)
        // The network against the baselines only, as these tests need a published network
        // whose cell and size matter; the statistical challengers have their own tests.
        job.statisticalChallengers = false
        return job
    }

    func runner(_ job: JobSettings, at now: Date) throws -> JobRunner {
        var runner = JobRunner(job: job, database: DatabaseSettings(url: "", schema: schema), logger: Logger(label: "test"))
        runner.now = { now }
        return runner
    }

    func predictionCount() async throws -> Int { try await count("SELECT count(*) FROM \(table("predictions"))") }

    /// Prediction rows per model, to tell which models wrote forecasts since.
    func rowsPerModel() async throws -> [Int64: Int] {
        var rows: [Int64: Int] = [:]
        for row in try await db.query("SELECT model_id, count(*)::int FROM \(table("predictions")) GROUP BY model_id") {
            rows[try row.decode(0, as: Int64.self)] = try row.decode(1, as: Int.self)
        }
        return rows
    }

    func activeModels() async throws -> [StoredModel] {
        let store = ModelStore(schema: schema)
        return try await db.withConnection { try store.activeModels(job: "sensors", includeWeights: false, on: $0) }
    }

    /// Defect 1: trained with horizon 6, asked for 12. Predict indexed the 6-step forecast at
    /// 12 target dates (exit 132 for a network combined with a baseline), or wrote the old
    /// horizon's forecasts as a success; now it refuses the model and names the remedy.
    func testALargerHorizonRefusesTheModelInsteadOfCrashing() async throws {
        try await loadReadings()
        let end = t0 + Double(hours) * 3600
        let trained = try await runner(baseJob(), at: end - 10 * 3600).train(on: db)
        XCTAssertEqual(trained.status, .succeeded, "\(trained.errors)")
        let before = try await predictionCount()
        var job = baseJob()
        job.horizon = 12
        let predicted = try await runner(job, at: end).predict(on: db)
        XCTAssertEqual(predicted.status, .failed, "\(predicted.errors)")
        XCTAssertEqual(predicted.seriesFailed, 2)
        XCTAssertTrue(predicted.errors.contains(
            "series \"a\": the active model was trained with horizon 6, the job now asks 12: run forecastd train sensors (the daemon retrains it by itself)"),
            "\(predicted.errors)")
        let after = try await predictionCount()
        XCTAssertEqual(after, before, "no forecast from a model trained for another horizon")
        let open = try await count("SELECT count(*) FROM \(table("runs")) WHERE status = 'running'")
        XCTAssertEqual(open, 0, "the run is closed")
    }

    /// A network combined with a baseline forecasts the network's own steps, whatever the job
    /// asks (the combination used to take the job's horizon for the baseline and crash).
    func testACombinedModelForecastsItsOwnHorizon() throws {
        let grid = try TimeGrid(frequency: "1h")
        let values = (0..<400).map { 10 + 3 * sin(2 * Double.pi * Double($0) / 24) + Double($0 % 5) * 0.1 }
        let series = RegularSeries(key: "a", grid: grid, firstBucket: 0, values: values, states: Array(repeating: StepState.observed, count: values.count))
        var settings = ForecasterSettings.defaults(frequency: grid.frequency, horizon: 6, season: 24, backtestWindows: 2)
        settings.hiddenSize = 4
        settings.epochs = 1
        let network = try RecurrentForecaster.train(series: [series], settings: settings)
        let forecaster = PublishedForecaster(form: .combined(SeasonalNaive(season: 24)), network: network, horizon: 12, levels: [0.05, 0.5, 0.95], maxGap: 3)
        let (forecast, _) = try forecaster.forecast(series, settledBefore: Optional<Int>.none)
        XCTAssertEqual(forecast.horizon, 6)
        XCTAssertEqual(forecast.levels, [0.1, 0.5, 0.9])
        XCTAssertEqual(SeriesForecast(after: series, forecast: forecast).targets.count, 6)
    }

    /// Defect 2 and the rule behind 1: every setting that defines a model, changed in turn
    /// after training. Predict writes no forecast from a model that no longer fits and names
    /// the setting; `run --once` retrains it with trigger `config`, and the new model fits.
    func testEveryModelDefiningSettingIsRefusedAndRunOnceRetrainsIt() async throws {
        try await loadReadings()
        let end = t0 + Double(hours) * 3600
        var job = baseJob()
        let trained = try await runner(job, at: end - 10 * 3600).train(on: db)
        XCTAssertEqual(trained.status, .succeeded, "\(trained.errors)")
        let first = try await activeModels()
        XCTAssertEqual(Set(first.map(\.cell)), [.network(.lstm)], "the network is published, so a change of cell matters")

        let changes: [(setting: String, change: (inout JobSettings) -> Void)] = [
            ("model.cell", { $0.model.cell = .gru }),
            ("horizon", { $0.horizon = 12 }),
            ("horizon", { $0.horizon = 3 }),
            ("model.quantiles", { $0.model.quantiles = [0.05, 0.5, 0.95] }),
            ("frequency", { $0.frequency = try! Frequency(parsing: "30m") }),
            ("frequency", { $0.frequency = try! Frequency(parsing: "1d") }),
        ]
        for (setting, change) in changes {
            change(&job)
            try await assertRefusedThenRetrained(job, setting: setting, at: end)
        }
    }

    /// After `setting` changed in `job`: predict writes no forecast from the models that no
    /// longer fit and names the setting and the remedy; `run --once` retrains every one of them
    /// with trigger `config`, only models that fit write forecasts, and its predict succeeds.
    /// Returns the models active after.
    @discardableResult
    func assertRefusedThenRetrained(_ job: JobSettings, setting: String, at end: Date) async throws -> [StoredModel] {
        let context = "after changing \(setting)"
        let before = try await rowsPerModel()
        let stale = try await activeModels().map(\.modelID)
        let predicted = try await runner(job, at: end).predict(on: db)
        XCTAssertNotEqual(predicted.status, .succeeded, context)
        XCTAssertTrue(predicted.errors.contains { $0.contains("was trained with \(setting) ") && $0.contains("run forecastd train sensors") },
                      "\(context): \(predicted.errors)")
        let afterPredict = try await rowsPerModel()
        XCTAssertEqual(afterPredict, before, "\(context): no forecast from a model that no longer fits")

        let summaries = try await runner(job, at: end).runOnce(on: db)
        XCTAssertEqual(summaries.map(\.kind), [.train, .predict], context)
        let trigger = try await db.query("SELECT trigger, note FROM \(table("runs")) WHERE run_id = $1", summaries[0].runID)[0]
        XCTAssertEqual(try trigger.decode(0, as: String?.self), "config", context)
        XCTAssertTrue(try trigger.decode(1, as: String?.self)?.contains("was trained with \(setting) ") == true, context)
        let active = try await activeModels()
        XCTAssertTrue(Set(active.map(\.modelID)).isDisjoint(with: stale), "\(context): every model was replaced")
        let requirements = JobPlan(job).requirements
        for model in active {
            XCTAssertNil(requirements.mismatch(cell: model.cell, hyperparameters: model.hyperparameters), "\(context): \(model.hyperparameters)")
        }
        let after = try await rowsPerModel()
        for (model, rows) in after where rows != before[model] {
            XCTAssertTrue(active.contains { $0.modelID == model }, "\(context): model \(model) wrote forecasts but no longer fits")
        }
        XCTAssertEqual(summaries.last?.status, .succeeded, "\(context): \(summaries.last?.errors ?? [])")
        return active
    }

    /// Issues 12 and 13: a model of another design than the job now asks (decoder, decoder
    /// layers, feedback, ensemble) forecasts nothing, and `run --once` retrains it with the design asked.
    func testChangingTheDecoderOrTheFeedbackIsRefusedAndRunOnceRetrainsIt() async throws {
        try await loadReadings()
        let end = t0 + Double(hours) * 3600
        var job = baseJob()
        job.fallback = .none  // the network is published (alone or combined), so its design matters
        let trained = try await runner(job, at: end - 10 * 3600).train(on: db)
        XCTAssertEqual(trained.status, .succeeded, "\(trained.errors)")
        let changes: [(setting: String, recorded: String, change: (inout JobSettings) -> Void)] = [
            ("model.decoder", "\"decoder\":\"recurrent\"", { $0.model.decoder = .recurrent }),
            ("model.decoder_layers", "\"decoderLayers\":2", { $0.model.decoderLayers = 2 }),
            ("model.decoder", "\"feedback\":\"output\"", { $0.model.decoder = .dense; $0.model.decoderLayers = nil; $0.model.feedback = .output }),
            ("model.feedback", "\"cell\":\"lstm\"", { $0.model.feedback = FeedbackKind.none }),
            ("model.ensemble", "\"ensemble\":2", { $0.model.ensemble = 2 }),
        ]
        for (setting, recorded, change) in changes {
            change(&job)
            let stale = try await activeModels()
            XCTAssertTrue(stale.allSatisfy { $0.cell.isNetwork }, "after changing \(setting): a network serves every series, so its design matters")
            for model in try await assertRefusedThenRetrained(job, setting: setting, at: end) {
                XCTAssertTrue(model.hyperparameters.replacingOccurrences(of: " ", with: "").contains(recorded), "after changing \(setting): \(model.hyperparameters)")
            }
        }
    }

    /// The daemon's scheduler queues the retraining when a prediction is due, and only once.
    func testTheSchedulerRetrainsModelsTheConfigurationNoLongerFits() async throws {
        try await loadReadings()
        let end = t0 + Double(hours) * 3600
        _ = try await runner(baseJob(), at: end).train(on: db)
        var job = baseJob()
        job.horizon = 12
        let scheduler = Scheduler(database: DatabaseSettings(url: "", schema: schema), maxAttempts: 3)
        let logged = try await scheduler.tick(try runner(job, at: end), now: Date() + 2 * 3600, on: db)
        XCTAssertTrue(logged?.hasPrefix("config changed: train run") == true, logged ?? "nothing queued")
        let runs = try await db.query("SELECT trigger, note FROM \(table("runs")) WHERE trigger IS NOT NULL")
        XCTAssertEqual(runs.count, 1)
        XCTAssertEqual(try runs[0].decode(0, as: String.self), "config")
        XCTAssertTrue(try runs[0].decode(1, as: String.self).contains("series \"a\": the active model was trained with horizon 6, the job now asks 12"))
        let queued = try await db.query("SELECT unit FROM \(table("work_queue")) WHERE kind = 'train' ORDER BY unit").map { try $0.decode(0, as: String.self) }
        XCTAssertEqual(queued, ["a", "b"])
        let again = try await scheduler.tick(try runner(job, at: end), now: Date() + 2 * 3600, on: db)
        XCTAssertNil(again, "the retraining is queued once")
    }

    /// `scope = "auto"` in the daemon: the scheduler counts each series' rows in the training
    /// window and queues one global unit for short series, a unit per series for long ones.
    func testTheSchedulerChoosesTheAutoScopeFromEachSeriesRowsInTheWindow() async throws {
        try await loadReadings()
        let scheduler = Scheduler(database: DatabaseSettings(url: "", schema: schema), maxAttempts: 3)
        var long = baseJob()
        long.name = "long"
        // 480 hourly rows per series: 10 daily seasons are 240.
        var short = baseJob()
        short.name = "short"
        short.season = 168
        for job in [long, short] {
            XCTAssertEqual(job.model.scope, .auto)
            let logged = try await scheduler.tick(try runner(job, at: Date()), now: Date(), on: db)
            XCTAssertTrue(logged?.hasPrefix("train run") == true, logged ?? "nothing queued")
        }
        let queued = try await db.query("SELECT job, unit FROM \(table("work_queue")) WHERE kind = 'train' ORDER BY job, unit")
            .map { "\(try $0.decode(0, as: String.self)):\(try $0.decode(1, as: String.self))" }
        XCTAssertEqual(queued, ["long:a", "long:b", "short:"], "480 rows of a weekly season (1680 for 10) are short")
        let rows = try await SourceReader(job: long).seriesRows(from: t0, to: t0 + Double(hours) * 3600, on: db)
        XCTAssertEqual(rows.map(\.key), ["a", "b"])
        XCTAssertEqual(rows.map(\.rows), [hours, hours])
    }

    /// Defect 8: hourly data that ended two years before the clock is trained and forecast from
    /// its end, and the run, its note and job_health say how old it is.
    func testOldDataIsTrainedAndForecastFromItsEnd() async throws {
        try await loadReadings()
        let dataEnd = t0 + Double(hours - 1) * 3600
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let clock = calendar.date(byAdding: .year, value: 2, to: dataEnd)!
        let summaries = try await runner(baseJob(), at: clock).runOnce(on: db)
        XCTAssertEqual(summaries.map(\.kind), [.train])
        XCTAssertEqual(summaries[0].status, .succeeded, "\(summaries[0].errors)")
        let end = DataAge.format(dataEnd)
        let note = "data ends \(end) UTC, 2 years before now; forecasts are for \(DataAge.format(dataEnd + 3600)) … \(DataAge.format(dataEnd + 6 * 3600))"
        XCTAssertEqual(summaries[0].notes, [note])
        let stored = try await db.query("SELECT note FROM \(table("runs")) WHERE run_id = $1", summaries[0].runID)[0].decode(0, as: String?.self)
        XCTAssertEqual(stored, note)
        let issued = try await db.query("SELECT DISTINCT issued_at FROM \(table("predictions"))").map { try $0.decode(0, as: Date.self) }
        XCTAssertEqual(issued, [dataEnd], "forecast from the data's end")

        let predicted = try await runner(baseJob(), at: clock).predict(on: db)
        XCTAssertEqual(predicted.status, .succeeded, "\(predicted.errors)")
        XCTAssertTrue(predicted.notes.first?.hasPrefix("data ends \(end) UTC, 2 years before now") == true, "\(predicted.notes)")

        let age = try await db.query("""
            SELECT extract(epoch FROM newest_observation_age)::float8, extract(epoch FROM now())::float8
            FROM \(table("job_health")) WHERE job = 'sensors' AND kind = 'train'
            """)[0]
        XCTAssertEqual(try age.decode(0, as: Double.self), try age.decode(1, as: Double.self) - dataEnd.timeIntervalSince1970, accuracy: 60)
    }

    /// Series "c" of a job whose other series are current stopped two years ago (its rows are
    /// a's, shifted back): the train window counts back from each series' own end.
    func addStoppedSeries() async throws -> Date {
        try await db.executeScript("""
            INSERT INTO \(table("readings")) SELECT 'c', ts - interval '730 days', reading FROM \(table("readings")) WHERE sensor = 'a'
            """)
        return t0 + Double(hours - 1) * 3600 - 730 * 86_400
    }

    /// Issue 15, defect 8 per series: a whole-job train run trains a series that stopped long
    /// ago from its end, beside the current ones, and its note names that series.
    func testASeriesThatStoppedLongAgoIsTrainedFromItsOwnEnd() async throws {
        try await loadReadings()
        let cEnd = try await addStoppedSeries()
        let clock = t0 + Double(hours) * 3600
        let summary = try await runner(baseJob(), at: clock).train(on: db)
        XCTAssertEqual(summary.status, .succeeded, "\(summary.errors)")
        XCTAssertEqual(summary.seriesTotal, 3)
        XCTAssertEqual(summary.notes.count, 1, "\(summary.notes)")
        XCTAssertTrue(summary.notes.first?.hasPrefix("series \"c\": data ends \(DataAge.format(cEnd)) UTC, 2 years 1 hour before now; it is forecast from its end") == true,
                      "\(summary.notes)")
        let issued = try await db.query("SELECT series, min(issued_at) FROM \(table("predictions")) GROUP BY series ORDER BY series")
            .map { (try $0.decode(0, as: String.self), try $0.decode(1, as: Date.self)) }
        XCTAssertEqual(issued.map(\.0), ["a", "b", "c"])
        XCTAssertEqual(issued.map(\.1), [clock - 3600, clock - 3600, cEnd], "each series forecast from its own end")
        // c's training read its whole window (30 days back from its end, all 480 hours), once.
        let points = try await db.query("SELECT points_read FROM \(table("runs")) WHERE run_id = $1", summary.runID)[0].decode(0, as: Int64.self)
        XCTAssertEqual(points, Int64(3 * hours), "every row read once")

        // Predict reads each series on from its model and says the same of c.
        let predicted = try await runner(baseJob(), at: clock).predict(on: db)
        XCTAssertEqual(predicted.status, .succeeded, "\(predicted.errors)")
        XCTAssertTrue(predicted.notes.first?.hasPrefix("series \"c\": data ends \(DataAge.format(cEnd)) UTC") == true, "\(predicted.notes)")
    }

    /// The scheduler queues a unit for the stopped series too, and that unit trains it from its end.
    func testTheSchedulerQueuesAndTrainsASeriesThatStoppedLongAgo() async throws {
        try await loadReadings()
        let cEnd = try await addStoppedSeries()
        let clock = t0 + Double(hours) * 3600
        let database = DatabaseSettings(url: "", schema: schema)
        let runner = try runner(baseJob(), at: clock)
        let logged = try await Scheduler(database: database, maxAttempts: 3).tick(runner, now: clock, on: db)
        XCTAssertTrue(logged?.hasSuffix("3 unit(s) queued") == true, logged ?? "nothing queued")
        let queued = try await db.query("SELECT unit FROM \(table("work_queue")) ORDER BY unit").map { try $0.decode(0, as: String.self) }
        XCTAssertEqual(queued, ["a", "b", "c"])
        try await db.execute("DELETE FROM \(table("work_queue")) WHERE unit <> 'c'")
        let item = try await db.withConnection { db in try WorkQueue(database).claim(owner: "test", lease: 60, jobs: ["sensors"], on: db) }
        let claimed = try XCTUnwrap(item)
        XCTAssertEqual(claimed.unit, "c")
        _ = try await runner.execute(claimed, owner: "test", on: db)
        let issued = try await db.query("SELECT DISTINCT issued_at FROM \(table("predictions")) WHERE series = 'c'").map { try $0.decode(0, as: Date.self) }
        XCTAssertEqual(issued, [cEnd])
        let note = try await db.query("SELECT note FROM \(table("runs")) WHERE run_id = $1", claimed.runID)[0].decode(0, as: String?.self)
        XCTAssertTrue(note?.contains("series \"c\": data ends \(DataAge.format(cEnd)) UTC") == true, note ?? "no note")
    }

    /// Under `--as-of` the note names the replayed clock, not "now".
    func testTheOldDataNoteNamesTheAsOfClock() async throws {
        try await loadReadings()
        let clock = t0 + Double(hours) * 3600 + 30 * 86_400
        var runner = try runner(baseJob(), at: clock)
        runner.clockName = DataAge.clockName(asOf: clock)
        let summary = try await runner.train(on: db)
        XCTAssertEqual(summary.status, .succeeded, "\(summary.errors)")
        XCTAssertTrue(summary.notes.first?.contains("30 days 1 hour before --as-of \(DataAge.format(clock)) UTC") == true, "\(summary.notes)")
    }
}
