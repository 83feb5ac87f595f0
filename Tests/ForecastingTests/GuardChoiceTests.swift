import Foundation
import NeuralNet
import XCTest
@testable import Forecasting

/// The guard's choice on constructed series where each contender should win, and the
/// statistical cells as stored and forecast again at predict.
final class GuardChoiceTests: XCTestCase {
    func series(_ values: [Double], frequency: String, key: String = "s") -> RegularSeries {
        RegularSeries(key: key, grid: grid(frequency), firstBucket: 1000, values: values,
                      states: Array(repeating: .observed, count: values.count), rows: RowCounts())
    }

    func modelGuard(_ frequency: Frequency, horizon: Int, season: Int, fallback: Bool = true) -> ModelGuard {
        ModelGuard(settings: .defaults(frequency: frequency, horizon: horizon, season: season, backtestWindows: 3),
                   season: season, backtestWindows: 3, fallbackAllowed: fallback)
    }

    /// Ten years of a monthly series with a trend and a seasonal swing that grows with the level
    /// (ETS(M,A,M) with small noise): the state-space models describe it exactly.
    func monthlySeasonal(_ count: Int = 120, seed: UInt64 = 5, noise: Double = 0.01) -> [Double] {
        var generator = SplitMix64(state: seed)
        let shape = [0.82, 0.86, 0.95, 1.0, 1.04, 1.12, 1.25, 1.22, 1.06, 0.96, 0.86, 0.86]
        return (0..<count).map { (t: Int) -> Double in
            let level: Double = 100 + 1.5 * Double(t)
            let factor: Double = 1 + noise * Double.random(in: -1...1, using: &generator)
            return level * shape[t % 12] * factor
        }
    }

    func testACleanSeasonalSeriesPublishesAStatisticalModel() throws {
        let values = monthlySeasonal()
        let unit = modelGuard(Frequency(.month), horizon: 12, season: 12).train([series(values, frequency: "1mo")])
        let model = try XCTUnwrap(unit.published)
        XCTAssertTrue(model.cell == .statistical(.ets) || model.cell == .statistical(.theta), "\(model.cell): \(model.reason ?? "")")
        let reason = try XCTUnwrap(model.reason)
        XCTAssertTrue(reason.contains("no other model ties with it: runner-up"), reason)
        XCTAssertNil(CombinationMember.combination(hyperparameters: model.hyperparameters), "the best alone, not a mean")
        XCTAssertTrue(unit.states.isEmpty, "a statistical model saves no state")
        XCTAssertNil(model.weights)
        let rejected = try XCTUnwrap(unit.rejected, "the network is stored as rejected beside it")
        XCTAssertEqual(rejected.cell, .network(.lstm))
        XCTAssertTrue(rejected.reason!.contains("published ("), rejected.reason!)
        XCTAssertEqual(unit.forecasts.count, 1)
    }

    /// `statistical_challengers = "auto"`: ETS and Theta contend for a unit whose median series is
    /// shorter than the limit, and not for longer ones (the same clean seasonal series, which a
    /// statistical model wins when it may contend).
    func testAutoChallengersContendOnlyForShortSeries() throws {
        let values = monthlySeasonal()
        for (limit, contend) in [(ModelGuard.shortSeriesLength, true), (values.count, false)] {
            let guarded = ModelGuard(settings: .defaults(frequency: Frequency(.month), horizon: 12, season: 12, backtestWindows: 3),
                                     season: 12, backtestWindows: 3, fallbackAllowed: true, challengersBelow: limit)
            XCTAssertEqual(guarded.challengers(for: [series(values, frequency: "1mo")]).isEmpty, !contend)
            let model = try XCTUnwrap(guarded.train([series(values, frequency: "1mo")]).published)
            XCTAssertEqual(model.cell == .statistical(.ets) || model.cell == .statistical(.theta), contend, "\(model.cell): \(model.reason ?? "")")
        }
    }

    /// A random walk: nothing forecasts it better than the last value. The guard publishes
    /// naive, or a network that learned to repeat the last value and ties with it (cheaper to
    /// serve: it reads on from its saved state); never a model significantly worse than naive.
    func testARandomWalkPublishesNaiveOrWhatTiesWithIt() throws {
        var generator = SplitMix64(state: 11)
        var values: [Double] = [50]
        for _ in 1..<(24 * 30) { values.append(values.last! + Double.random(in: -1...1, using: &generator)) }
        let unit = modelGuard(Frequency(.hour), horizon: 6, season: 24).train([series(values, frequency: "1h")])
        let model = try XCTUnwrap(unit.published)
        let reason = try XCTUnwrap(model.reason)
        if let members = CombinationMember.combination(hyperparameters: model.hyperparameters) {
            // Where the statistical models contend (a short series), the models that tie are averaged.
            XCTAssertTrue(members.contains(.baseline(FallbackBaseline(.level, season: 24))), reason)
            let mase = try XCTUnwrap(model.metrics.first { $0.name == "mase" }?.value)
            let naive = try XCTUnwrap(model.metrics.first { $0.name == "naive_mase" }?.value)
            XCTAssertLessThanOrEqual(mase, naive * (1 + Selection.tolerance), reason)
        } else if model.cell == .seasonalNaive {
            XCTAssertEqual(FallbackBaseline(hyperparameters: model.hyperparameters, jobSeason: 24).baseline, "naive", reason)
        } else {
            XCTAssertTrue(model.cell.isNetwork, reason)
            XCTAssertTrue(reason.contains("ties with the best"), reason)
            let mase = try XCTUnwrap(model.metrics.first { $0.name == "mase" }?.value)
            let naive = try XCTUnwrap(model.metrics.first { $0.name == "naive_mase" }?.value)
            XCTAssertLessThanOrEqual(mase, naive * (1 + Selection.tolerance), reason)
            let last = values.last!
            for p in unit.forecasts[0].forecast.point { XCTAssertEqual(p, last, accuracy: 2, "close to the last value") }
        }
    }

    /// Eight weeks of an hourly series whose days differ between weekdays and weekends, with a
    /// sharp, nonlinear evening peak on weekdays only: ETS and Theta read a season of 24 hours
    /// and cannot tell the days apart; the network reads a week of lags.
    func testALongNonlinearSubDailyPatternPublishesTheNetwork() throws {
        var generator = SplitMix64(state: 7)
        let values = (0..<(24 * 7 * 8)).map { t -> Double in
            let hour = t % 24, day = (t / 24) % 7
            let weekday = day < 5
            let base = weekday ? 20 + 8 * sin(2 * Double.pi * Double(hour) / 24) : 12
            let peak = weekday && (17...19).contains(hour) ? 15.0 : 0
            return base + peak + Double.random(in: -0.5...0.5, using: &generator)
        }
        let unit = modelGuard(Frequency(.hour), horizon: 24, season: 24).train([series(values, frequency: "1h")])
        let model = try XCTUnwrap(unit.published)
        XCTAssertTrue(model.cell.isNetwork, "\(model.cell): \(model.reason ?? "")")
    }

    /// What training publishes for a statistical model is what predict forecasts from the same
    /// rows: the stored hyperparameters fit the same specification again.
    func testAStoredStatisticalModelForecastsAtPredictAsAtTraining() throws {
        let s = series(monthlySeasonal(), frequency: "1mo")
        let levels = [0.1, 0.5, 0.9]
        let modelGuard = modelGuard(Frequency(.month), horizon: 12, season: 12)
        for method in StatisticalModel.Method.allCases {
            let template = StatisticalModel.challenger(method, season: 12, week: nil)
            let backtest = Backtest(horizon: 12, windows: 3, season: 12, levels: levels)
            var pool = AccuracyPool()
            pool.add(try backtest.run(series: s) { try template.fit(history: $0.history, spec: nil, horizon: 12, levels: levels).forecast })
            let selection = try XCTUnwrap(Selection([Contender(kind: .statistical(method), pool: pool)]))
            let board = ModelGuard.Scoreboard(contenders: [], pools: [:], reads: [:], partner: FallbackBaseline(.seasonal, season: 12),
                                              statistical: [template], scored: [])
            let unit = modelGuard.publish(selection, series: [s], network: nil, board: board, candidate: nil, why: nil)
            let model = try XCTUnwrap(unit.published)
            XCTAssertEqual(model.cell, .statistical(method))
            XCTAssertEqual(ModelCell(rawValue: method.rawValue), model.cell, "the cell reads back from its column")
            let stored = try JSONDecoder().decode(StatisticalModel.self, from: Data(model.hyperparameters.utf8))
            XCTAssertEqual(stored.method, method)
            XCTAssertEqual(stored.season, 12)
            XCTAssertNotNil(stored.model, model.hyperparameters)
            XCTAssertTrue(model.hyperparameters.contains("\"model\":\"\(stored.model!)\""), model.hyperparameters)

            XCTAssertEqual(try servedAtPredict(model, of: s, published: unit, levels: levels).form, .statistical(stored))
        }
    }

    /// How predict serves a model `train` published without a network: its form read back from
    /// the stored cell and hyperparameters, a forecast of the same rows equal to training's, read
    /// in full (no state saved, none read on from).
    func servedAtPredict(_ model: CandidateModel, of s: RegularSeries, published unit: GuardOutcome,
                         levels: [Double]) throws -> (form: PublishedForm, forecast: QuantileForecast) {
        let form = PublishedForm(cell: model.cell, hyperparameters: model.hyperparameters, jobSeason: 12)
        XCTAssertFalse(form.needsWeights)
        XCTAssertFalse(form.readsOnFromState)
        let forecaster = PublishedForecaster(form: form, network: nil, horizon: 12, levels: levels, maxGap: 3)
        let (forecast, state) = try forecaster.forecast(s, settledBefore: nil)
        XCTAssertNil(state)
        XCTAssertEqual(forecast, unit.forecasts.first?.forecast, "predict forecasts what training published")
        XCTAssertThrowsError(try forecaster.forecast(continuing: [], of: s.key, with: s, settledBefore: nil)) { error in
            XCTAssertTrue(error is SeriesStateArchive.DamagedState, "\(error): read in full instead")
        }
        return (form, forecast)
    }

    func testANetworkCombinedWithAStatisticalModelRecordsItAndReadsItBack() throws {
        let settings = ForecasterSettings.defaults(frequency: Frequency(.month), horizon: 12, season: 12, backtestWindows: 3)
        let partner = StatisticalModel(method: .ets, season: 12, model: "MAdM", window: 1000)
        let json = hyperparametersJSON(CombinedSettings(settings: settings, combinedWith: partner))
        XCTAssertTrue(json.contains("\"combined_with\":{\"method\":\"ets\",\"model\":\"MAdM\",\"season\":12,\"window\":1000}"), json)
        XCTAssertEqual(try JSONDecoder().decode(ForecasterSettings.self, from: Data(json.utf8)), settings)
        XCTAssertEqual(StatisticalModel.combinedWith(hyperparameters: json), partner)
        XCTAssertNil(FallbackBaseline.combinedWith(hyperparameters: json), "not read as a baseline")
        XCTAssertEqual(PublishedForm(cell: .network(.lstm), hyperparameters: json, jobSeason: 12), .combinedWithModel(partner))
        XCTAssertFalse(PublishedForm.combinedWithModel(partner).readsOnFromState)
        XCTAssertTrue(PublishedForm.combinedWithModel(partner).needsWeights)
        let forecaster = PublishedForecaster(form: .combinedWithModel(partner), network: nil, horizon: 12, levels: [0.5], maxGap: 3)
        XCTAssertThrowsError(try forecaster.forecast(series(monthlySeasonal(), frequency: "1mo"), settledBefore: nil)) { error in
            XCTAssertEqual(error as? PublishedForecaster.Failure, .noWeights)
        }
    }

    /// Where the statistical models contend, the single models the backtest cannot tell apart
    /// are published as their mean: stored with the first member's cell and the `combination`
    /// list, and forecast again at predict, from the same rows, to the same numbers.
    func testTheMeanOfModelsThatTieIsPublishedAndForecastAgainAtPredict() throws {
        let s = series(monthlySeasonal(noise: 0.05), frequency: "1mo")
        let levels = [0.1, 0.5, 0.9]
        let modelGuard = modelGuard(Frequency(.month), horizon: 12, season: 12)
        let board = modelGuard.score([s], network: nil, week: nil, threads: 1)
        let selection = try XCTUnwrap(modelGuard.combination(board))
        guard selection.members.count > 1 else { return XCTFail(selection.reason) }
        let kinds = selection.members.map(\.kind)
        XCTAssertEqual(selection.chosen.kind, .mean(kinds))
        XCTAssertTrue(kinds.contains(.statistical(.ets)) && kinds.contains(.statistical(.theta)), selection.reason)
        XCTAssertTrue(selection.reason.contains("as the mean of ETS and Theta") || selection.reason.contains("as the mean of Theta and ETS"), selection.reason)

        let unit = modelGuard.publish(selection, series: [s], network: nil, board: board, candidate: nil, why: nil)
        let model = try XCTUnwrap(unit.published)
        XCTAssertEqual(model.cell, .statistical(kinds[0].method!), "the best member's cell")
        let members = try XCTUnwrap(CombinationMember.combination(hyperparameters: model.hyperparameters), model.hyperparameters)
        XCTAssertEqual(members.map(\.title), kinds.map(\.title))
        let (form, forecast) = try servedAtPredict(model, of: s, published: unit, levels: levels)
        XCTAssertEqual(form, .mean(members))
        let alone = try members.map { member -> QuantileForecast in
            guard case .statistical(let model) = member else { throw XCTSkip("only statistical members here") }
            return try model.forecast(history: s.values, key: s.key, horizon: 12, levels: levels)
        }
        XCTAssertEqual(forecast, QuantileForecast.mean(of: alone))
        // The mean's own backtest is stored as the model's metrics: no worse than its worst member.
        let mase = try XCTUnwrap(model.metrics.first { $0.name == "mase" }?.value)
        XCTAssertLessThanOrEqual(mase, selection.members.map(\.mase).max()!)
    }

    /// A mean with the network among its members forecasts with the network's read (done
    /// in a batch beforehand, or here) and the others fitted on the history: the mean of theirs.
    func testAMeanWithTheNetworkAveragesItsReadWithTheOthers() throws {
        let s = series(monthlySeasonal(noise: 0.05), frequency: "1mo")
        var settings = ForecasterSettings.defaults(frequency: Frequency(.month), horizon: 12, season: 12, backtestWindows: 3)
        settings.hiddenSize = 2
        settings.epochs = 1
        let network = try RecurrentForecaster.train(series: [s], settings: settings)
        let levels = settings.quantiles
        let baseline = FallbackBaseline(.seasonal, season: 12)
        let form = PublishedForm.mean([.network, .baseline(baseline)])
        XCTAssertTrue(form.needsWeights)
        let expected = QuantileForecast.mean(of: [try network.forecast(s, settledBefore: nil).0,
                                                  baseline.forecaster.forecast(history: s.values, horizon: 12, levels: levels)])
        let forecaster = PublishedForecaster(form: form, network: network, horizon: 12, levels: levels, maxGap: 3)
        XCTAssertEqual(try forecaster.forecast(s, settledBefore: nil).0, expected)
        let read = try XCTUnwrap(network.readInFull([s]).first ?? nil)
        XCTAssertEqual(try forecaster.forecast(s, settledBefore: nil, read: read).0, expected, "the batched read gives the same")
        XCTAssertThrowsError(try PublishedForecaster(form: form, network: nil, horizon: 12, levels: levels, maxGap: 3).forecast(s, settledBefore: nil)) { error in
            XCTAssertEqual(error as? PublishedForecaster.Failure, .noWeights)
        }
    }

    /// Without the statistical models (a long series) the selection decides as before.
    func testNoMeanWhereTheStatisticalModelsDoNotContend() {
        let s = series(monthlySeasonal(), frequency: "1mo")
        let guarded = ModelGuard(settings: .defaults(frequency: Frequency(.month), horizon: 12, season: 12, backtestWindows: 3),
                                 season: 12, backtestWindows: 3, fallbackAllowed: true, challengers: [])
        XCTAssertNil(guarded.combination(guarded.score([s], network: nil, week: nil, threads: 1)))
    }

    /// The members of a mean: the best single model and those that tie with it; one whose
    /// windows are all clearly worse, or whose MASE is more than `meanTolerance` above, stays out.
    func testTheMeanLeavesOutAModelSignificantlyWorseOrTooFarAbove() throws {
        var generator = SplitMix64(state: 3)
        let values = (0..<120).map { t in 10 + 5 * sin(2 * Double.pi * Double(t) / 12) + Double.random(in: -1...1, using: &generator) }
        let s = series(values, frequency: "1mo")
        let backtest = Backtest(horizon: 12, windows: 6, season: 12, levels: [0.5])
        // Forecasts off the truth by a fixed amount per window: `offsets` in units of the scale.
        func contender(_ kind: Contender.Kind, _ offsets: [Double]) -> Contender {
            var window = 0
            var pool = AccuracyPool()
            pool.add(backtest.run(series: s) { w in
                defer { window += 1 }
                let truth = (0..<12).map { values[w.origin + $0] }
                return QuantileForecast(levels: [0.5], values: truth.map { $0 + offsets[window] })
            })
            return Contender(kind: kind, pool: pool)
        }
        let best = contender(.statistical(.ets), [1.0, 1.2, 0.8, 1.0, 1.1, 0.9])
        let tied = contender(.statistical(.theta), [1.3, 0.9, 1.0, 1.2, 0.8, 1.0])
        let worse = contender(.network, [1.5, 1.6, 1.4, 1.5, 1.7, 1.6])
        let farAbove = contender(.seasonalNaive, [0.6, 2.0, 0.9, 1.8, 1.0, 1.7])
        XCTAssertTrue(Comparison(farAbove.losses, against: best.losses).ties(threshold: Selection.threshold), "the test alone would keep it")
        XCTAssertGreaterThan(farAbove.mase, best.mase * (1 + Selection.meanTolerance))
        let members = try XCTUnwrap(Selection.meanMembers(of: [worse, farAbove, tied, best]))
        XCTAssertEqual(members.map(\.kind), [.statistical(.ets), .statistical(.theta)])
        XCTAssertEqual(Selection.meanMembers(of: [worse])?.map(\.kind), [.network], "alone, the best is its own mean")
    }

    func testTheMeanOfForecastsAveragesEveryQuantileAndPoint() {
        let a = QuantileForecast(levels: [0.1, 0.9], values: [1, 3, 2, 6], point: [2, 4])
        let b = QuantileForecast(levels: [0.1, 0.9], values: [3, 5, 0, 2], point: [4, 1])
        let c = QuantileForecast(levels: [0.1, 0.9], values: [2, 4, 1, 7], point: [0, 1])
        XCTAssertEqual(a.combined(with: b), QuantileForecast.mean(of: [a, b]))
        XCTAssertEqual(a.combined(with: b).values, [2, 4, 1, 4])
        let m = QuantileForecast.mean(of: [a, b, c])
        XCTAssertEqual(m.values, [2, 4, 1, 5])
        XCTAssertEqual(m.point, [2, 2])
        XCTAssertEqual(QuantileForecast.mean(of: [a]), a)
    }

    func testAMeansMembersRecordThemselvesAndReadBack() throws {
        let settings = ForecasterSettings.defaults(frequency: Frequency(.month), horizon: 12, season: 12, backtestWindows: 3)
        let members: [CombinationMember] = [.network, .statistical(StatisticalModel(method: .theta, season: 12, model: "OTM", window: 1000)),
                                            .baseline(FallbackBaseline(.level, season: 12))]
        let json = hyperparametersJSON(CombinationSettings(first: settings, combination: members))
        XCTAssertTrue(json.contains("\"combination\":[{\"model\":\"network\"},{\"method\":\"theta\",\"model\":\"OTM\",\"season\":12,\"window\":1000},{\"baseline\":\"naive\",\"season\":1}]"), json)
        XCTAssertEqual(try JSONDecoder().decode(ForecasterSettings.self, from: Data(json.utf8)), settings, "the network's settings read back")
        XCTAssertEqual(CombinationMember.combination(hyperparameters: json), members)
        let form = PublishedForm(cell: .network(.lstm), hyperparameters: json, jobSeason: 12)
        XCTAssertEqual(form, .mean(members))
        XCTAssertTrue(form.needsWeights)
        XCTAssertFalse(form.readsOnFromState)
        XCTAssertEqual(members.map(\.title), ["the network", "Theta", "naive"])
        XCTAssertNil(CombinationMember.combination(hyperparameters: hyperparametersJSON(settings)))
    }

    /// A half-hourly season (48) is longer than ETS fits: ETS then forecasts the series after
    /// MSTL over the day and the week, and puts the seasons back.
    func testALongSeasonIsDeseasonalisedBeforeETS() throws {
        let model = StatisticalModel.challenger(.ets, season: 48, week: 336)
        XCTAssertEqual(model.deseasonalised, [48, 336])
        XCTAssertEqual(model.window, 1344)
        XCTAssertNil(StatisticalModel.challenger(.ets, season: 12, week: nil).deseasonalised)
        let values = (0..<(48 * 21)).map { (t: Int) -> Double in
            let wave: Double = 10 * sin(2 * Double.pi * Double(t % 48) / 48)
            let weekend: Double = (t / 48) % 7 >= 5 ? -5 : 0
            return 50 + wave + weekend
        }
        let (forecast, spec) = try model.fit(history: values, spec: nil, horizon: 48, levels: [0.1, 0.5, 0.9])
        XCTAssertNotNil(ETSSpec(spec), spec)
        XCTAssertEqual(ETSSpec(spec)?.season, ETSSpec.Component.none)
        // The next day is a weekday: the daily wave at the weekday level.
        let expected = (0..<48).map { (t: Int) -> Double in 50 + 10 * sin(2 * Double.pi * Double(t) / 48) }
        for (f, e) in zip(forecast.point, expected) { XCTAssertEqual(f, e, accuracy: 2.0) }
    }
}
