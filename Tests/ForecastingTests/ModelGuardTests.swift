import Foundation
import NeuralNet
import XCTest
@testable import Forecasting

/// The guard's verdicts on hand-made backtests, its windows, the fallback it publishes and
/// what a published model's hyperparameters record.
final class ModelGuardTests: XCTestCase {
    func testAModelThatDoesNotBeatTheBaselineIsRejectedWithTheReason() {
        XCTAssertEqual(AccuracyPool().rejection, "no backtest window could be scored")
    }

    /// A random walk: naive beats seasonal naive, so a network must beat naive to be published.
    func randomWalk(_ count: Int, seed: UInt64 = 3) -> [Double] {
        var generator = SplitMix64(state: seed)
        var values: [Double] = [100]
        for _ in 1..<count { values.append(values.last! + Double.random(in: -1...1, using: &generator)) }
        return values
    }

    func scored(_ values: [Double], season: Int, model: @escaping (ArraySlice<Double>) -> [Double]) -> (BacktestResult, BacktestResult) {
        let backtest = Backtest(horizon: 5, windows: 3, season: season, levels: [0.1, 0.5, 0.9])
        let point = { (history: ArraySlice<Double>) in
            let p = model(history)
            return QuantileForecast(levels: [0.1, 0.5, 0.9], values: p.flatMap { [$0 - 1, $0, $0 + 1] })
        }
        return (backtest.run(values: values) { point($0.history) },
                backtest.run(values: values) { SeasonalNaive.naive.forecast(history: $0.history, horizon: 5, levels: [0.1, 0.5, 0.9]) })
    }

    func testTheGuardRejectsANetworkThatBeatsSeasonalNaiveButLosesToNaive() throws {
        // A steady trend: naive misses step h by h, seasonal naive (season 5) by 5, and a
        // model that repeats the last value minus one by h + 1, in between.
        let trend = (0..<400).map(Double.init)
        let (model, naive) = scored(trend, season: 5) { history in Array(repeating: history.last! - 1, count: 5) }
        var pool = AccuracyPool()
        pool.add(model, naive: naive)
        XCTAssertLessThan(pool.value("mase"), pool.value("baseline_mase"), "the model beats seasonal naive")
        XCTAssertGreaterThan(pool.value("mase"), pool.value("naive_mase"), "and loses to naive")
        let reason = try XCTUnwrap(pool.rejection)
        XCTAssertTrue(reason.hasPrefix("backtest MASE "), reason)
        XCTAssertTrue(reason.contains("does not beat naive ("), reason)
        XCTAssertTrue(reason.contains("seasonal naive"), reason)
        XCTAssertEqual(pool.metrics.map(\.name).filter { $0.hasPrefix("naive_") }, ["naive_mae", "naive_mase"])

        var withoutNaive = AccuracyPool()
        withoutNaive.add(model)
        XCTAssertNil(withoutNaive.rejection, "scored against seasonal naive alone, the model passes")
    }

    func testTheGuardPassesANetworkThatBeatsBothBaselines() {
        let walk = randomWalk(400)
        // An oracle: the actual future values.
        var origin = 0
        let backtest = Backtest(horizon: 5, windows: 3, season: 5, levels: [0.5])
        let model = backtest.run(values: walk) { window in
            origin = window.origin
            return QuantileForecast(levels: [0.5], values: Array(walk[origin..<(origin + 5)]))
        }
        let naive = backtest.run(values: walk) { SeasonalNaive.naive.forecast(history: $0.history, horizon: 5, levels: [0.5]) }
        var pool = AccuracyPool()
        pool.add(model, naive: naive)
        XCTAssertNil(pool.rejection)
    }

    /// The network's and its combination's backtests on `values` (a steady trend, on which
    /// naive is the stronger baseline): `model` gives the point forecast from a history, the
    /// combination averages it with naive's.
    func pools(_ values: [Double], model: @escaping (ArraySlice<Double>) -> [Double]) -> (network: AccuracyPool, combined: AccuracyPool) {
        let levels = [0.1, 0.5, 0.9]
        let backtest = Backtest(horizon: 5, windows: 3, season: 5, levels: levels)
        let point = { (history: ArraySlice<Double>) in
            QuantileForecast(levels: levels, values: model(history).flatMap { [$0 - 1, $0, $0 + 1] })
        }
        let naive = backtest.run(values: values) { SeasonalNaive.naive.forecast(history: $0.history, horizon: 5, levels: levels) }
        var network = AccuracyPool(), combined = AccuracyPool()
        network.add(backtest.run(values: values) { point($0.history) }, naive: naive)
        combined.add(backtest.run(values: values) { window in
            point(window.history).combined(with: SeasonalNaive.naive.forecast(history: window.history, horizon: 5, levels: levels))
        }, naive: naive)
        return (network, combined)
    }

    func testTheGuardPublishesTheCombinationWhereItBeatsTheNetworkAndTheBaselines() throws {
        // On a trend of slope 1 naive misses step h by h; a model that overshoots by 2h + 0.5
        // misses by h + 0.5 and loses to it, but averaged with naive it misses by 0.25 only.
        let trend = (0..<400).map(Double.init)
        let naive = FallbackBaseline(.level, season: 5)
        let overshoot = pools(trend) { history in (1...5).map { history.last! + 2 * Double($0) + 0.5 } }
        XCTAssertNotNil(overshoot.network.rejection)
        guard case .combined(let why) = Verdict(network: overshoot.network, combined: overshoot.combined, with: naive) else {
            return XCTFail("the combination passes where the network alone does not")
        }
        XCTAssertTrue(why.hasPrefix("combined with naive: backtest MASE "), why)
        XCTAssertTrue(why.hasSuffix("beats the baselines, where the network alone does not (\(overshoot.network.rejection!))"), why)

        // Overshooting by 2h − 0.2 beats naive (h − 0.2), and the combination (0.1) beats it in turn.
        let close = pools(trend) { history in (1...5).map { history.last! + 2 * Double($0) - 0.2 } }
        XCTAssertNil(close.network.rejection)
        let verdict = Verdict(network: close.network, combined: close.combined, with: naive)
        XCTAssertEqual(verdict, .combined(reason: String(format: "combined with naive: backtest MASE %.3f beats the network alone (%.3f)",
                                                         close.combined.value("mase"), close.network.value("mase"))))
    }

    func testTheGuardPublishesTheNetworkAloneWhenItBeatsItsCombination() {
        // Missing by 0.6 at every step, the model beats naive and its combination with naive
        // (which inherits half of naive's error).
        let trend = (0..<400).map(Double.init)
        let (network, combined) = pools(trend) { history in (1...5).map { history.last! + Double($0) + 0.6 } }
        XCTAssertLessThan(network.value("mase"), combined.value("mase"))
        XCTAssertEqual(Verdict(network: network, combined: combined, with: FallbackBaseline(.level, season: 5)), .network)
    }

    func testTheGuardFallsBackWhenNeitherTheNetworkNorTheCombinationBeatsTheBaselines() throws {
        let trend = (0..<400).map(Double.init)
        let (network, combined) = pools(trend) { history in Array(repeating: history.last! - 10, count: 5) }
        XCTAssertNotNil(combined.rejection)
        XCTAssertEqual(Verdict(network: network, combined: combined, with: FallbackBaseline(.level, season: 5)),
                       .fallback(reason: try XCTUnwrap(network.rejection)), "the network's reason is recorded")
    }

    func modelGuard(frequency: Frequency = Frequency(.hour), horizon: Int = 6, season: Int = 24, backtestWindows: Int = 3) -> ModelGuard {
        ModelGuard(settings: .defaults(frequency: frequency, horizon: horizon, season: season, backtestWindows: backtestWindows),
                   season: season, backtestWindows: backtestWindows, fallbackAllowed: true)
    }

    func testTheGuardScoresAWeekOfWindowsWhereTheNetworkReadsAWeek() throws {
        let halfHourly = modelGuard(frequency: Frequency(.minute, multiplier: 30), horizon: 48, season: 48)
        XCTAssertEqual(halfHourly.guardWindows(heldBack: 14 * 48), 3, "backtest_windows, for a network that reads a day")
        XCTAssertEqual(halfHourly.guardWindows(heldBack: 14 * 48, week: 336), 7, "a week of day-long windows")
        XCTAssertEqual(halfHourly.guardWindows(heldBack: 5 * 48, week: 336), 5, "no further than the held-back tail")
        XCTAssertEqual(halfHourly.guardWindows(heldBack: 2 * 48, week: 336), 3, "never fewer than backtest_windows")
        XCTAssertEqual(modelGuard(backtestWindows: 30).guardWindows(heldBack: 14 * 24, week: 168), 30, "a longer backtest_windows stands")
    }

    func testACombinedModelRecordsItsBaselineBesideTheNetworksSettings() throws {
        let settings = ForecasterSettings.defaults(frequency: Frequency(.hour), horizon: 6, season: 24, backtestWindows: 3)
        let json = hyperparametersJSON(CombinedSettings(settings: settings, combinedWith: FallbackBaseline(.seasonal, season: 24)))
        XCTAssertTrue(json.contains("\"combined_with\":{\"baseline\":\"seasonal_naive\",\"season\":24}"), json)
        XCTAssertEqual(try JSONDecoder().decode(ForecasterSettings.self, from: Data(json.utf8)), settings, "the settings read back as they were")
        XCTAssertEqual(FallbackBaseline.combinedWith(hyperparameters: json), FallbackBaseline(.seasonal, season: 24))
        XCTAssertNil(FallbackBaseline.combinedWith(hyperparameters: hyperparametersJSON(settings)), "a network published alone")
        XCTAssertNil(FallbackBaseline.combinedWith(hyperparameters: "not json"))
    }

    func series(_ values: [Double]) -> RegularSeries {
        RegularSeries(key: "s", grid: try! TimeGrid(frequency: "1h"), firstBucket: 1000, values: values,
                      states: Array(repeating: .observed, count: values.count), rows: RowCounts())
    }

    func testTheFallbackPublishesNaiveForARandomWalkAndRecordsWhy() throws {
        let walk = randomWalk(24 * 30)
        let unit = modelGuard().fallback([series(walk)], reason: "backtest MASE 2.000 does not beat naive (1.000; seasonal naive 1.500)",
                                         rejected: nil)
        let model = try XCTUnwrap(unit.published)
        XCTAssertEqual(model.cell, .seasonalNaive, "the cell of record for a fallback")
        XCTAssertEqual(FallbackBaseline(hyperparameters: model.hyperparameters, jobSeason: 24), FallbackBaseline(.level, season: 24))
        XCTAssertTrue(model.hyperparameters.contains("\"baseline\":\"naive\""), model.hyperparameters)
        XCTAssertTrue(model.hyperparameters.contains("\"season\":1"), model.hyperparameters)
        XCTAssertEqual(model.reason, "fallback: backtest MASE 2.000 does not beat naive (1.000; seasonal naive 1.500)"
                       + "; published naive (the last value), which forecasts this history better than seasonal naive")
        XCTAssertEqual(unit.forecasts.first?.forecast.point, Array(repeating: walk.last!, count: 6))
    }

    func testTheFallbackPublishesSeasonalNaiveForACycle() throws {
        let cycle: [Double] = (0..<(24 * 30)).map { (t: Int) -> Double in
            let phase = 2 * Double.pi * Double(t % 24) / 24
            return 10 * sin(phase) + Double(t % 5) * 0.1
        }
        let unit = modelGuard().fallback([series(cycle)], reason: "training failed", rejected: nil)
        let model = try XCTUnwrap(unit.published)
        XCTAssertEqual(FallbackBaseline(hyperparameters: model.hyperparameters, jobSeason: 24), FallbackBaseline(.seasonal, season: 24))
        XCTAssertEqual(model.reason, "fallback: training failed")
        XCTAssertEqual(unit.forecasts.first?.forecast.point, Array(cycle[(cycle.count - 24)..<(cycle.count - 18)]))
    }

    func testAFallbackStoredBeforeTheBaselineWasRecordedUsesTheJobSeason() {
        XCTAssertEqual(FallbackBaseline(hyperparameters: "{\"season\": 24}", jobSeason: 24).forecaster, SeasonalNaive(season: 24))
        XCTAssertEqual(FallbackBaseline(hyperparameters: "{}", jobSeason: 12).forecaster, SeasonalNaive(season: 12))
        XCTAssertEqual(FallbackBaseline(hyperparameters: "{\"baseline\": \"naive\", \"season\": 1}", jobSeason: 24).forecaster, .naive)
    }
}

