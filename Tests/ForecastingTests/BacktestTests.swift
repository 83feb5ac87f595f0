import XCTest
@testable import Forecasting
import NeuralNet

final class BacktestTests: XCTestCase {
    func testRollingOrigins() {
        XCTAssertEqual(Backtest.origins(length: 100, horizon: 10, windows: 3), [70, 80, 90])
        XCTAssertEqual(Backtest.origins(length: 100, horizon: 10, windows: 3, minimumHistory: 75), [80, 90])
        XCTAssertEqual(Backtest.origins(length: 25, horizon: 10, windows: 3), [5, 15])
        XCTAssertEqual(Backtest.origins(length: 100, horizon: 10, windows: 0), [])
        XCTAssertEqual(Backtest(horizon: 24, windows: 3, season: 24, levels: [0.5]).origins(length: 90), [42, 66])
    }

    func testModelAndBaselineAreScoredOnTheSameWindows() {
        let values: [Double] = [1, 3, 2, 4, 3, 5, 4, 6]
        let backtest = Backtest(horizon: 2, windows: 2, season: 2, levels: [0.1, 0.5, 0.9])
        var seen: [Int] = []
        let result = backtest.run(values: values) { window in
            seen.append(window.history.count)
            XCTAssertEqual(window.history.count, window.origin)
            // Knows the future and misses it by +0.5, with an interval of ±1.
            let future = values[window.origin..<(window.origin + window.horizon)]
            return QuantileForecast(levels: window.levels, values: future.flatMap { [$0 - 1, $0 + 0.5, $0 + 1] })
        }
        XCTAssertEqual(seen, [4, 6])
        XCTAssertEqual(result.windows.map(\.origin), [4, 6])
        XCTAssertEqual(result.windows.map(\.scale), [1, 1])
        // Baseline: [2, 4] against [3, 5], then [3, 5] against [4, 6].
        XCTAssertEqual(result.windows[0].baselineForecast.point, [2, 4])
        XCTAssertEqual(result.baseline.mae, 1)
        XCTAssertEqual(result.baseline.mase, 1)
        XCTAssertEqual(result.baseline.rmse, 1)
        XCTAssertEqual(result.model.mae, 0.5)
        XCTAssertEqual(result.model.mase, 0.5)
        XCTAssertEqual(result.model.coverage, 1)
        XCTAssertEqual(result.model.pinball, 0.15, accuracy: 1e-15)
        XCTAssertEqual(result.model.count, 4)
        XCTAssertEqual(result.skill, 0.5)
        XCTAssertEqual(result.metrics.map(\.name), [
            "mae", "rmse", "mape", "smape", "mase", "coverage", "pinball",
            "baseline_mae", "baseline_rmse", "baseline_mape", "baseline_smape", "baseline_mase",
            "baseline_coverage", "baseline_pinball", "skill",
        ])
        XCTAssertEqual(result.metrics.last?.value, 0.5)
    }

    func testTheBaselineAgainstItselfHasNoSkill() {
        var generator = SplitMix64(state: 4)
        let values = (0..<300).map { t in sin(Double(t) * 2 * .pi / 24) + 0.3 * generator.normal() }
        let backtest = Backtest(horizon: 24, windows: 3, season: 24, levels: [0.1, 0.5, 0.9])
        let result = backtest.run(values: values) { window in
            SeasonalNaive(season: 24).forecast(history: window.history, horizon: window.horizon, levels: window.levels)
        }
        XCTAssertEqual(result.windows.count, 3)
        XCTAssertEqual(result.skill, 0, accuracy: 1e-12)
        XCTAssertEqual(result.model, result.baseline)
        XCTAssertGreaterThan(result.model.coverage, 0.5)
    }

    func testOnlyObservedActualsAreScored() throws {
        let t0 = instant(2013, 1, 1)
        var rows: [SourceRow] = []
        for step in 0..<12 where step != 9 {
            rows.append(row("s", t0.addingTimeInterval(Double(step) * 3600), Double(step % 4)))
        }
        guard case .ready(let series)? = SeriesBuilder.build(rows, settings: SeriesSettings(grid: grid("1h"), maxGap: 1)).first else {
            return XCTFail("series not built")
        }
        XCTAssertEqual(series.states[9], .interpolated)
        let backtest = Backtest(horizon: 3, windows: 2, season: 4, levels: [0.5])
        let result = backtest.run(series: series) { window in
            QuantileForecast(levels: window.levels, values: [Double](repeating: 0, count: window.horizon))
        }
        XCTAssertEqual(result.windows.map(\.origin), [6, 9])
        XCTAssertEqual(result.windows.map(\.model.count), [3, 2])
        XCTAssertTrue(result.model.coverage.isNaN)  // a single level has no interval
    }

    func testZeroScaleFallsBackToTheMAERatio() {
        // A constant history: MASE is undefined, the skill still compares MAEs.
        let values: [Double] = [5, 5, 5, 5, 5, 5, 6, 6]
        let backtest = Backtest(horizon: 2, windows: 1, season: 1, levels: [0.5])
        let result = backtest.run(values: values) { window in
            QuantileForecast(levels: window.levels, values: [5.5, 5.5])
        }
        XCTAssertTrue(result.model.mase.isNaN)
        XCTAssertEqual(result.baseline.mae, 1)
        XCTAssertEqual(result.model.mae, 0.5)
        XCTAssertEqual(result.skill, 0.5)
    }
}
