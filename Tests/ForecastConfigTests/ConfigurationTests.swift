import XCTest
@testable import ForecastConfig
import Forecasting

final class ConfigurationTests: XCTestCase {
    let minimalJob = """
        [[jobs]]
        name = "temps"
        frequency = "1h"
        horizon = 24
        [jobs.source]
        table = "public.weather"
        time_column = "ts"
        value_column = "temp"
        """

    func testMinimalJobGetsSpecDefaults() throws {
        let config = try Configuration.parse(minimalJob)
        XCTAssertEqual(config.database.schema, "forecastd")
        XCTAssertEqual(config.daemon.concurrency, 2)
        XCTAssertEqual(config.daemon.metricsListen, "127.0.0.1:9464")
        let job = try XCTUnwrap(config.jobs.first)
        XCTAssertEqual(job.aggregation, .mean)
        XCTAssertEqual(job.maxGap, 3)
        XCTAssertEqual(job.timeZone, .utcZone)
        XCTAssertNil(job.season)
        XCTAssertNil(job.trainWindow, "follows the frequency")
        XCTAssertEqual(job.trainEvery, .every(86_400))
        XCTAssertEqual(job.predictEvery, .every(3600))
        XCTAssertEqual(job.backtestWindows, 3)
        XCTAssertEqual(job.fallback, .seasonalNaive)
        XCTAssertEqual(job.source.origin, .table("public.weather"))
        XCTAssertNil(job.source.seriesColumn)
        XCTAssertEqual(job.model.overrides, ForecasterOverrides(), "the network's settings are Forecasting's defaults")
        XCTAssertEqual(job.model.scope, .auto)
        let settings = JobPlan(job).forecaster
        XCTAssertEqual(settings.cell, .lstm)
        XCTAssertEqual(settings.quantiles, [0.1, 0.5, 0.9])
        XCTAssertEqual(settings.clipNorm, 1.0)
        XCTAssertEqual(settings.seed, 1)
    }

    func testExampleConfigurationFileIsValidAndDocumentsTheDefaults() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../config/forecastd.toml").standardized.path
        let config = try Configuration.load(path: path)
        let job = try XCTUnwrap(config.job(named: "nyc_temperature"))
        let defaults = try XCTUnwrap(Configuration.parse(minimalJob).jobs.first)
        XCTAssertEqual(job.aggregation, defaults.aggregation)
        XCTAssertEqual(job.maxGap, defaults.maxGap)
        XCTAssertEqual(job.trainWindow, defaults.trainWindow)
        XCTAssertEqual(job.trainEvery, defaults.trainEvery)
        XCTAssertEqual(job.predictEvery, defaults.predictEvery)
        XCTAssertEqual(job.backtestWindows, defaults.backtestWindows)
        XCTAssertEqual(job.fallback, defaults.fallback)
        XCTAssertEqual(job.driftFactor, defaults.driftFactor)
        XCTAssertEqual(job.driftPoints, defaults.driftPoints)
        XCTAssertEqual(job.model.scope, defaults.model.scope)
        let resolve = { (model: ModelSettings) in
            ForecasterSettings.resolved(frequency: Frequency(.hour), horizon: 24, season: 24, backtestWindows: 3, overrides: model.overrides)
        }
        XCTAssertEqual(resolve(job.model), resolve(defaults.model), "the model settings it writes out are the defaults")
        XCTAssertEqual(config.daemon, DaemonSettings())
        XCTAssertEqual(config.database.schema, DatabaseSettings().schema)
    }

    func testEveryKeyOfTheSpecExampleParses() throws {
        let config = try Configuration.parse("""
            [database]
            url = "postgresql:///metrics?host=/run/postgresql"
            schema = "forecastd"
            [daemon]
            concurrency = 2
            metrics_listen = "127.0.0.1:9464"
            [[jobs]]
            name = "nyc_temperature"
            frequency = "1h"
            horizon = 24
            aggregation = "mean"
            max_gap = 3
            timezone = "UTC"
            season = 24
            train_window = "365d"
            train_every = "24h"
            predict_every = "1h"
            backtest_windows = 3
            fallback = "seasonal_naive"
            [jobs.source]
            table = "public.weather"
            series_column = "station"
            time_column = "ts"
            value_column = "temp"
            [jobs.model]
            cell = "lstm"
            hidden_size = 64
            layers = 2
            context = 168
            tbptt = 48
            batch_size = 32
            epochs = 50
            learning_rate = 0.003
            clip_norm = 1.0
            quantiles = [0.1, 0.5, 0.9]
            scope = "series"
            seed = 1
            """)
        let model = try XCTUnwrap(config.jobs.first?.model)
        XCTAssertEqual(model.hiddenSize, 64)
        XCTAssertEqual(model.tbpttK1, 48)
        XCTAssertEqual(model.tbpttK2, 48)
        XCTAssertEqual(model.learningRate, 0.003)
        XCTAssertEqual(config.jobs.first?.season, 24)
        XCTAssertEqual(config.jobs.first?.trainWindow, 365 * 86_400)
        XCTAssertEqual(config.jobs.first?.source.seriesColumn, "station")
    }

    func testSeveralJobsEachWithTheirOwnSubtables() throws {
        let config = try Configuration.parse(minimalJob + "\n" + minimalJob.replacingOccurrences(of: "\"temps\"", with: "\"other\"")
            + "\n[jobs.model]\ncell = \"gru\"\n")
        XCTAssertEqual(config.jobs.map(\.name), ["temps", "other"])
        XCTAssertEqual(config.jobs.map(\.model.cell), [nil, .gru])
    }

    // MARK: drift

    func testDriftKeysParseWithDefaultsAndLineNumberedErrors() throws {
        func withKey(_ line: String) -> String { minimalJob.replacingOccurrences(of: "horizon = 24", with: "horizon = 24\n" + line) }
        let defaults = try XCTUnwrap(Configuration.parse(minimalJob).jobs.first)
        XCTAssertEqual(defaults.driftFactor, 2.0)
        XCTAssertEqual(defaults.driftPoints, 24)
        let set = try XCTUnwrap(Configuration.parse(withKey("drift_factor = 3\ndrift_points = 48")).jobs.first)
        XCTAssertEqual(set.driftFactor, 3)
        XCTAssertEqual(set.driftPoints, 48)
        let off = try XCTUnwrap(Configuration.parse(withKey("drift_factor = 0")).jobs.first)
        XCTAssertEqual(off.driftFactor, 0)
        assertError(withKey("drift_factor = 0.5"), line: 5, key: "jobs[0].drift_factor", contains: "must be 0 (drift off) or at least 1")
        assertError(withKey("drift_factor = -1"), line: 5, key: "jobs[0].drift_factor", contains: "must be between")
        assertError(withKey("drift_factor = \"2\""), line: 5, key: "jobs[0].drift_factor", contains: "expected a number")
        assertError(withKey("drift_points = 0"), line: 5, key: "jobs[0].drift_points", contains: "must be between")
    }

    /// `clip_norm = 0` was accepted and scaled every update to nothing, so the network never
    /// learned; it is refused with its key and line.
    func testAZeroClipNormIsRefused() throws {
        let withModel = { (line: String) in self.minimalJob + "\n[jobs.model]\n" + line }
        XCTAssertEqual(try XCTUnwrap(Configuration.parse(withModel("clip_norm = 0.5")).jobs.first).model.clipNorm, 0.5)
        assertError(withModel("clip_norm = 0"), line: 10, key: "jobs[0].model.clip_norm", contains: "must be between 0.001 and")
    }

    /// Issue 13: `[jobs.model] decoder`, `decoder_layers` and `feedback`, resolved into the
    /// forecaster's settings (the defaults stored as nil, so that a dense model's
    /// hyperparameters stay as they were), and wrong values named with their key and line.
    func testDecoderAndFeedbackKeysParseResolveAndNameTheirErrors() throws {
        func model(_ lines: String) -> String { minimalJob + "\n[jobs.model]\n" + lines }
        func resolved(_ text: String) throws -> ForecasterSettings {
            JobPlan(try XCTUnwrap(Configuration.parse(text).jobs.first)).forecaster
        }
        let defaults = try resolved(minimalJob)
        XCTAssertEqual(defaults.decoderKind.rawValue, "dense")
        XCTAssertEqual(defaults.feedbackKind.rawValue, "none")
        XCTAssertNil(defaults.decoder)
        XCTAssertEqual(try resolved(model("decoder = \"dense\"\nfeedback = \"none\"")), defaults)
        let recurrent = try resolved(model("decoder = \"recurrent\"\ndecoder_layers = 2"))
        XCTAssertEqual(recurrent.decoder, .recurrent)
        XCTAssertEqual(recurrent.decoderLayers, 2)
        XCTAssertNil(recurrent.feedback)
        let feedback = try resolved(model("feedback = \"output\""))
        XCTAssertEqual(feedback.feedback, .output)
        XCTAssertNil(feedback.decoder)
        let plan = JobPlan(try XCTUnwrap(Configuration.parse(model("cell = \"gru\"\ndecoder = \"recurrent\"")).jobs.first))
        XCTAssertEqual(plan.modelSummary, "model: gru, hidden 32 × 1 layer, decoder \"recurrent\" (1 layer), feedback \"none\", ensemble \"auto\", scope \"auto\"")
        XCTAssertEqual(JobPlan(try XCTUnwrap(Configuration.parse(minimalJob).jobs.first)).modelSummary,
                       "model: lstm, hidden 32 × 1 layer, decoder \"dense\", feedback \"none\", ensemble \"auto\", scope \"auto\"")

        assertError(model("decoder = \"seq2seq\""), line: 10, key: "jobs[0].model.decoder", contains: "must be one of \"dense\", \"recurrent\"")
        assertError(model("decoder = 1"), line: 10, key: "jobs[0].model.decoder", contains: "expected a string")
        assertError(model("feedback = \"jordan\""), line: 10, key: "jobs[0].model.feedback", contains: "must be one of \"none\", \"output\"")
        assertError(model("decoder = \"recurrent\"\ndecoder_layers = 0"), line: 11, key: "jobs[0].model.decoder_layers", contains: "between 1 and 8")
        assertError(model("decoder_layers = 2"), line: 10, key: "jobs[0].model.decoder_layers", contains: "needs decoder = \"recurrent\"")
        assertError(model("decoder = \"recurrent\"\nfeedback = \"output\""), line: 11, key: "jobs[0].model.feedback",
                    contains: "needs decoder = \"dense\"")
    }

    /// Issue 14: `[jobs.source] past_covariates`, a list of other columns of the source, reaches
    /// the series builder and the forecaster's settings (none stored as nil, so models without
    /// covariates keep their hyperparameters); bad lists are named with their key and line.
    /// Issue 12: `[jobs.model] ensemble`, resolved into the forecaster's settings, shown by
    /// check-config, errors named. Absent or `"auto"`, it stays nil until the guard fixes it
    /// per unit (`ForecasterSettings.resolvingEnsemble(for:)`).
    func testTheEnsembleKeyParsesResolvesAndNamesItsErrors() throws {
        func model(_ lines: String) -> String { minimalJob + "\n[jobs.model]\n" + lines }
        func plan(_ text: String) throws -> JobPlan { JobPlan(try XCTUnwrap(Configuration.parse(text).jobs.first)) }
        XCTAssertNil(try plan(minimalJob).forecaster.ensemble)
        XCTAssertNil(try plan(model("ensemble = \"auto\"")).forecaster.ensemble)
        XCTAssertTrue(try plan(minimalJob).modelSummary.contains("ensemble \"auto\""))
        let five = try plan(model("ensemble = 5"))
        XCTAssertEqual(five.forecaster.ensemble, 5)
        XCTAssertEqual(five.forecaster.ensembleSize, 5)
        XCTAssertTrue(five.modelSummary.contains("ensemble 5"), five.modelSummary)
        XCTAssertTrue(hyperparametersJSON(five.forecaster).contains("\"ensemble\":5"))
        XCTAssertNil(ForecasterSettings.defaults(frequency: Frequency(.hour), horizon: 24, season: 24, backtestWindows: 3).ensemble)
        assertError(model("ensemble = 0"), line: 10, key: "jobs[0].model.ensemble", contains: "between 1 and 32")
        assertError(model("ensemble = 33"), line: 10, key: "jobs[0].model.ensemble", contains: "between 1 and 32")
        assertError(model("ensemble = \"3\""), line: 10, key: "jobs[0].model.ensemble", contains: "or \"auto\", found \"3\"")
        assertError(model("ensemble = 2.5"), line: 10, key: "jobs[0].model.ensemble", contains: "expected an integer or \"auto\"")
    }

    func testTheSourceColumnsNameThreeDifferentColumns() {
        // The source query would select one column twice ("column reference is ambiguous").
        assertError(minimalJob + "\nseries_column = \"temp\"", line: 9, key: "jobs[0].source.series_column",
                    contains: "\"temp\" is also the value_column; each names another column of the source")
        assertError(minimalJob.replacingOccurrences(of: "value_column = \"temp\"", with: "value_column = \"ts\""), line: 8,
                    key: "jobs[0].source.value_column", contains: "\"ts\" is also the time_column")
    }

    func testPastCovariatesParseResolveAndNameTheirErrors() throws {
        func withCovariates(_ value: String) -> String { minimalJob + "\npast_covariates = " + value }
        let job = try XCTUnwrap(Configuration.parse(withCovariates("[\"dewp\", \"humid\"]")).jobs.first)
        XCTAssertEqual(job.source.pastCovariates, ["dewp", "humid"])
        let plan = JobPlan(job)
        XCTAssertEqual(plan.forecaster.pastCovariates, ["dewp", "humid"])
        XCTAssertEqual(plan.seriesSettings.covariates, ["dewp", "humid"])
        XCTAssertEqual(plan.requirements.settings.pastCovariates, ["dewp", "humid"])
        let plain = JobPlan(try XCTUnwrap(Configuration.parse(minimalJob).jobs.first))
        XCTAssertNil(plain.forecaster.pastCovariates)
        XCTAssertEqual(plain.seriesSettings.covariates, [])
        XCTAssertNil(JobPlan(try XCTUnwrap(Configuration.parse(withCovariates("[]")).jobs.first)).forecaster.pastCovariates)

        assertError(withCovariates("\"dewp\""), line: 9, key: "jobs[0].source.past_covariates", contains: "expected an array of strings")
        assertError(withCovariates("[\"dewp\", 3]"), line: 9, key: "jobs[0].source.past_covariates", contains: "expected strings in the array, found an integer")
        assertError(withCovariates("[\"dewp\", \"dewp\"]"), line: 9, key: "jobs[0].source.past_covariates", contains: "\"dewp\" is listed twice")
        assertError(withCovariates("[\"temp\"]"), line: 9, key: "jobs[0].source.past_covariates", contains: "\"temp\" is the value_column")
        assertError(withCovariates("[\"ts\"]"), line: 9, key: "jobs[0].source.past_covariates", contains: "\"ts\" is the time_column")
        assertError(withCovariates("[\"\"]"), line: 9, key: "jobs[0].source.past_covariates", contains: "must not be empty")
        assertError(minimalJob + "\nseries_column = \"station\"\npast_covariates = [\"station\"]", line: 10,
                    key: "jobs[0].source.past_covariates", contains: "\"station\" is the series_column")
    }

    /// Issue 14, item 2: `future_covariates` reach the forecaster's settings and the series
    /// settings (laid a horizon ahead); a column in both lists is an error naming the key and line.
    func testFutureCovariatesParseResolveAndNameTheirErrors() throws {
        func with(_ lines: String) -> String { minimalJob + "\n" + lines }
        let job = try XCTUnwrap(Configuration.parse(with("past_covariates = [\"dewp\"]\nfuture_covariates = [\"workday\", \"promo\"]")).jobs.first)
        XCTAssertEqual(job.source.futureCovariates, ["workday", "promo"])
        let plan = JobPlan(job)
        XCTAssertEqual(plan.forecaster.futureCovariates, ["workday", "promo"])
        XCTAssertEqual(plan.forecaster.covariateColumns, ["dewp", "workday", "promo"])
        XCTAssertEqual(plan.seriesSettings.covariates, ["dewp"])
        XCTAssertEqual(plan.seriesSettings.futureCovariates, ["workday", "promo"])
        XCTAssertEqual(plan.seriesSettings.futureSteps, job.horizon)
        XCTAssertEqual(plan.requirements.settings.futureCovariates, ["workday", "promo"])
        let plain = JobPlan(try XCTUnwrap(Configuration.parse(minimalJob).jobs.first))
        XCTAssertNil(plain.forecaster.futureCovariates)
        XCTAssertEqual(plain.seriesSettings.futureSteps, 0)

        assertError(with("future_covariates = \"workday\""), line: 9, key: "jobs[0].source.future_covariates", contains: "expected an array of strings")
        assertError(with("future_covariates = [\"workday\", \"workday\"]"), line: 9, key: "jobs[0].source.future_covariates",
                    contains: "\"workday\" is listed twice")
        assertError(with("future_covariates = [\"temp\"]"), line: 9, key: "jobs[0].source.future_covariates", contains: "\"temp\" is the value_column")
        assertError(with("past_covariates = [\"workday\"]\nfuture_covariates = [\"workday\"]"), line: 10, key: "jobs[0].source.future_covariates",
                    contains: "\"workday\" is also in past_covariates; a covariate is either observed in the past or known ahead")
        assertError(with("future_covariates = [\"\"]"), line: 9, key: "jobs[0].source.future_covariates", contains: "must not be empty")

        // Holidays (item 4): a job key whose three features follow the future-known columns.
        let holidays = minimalJob.replacingOccurrences(of: "horizon = 24\n", with: "horizon = 24\nholidays = \"SELECT day, name FROM public.holidays\"\n")
        let withHolidays = try XCTUnwrap(Configuration.parse(holidays + "\nfuture_covariates = [\"workday\"]").jobs.first)
        XCTAssertEqual(withHolidays.holidays, "SELECT day, name FROM public.holidays")
        XCTAssertEqual(JobPlan(withHolidays).forecaster.futureCovariates, ["workday"] + HolidayCalendar.featureNames)
        XCTAssertEqual(JobPlan(withHolidays).seriesSettings.futureCovariates, ["workday"], "the features are not source columns")
        XCTAssertEqual(JobPlan(try XCTUnwrap(Configuration.parse(holidays).jobs.first)).seriesSettings.futureSteps, 24)
        assertError(minimalJob.replacingOccurrences(of: "horizon = 24\n", with: "horizon = 24\nholidays = \" \"\n"), line: 5,
                    key: "jobs[0].holidays", contains: "expected a query returning dates")
    }

    /// Static covariates (issue 14, item 3): a query in `[jobs.source]`, for global models of keyed series.
    func testStaticCovariatesNeedAGlobalModelOfKeyedSeries() throws {
        let query = "SELECT sensor, region, capacity FROM public.sensors"
        let keyed = minimalJob + "\nseries_column = \"station\"\nstatic_covariates = \"\(query)\""
        let global = "\n[jobs.model]\nscope = \"global\""
        let job = try XCTUnwrap(Configuration.parse(keyed + global).jobs.first)
        XCTAssertEqual(job.source.staticCovariates, query)
        XCTAssertEqual(JobPlan(job).forecaster.staticCovariates, query)
        XCTAssertEqual(JobPlan(job).requirements.settings.staticCovariates, query, "a changed query retrains")
        XCTAssertNil(JobPlan(try XCTUnwrap(Configuration.parse(minimalJob).jobs.first)).forecaster.staticCovariates)

        let auto = try XCTUnwrap(Configuration.parse(keyed).jobs.first)
        XCTAssertTrue(JobPlan(auto).scope(seriesCount: 3, observations: [5000, 5000, 5000]).global, "auto is global with static covariates")
        assertError(keyed + "\n[jobs.model]\nscope = \"series\"", line: 10, key: "jobs[0].source.static_covariates",
                    contains: "needs a global model ([jobs.model] scope = \"global\" or \"auto\")")
        assertError(minimalJob + "\nstatic_covariates = \"\(query)\"" + global, line: 9, key: "jobs[0].source.static_covariates",
                    contains: "needs series_column")
        assertError(minimalJob + "\nseries_column = \"station\"\nstatic_covariates = \"  \"" + global, line: 10,
                    key: "jobs[0].source.static_covariates", contains: "expected a query returning one row per series")
        assertError(minimalJob + "\nseries_column = \"station\"\nstatic_covariates = [\"region\"]" + global, line: 10,
                    key: "jobs[0].source.static_covariates", contains: "expected a string")
    }

    /// `statistical_challengers`: "auto" by default, true, false or "auto" when set, and any other
    /// value an error naming the key and line.
    func testStatisticalChallengersAreAutoByDefaultAndTakeTrueFalseOrAuto() throws {
        XCTAssertEqual(try XCTUnwrap(Configuration.parse(minimalJob).jobs.first).statisticalChallengers, .auto)
        for (text, value) in [("true", StatisticalChallengers.always), ("false", .never), ("\"auto\"", .auto)] {
            let job = try XCTUnwrap(Configuration.parse(minimalJob.replacingOccurrences(of: "horizon = 24", with: "horizon = 24\nstatistical_challengers = \(text)")).jobs.first)
            XCTAssertEqual(job.statisticalChallengers, value)
        }
        let sometimes = minimalJob.replacingOccurrences(of: "horizon = 24", with: "horizon = 24\nstatistical_challengers = \"sometimes\"")
        assertError(sometimes, line: 5, key: "jobs[0].statistical_challengers", contains: "must be true, false or \"auto\", found \"sometimes\"")
        let number = minimalJob.replacingOccurrences(of: "horizon = 24", with: "horizon = 24\nstatistical_challengers = 1")
        assertError(number, line: 5, key: "jobs[0].statistical_challengers", contains: "expected true, false or \"auto\"")
    }

    /// `scope = "auto"`: global for many series or short ones, per series for a few long ones;
    /// a configured scope is kept whatever the data.
    func testAutoScopeIsGlobalForManyOrShortSeriesAndPerSeriesForFewLongOnes() throws {
        let monthly = minimalJob.replacingOccurrences(of: "frequency = \"1h\"", with: "frequency = \"1mo\"")
        let plan = JobPlan(try XCTUnwrap(Configuration.parse(monthly).jobs.first))
        XCTAssertEqual(plan.season, 12)
        let one = plan.scope(seriesCount: 1, observations: [40])
        XCTAssertEqual(one, ScopeChoice(global: false, reason: "auto: one series"))
        let many = plan.scope(seriesCount: 150, observations: Array(repeating: 5000, count: 150))
        XCTAssertEqual(many, ScopeChoice(global: true, reason: "auto: 150 series, 100 or more"))
        let short = plan.scope(seriesCount: 7, observations: [60, 70, 80, 90, 100, 300, 400])
        XCTAssertEqual(short, ScopeChoice(global: true, reason: "auto: 7 series of median 90 observations, under 120 (10 seasons)"))
        let long = plan.scope(seriesCount: 4, observations: [100, 127, 127, 127])
        XCTAssertEqual(long, ScopeChoice(global: false, reason: "auto: 4 series of median 127 observations, 120 (10 seasons) or more"))
        for (scope, global) in [("series", false), ("global", true)] {
            let fixed = JobPlan(try XCTUnwrap(Configuration.parse(monthly + "\n[jobs.model]\nscope = \"\(scope)\"").jobs.first))
            XCTAssertEqual(fixed.scope(seriesCount: 7, observations: [60, 70, 80, 90, 100, 300, 400]).global, global)
            XCTAssertEqual(fixed.scope(seriesCount: 150, observations: Array(repeating: 5000, count: 150)).global, global)
        }
    }

    // MARK: errors name the key and the line

    func assertError(_ text: String, line: Int?, key: String?, contains fragment: String,
                     file: StaticString = #filePath, lineNumber: UInt = #line) {
        XCTAssertThrowsError(try Configuration.parse(text), file: file, line: lineNumber) { error in
            guard let error = error as? ConfigurationError else {
                return XCTFail("expected a ConfigurationError, got \(error)", file: file, line: lineNumber)
            }
            XCTAssertEqual(error.line, line, "line of \(error)", file: file, line: lineNumber)
            XCTAssertEqual(error.key, key, "key of \(error)", file: file, line: lineNumber)
            XCTAssertTrue(error.description.contains(fragment), "\(error) should mention \(fragment)", file: file, line: lineNumber)
        }
    }

    /// One pass through check-config tells every mistake of the file, in the file's order: a
    /// bad frequency no longer hides the horizon below it, nor one job the next.
    func testEveryProblemOfTheFileIsReportedInItsOrder() throws {
        let text = """
            [daemon]
            concurrency = 0
            log_levl = "debug"

            [[jobs]]
            name = "a"
            frequency = "1 fortnight"
            horizon = -3
            [jobs.source]
            table = "public.weather"
            time_column = "ts"
            value_column = "temp"

            [[jobs]]
            name = "b"
            frequency = "1h"
            horizon = 24
            timezone = "Mars/Olympus"
            [jobs.source]
            table = "public.weather"
            time_column = "ts"
            value_column = "ts"
            [jobs.model]
            cell = "transformer"
            epochs = 10
            """
        XCTAssertThrowsError(try Configuration.parse(text)) { error in
            guard let error = error as? ConfigurationError else { return XCTFail("\(error)") }
            let all = [error] + error.more
            XCTAssertEqual(all.map(\.line), [2, 3, 7, 8, 18, 22, 24], "\(error)")
            XCTAssertEqual(all.map(\.key), ["daemon.concurrency", "daemon.log_levl", "jobs[0].frequency", "jobs[0].horizon",
                                             "jobs[1].timezone", "jobs[1].source.value_column", "jobs[1].model.cell"])
            let lines = error.description.split(separator: "\n")
            XCTAssertEqual(lines.count, 7)
            XCTAssertTrue(lines[2].contains("\"1 fortnight\" is not a frequency"), String(lines[2]))
            XCTAssertTrue(lines[3].contains("must be between 1 and 10000, found -3"), String(lines[3]))
            XCTAssertTrue(lines[5].contains("\"ts\" is also the time_column"), String(lines[5]))
        }
        // The file's name goes onto every line.
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("forecastd-problems-\(UUID().uuidString).toml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertThrowsError(try Configuration.load(path: path)) { error in
            let lines = "\(error)".split(separator: "\n")
            XCTAssertEqual(lines.count, 7)
            XCTAssertTrue(lines.allSatisfy { $0.hasPrefix(path + ":") }, "\(error)")
        }
    }

    func testUnknownKeysAreNamedWithTheirLine() {
        assertError(minimalJob + "\nhiden_size = 3", line: 9, key: "jobs[0].source.hiden_size", contains: "unknown key")
        assertError("[database]\nurl = \"\"\nschemaa = \"x\"", line: 3, key: "database.schemaa", contains: "unknown key")
        assertError("[deamon]\nconcurrency = 2", line: 1, key: "deamon", contains: "unknown key")
        assertError(minimalJob.replacingOccurrences(of: "horizon = 24", with: "horizon = 24\nhorizn = 3"),
                    line: 5, key: "jobs[0].horizn", contains: "unknown key")
    }

    func testWrongTypesAreNamedWithTheirLine() {
        assertError(minimalJob.replacingOccurrences(of: "horizon = 24", with: "horizon = \"24\""),
                    line: 4, key: "jobs[0].horizon", contains: "expected an integer, found a string")
        assertError("[daemon]\nconcurrency = 2.5", line: 2, key: "daemon.concurrency", contains: "expected an integer, found a float")
        assertError(minimalJob + "\n[jobs.model]\nquantiles = [0.1, \"median\", 0.9]", line: 10, key: "jobs[0].model.quantiles", contains: "found a string")
        assertError(minimalJob + "\n[jobs.model]\ncell = \"transformer\"", line: 10, key: "jobs[0].model.cell", contains: "\"lstm\"")
        assertError("database = 3", line: 1, key: "database", contains: "expected a table")
    }

    func testBadValuesAreNamed() {
        assertError(minimalJob.replacingOccurrences(of: "\"1h\"", with: "\"1 hour\""), line: 3, key: "jobs[0].frequency", contains: "not a frequency")
        assertError(minimalJob.replacingOccurrences(of: "horizon = 24", with: "horizon = 0"), line: 4, key: "jobs[0].horizon", contains: "between")
        assertError(minimalJob + "\ntimezone = \"Mars/Olympus\"", line: 9, key: "jobs[0].source.timezone", contains: "unknown key")
        assertError(minimalJob.replacingOccurrences(of: "horizon = 24", with: "horizon = 24\ntimezone = \"Mars/Olympus\""),
                    line: 5, key: "jobs[0].timezone", contains: "not a known time zone")
        assertError(minimalJob.replacingOccurrences(of: "horizon = 24", with: "horizon = 24\ntrain_every = \"daily\""),
                    line: 5, key: "jobs[0].train_every", contains: "not a duration")
        assertError(minimalJob.replacingOccurrences(of: "horizon = 24", with: "horizon = 24\npredict_every = \"0 25 * * *\""),
                    line: 5, key: "jobs[0].predict_every", contains: "\"25\" is not valid in the hour field")
        assertError(minimalJob.replacingOccurrences(of: "horizon = 24", with: "horizon = 24\ntrain_every = \"0 3 * *\""),
                    line: 5, key: "jobs[0].train_every", contains: "has 4 fields")
        assertError(minimalJob + "\n[jobs.model]\nquantiles = [0.1, 0.9]", line: 10, key: "jobs[0].model.quantiles", contains: "0.5")
        assertError(minimalJob + "\n[jobs.model]\ntbptt_k1 = 10\ntbptt_k2 = 5", line: 11, key: "jobs[0].model.tbptt_k2", contains: "at least")
        assertError("[daemon]\nmetrics_listen = \"9464\"", line: 2, key: "daemon.metrics_listen", contains: "HOST:PORT")
        assertError("[database]\nschema = \"x; DROP TABLE y\"", line: 2, key: "database.schema", contains: "plain identifier")
    }

    func testSchedulesAreDurationsOrCronExpressionsInTheJobsTimeZone() throws {
        let text = minimalJob.replacingOccurrences(of: "horizon = 24", with: """
            horizon = 24
            timezone = "Europe/Berlin"
            train_every = "30 2 * * mon-fri"
            predict_every = "15m"
            """)
        let job = try Configuration.parse(text).jobs[0]
        XCTAssertEqual(job.trainEvery, .cron(try CronExpression("30 2 * * mon-fri"), TimeZone(identifier: "Europe/Berlin")!))
        XCTAssertEqual(job.predictEvery, .every(900))
    }

    func testMissingRequiredKeysAreNamed() {
        assertError(minimalJob.replacingOccurrences(of: "horizon = 24\n", with: ""), line: 1, key: "jobs[0].horizon", contains: "is required")
        assertError(minimalJob.replacingOccurrences(of: "value_column = \"temp\"", with: ""), line: 5, key: "jobs[0].source.value_column", contains: "is required")
        assertError("[[jobs]]\nname = \"a\"\nfrequency = \"1h\"\nhorizon = 3", line: 1, key: "jobs[0].source", contains: "is required")
        assertError(minimalJob.replacingOccurrences(of: "table = \"public.weather\"", with: "query = \"SELECT 1\""),
                    line: 6, key: "jobs[0].source.query", contains: "$1 and $2")
    }

    func testDuplicateJobNamesAreRefused() {
        assertError(minimalJob + "\n" + minimalJob, line: 10, key: "jobs[1].name", contains: "already named")
    }

    func testSyntaxErrorsGiveTheLine() {
        assertError("[database]\nurl = \"unterminated\n", line: 2, key: nil, contains: "unterminated string")
        assertError("[database]\nurl = postgres://x\n", line: 2, key: nil, contains: "needs quotes")
        assertError("a = 1\na = 2", line: 2, key: nil, contains: "defined twice")
        assertError("[database]\n[database]", line: 2, key: nil, contains: "defined twice")
    }

    func testMissingFileIsAClearError() {
        XCTAssertThrowsError(try Configuration.load(path: "/nonexistent/forecastd.toml")) { error in
            XCTAssertEqual((error as? ConfigurationError)?.description, "/nonexistent/forecastd.toml: the configuration file does not exist")
        }
    }

    func testPathResolutionPrefersFlagThenEnvironment() {
        XCTAssertEqual(Configuration.resolvePath(explicit: "/a.toml", environment: ["FORECASTD_CONFIG": "/b.toml"]), "/a.toml")
        XCTAssertEqual(Configuration.resolvePath(explicit: nil, environment: ["FORECASTD_CONFIG": "/b.toml"]), "/b.toml")
        XCTAssertEqual(Configuration.resolvePath(explicit: nil, environment: [:]), "/etc/forecastd/forecastd.toml")
    }
}

final class DurationTextTests: XCTestCase {
    func testParsesUnitsAndSums() throws {
        XCTAssertEqual(try DurationText.parse("90s"), 90)
        XCTAssertEqual(try DurationText.parse("15m"), 900)
        XCTAssertEqual(try DurationText.parse("24h"), 86_400)
        XCTAssertEqual(try DurationText.parse("365d"), 31_536_000)
        XCTAssertEqual(try DurationText.parse("2w"), 1_209_600)
        XCTAssertEqual(try DurationText.parse("1h30m"), 5400)
        for bad in ["", "h", "10", "1x", "1.5h", "-1h", "0s", "1h 30m"] {
            XCTAssertThrowsError(try DurationText.parse(bad), bad)
        }
        XCTAssertEqual(DurationText.format(5400), "1h30m")
        XCTAssertEqual(try DurationText.parse(DurationText.format(694_861)), 694_861)
    }
}
