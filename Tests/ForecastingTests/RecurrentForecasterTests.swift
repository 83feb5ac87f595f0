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
        let cut = full.count - 17
        let head = RegularSeries(key: full.key, grid: full.grid, firstBucket: full.firstBucket,
                                 values: Array(full.values[..<cut]), states: Array(full.states[..<cut]), rows: RowCounts())
        let saved = try model.read(head)
        let (incremental, stateA) = try model.forecast(full, from: saved)
        let (reread, stateB) = try model.forecast(full)
        XCTAssertEqual(incremental, reread, "bit for bit")
        XCTAssertEqual(stateA, stateB)
        // Nothing new to read: the same forecast again.
        XCTAssertEqual(try model.forecast(full, from: stateA).0, reread)
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
