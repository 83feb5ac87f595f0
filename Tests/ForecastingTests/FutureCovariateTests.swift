import Foundation
import NeuralNet
import XCTest
@testable import Forecasting

/// Future-known covariates (issue 14, item 2): laid on the grid like past ones and, from the rows
/// after the series' last value, for the horizon (`CovariateSeries.ahead`, never interpolated);
/// read by the encoder at each step and by the dense head or the recurrent decoder for every
/// forecast step; a forecast never reads a missing one; reading on from a state equals a full read.
final class FutureCovariateTests: XCTestCase {
    let start = instant(2024, 1, 1)

    func at(_ hour: Int, _ value: Double?, _ covariates: Double?...) -> SourceRow {
        SourceRow(key: "s", time: start.addingTimeInterval(Double(hour) * 3600), value: value, covariates: covariates)
    }

    func testRowsAfterTheLastValueAreLaidAheadAndNeverInterpolated() throws {
        var rows = (0..<10).map { h in at(h, Double(h), 20 + Double(h), h % 7 < 5 ? 1 : 0) }
        rows[3] = at(3, 3, 23, nil)                                       // a short gap in the past: interpolated
        rows += [at(10, nil, nil, 1), at(11, nil, nil, 0), at(12, nil, nil, nil), at(13, nil, nil, 1), at(15, nil, nil, 1)]
        let settings = SeriesSettings(grid: grid("1h"), maxGap: 3, minimumLength: 1, covariates: ["temp"],
                                      futureCovariates: ["workday"], futureSteps: 4)
        let series = try XCTUnwrap(SeriesBuilder.build(rows.shuffled(), settings: settings).first?.series)
        XCTAssertEqual(series.count, 10, "rows without a value do not extend the series")
        XCTAssertEqual(series.covariateNames, ["temp", "workday"])
        XCTAssertNil(series.covariates[0].ahead, "a past covariate has nothing ahead")
        let workday = series.covariates[1]
        XCTAssertEqual(workday.states[3], .interpolated)
        assertValues(try XCTUnwrap(workday.ahead), [1, 0, .nan, 1])
        XCTAssertEqual(series.rows.missingValue, 5)

        XCTAssertNil(series.missingFuture(horizon: 2))
        let missing = try XCTUnwrap(series.missingFuture(horizon: 4))
        XCTAssertEqual(missing.steps, [3])
        XCTAssertEqual(missing.description, "series \"s\": the future-known covariate \"workday\" has no value for step 3 of the horizon")
        XCTAssertEqual(series.missingFuture(horizon: 6)?.steps, [3, 5, 6], "beyond what was read counts as missing")

        // The first steps of a series keep what follows them ahead: a backtest window's known future.
        let prefix = series.steps(0..<6)
        assertValues(try XCTUnwrap(prefix.covariates[1].ahead), Array(workday.values[6...]) + [1, 0, .nan, 1])
        XCTAssertNil(prefix.missingFuture(horizon: 6))
        XCTAssertEqual(prefix.missingFuture(horizon: 8)?.steps, [7])

        // No future rows at all: the whole horizon is missing.
        let none = try XCTUnwrap(SeriesBuilder.build(Array(rows.prefix(10)), settings: settings).first?.series)
        XCTAssertEqual(none.missingFuture(horizon: 4)?.description,
                       "series \"s\": the future-known covariate \"workday\" has no value for any of the 4 steps of the horizon")
    }

    /// An hourly series whose value jumps with a flag of the same hour that is known ahead and
    /// changes at random every three hours (a planned promotion, say: neither the calendar nor
    /// the lags tell it), with the rows of the `ahead` hours after `hours` carrying only the flag
    /// (as `SourceReader` hands a read's horizon over) and a past temperature.
    func rows(hours: Int, ahead: Int = 6, seed: UInt64 = 7) -> [SourceRow] {
        var generator = SplitMix64(seed: seed)
        let flags = (0...((hours + ahead) / 3)).map { _ in generator.uniform(in: 0...1) < 0.5 ? 1.0 : 0.0 }
        return (0..<(hours + ahead)).map { h in
            let workday = flags[h / 3]
            let temp = 15 + 5 * sin(2 * .pi * Double(h) / 24) + generator.uniform(in: -1...1)
            let value = 10 + 3 * sin(2 * .pi * Double(h) / 24) + 4 * workday + generator.uniform(in: -0.3...0.3)
            let noTemp = h % 37 == 5
            return h < hours ? at(h, h % 29 == 11 ? nil : value, noTemp ? nil : temp, workday) : at(h, nil, nil, workday)
        }
    }

    /// What a read at `hour` sees of `rows`: values and past covariates before it, the flag for
    /// the horizon after it.
    func asOf(_ hour: Int, _ rows: [SourceRow], horizon: Int) -> [SourceRow] {
        let cut = start.addingTimeInterval(Double(hour) * 3600), end = start.addingTimeInterval(Double(hour + horizon) * 3600)
        return rows.filter { $0.time < end }.map { row in
            row.time < cut ? row : SourceRow(key: row.key, time: row.time, value: nil, covariates: [nil, row.covariates[1]])
        }
    }

    func settings(horizon: Int = 6) -> SeriesSettings {
        SeriesSettings(grid: grid("1h"), maxGap: 3, minimumLength: 1, covariates: ["temp"], futureCovariates: ["workday"], futureSteps: horizon)
    }

    func testTheHeadAndTheDecoderReadEachForecastStepsKnownValues() throws {
        let series = try XCTUnwrap(SeriesBuilder.build(rows(hours: 200), settings: settings()).first?.series)
        let scalers = RobustScaler.covariates(of: series, end: 150)
        let prepared = PreparedSeries(series, scaler: try XCTUnwrap(RobustScaler(fitting: series.values)), trainEnd: 150, covariateScalers: scalers)
        XCTAssertEqual(prepared.known.count, 1)
        XCTAssertEqual(prepared.known[0].count, series.count + 6)
        let workday = series.covariates[1].values + series.covariates[1].ahead!
        let known = { (step: Int) in Float(scalers[1].transform(workday[step])) }

        let layout = FeatureLayout(grid: series.grid, lags: 24, covariates: 2, known: 1)
        XCTAssertEqual(layout.inputSize, FeatureLayout(grid: series.grid, lags: 24).inputSize + 4, "the encoder reads both like past ones")
        let inputs = layout.inputs(series: prepared, steps: 0..<series.count, base: .seasonal, season: 24)
        let column = 2 + 24 + layout.calendar.count + 2
        XCTAssertEqual(inputs[40 * layout.inputSize + column], known(40), "the encoder reads the flag of its own step")
        XCTAssertEqual(layout.blockWidth(horizon: 6), 6)
        let head = layout.head(series: prepared, origins: 190..<200, horizon: 6)
        for (i, t) in (190..<200).enumerated() {
            for h in 0..<6 { XCTAssertEqual(head[i * 6 + h], known(t + 1 + h), "origin \(t), step \(h + 1)") }
        }
        XCTAssertEqual(Array(layout.futureBlocks(series: prepared, origins: 199..<200, horizon: 6, base: .level, season: 24)!),
                       (200..<206).map(known), "the last origin's block is what lies ahead")

        let decoder = FeatureLayout(grid: series.grid, lags: 24, covariates: 2, known: 1, decoder: .recurrent)
        XCTAssertEqual(decoder.futureWidth, 1 + decoder.calendar.count + 1)
        let blocks = decoder.futureBlocks(series: prepared, origins: 150..<152, horizon: 6, base: .level, season: 24)!
        let w = decoder.futureWidth
        for i in 0..<2 {
            for h in 0..<6 { XCTAssertEqual(blocks[(i * 6 + h) * w + w - 1], known(150 + i + 1 + h), "after the calendar") }
        }
    }

    /// A value that jumps with the flag of its own hour is forecast far better by a network
    /// whose head reads the flag of every forecast step.
    func testTheNetworkLearnsFromAFutureKnownCovariate() throws {
        let hours = 24 * 28
        let build = { (s: SeriesSettings) in try XCTUnwrap(SeriesBuilder.build(self.rows(hours: hours), settings: s).first?.series) }
        var forecaster = smallForecasterSettings(horizon: 6)
        forecaster.epochs = 30
        forecaster.learningRate = 1e-2
        forecaster.weekLags = nil
        forecaster.lags = 2
        // On the level the targets are the flag's changes from the origin's, which the head
        // reads; a seasonal base would add the flag of a day earlier, unknown to either network.
        forecaster.base = .level
        forecaster.pastCovariates = ["temp"]
        forecaster.futureCovariates = ["workday"]
        let reading = try RecurrentForecaster.train(series: [try build(settings())], settings: forecaster)
        XCTAssertEqual(reading.network.config.futureFeatures, 1)
        XCTAssertEqual(reading.network.config.futureWidth, 6)
        forecaster.futureCovariates = nil
        let blind = try RecurrentForecaster.train(series: [try build(SeriesSettings(grid: grid("1h"), maxGap: 3, minimumLength: 1, covariates: ["temp"]))],
                                                  settings: forecaster)
        let best = { (model: TrainedForecaster) in model.history.map(\.validationLoss).min()! }
        XCTAssertLessThan(best(reading), 0.6 * best(blind), "with \(best(reading)), without \(best(blind))")
    }

    /// The flow of a predict cycle: a model (decoded from its archive) reads on from a saved
    /// state (decoded from its bytes) over the new steps the builder lays out from a later read,
    /// with that read's horizon ahead, and equals a full read bit for bit, for the dense head,
    /// the dense head with output feedback (whose state carries a forecast that read the flags)
    /// and the recurrent decoder.
    func testReadingOnWithFutureCovariatesEqualsAFullRead() throws {
        let hours = 24 * 16, horizon = 6
        let all = rows(hours: hours + 60, ahead: horizon)
        var newSettings = settings()
        newSettings.leadingCovariates = true
        let build = { (rows: [SourceRow], s: SeriesSettings) in try XCTUnwrap(SeriesBuilder.build(rows, settings: s).first?.series) }
        let full = try build(asOf(hours, all, horizon: horizon), settings())
        XCTAssertNil(full.missingFuture(horizon: horizon))
        for design in ["dense", "output feedback", "recurrent decoder"] {
            var forecaster = smallForecasterSettings(horizon: horizon)
            forecaster.cell = .gru
            forecaster.epochs = 2
            forecaster.pastCovariates = ["temp"]
            forecaster.futureCovariates = ["workday"]
            if design == "recurrent decoder" { forecaster.decoder = .recurrent }
            if design == "output feedback" { forecaster.feedback = .output }
            let model = try RecurrentForecaster.train(series: [full], settings: forecaster)
            let decoded = try ModelArchive.decode(try ModelArchive.encode(model))
            XCTAssertEqual(decoded.settings.futureCovariates, ["workday"])
            XCTAssertEqual(decoded.covariateScalers, model.covariateScalers)
            for later in [hours + 1, hours + 13, hours + 60] {
                let whole = try build(asOf(later, all, horizon: horizon), settings())
                let (reread, finalState) = try model.forecast(whole)
                XCTAssertEqual(try XCTUnwrap(model.readInFull([whole]).first??.forecast), reread, "\(design): batched equals batch 1")
                for cut in [hours, hours - 5, hours - 30] {
                    let (_, saved) = try model.forecast(try build(asOf(cut, all, horizon: horizon), settings()))
                    let state = try SeriesStateArchive.decode(SeriesStateArchive.encode(try XCTUnwrap(saved)), key: "s", config: model.network.config)
                    let newRows = asOf(later, all, horizon: horizon).filter { $0.time >= grid("1h").start(ofBucket: state.nextBucket) }
                    let (incremental, next) = try decoded.forecast(continuing: state, with: try build(newRows, newSettings), maxGap: 3)
                    XCTAssertEqual(incremental, reread, "\(design): read at \(later) on from a state of \(cut)")
                    XCTAssertEqual(SeriesStateArchive.encode(try XCTUnwrap(next)), SeriesStateArchive.encode(try XCTUnwrap(finalState)),
                                   "\(design): read at \(later) on from a state of \(cut)")
                }
            }
            // The known future matters: another flag ahead, another forecast.
            let flipped = asOf(hours, all, horizon: horizon).map { row in
                row.value == nil && row.time >= start.addingTimeInterval(Double(hours) * 3600)
                    ? SourceRow(key: row.key, time: row.time, value: nil, covariates: [nil, 1 - row.covariates[1]!]) : row
            }
            XCTAssertNotEqual(try model.forecast(try build(flipped, settings())).0, try model.forecast(full).0, design)
        }
    }

    /// A forecast never reads a missing future value: the network refuses the series (naming
    /// it and the covariate), whether it reads it itself, on from a state, or through a
    /// published form with a batched read already done; the training and backtests over the
    /// past read 0 where a value is missing.
    func testAMissingFutureValueIsNeverForecastByTheNetwork() throws {
        let hours = 24 * 12, horizon = 6
        let all = rows(hours: hours, ahead: horizon)
        let full = try XCTUnwrap(SeriesBuilder.build(all, settings: settings()).first?.series)
        var forecaster = smallForecasterSettings(horizon: horizon)
        forecaster.epochs = 2
        forecaster.pastCovariates = ["temp"]
        forecaster.futureCovariates = ["workday"]
        let model = try RecurrentForecaster.train(series: [full], settings: forecaster)
        let holes = all.filter { !($0.value == nil && $0.time == start.addingTimeInterval(Double(hours + 2) * 3600)) }
        let holed = try XCTUnwrap(SeriesBuilder.build(holes, settings: settings()).first?.series)
        XCTAssertThrowsError(try model.forecast(holed)) { error in
            XCTAssertEqual(error as? MissingFuture, MissingFuture(series: "s", covariate: "workday", steps: [3], horizon: horizon))
        }
        let state = try XCTUnwrap(model.forecast(full.steps(0..<(full.count - 10))).1)
        let newSteps = try XCTUnwrap(SeriesBuilder.build(holes.filter { $0.time >= grid("1h").start(ofBucket: state.nextBucket) },
                                                         settings: settings()).first?.series)
        XCTAssertThrowsError(try model.forecast(continuing: state, with: newSteps, maxGap: 3)) { XCTAssertTrue($0 is MissingFuture, "\($0)") }
        let published = PublishedForecaster(form: .network, network: model, horizon: horizon, levels: forecaster.quantiles, maxGap: 3)
        let read = try XCTUnwrap(model.readInFull([holed]).first ?? nil)
        XCTAssertThrowsError(try published.forecast(holed, settledBefore: nil, read: read)) { XCTAssertTrue($0 is MissingFuture, "\($0)") }
        XCTAssertNoThrow(try published.forecast(full, settledBefore: nil))
        // Its backtest windows lie in the past, where every flag is known.
        XCTAssertFalse(try model.backtest(holed, windows: 2, season: 24).windows.isEmpty)
    }

    /// A model of another future-known list than the job asks is unfit (and retrained), a
    /// baseline too; a column moving from one list to the other is a change.
    func testAChangedFutureCovariateListMakesTheModelUnfit() throws {
        let grid = GridRecord(frequency: "1h", timeZone: "UTC", aggregation: "mean", season: 24)
        var asked = smallForecasterSettings()
        asked.futureCovariates = ["workday"]
        var none = asked
        none.futureCovariates = nil
        var moved = none
        moved.pastCovariates = ["workday"]
        func recorded(_ s: ForecasterSettings) throws -> String {
            String(decoding: try JSONEncoder().encode(RecordedHyperparameters(base: s, grid: grid)), as: UTF8.self)
        }
        func baseline(_ future: [String]?) throws -> String {
            String(decoding: try JSONEncoder().encode(RecordedHyperparameters(base: ["baseline": "seasonal_naive"], grid: grid, horizon: 6,
                                                                              quantiles: asked.quantiles, futureCovariates: future)), as: UTF8.self)
        }
        XCTAssertFalse(try recorded(none).contains("futureCovariates"), "models without them are stored as before")
        let network = ModelCell.network(.lstm)
        XCTAssertNil(ModelRequirements(settings: asked, grid: grid).mismatch(cell: network, hyperparameters: try recorded(asked)))
        XCTAssertEqual(ModelRequirements(settings: asked, grid: grid).mismatch(cell: network, hyperparameters: try recorded(none))?.description,
                       "trained with source.future_covariates [], the job now asks [\"workday\"]")
        XCTAssertEqual(ModelRequirements(settings: asked, grid: grid).mismatch(cell: network, hyperparameters: try recorded(moved))?.description,
                       "trained with source.past_covariates [\"workday\"], the job now asks []")
        XCTAssertNil(ModelRequirements(settings: asked, grid: grid).mismatch(cell: .seasonalNaive, hyperparameters: try baseline(["workday"])))
        XCTAssertNotNil(ModelRequirements(settings: asked, grid: grid).mismatch(cell: .seasonalNaive, hyperparameters: try baseline(nil)))
    }
}
