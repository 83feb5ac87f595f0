import Foundation
import NeuralNet
import XCTest
@testable import Forecasting

/// An hourly series with a daily cycle, a slow drift and noise, and a hole of missing steps.
func syntheticHourlySeries(key: String = "s", days: Int, seed: UInt64 = 7, gapAt: Int? = nil) -> RegularSeries {
    var generator = SplitMix64(seed: seed)
    let n = days * 24
    var values = (0..<n).map { t -> Double in
        let noise = Double(generator.next() % 1000) / 1000 - 0.5
        return 10 + 5 * sin(2 * Double.pi * Double(t) / 24) + 0.002 * Double(t) + noise
    }
    var states = [StepState](repeating: .observed, count: n)
    if let gapAt {
        for t in gapAt..<(gapAt + 10) { values[t] = .nan; states[t] = .missing }
    }
    return RegularSeries(key: key, grid: grid("1h"), firstBucket: 400_000, values: values, states: states, rows: RowCounts())
}

func smallForecasterSettings(horizon: Int = 6) -> ForecasterSettings {
    var settings = ForecasterSettings.defaults(frequency: Frequency(.hour), horizon: horizon, season: 24, backtestWindows: 2)
    settings.hiddenSize = 12
    settings.epochs = 8
    settings.context = 24
    settings.tbpttK1 = 24
    settings.tbpttK2 = 24
    settings.batchSize = 8
    return settings
}

extension RegularSeries {
    func prefix(_ steps: Int) -> RegularSeries { self.steps(0..<steps) }

    func dropFirst(_ steps: Int) -> RegularSeries { self.steps(steps..<count) }
}

final class RecurrentForecasterTests: XCTestCase {
    func testTrainingLowersTheLossAndKeepsTheBestEpoch() throws {
        let series = syntheticHourlySeries(days: 30, gapAt: 200)
        let model = try RecurrentForecaster.train(series: [series], settings: smallForecasterSettings())
        XCTAssertFalse(model.history.isEmpty)
        let first = try XCTUnwrap(model.history.first), best = model.history[model.bestEpoch - 1]
        XCTAssertLessThan(best.validationLoss, first.validationLoss, "validation loss improves: \(model.history.map(\.validationLoss))")
        XCTAssertLessThan(model.history.last!.trainLoss, first.trainLoss)
        XCTAssertEqual(best.validationLoss, model.history.map(\.validationLoss).min())
    }

    /// The outputs are corrections to the base and on a short series (720 hours) the head starts
    /// at zero, so a network that training did not move forecasts its base at every quantile:
    /// here seasonal naive's value a day earlier. A randomly drawn head forecast it with jumps of
    /// half an IQR per step, as a long series' network (1,200 hours) still starts.
    func testAnUntrainedNetworkForecastsItsBaseOnAShortSeries() throws {
        var settings = smallForecasterSettings()
        settings.base = .seasonal
        settings.learningRate = 0
        settings.epochs = 1
        let untrainedGap = { (series: RegularSeries) throws -> Double in
            let (forecast, _) = try RecurrentForecaster.train(series: [series], settings: settings).forecast(series)
            return (0..<forecast.horizon).flatMap { step in
                forecast.quantiles(atStep: step).map { abs($0 - series.values[series.count - 24 + step]) }
            }.max()!
        }
        XCTAssertEqual(try untrainedGap(syntheticHourlySeries(days: 30)), 0, accuracy: 1e-9)
        XCTAssertGreaterThan(try untrainedGap(syntheticHourlySeries(days: 50)), 0.01)
    }

    func testForecastQuantilesAreOrderedAndInTheSeriesUnits() throws {
        let series = syntheticHourlySeries(days: 30)
        let model = try RecurrentForecaster.train(series: [series], settings: smallForecasterSettings())
        let (forecast, _) = try model.forecast(series)
        XCTAssertEqual(forecast.horizon, 6)
        XCTAssertEqual(forecast.levels, [0.1, 0.5, 0.9])
        for step in 0..<forecast.horizon {
            let q = Array(forecast.quantiles(atStep: step))
            XCTAssertEqual(q, q.sorted(), "step \(step)")
            XCTAssertTrue((0.0...30.0).contains(forecast.point[step]), "forecast \(forecast.point[step]) in the series' range")
        }
    }

    func testReadingOnFromASavedStateEqualsReadingEverythingAgain() throws {
        let full = syntheticHourlySeries(days: 30)
        let model = try RecurrentForecaster.train(series: [full], settings: smallForecasterSettings())
        let (reread, finalState) = try model.forecast(full)
        for cut in [full.count - 17, full.count - 1, 3] {
            let (_, saved) = try model.forecast(full.prefix(cut))
            let (incremental, state) = try model.forecast(continuing: try XCTUnwrap(saved), with: full.dropFirst(cut), maxGap: 3)
            XCTAssertEqual(incremental, reread, "bit for bit, cut at \(cut)")
            XCTAssertEqual(SeriesStateArchive.encode(try XCTUnwrap(state)), SeriesStateArchive.encode(try XCTUnwrap(finalState)))
        }
    }

    /// The real flow: rows laid on the grid by the series builder, the new rows after a saved
    /// state built on their own, with a short gap (interpolated) right after the state's last
    /// step, a long one (missing) later, and a last bucket that is still filling.
    func testReadingOnEqualsAFullReadAcrossGapsAndAnUnsettledLastBucket() throws {
        let settings = SeriesSettings(grid: grid("1h"), maxGap: 3, minimumLength: 1)
        let start = instant(2024, 1, 1)
        let hours = 30 * 24, cut = hours - 40
        let skipped = Set([cut, cut + 1]).union(cut + 10..<cut + 16)
        let rows = (0..<hours).filter { !skipped.contains($0) }.map { h in
            row("s", start.addingTimeInterval(Double(h) * 3600), 10 + 5 * sin(Double(h) * .pi / 12) + Double(h % 7) / 10)
        }
        let build = { (rows: [SourceRow]) in try XCTUnwrap(SeriesBuilder.build(rows, settings: settings).first?.series) }
        let full = try build(rows)
        let model = try RecurrentForecaster.train(series: [full], settings: smallForecasterSettings())
        let lastBucket = full.endBucket - 1
        let (reread, rereadState) = try model.forecast(full, settledBefore: lastBucket)
        let state = try XCTUnwrap(rereadState)
        XCTAssertEqual(state.lastBucket, lastBucket - 1, "the bucket the read ends in is read again next time")

        let (_, saved) = try model.forecast(try build(rows.filter { $0.time < start.addingTimeInterval(Double(cut) * 3600) }))
        let savedState = try XCTUnwrap(saved)
        let newRows = rows.filter { $0.time >= settings.grid.start(ofBucket: savedState.nextBucket) }
        let (incremental, next) = try model.forecast(continuing: savedState, with: try build(newRows), maxGap: 3, settledBefore: lastBucket)
        XCTAssertEqual(incremental, reread)
        XCTAssertEqual(SeriesStateArchive.encode(try XCTUnwrap(next)), SeriesStateArchive.encode(state))

        // The next cycle reads the unsettled bucket again and arrives where a full read does.
        let (_, settledState) = try model.forecast(full)
        let again = rows.filter { $0.time >= settings.grid.start(ofBucket: state.nextBucket) }
        let (last, lastState) = try model.forecast(continuing: state, with: try build(again), maxGap: 3)
        XCTAssertEqual(last, reread)
        XCTAssertEqual(SeriesStateArchive.encode(try XCTUnwrap(lastState)), SeriesStateArchive.encode(try XCTUnwrap(settledState)))
    }

    func testSavedStateRoundTripsAndDamageIsRefused() throws {
        let series = syntheticHourlySeries(days: 20, gapAt: 100)
        var settings = smallForecasterSettings()
        settings.epochs = 1
        let model = try RecurrentForecaster.train(series: [series], settings: settings)
        let state = try XCTUnwrap(model.forecast(series).1)
        let bytes = SeriesStateArchive.encode(state)
        XCTAssertEqual(SeriesStateArchive.encode(try SeriesStateArchive.decode(bytes, key: "s", config: model.network.config)), bytes)
        XCTAssertThrowsError(try SeriesStateArchive.decode(Array(bytes.dropLast(3)), key: "s", config: model.network.config))
        XCTAssertThrowsError(try SeriesStateArchive.decode(Array(bytes.prefix(2)), key: "s", config: model.network.config))
        var other = model.network.config
        other.hiddenSize += 1
        XCTAssertThrowsError(try SeriesStateArchive.decode(bytes, key: "s", config: other))
    }

    /// A model that reads its series in full saves only where it read: the last observed step
    /// before the bucket still filling, and bytes no network state decodes from.
    func testAFullReadMarkStopsAtTheLastSettledObservation() throws {
        let series = RegularSeries(key: "s", grid: try TimeGrid(frequency: "1h"), firstBucket: 100, values: [1, 2, 3, .nan, 5, .nan],
                                   states: [.observed, .observed, .observed, .missing, .observed, .missing])
        XCTAssertEqual(FullReadMark(after: series, settledBefore: nil), FullReadMark(key: "s", lastBucket: 104))
        XCTAssertEqual(FullReadMark(after: series, settledBefore: 104), FullReadMark(key: "s", lastBucket: 102),
                       "bucket 104 may still receive rows")
        XCTAssertNil(FullReadMark(after: series, settledBefore: 100))
        XCTAssertNil(FullReadMark(after: series, settledBefore: 50))
        XCTAssertTrue(SeriesStateArchive.isFullReadMark(SeriesStateArchive.fullReadMark))

        var settings = smallForecasterSettings()
        settings.epochs = 1
        let model = try RecurrentForecaster.train(series: [syntheticHourlySeries(days: 20)], settings: settings)
        XCTAssertThrowsError(try SeriesStateArchive.decode(SeriesStateArchive.fullReadMark, key: "s", config: model.network.config)) { error in
            XCTAssertTrue(error is SeriesStateArchive.DamagedState, "\(error)")
        }
    }

    func testGlobalModelTrainsOnSeveralSeriesWithTheirOwnScales() throws {
        let a = syntheticHourlySeries(key: "a", days: 20, seed: 1)
        var bValues = syntheticHourlySeries(key: "b", days: 20, seed: 2).values.map { $0 * 1000 }
        bValues[5] = .nan
        let b = RegularSeries(key: "b", grid: grid("1h"), firstBucket: 400_000, values: bValues,
                              states: bValues.map { $0.isFinite ? .observed : .missing }, rows: RowCounts())
        let model = try RecurrentForecaster.train(series: [a, b], settings: smallForecasterSettings())
        XCTAssertEqual(Set(model.scalers.keys), ["a", "b"])
        let fa = try model.forecast(a).0, fb = try model.forecast(b).0
        XCTAssertGreaterThan(fb.point[0] / fa.point[0], 100, "each series is scaled back to its own units")
    }

    func testBacktestScoresModelAndBaselineOnTheSameWindows() throws {
        let series = syntheticHourlySeries(days: 30)
        let settings = smallForecasterSettings()
        let model = try RecurrentForecaster.train(series: [series], settings: settings)
        let result = try model.backtest(series, windows: 2, season: 24)
        XCTAssertEqual(result.windows.map(\.origin), [series.count - 12, series.count - 6])
        let names = Set(result.metrics.map(\.name))
        for name in ["mae", "rmse", "mape", "smape", "mase", "coverage", "pinball", "baseline_mae", "baseline_mase", "skill"] {
            XCTAssertTrue(names.contains(name), name)
        }
        XCTAssertTrue(result.model.mae.isFinite)
    }

    func testSubDailyGridsOfferAWeekOfLags() {
        func weekLags(_ frequency: Frequency, season: Int) -> Int? {
            ForecasterSettings.defaults(frequency: frequency, horizon: 6, season: season, backtestWindows: 3).weekLags
        }
        XCTAssertEqual(weekLags(Frequency(.hour), season: 24), 168)
        XCTAssertEqual(weekLags(Frequency(.minute, multiplier: 30), season: 48), 336)
        XCTAssertNil(weekLags(Frequency(.minute, multiplier: 15), season: 96), "672 inputs a step: too many")
        XCTAssertNil(weekLags(Frequency(.day), season: 7), "a day's lags already span the week")
        XCTAssertNil(weekLags(Frequency(.month), season: 12))
    }

    /// Eight weeks of hourly data with a daily cycle: with weekends lower than weekdays the
    /// network reads a week of lags, without them (the level wandering from day to day
    /// instead) it reads a day, as before.
    func testTheNetworkReadsAWeekOfLagsOnlyWhereTheWeekRepeats() throws {
        var generator = SplitMix64(seed: 11)
        func noise() -> Double { Double(generator.next() % 1000) / 1000 - 0.5 }
        var level = 0.0
        let weekly = (0..<(8 * 168)).map { t -> Double in
            (t % 168 >= 120 ? 6 : 10) + 3 * sin(2 * Double.pi * Double(t) / 24) + 0.3 * noise()
        }
        let daily = (0..<(8 * 168)).map { t -> Double in
            if t % 24 == 0 { level += 2 * noise() }
            return 10 + level + 3 * sin(2 * Double.pi * Double(t) / 24) + 0.3 * noise()
        }
        var settings = smallForecasterSettings()
        settings.epochs = 1
        for (values, lags) in [(weekly, 168), (daily, 24)] {
            let series = RegularSeries(key: "s", grid: grid("1h"), firstBucket: 400_000, values: values,
                                       states: Array(repeating: .observed, count: values.count))
            let model = try RecurrentForecaster.train(series: [series], settings: settings)
            XCTAssertEqual(model.settings.lags, lags)
            XCTAssertEqual(model.settings.weekRead, lags == 168 ? 168 : nil)
            XCTAssertEqual(model.network.config.inputSize, 2 + lags + 6, "level, missing flag, lags, three calendar pairs")
            let (forecast, _) = try model.forecast(series)
            XCTAssertEqual(forecast.horizon, 6)
            let restored = try ModelArchive.decode(ModelArchive.encode(model))
            XCTAssertEqual(restored.settings.lags, lags, "the lags read are stored with the model")
        }
    }

    func testTooShortSeriesIsRefusedWithTheNeededLength() {
        let settings = smallForecasterSettings()
        let short = syntheticHourlySeries(days: 1)
        XCTAssertThrowsError(try RecurrentForecaster.train(series: [short], settings: settings)) { error in
            XCTAssertEqual(error as? ForecasterError, .seriesTooShort(key: "s", needed: RecurrentForecaster.minimumLength(settings), got: 24))
        }
    }

    func testSameSeedGivesIdenticalWeights() throws {
        let series = syntheticHourlySeries(days: 20)
        var settings = smallForecasterSettings()
        settings.epochs = 2
        let a = try RecurrentForecaster.train(series: [series], settings: settings)
        let b = try RecurrentForecaster.train(series: [series], settings: settings)
        XCTAssertEqual(a.network.parameters, b.network.parameters)
    }
}

final class ModelArchiveTests: XCTestCase {
    func trained() throws -> (TrainedForecaster, RegularSeries) {
        let series = syntheticHourlySeries(days: 20)
        var settings = smallForecasterSettings()
        settings.epochs = 2
        return (try RecurrentForecaster.train(series: [series], settings: settings), series)
    }

    func testRoundTripForecastsBitForBit() throws {
        let (model, series) = try trained()
        let restored = try ModelArchive.decode(try ModelArchive.encode(model))
        XCTAssertEqual(restored.settings, model.settings)
        XCTAssertEqual(restored.scalers, model.scalers)
        XCTAssertEqual(try restored.forecast(series).0, try model.forecast(series).0)
    }

    func testDamagedArchivesAreRefusedWithAReason() throws {
        let (model, _) = try trained()
        let bytes = try ModelArchive.encode(model)
        XCTAssertThrowsError(try ModelArchive.decode([])) { XCTAssertEqual($0 as? ModelArchive.ArchiveError, .notAnArchive) }
        XCTAssertThrowsError(try ModelArchive.decode(Array("JUNKJUNKJUNKJUNK".utf8))) { XCTAssertEqual($0 as? ModelArchive.ArchiveError, .notAnArchive) }
        XCTAssertThrowsError(try ModelArchive.decode(Array(bytes.prefix(40)))) { XCTAssertEqual($0 as? ModelArchive.ArchiveError, .truncated) }
        XCTAssertThrowsError(try ModelArchive.decode(Array(bytes.dropLast(7)))) { XCTAssertTrue($0 is ModelFormatError, "\($0)") }
        var flipped = bytes
        flipped[flipped.count - 20] ^= 0x40
        XCTAssertThrowsError(try ModelArchive.decode(flipped)) { XCTAssertTrue($0 is ModelFormatError, "\($0)") }
        var badHeader = bytes
        badHeader[14] ^= 0xFF
        XCTAssertThrowsError(try ModelArchive.decode(badHeader)) {
            guard case .badHeader? = $0 as? ModelArchive.ArchiveError else { return XCTFail("\($0)") }
        }
        var newer = bytes
        newer[4] = 9
        XCTAssertThrowsError(try ModelArchive.decode(newer)) { XCTAssertEqual($0 as? ModelArchive.ArchiveError, .unsupportedVersion(9)) }
    }
}
