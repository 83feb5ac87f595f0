import Foundation
import NeuralNet
import XCTest
@testable import Forecasting

/// Past-observed covariates (issue 14): laid on the value's grid, read by the network up to the
/// origin, kept by the model archive and the series state so that reading on equals a full read.
final class CovariateTests: XCTestCase {
    let start = instant(2024, 1, 1)

    func at(_ hour: Int, _ value: Double?, _ covariates: Double?...) -> SourceRow {
        SourceRow(key: "s", time: start.addingTimeInterval(Double(hour) * 3600), value: value, covariates: covariates)
    }

    func testCovariatesAreAggregatedLikeTheValueAndTheirGapsHandledAlike() throws {
        let rows = [
            at(0, 1, 10), at(0, 3, 20),              // two rows in one step
            at(1, nil, 30),                          // no value: the covariate still counts
            at(2, 5, nil), at(3, 7, .nan),           // NULL and NaN: missing, a gap of 2 (interpolated)
            at(4, 9, 50),
            at(5, 1, nil), at(6, 2, nil), at(7, 3, nil), at(8, 4, .infinity), // a gap of 4 > max_gap: missing
            at(9, 5, 0),
            at(10, nil, 5),                          // after the last value: outside the series
        ]
        let settings = SeriesSettings(grid: grid("1h"), maxGap: 3, minimumLength: 1, covariates: ["temp"])
        let mean = try XCTUnwrap(SeriesBuilder.build(rows.shuffled(), settings: settings).first?.series)
        XCTAssertEqual(mean.count, 10)
        XCTAssertEqual(mean.covariateNames, ["temp"])
        let temp = mean.covariates[0]
        assertValues(temp.values, [15, 30, 30 + 20.0 / 3, 30 + 40.0 / 3, 50, .nan, .nan, .nan, .nan, 0])
        XCTAssertEqual(temp.states, [.observed, .observed, .interpolated, .interpolated, .observed,
                                     .missing, .missing, .missing, .missing, .observed])
        assertValues(mean.values, [2, 3.5, 5, 7, 9, 1, 2, 3, 4, 5])
        XCTAssertEqual(mean.states[1], .interpolated, "the value's own gap is the value's")
        XCTAssertEqual(mean.rows.read, 12)
        XCTAssertEqual(mean.rows.missingValue, 2)
        XCTAssertEqual(mean.rows.dropped, 2)

        var maximum = settings
        maximum.aggregation = .max
        let max = try XCTUnwrap(SeriesBuilder.build(rows, settings: maximum).first?.series)
        XCTAssertEqual(max.covariates[0].values[0], 20)
        XCTAssertEqual(max.values[0], 3)
        var last = settings
        last.aggregation = .last
        let lastRows = [at(0, 1, 10), at(0, 2, nil), SourceRow(key: "s", time: start.addingTimeInterval(60), value: 4, covariates: [7]), at(1, 5, 1)]
        let latest = try XCTUnwrap(SeriesBuilder.build(lastRows, settings: last).first?.series)
        XCTAssertEqual(latest.values, [4, 5])
        XCTAssertEqual(latest.covariates[0].values, [7, 1], "the latest row with a covariate")

        // A covariate before the first value opens the new steps after a saved state only.
        let early = [at(-2, nil, 4)] + rows
        XCTAssertEqual(try XCTUnwrap(SeriesBuilder.build(early, settings: settings).first?.series).firstBucket, mean.firstBucket)
        var leading = settings
        leading.leadingCovariates = true
        let opened = try XCTUnwrap(SeriesBuilder.build(early, settings: leading).first?.series)
        XCTAssertEqual(opened.firstBucket, mean.firstBucket - 2)
        XCTAssertEqual(opened.covariates[0].values[0], 4)
        XCTAssertEqual(opened.states[0], .missing)
        XCTAssertEqual(opened.covariates[0].states[1], .interpolated, "4 and 15 around a step without a row")

        // Without covariates rows without a value are dropped as before.
        let plain = try XCTUnwrap(SeriesBuilder.build(rows, settings: SeriesSettings(grid: grid("1h"), maxGap: 3, minimumLength: 1)).first?.series)
        XCTAssertEqual(plain.covariates, [])
        assertValues(plain.values, mean.values)
        XCTAssertEqual(plain.rows, mean.rows)
    }

    func testEachSeriesGetsItsOwnCovariates() throws {
        let settings = SeriesSettings(grid: grid("1h"), maxGap: 3, minimumLength: 1, covariates: ["temp"])
        var rows: [SourceRow] = []
        for h in 0..<6 {
            let time = start.addingTimeInterval(Double(h) * 3600)
            let temp: Double? = h == 2 ? nil : Double(h)
            rows.append(SourceRow(key: "b", time: time, value: Double(h), covariates: [Double(100 + h)]))
            rows.append(SourceRow(key: "a", time: time, value: Double(h), covariates: [temp]))
        }
        let outcomes = SeriesBuilder.build(rows, settings: settings)
        XCTAssertEqual(outcomes.map { $0.key }, ["a", "b"])
        let a = try XCTUnwrap(outcomes[0].series), b = try XCTUnwrap(outcomes[1].series)
        XCTAssertEqual(a.covariates[0].values, [0, 1, 2, 3, 4, 5])
        XCTAssertEqual(a.covariates[0].states[2], StepState.interpolated)
        XCTAssertEqual(b.covariates[0].values, [100, 101, 102, 103, 104, 105])
    }

    func testAllRowsWithoutAValueAreStillMissing() {
        let settings = SeriesSettings(grid: grid("1h"), covariates: ["temp"])
        let outcome = SeriesBuilder.build([at(0, nil, 1), at(1, .nan, 2)], settings: settings)
        XCTAssertEqual(outcome.first?.skipReason, .allMissing(rows: 2))
    }

    /// An hourly series whose value follows its temperature an hour earlier, with NULL
    /// temperatures and humidities here and there, a humidity outage longer than `maxGap`,
    /// hours with only covariates and hours with only a value.
    func covariateRows(hours: Int, seed: UInt64 = 3, weight: Double = 0.8) -> [SourceRow] {
        var generator = SplitMix64(seed: seed)
        var temp = 20.0, rows: [SourceRow] = []
        for h in 0..<hours {
            let previous = temp
            temp = 20 + 4 * sin(2 * .pi * Double(h) / 24) + generator.uniform(in: -2...2)
            let humid = 60 + generator.uniform(in: -10...10)
            let value = 10 + 5 * sin(2 * .pi * Double(h) / 24 + 0.5) + weight * (previous - 20) + generator.uniform(in: -0.3...0.3)
            let noTemp = h % 37 == 5 || h % 53 == 7
            let noHumid = h % 41 == 3 || (h > hours - 90 && h < hours - 82)
            let noValue = h % 29 == 11 || h == hours - 33
            rows.append(at(h, noValue ? nil : value, noTemp ? nil : temp, noHumid ? nil : humid))
        }
        return rows
    }

    func covariateSettings() -> ForecasterSettings {
        var settings = smallForecasterSettings()
        settings.pastCovariates = ["temp", "humid"]
        settings.epochs = 3
        return settings
    }

    func testTheNetworkReadsEachCovariateAndItsFlagBeforeTheFeedbackColumn() throws {
        let series = try XCTUnwrap(SeriesBuilder.build(covariateRows(hours: 200), settings: SeriesSettings(grid: grid("1h"), maxGap: 0, covariates: ["temp", "humid"])).first?.series)
        let scaler = try XCTUnwrap(RobustScaler(fitting: series.values))
        let covariateScalers = RobustScaler.covariates(of: series, end: 150)
        XCTAssertEqual(covariateScalers[0], RobustScaler(fitting: series.covariates[0].values[..<150]))
        let prepared = PreparedSeries(series, scaler: scaler, trainEnd: 150, covariateScalers: covariateScalers)
        let layout = FeatureLayout(grid: series.grid, lags: 24, feedback: true, covariates: 2)
        let width = layout.inputSize
        XCTAssertEqual(width, FeatureLayout(grid: series.grid, lags: 24, feedback: true).inputSize + 4)
        let inputs = layout.inputs(series: prepared, steps: 0..<series.count, base: .seasonal, season: 24)
        let first = 2 + 24 + layout.calendar.count
        for t in [0, 5, 7, 44, 120] {
            for c in 0..<2 {
                let v = series.covariates[c].values[t]
                XCTAssertEqual(inputs[t * width + first + 2 * c], v.isFinite ? Float(covariateScalers[c].transform(v)) : 0, "step \(t), covariate \(c)")
                XCTAssertEqual(inputs[t * width + first + 2 * c + 1], v.isFinite ? 0 : 1, "step \(t), covariate \(c)'s flag")
            }
            XCTAssertEqual(inputs[t * width + width - 1], t > 0 ? Float(prepared.base(.seasonal, at: t - 1, ahead: 1, season: 24)) : 0,
                           "the feedback column stays last")
        }
        XCTAssertTrue(series.covariates[0].values[5].isNaN, "a NULL temperature is flagged")
    }

    /// A value that is last hour's temperature times 3 (plus a little noise) cannot be forecast
    /// without it and is forecast well with it: the network reads the covariate (same seed, same
    /// series, the best validation loss of the held-back tail).
    func testTheNetworkLearnsFromAPastCovariate() throws {
        var generator = SplitMix64(seed: 5)
        let n = 600
        let temp = (0..<n).map { _ in generator.uniform(in: -2...2) }
        let values = (0..<n).map { t in 10 + (t > 0 ? 3 * temp[t - 1] : 0) + generator.uniform(in: -0.1...0.1) }
        let observed = [StepState](repeating: .observed, count: n)
        let with = RegularSeries(key: "s", grid: grid("1h"), firstBucket: 400_000, values: values, states: observed,
                                 covariates: [CovariateSeries(name: "temp", values: temp, states: observed)])
        let without = RegularSeries(key: "s", grid: grid("1h"), firstBucket: 400_000, values: values, states: observed)
        var settings = smallForecasterSettings(horizon: 1)
        settings.weekLags = nil
        settings.lags = 2
        settings.base = .level
        settings.epochs = 40
        settings.pastCovariates = ["temp"]
        let reading = try RecurrentForecaster.train(series: [with], settings: settings)
        settings.pastCovariates = nil
        let blind = try RecurrentForecaster.train(series: [without], settings: settings)
        let best = { (model: TrainedForecaster) in model.history.map(\.validationLoss).min()! }
        XCTAssertLessThan(best(reading), 0.6 * best(blind), "with \(best(reading)), without \(best(blind))")
    }

    func testAModelRefusesASeriesWithoutItsCovariates() throws {
        let rows = covariateRows(hours: 24 * 12)
        let series = try XCTUnwrap(SeriesBuilder.build(rows, settings: SeriesSettings(grid: grid("1h"), covariates: ["temp", "humid"])).first?.series)
        let model = try RecurrentForecaster.train(series: [series], settings: covariateSettings())
        let plain = try XCTUnwrap(SeriesBuilder.build(rows, settings: SeriesSettings(grid: grid("1h"))).first?.series)
        XCTAssertThrowsError(try model.forecast(plain)) {
            guard case .mismatchedSeries? = $0 as? ForecasterError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try RecurrentForecaster.train(series: [plain], settings: covariateSettings()))
    }

    /// The real flow with covariates: a model read on from a saved state (decoded from its
    /// bytes, by a model decoded from its archive), over new steps the series builder lays out
    /// from the rows after it, equals a full read bit for bit: cuts in covariate gaps, before
    /// hours with only covariates, before the humidity outage, and a last bucket still filling.
    func testReadingOnWithCovariatesEqualsAFullRead() throws {
        let hours = 24 * 20
        let rows = covariateRows(hours: hours)
        let settings = SeriesSettings(grid: grid("1h"), maxGap: 3, minimumLength: 1, covariates: ["temp", "humid"])
        var newSettings = settings
        newSettings.leadingCovariates = true
        let build = { (rows: [SourceRow], s: SeriesSettings) in try XCTUnwrap(SeriesBuilder.build(rows, settings: s).first?.series) }
        let full = try build(rows, settings)
        let model = try RecurrentForecaster.train(series: [full], settings: covariateSettings())
        let decoded = try ModelArchive.decode(try ModelArchive.encode(model))
        XCTAssertEqual(decoded.covariateScalers, model.covariateScalers)
        XCTAssertEqual(decoded.settings.pastCovariates, ["temp", "humid"])
        XCTAssertEqual(try decoded.forecast(full).0, try model.forecast(full).0)

        let lastBucket = full.endBucket - 1
        for settledBefore in [nil, lastBucket] as [Int?] {
            let (reread, rereadState) = try model.forecast(full, settledBefore: settledBefore)
            let finalState = try XCTUnwrap(rereadState)
            XCTAssertEqual(finalState.covariateScalers.count, 2)
            for cut in [hours - 100, hours - 88, hours - 85, hours - 33, hours - 20, hours - 1, 130, 171] {
                let (_, saved) = try model.forecast(try build(rows.filter { $0.time < start.addingTimeInterval(Double(cut) * 3600) }, settings))
                let savedState = try XCTUnwrap(saved)
                let restored = try SeriesStateArchive.decode(SeriesStateArchive.encode(savedState), key: "s", config: model.network.config)
                XCTAssertEqual(restored, savedState)
                let newRows = rows.filter { $0.time >= settings.grid.start(ofBucket: savedState.nextBucket) }
                let (incremental, next) = try decoded.forecast(continuing: restored, with: try build(newRows, newSettings), maxGap: 3,
                                                               settledBefore: settledBefore)
                XCTAssertEqual(incremental, reread, "bit for bit, cut at \(cut), settled before \(String(describing: settledBefore))")
                XCTAssertEqual(SeriesStateArchive.encode(try XCTUnwrap(next)), SeriesStateArchive.encode(finalState), "cut at \(cut)")
            }
        }
        // Batched full reads save the same state.
        let batched = try XCTUnwrap(model.readInFull([full]).first??.state)
        XCTAssertEqual(SeriesStateArchive.encode(batched), SeriesStateArchive.encode(try XCTUnwrap(model.forecast(full).1)))
    }

    /// Both designs of issue 13 with covariates: the encoder reads them, the feedback column
    /// stays the last input, and reading on from a saved state still equals a full read.
    func testBothDesignsReadCovariatesAndReadOnToAFullRead() throws {
        let rows = covariateRows(hours: 24 * 16)
        let settings = SeriesSettings(grid: grid("1h"), maxGap: 3, minimumLength: 1, covariates: ["temp", "humid"])
        var newSettings = settings
        newSettings.leadingCovariates = true
        let build = { (rows: [SourceRow], s: SeriesSettings) in try XCTUnwrap(SeriesBuilder.build(rows, settings: s).first?.series) }
        let full = try build(rows, settings)
        for design in ["recurrent decoder", "output feedback"] {
            var forecaster = smallForecasterSettings()
            forecaster.cell = .gru
            forecaster.epochs = 2
            if design == "recurrent decoder" { forecaster.decoder = .recurrent } else { forecaster.feedback = .output }
            forecaster.pastCovariates = ["temp", "humid"]
            let model = try RecurrentForecaster.train(series: [full], settings: forecaster)
            XCTAssertEqual(model.network.config.inputSize, FeatureLayout(grid: full.grid, settings: model.settings).inputSize)
            let decoded = try ModelArchive.decode(try ModelArchive.encode(model))
            let (reread, finalState) = try model.forecast(full)
            for cut in [full.count - 33, full.count - 7, 100] {
                let (_, saved) = try model.forecast(try build(rows.filter { $0.time < start.addingTimeInterval(Double(cut) * 3600) }, settings))
                let state = try SeriesStateArchive.decode(SeriesStateArchive.encode(try XCTUnwrap(saved)), key: "s", config: model.network.config)
                let newRows = rows.filter { $0.time >= settings.grid.start(ofBucket: state.nextBucket) }
                let (incremental, next) = try decoded.forecast(continuing: state, with: try build(newRows, newSettings), maxGap: 3)
                XCTAssertEqual(incremental, reread, "\(design), cut at \(cut)")
                XCTAssertEqual(SeriesStateArchive.encode(try XCTUnwrap(next)), SeriesStateArchive.encode(try XCTUnwrap(finalState)), "\(design), cut at \(cut)")
            }
        }
    }

    /// A state stops after the last step whose value and every covariate are observed: a step
    /// after a covariate's last reading could still be interpolated when the next one arrives.
    func testAStateStopsWhereEveryCovariateIsObserved() throws {
        let rows = covariateRows(hours: 24 * 12)
        let settings = SeriesSettings(grid: grid("1h"), maxGap: 3, covariates: ["temp", "humid"])
        let humidStops = rows.enumerated().map { i, row in
            i >= rows.count - 2 ? SourceRow(key: row.key, time: row.time, value: row.value, covariates: [row.covariates[0], nil]) : row
        }
        let series = try XCTUnwrap(SeriesBuilder.build(humidStops, settings: settings).first?.series)
        XCTAssertEqual(series.lastSettledStep(in: 0..<series.count), series.count - 3)
        let model = try RecurrentForecaster.train(series: [series], settings: covariateSettings())
        let state = try XCTUnwrap(model.forecast(series).1)
        XCTAssertEqual(state.nextBucket, series.endBucket - 2)
        XCTAssertEqual(state.lastCovariates, series.covariates.map { $0.values[series.count - 3] })
    }

    func testStatesOfEarlierVersionsDecodeWithoutCovariates() throws {
        let config = NetworkConfig(cell: .gru, inputSize: 3, hiddenSize: 2, layers: 1, outputSize: 3)
        let state = SeriesState(key: "s", nextBucket: 100, scaler: RobustScaler(center: 1, scale: 2),
                                recurrent: RecurrentState(batch: 1, hidden: [[0.5, -0.5]], cell: []), tail: [1, 2, 3], levelBeforeTail: 0.5)
        var bytes = SeriesStateArchive.encode(state)
        bytes.removeLast(4)
        bytes.replaceSubrange(4..<8, with: [3, 0, 0, 0])
        XCTAssertEqual(try SeriesStateArchive.decode(bytes, key: "s", config: config), state, "version 3")

        var covariates = state
        covariates.covariateScalers = [RobustScaler(center: 20, scale: 4), RobustScaler(center: 60, scale: 7)]
        covariates.lastCovariates = [21.5, 58]
        let encoded = SeriesStateArchive.encode(covariates)
        XCTAssertEqual(encoded.count, SeriesStateArchive.encode(state).count + 2 * 24)
        XCTAssertEqual(try SeriesStateArchive.decode(encoded, key: "s", config: config), covariates)
        XCTAssertThrowsError(try SeriesStateArchive.decode(Array(encoded.dropLast(8)), key: "s", config: config))
        var damaged = encoded
        damaged.replaceSubrange((damaged.count - 8)..<damaged.count, with: withUnsafeBytes(of: Double.nan.bitPattern.littleEndian, Array.init))
        XCTAssertThrowsError(try SeriesStateArchive.decode(damaged, key: "s", config: config))
    }

    /// A model of another covariate list than the job asks is refused (predict writes nothing
    /// from it, `run --once` retrains it), a baseline too: it won against a network that read
    /// other inputs. Models stored before covariates existed read none.
    func testAChangedCovariateListMakesTheModelUnfit() throws {
        let grid = GridRecord(frequency: "1h", timeZone: "UTC", aggregation: "mean", season: 24)
        var asked = smallForecasterSettings()
        asked.pastCovariates = ["temp"]
        var plain = asked
        plain.pastCovariates = nil
        var two = asked
        two.pastCovariates = ["temp", "humid"]
        func recorded(_ s: ForecasterSettings) throws -> String {
            String(decoding: try JSONEncoder().encode(RecordedHyperparameters(base: s, grid: grid)), as: UTF8.self)
        }
        func baseline(_ covariates: [String]?) throws -> String {
            String(decoding: try JSONEncoder().encode(RecordedHyperparameters(base: ["baseline": "seasonal_naive"], grid: grid, horizon: 6,
                                                                              quantiles: asked.quantiles, pastCovariates: covariates)), as: UTF8.self)
        }
        XCTAssertFalse(try recorded(plain).contains("pastCovariates"), "models without covariates are stored as before")
        let network = ModelCell.network(.lstm)
        XCTAssertNil(ModelRequirements(settings: asked, grid: grid).mismatch(cell: network, hyperparameters: try recorded(asked)))
        XCTAssertEqual(ModelRequirements(settings: asked, grid: grid).mismatch(cell: network, hyperparameters: try recorded(plain))?.description,
                       "trained with source.past_covariates [], the job now asks [\"temp\"]")
        XCTAssertEqual(ModelRequirements(settings: plain, grid: grid).mismatch(cell: network, hyperparameters: try recorded(two))?.description,
                       "trained with source.past_covariates [\"temp\", \"humid\"], the job now asks []")
        XCTAssertNotNil(ModelRequirements(settings: two, grid: grid).mismatch(cell: network, hyperparameters: try recorded(asked)))
        XCTAssertNil(ModelRequirements(settings: asked, grid: grid).mismatch(cell: .seasonalNaive, hyperparameters: try baseline(["temp"])))
        XCTAssertNotNil(ModelRequirements(settings: asked, grid: grid).mismatch(cell: .seasonalNaive, hyperparameters: try baseline(nil)))
        XCTAssertNil(ModelRequirements(settings: plain, grid: grid).mismatch(cell: .seasonalNaive, hyperparameters: try baseline(nil)))
    }
}
