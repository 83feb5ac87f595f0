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
    func monthlySeasonal(_ count: Int = 120, seed: UInt64 = 5) -> [Double] {
        var generator = SplitMix64(state: seed)
        let shape = [0.82, 0.86, 0.95, 1.0, 1.04, 1.12, 1.25, 1.22, 1.06, 0.96, 0.86, 0.86]
        return (0..<count).map { (t: Int) -> Double in
            let level: Double = 100 + 1.5 * Double(t)
            let noise: Double = 1 + 0.01 * Double.random(in: -1...1, using: &generator)
            return level * shape[t % 12] * noise
        }
    }

    func testACleanSeasonalSeriesPublishesAStatisticalModel() throws {
        let values = monthlySeasonal()
        let unit = modelGuard(Frequency(.month), horizon: 12, season: 12).train([series(values, frequency: "1mo")])
        let model = try XCTUnwrap(unit.published)
        XCTAssertTrue(model.cell == .statistical(.ets) || model.cell == .statistical(.theta), "\(model.cell): \(model.reason ?? "")")
        let reason = try XCTUnwrap(model.reason)
        XCTAssertTrue(reason.contains("runner-up"), reason)
        XCTAssertTrue(unit.states.isEmpty, "a statistical model saves no state")
        XCTAssertNil(model.weights)
        let rejected = try XCTUnwrap(unit.rejected, "the network is stored as rejected beside it")
        XCTAssertEqual(rejected.cell, .network(.lstm))
        XCTAssertTrue(rejected.reason!.contains("published ("), rejected.reason!)
        XCTAssertEqual(unit.forecasts.count, 1)
    }

    /// A global unit with a series of 49 months: its first backtest window has 13 months, too
    /// few for the seasonal ETS its 37 months chose (MAM needs 19). That window's ETS is the
    /// automatic choice on its 13 months instead, and ETS still contends for the whole unit.
    func testAShortSeriesDoesNotTakeETSFromAWholeUnit() throws {
        let long = series(monthlySeasonal(), frequency: "1mo", key: "long")
        let short = series(monthlySeasonal(49, seed: 7), frequency: "1mo", key: "short")
        let guarded = modelGuard(Frequency(.month), horizon: 12, season: 12)
        let board = guarded.score([long, short], network: nil, week: nil, threads: 1)
        let ets = try XCTUnwrap(board.pools[.statistical(.ets)], "ETS contends")
        XCTAssertEqual(ets.results.count, 2)
        XCTAssertEqual(ets.results[1].windows.first?.origin, 13)
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
    /// naive, a network that learned to repeat the last value and ties with it (cheaper to
    /// serve: it reads on from its saved state), or ETS, which forecasts about the last value;
    /// never a model significantly worse than naive.
    func testARandomWalkPublishesNaiveOrWhatTiesWithIt() throws {
        var generator = SplitMix64(state: 11)
        var values: [Double] = [50]
        for _ in 1..<(24 * 30) { values.append(values.last! + Double.random(in: -1...1, using: &generator)) }
        let unit = modelGuard(Frequency(.hour), horizon: 6, season: 24).train([series(values, frequency: "1h")])
        let model = try XCTUnwrap(unit.published)
        let reason = try XCTUnwrap(model.reason)
        if model.cell == .seasonalNaive {
            XCTAssertEqual(FallbackBaseline(hyperparameters: model.hyperparameters, jobSeason: 24).baseline, "naive", reason)
        } else {
            // A network that ties with naive, or ETS: simple exponential smoothing with α near 1
            // and its neighbours (ETS(ANN+AAdN+AAN)), which is naive with its noise smoothed.
            XCTAssertTrue(model.cell.isNetwork ? reason.contains("ties with the best") : model.cell == .statistical(.ets), reason)
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

            let form = PublishedForm(cell: model.cell, hyperparameters: model.hyperparameters, jobSeason: 12)
            XCTAssertEqual(form, .statistical(stored))
            XCTAssertFalse(form.needsWeights)
            XCTAssertFalse(form.readsOnFromState)
            let forecaster = PublishedForecaster(form: form, network: nil, horizon: 12, levels: levels, maxGap: 3)
            let (forecast, state) = try forecaster.forecast(s, settledBefore: nil)
            XCTAssertNil(state)
            XCTAssertEqual(forecast, unit.forecasts.first?.forecast, "predict forecasts what training published")
            XCTAssertThrowsError(try forecaster.forecast(continuing: [], of: "s", with: s, settledBefore: nil)) { error in
                XCTAssertTrue(error is SeriesStateArchive.DamagedState, "\(error): read in full instead")
            }
        }
    }

    /// ETS joins the choice it ties with, ARIMA the choice it beat (`ModelGuard.joiningStatistical`):
    /// Theta chosen and ETS not significantly worse publishes Theta averaged with ETS, recorded
    /// as `averaged_with` and forecast at predict as at training; with ARIMA better than Theta
    /// on the windows too, the mean of the three, `averaged_with` a list. A network chosen with
    /// ETS alone joining becomes its combination with ETS. Where ETS is significantly worse,
    /// ARIMA no better, or the choice is a baseline that may not be published, the choice
    /// stands alone.
    func testETSAndARIMAJoinAChoiceTheyTieWithOrBeat() throws {
        let s = series(monthlySeasonal(), frequency: "1mo")
        let levels = [0.1, 0.5, 0.9]
        let backtest = Backtest(horizon: 12, windows: 3, season: 12, levels: levels)
        let templates = StatisticalModel.Method.allCases.map { StatisticalModel.challenger($0, season: 12, week: nil) }
        func pool(_ forecast: (BacktestWindow) throws -> QuantileForecast) rethrows -> AccuracyPool {
            var pool = AccuracyPool()
            pool.add(try backtest.run(series: s, forecaster: forecast))
            return pool
        }
        let theta = try pool { try templates[1].fit(history: $0.history, spec: nil, horizon: 12, levels: levels).forecast }
        let naive = pool { SeasonalNaive.naive.forecast(history: $0.history, horizon: 12, levels: levels) }
        let farOff = pool { _ in QuantileForecast(levels: levels, values: Array(repeating: 0, count: 36)) }
        // What happened: better than any model on every window.
        let hindsight = pool { w in QuantileForecast(levels: levels, values: (0..<12).flatMap { h in Array(repeating: s.values[w.origin + h], count: 3) }) }
        let thetaChosen = Contender(kind: .statistical(.theta), pool: theta)
        // ETS scored exactly as Theta: the test cannot tell them apart.
        let tying = Contender(kind: .statistical(.ets), pool: theta)
        var pools: [Contender.Kind: AccuracyPool] = [.statistical(.theta): theta, .statistical(.ets): theta, .naive: naive,
                                                     .networkWithStatistical(.ets): theta, .seasonalNaive: theta, .statistical(.arima): theta]
        func board(_ pools: [Contender.Kind: AccuracyPool]) -> ModelGuard.Scoreboard {
            ModelGuard.Scoreboard(contenders: [thetaChosen, tying], pools: pools, reads: [:], partner: FallbackBaseline(.seasonal, season: 12),
                                  statistical: templates, scored: [(s, backtest)])
        }
        let guarded = modelGuard(Frequency(.month), horizon: 12, season: 12)
        // ARIMA scored as Theta: not better, so it does not join.
        let joined = guarded.joiningStatistical(Selection(forcing: thetaChosen, among: [thetaChosen, tying]), board: board(pools))
        XCTAssertEqual(joined.chosen.kind, .averaged(.statistical(.theta), with: [.ets]))
        XCTAssertTrue(joined.reason.contains("as Theta averaged with ETS, which ties with it"), joined.reason)

        let unit = guarded.publish(joined, series: [s], network: nil, board: board(pools), candidate: nil, why: nil)
        let model = try XCTUnwrap(unit.published)
        XCTAssertEqual(model.cell, .statistical(.theta))
        XCTAssertTrue(unit.states.isEmpty, "ETS reads the series in full")
        let partners = try XCTUnwrap(StatisticalModel.averagedWith(hyperparameters: model.hyperparameters), model.hyperparameters)
        XCTAssertEqual(partners.map(\.method), [.ets])
        let ets = partners[0]
        XCTAssertNotNil(ets.model, "the specification ETS chose is recorded")
        XCTAssertTrue(model.hyperparameters.contains("\"averaged_with\":{"), "one model is recorded as an object, as before: \(model.hyperparameters)")
        XCTAssertTrue(try XCTUnwrap(model.reason).hasPrefix("\(ets.name): backtest MASE"), model.reason!)
        let form = PublishedForm(cell: model.cell, hyperparameters: model.hyperparameters, jobSeason: 12)
        guard case .averaged(.statistical(let chosen), with: let with) = form else { return XCTFail("\(form)") }
        XCTAssertEqual(with, [ets])
        XCTAssertEqual(chosen.method, .theta)
        XCTAssertFalse(form.needsWeights)
        XCTAssertFalse(form.readsOnFromState)
        let forecast = { (form: PublishedForm) in
            try PublishedForecaster(form: form, network: nil, horizon: 12, levels: levels, maxGap: 3).forecast(s, settledBefore: nil)
        }
        let (published, state) = try forecast(form)
        XCTAssertNil(state)
        XCTAssertEqual(published, unit.forecasts.first?.forecast, "predict forecasts what training published")
        let (thetaAlone, etsAlone) = (try forecast(.statistical(chosen)).0, try forecast(.statistical(ets)).0)
        for h in 0..<12 { XCTAssertEqual(published.point[h], (thetaAlone.point[h] + etsAlone.point[h]) / 2, accuracy: 1e-9) }
        XCTAssertThrowsError(try PublishedForecaster(form: form, network: nil, horizon: 12, levels: levels, maxGap: 3)
            .forecast(continuing: [], of: "s", with: s, settledBefore: nil)) { error in
            XCTAssertTrue(error is SeriesStateArchive.DamagedState, "\(error): read in full instead")
        }
        XCTAssertEqual(model.metrics.first { $0.name == "mase" }?.value, theta.value("mase"), "the mean of two equal backtests scores as either")

        // ARIMA better than Theta on every window: it joins too, and the three are averaged.
        pools[.statistical(.arima)] = hindsight
        let three = guarded.joiningStatistical(Selection(forcing: thetaChosen, among: [thetaChosen, tying]), board: board(pools))
        XCTAssertEqual(three.chosen.kind, .averaged(.statistical(.theta), with: [.ets, .arima]))
        XCTAssertTrue(three.reason.contains("as Theta averaged with ETS and ARIMA, which tie with it (ETS "), three.reason)
        XCTAssertTrue(three.reason.contains(", below 1.65; ARIMA "), "each with the statistic it joined below: \(three.reason)")
        XCTAssertTrue(three.reason.contains(", below 0.00); Theta: "), three.reason)
        let threeUnit = guarded.publish(three, series: [s], network: nil, board: board(pools), candidate: nil, why: nil)
        let threeModel = try XCTUnwrap(threeUnit.published)
        let threePartners = try XCTUnwrap(StatisticalModel.averagedWith(hyperparameters: threeModel.hyperparameters))
        XCTAssertEqual(threePartners.map(\.method), [.ets, .arima])
        XCTAssertTrue(try XCTUnwrap(threeModel.reason).hasPrefix("\(ets.name) and \(threePartners[1].name): backtest MASE"), threeModel.reason!)
        let threeForm = PublishedForm(cell: threeModel.cell, hyperparameters: threeModel.hyperparameters, jobSeason: 12)
        let (threePublished, _) = try forecast(threeForm)
        XCTAssertEqual(threePublished, threeUnit.forecasts.first?.forecast, "predict forecasts what training published")
        let arimaAlone = try forecast(.statistical(threePartners[1])).0
        for h in 0..<12 {
            XCTAssertEqual(threePublished.point[h], (thetaAlone.point[h] + etsAlone.point[h] + arimaAlone.point[h]) / 3, accuracy: 1e-9)
        }
        pools[.statistical(.arima)] = theta

        let network = Contender(kind: .network, pool: theta)
        XCTAssertEqual(guarded.joiningStatistical(Selection(forcing: network, among: [network, tying]), board: board(pools)).chosen.kind,
                       .networkWithStatistical(.ets), "the network averaged with ETS is its combination with ETS")
        pools[.statistical(.ets)] = farOff
        XCTAssertEqual(guarded.joiningStatistical(Selection(forcing: thetaChosen, among: [thetaChosen]), board: board(pools)).chosen.kind,
                       .statistical(.theta), "ETS significantly worse does not join")
        pools[.statistical(.ets)] = theta
        let baseline = Contender(kind: .seasonalNaive, pool: theta)
        let withoutFallback = modelGuard(Frequency(.month), horizon: 12, season: 12, fallback: false)
        XCTAssertEqual(withoutFallback.joiningStatistical(Selection(forcing: baseline, among: [baseline, tying]), board: board(pools)).chosen.kind,
                       .seasonalNaive, "a baseline that may not be published is not averaged into one")
        XCTAssertEqual(guarded.joiningStatistical(Selection(forcing: baseline, among: [baseline, tying]), board: board(pools)).chosen.kind,
                       .averaged(.seasonalNaive, with: [.ets]))
    }

    /// CES joins the choice as ETS does, where it is not significantly worse, but only within
    /// 20% of the choice's backtest MASE (`ModelGuard.joiners`): on three windows the test lets a
    /// model 37% worse join. Here CES scores as Theta, the choice, on two windows and worse on the
    /// first (DM t 1), by a little (joins) or by much (stays out).
    func testCESJoinsAChoiceItTiesWithOnlyWithinItsLimit() throws {
        let s = series(monthlySeasonal(), frequency: "1mo")
        let levels = [0.1, 0.5, 0.9]
        let backtest = Backtest(horizon: 12, windows: 3, season: 12, levels: levels)
        let templates = StatisticalModel.Method.allCases.map { StatisticalModel.challenger($0, season: 12, week: nil) }
        let firstOrigin = try XCTUnwrap(backtest.origins(length: s.count).first)
        func thetaPool(shiftingTheFirstWindowBy shift: Double) throws -> AccuracyPool {
            var pool = AccuracyPool()
            pool.add(try backtest.run(series: s) { window in
                let f = try templates[1].fit(history: window.history, spec: nil, horizon: 12, levels: levels).forecast
                return window.origin == firstOrigin ? QuantileForecast(levels: levels, values: f.values.map { $0 + shift }) : f
            })
            return pool
        }
        let theta = try thetaPool(shiftingTheFirstWindowBy: 0)
        let chosen = Contender(kind: .statistical(.theta), pool: theta)
        let guarded = modelGuard(Frequency(.month), horizon: 12, season: 12)
        func joined(cesShift shift: Double) throws -> (Selection, ratio: Double, statistic: Double) {
            let ces = try thetaPool(shiftingTheFirstWindowBy: shift)
            let pools: [Contender.Kind: AccuracyPool] = [.statistical(.theta): theta, .statistical(.ces): ces, .naive: theta, .seasonalNaive: theta]
            let board = ModelGuard.Scoreboard(contenders: [chosen], pools: pools, reads: [:], partner: FallbackBaseline(.seasonal, season: 12),
                                              statistical: templates, scored: [(s, backtest)])
            return (guarded.joiningStatistical(Selection(forcing: chosen, among: [chosen]), board: board), ces.value("mase") / theta.value("mase"),
                    Comparison(Contender(kind: .statistical(.ces), pool: ces).losses, against: chosen.losses).statistic)
        }
        // Theta's mean absolute error over the windows: shifted by a tenth of it, CES's first
        // window is worse by at most that; shifted by ten times it, far worse.
        let error = theta.value("mae")
        // The shift that makes the first window worse (Theta's forecast there may be low or high).
        let near = try XCTUnwrap([0.1, -0.1].map { try joined(cesShift: $0 * error) }.first { $0.ratio > 1 })
        XCTAssertEqual(near.statistic, 1, accuracy: 1e-9, "worse on one window of three: t = 1")
        XCTAssertLessThan(near.ratio, 1.2)
        XCTAssertEqual(near.0.chosen.kind, .averaged(.statistical(.theta), with: [.ces]))
        XCTAssertTrue(near.0.reason.contains(", below 1.65; within 20%)"), near.0.reason)
        let far = try XCTUnwrap([10.0, -10.0].map { try joined(cesShift: $0 * error) }.max { $0.ratio < $1.ratio })
        XCTAssertEqual(far.statistic, 1, accuracy: 1e-9)
        XCTAssertGreaterThan(far.ratio, 1.2)
        XCTAssertEqual(far.0.chosen.kind, .statistical(.theta), "a model far worse on the windows does not join, though the test cannot tell")
    }

    /// `everyContender` (what `bench accuracy --contenders` records): every contender scored,
    /// lowest backtest MASE first, each with its windows of the series and the forecast it would
    /// publish; the one the guard publishes forecasts what `train` publishes.
    func testEveryContenderIsReportedWithItsWindowsAndTheForecastItWouldPublish() throws {
        let s = series(monthlySeasonal(), frequency: "1mo")
        let guarded = modelGuard(Frequency(.month), horizon: 12, season: 12)
        let reports = guarded.everyContender([s])
        XCTAssertTrue(Set(["ets", "theta", "naive", "sn"]).isSubset(of: Set(reports.map(\.code))), "\(reports.map(\.code))")
        XCTAssertEqual(reports.map(\.mase), reports.map(\.mase).sorted())
        for report in reports {
            XCTAssertEqual(report.backtests[s.key]?.windows.count, 3, report.code)
            XCTAssertEqual(report.forecasts.map(\.series), [s.key], report.code)
        }
        let published = try XCTUnwrap(guarded.train([s]))
        let cell = try XCTUnwrap(published.published?.cell)
        guard case .statistical(let method) = cell else { return XCTFail("\(cell)") }
        XCTAssertEqual(reports.first { $0.code == method.rawValue }?.forecasts.first?.forecast, published.forecasts.first?.forecast)
    }

    /// ETS and Theta are scored with the specification chosen on the longest history the backtest
    /// has, the one before the last window (the closest to the whole history the published model
    /// chooses on), fitted at every window. Six years of a noisy monthly series: on the first
    /// window's three years AICc picks an ETS without season (MNN), on five years one with it
    /// (MAM); chosen at the first window, ETS was scored as a model it would not publish.
    func testTheChallengersAreScoredWithTheSpecificationOfTheLongestHistory() throws {
        var generator = SplitMix64(state: 3)
        let shape = [0.82, 0.86, 0.95, 1.0, 1.04, 1.12, 1.25, 1.22, 1.06, 0.96, 0.86, 0.86]
        let values = (0..<72).map { (t: Int) -> Double in
            let level: Double = 100 + 0.5 * Double(t)
            let noise: Double = 0.15 * Double.random(in: -1...1, using: &generator)
            return level * shape[t % 12] * (1 + noise)
        }
        let s = series(values, frequency: "1mo")
        let guarded = modelGuard(Frequency(.month), horizon: 12, season: 12)
        let levels = guarded.settings.quantiles
        let reports = guarded.everyContender([s])
        for method in StatisticalModel.Method.allCases {
            let windows = try XCTUnwrap(reports.first { $0.code == method.rawValue }?.backtests[s.key]?.windows, method.rawValue)
            XCTAssertEqual(windows.map(\.origin), [36, 48, 60])
            let template = StatisticalModel.challenger(method, season: 12, week: nil)
            let chosen = try template.fit(history: values[..<60], spec: nil, horizon: 12, levels: levels).spec
            if method == .ets {
                // The best member of each Akaike-weighted combination: no season on the first
                // window's 36 months, the seasonal model on 60.
                XCTAssertEqual(try template.fit(history: values[..<36], spec: nil, horizon: 12, levels: levels).spec.split(separator: "+").first, "MNN")
                XCTAssertEqual(chosen.split(separator: "+").first, "MAM")
            }
            for window in windows {
                let fitted = try template.fit(history: values[..<window.origin], spec: chosen, horizon: 12, levels: levels)
                XCTAssertEqual(window.modelForecast, fitted.forecast, "\(method) at \(window.origin)")
            }
        }
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
        let members = spec.split(separator: "+").map { ETSSpec(String($0)) }
        XCTAssertFalse(members.contains(nil), spec)
        XCTAssertTrue(members.allSatisfy { $0?.season == ETSSpec.Component.none }, "MSTL took the seasons: \(spec)")
        // The next day is a weekday: the daily wave at the weekday level.
        let expected = (0..<48).map { (t: Int) -> Double in 50 + 10 * sin(2 * Double.pi * Double(t) / 48) }
        for (f, e) in zip(forecast.point, expected) { XCTAssertEqual(f, e, accuracy: 2.0) }
    }
}
