import Foundation
import NeuralNet
import XCTest
@testable import Forecasting

/// The network's passes over many series run batched across series (`readInFull`, the
/// validation/calibration `tailPass`); each series must get what its batch-1 read gives, to the
/// bit, so batching changes no forecast, state, backtest score or calibration.
final class BatchedPassesTests: XCTestCase {
    /// Series of different lengths, one with a gap and one ending in a gap (a later settled step).
    func series() -> [RegularSeries] {
        (0..<11).map { i in
            let s = syntheticHourlySeries(key: "s\(i)", days: 12 + i % 4, seed: UInt64(i + 1), gapAt: i % 3 == 0 ? 100 : nil)
            if i == 4 {
                var values = s.values, states = s.states
                for t in (values.count - 3)..<values.count { values[t] = .nan; states[t] = .missing }
                return RegularSeries(key: s.key, grid: s.grid, firstBucket: s.firstBucket, values: values, states: states, rows: RowCounts())
            }
            return s
        }
    }

    func testReadInFullEqualsTheBatchOneForecastsStatesAndBacktests() throws {
        let all = series()
        var settings = smallForecasterSettings()
        settings.epochs = 2
        let model = try RecurrentForecaster.train(series: Array(all.prefix(6)), settings: settings, threads: 2)
        let settledBefore = all[0].firstBucket + all[0].count - 2
        for threads in [1, 2] {
            let reads = model.readInFull(all, settledBefore: settledBefore, backtest: { _ in 3 }, season: 24, threads: threads)
            XCTAssertEqual(reads.count, all.count)
            for (s, read) in zip(all, reads) {
                let read = try XCTUnwrap(read, s.key)
                let (forecast, state) = try model.forecast(s, settledBefore: settledBefore)
                XCTAssertEqual(read.forecast, forecast, "\(s.key), \(threads) thread(s)")
                XCTAssertEqual(read.state, state, "\(s.key), \(threads) thread(s)")
                let backtest = try model.backtest(s, windows: 3, season: 24)
                XCTAssertEqual(read.backtest?.windows.map(\.modelForecast), backtest.windows.map(\.modelForecast), s.key)
                XCTAssertEqual(read.backtest?.model.mae, backtest.model.mae, s.key)
            }
        }
    }

    /// The calibration fitted on the best epoch's validation pass (batched) equals one fitted on a
    /// batch-1 pass of its own over the restored network (what training did before the passes
    /// were shared and batched).
    func testCalibrationFromTheValidationPassEqualsASeparatePass() throws {
        let all = series()
        var settings = smallForecasterSettings()
        settings.epochs = 3
        let model = try RecurrentForecaster.train(series: all, settings: settings, threads: 2)
        var unfitted = model.settings
        unfitted.calibration = nil
        // The profiles too: training may choose the profile base (issue 12), whose forecasts need them.
        let prepared = all.map { PreparedSeries($0, scaler: model.scalers[$0.key]!, trainEnd: $0.count - unfitted.heldBack(length: $0.count),
                                                profile: model.profiles[$0.key]) }
        let separate = RecurrentForecaster.calibrate(network: model.network, prepared: prepared, layout: model.features,
                                                     settings: unfitted, threads: 1, batch: 1)
        XCTAssertEqual(separate, model.settings.calibration)
        XCTAssertNotEqual(separate, .identity, "a fitted calibration, not the default")
    }
}
