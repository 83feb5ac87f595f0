import Foundation
import NeuralNet
import XCTest
@testable import Forecasting

/// A network combined with a baseline reads on from its saved state as the network alone does:
/// the baseline's spread (its error quantiles) is fitted once and kept in the model archive and
/// the state, and its point forecast needs only the last season, which the state's tail holds.
final class CombinedReadOnTests: XCTestCase {
    let seasonal = SeasonalNaive(season: 24)

    /// A small network trained on `series`, published combined with seasonal naive whose spread
    /// was fitted on the first 500 steps (as training fits it on what it read), through its archive.
    func combined(_ series: RegularSeries) throws -> (PublishedForecaster, BaselineSpread) {
        let model = try RecurrentForecaster.train(series: [series], settings: smallForecasterSettings())
        let spread = seasonal.spread(history: series.values.prefix(500), horizon: 6, levels: model.settings.quantiles)
        let stored = try ModelArchive.decode(try ModelArchive.encode(model.withBaselineSpreads([series.key: spread])))
        XCTAssertEqual(stored.baselineSpreads, [series.key: spread], "the archive keeps the spreads")
        return (PublishedForecaster(form: .combined(seasonal), network: stored, horizon: 6, levels: model.settings.quantiles, maxGap: 3), spread)
    }

    func testReadingOnFromACombinedModelsStateEqualsAFullRead() throws {
        let full = syntheticHourlySeries(days: 30, gapAt: 300)
        let (forecaster, spread) = try combined(full)
        let (reread, finalState) = try forecaster.forecast(full, settledBefore: nil)
        let state = try XCTUnwrap(finalState, "a combined model saves a state")
        XCTAssertEqual(state.baselineSpread, spread)

        // The combination: each quantile the mean of the network's and the baseline's, whose
        // point is the value a season back and whose quantiles add the stored spread.
        let network = try XCTUnwrap(forecaster.network).forecast(full).0
        let point = Array(full.values[(full.count - 24)..<(full.count - 18)])
        let baseline = QuantileForecast(levels: spread.levels, values: point.flatMap { p in spread.offsets[0].map { p + $0 } }, point: point)
        XCTAssertEqual(reread, network.combined(with: baseline))

        for cut in [full.count - 17, full.count - 1, 30, 310] {
            let (_, saved) = try forecaster.forecast(full.prefix(cut), settledBefore: nil)
            let bytes = SeriesStateArchive.encode(try XCTUnwrap(saved))
            let (incremental, next) = try forecaster.forecast(continuing: bytes, of: "s", with: full.dropFirst(cut), settledBefore: nil)
            XCTAssertEqual(incremental, reread, "bit for bit, cut at \(cut)")
            XCTAssertEqual(SeriesStateArchive.encode(try XCTUnwrap(next)), SeriesStateArchive.encode(state), "cut at \(cut)")
        }
    }

    func testASeriesTheModelHasNotSeenKeepsTheSpreadOfItsFirstRead() throws {
        let (forecaster, _) = try combined(syntheticHourlySeries(days: 30))
        let other = syntheticHourlySeries(key: "unseen", days: 30, seed: 9)
        let (_, first) = try forecaster.forecast(other.prefix(600), settledBefore: nil)
        let firstState = try XCTUnwrap(first)
        XCTAssertEqual(firstState.baselineSpread, seasonal.spread(history: other.values.prefix(600), horizon: 6, levels: [0.1, 0.5, 0.9]))
        let (_, next) = try forecaster.forecast(continuing: SeriesStateArchive.encode(firstState), of: "unseen", with: other.dropFirst(600),
                                                settledBefore: nil)
        XCTAssertEqual(next?.baselineSpread, firstState.baselineSpread, "fitted at the first read, then kept")
    }

    func testAStateWithoutASpreadOrAMissingSeasonIsReadInFull() throws {
        let full = syntheticHourlySeries(days: 30)
        let (forecaster, _) = try combined(full)
        let alone = PublishedForecaster(form: .network, network: forecaster.network, horizon: 6, levels: [0.1, 0.5, 0.9], maxGap: 3)
        let (_, networkState) = try alone.forecast(full.prefix(600), settledBefore: nil)
        XCTAssertThrowsError(try forecaster.forecast(continuing: SeriesStateArchive.encode(try XCTUnwrap(networkState)), of: "s",
                                                     with: full.dropFirst(600), settledBefore: nil)) { error in
            XCTAssertTrue(error is SeriesStateArchive.DamagedState, "\(error)")
        }
        // A state saved just after a long gap (steps 300–309 missing) and a few new steps: the
        // window read on has no value at the phases the forecast repeats from the gap, where a
        // full read looks a season further back, so the series is read in full.
        let gapped = syntheticHourlySeries(days: 30, gapAt: 300)
        let (_, saved) = try forecaster.forecast(gapped.prefix(315), settledBefore: nil)
        XCTAssertThrowsError(try forecaster.forecast(continuing: SeriesStateArchive.encode(try XCTUnwrap(saved)), of: "s",
                                                     with: gapped.steps(315..<320), settledBefore: nil)) { error in
            XCTAssertTrue(error is SeriesStateArchive.DamagedState, "\(error)")
        }
        XCTAssertNoThrow(try forecaster.forecast(gapped.prefix(320), settledBefore: nil), "a full read forecasts it")
    }

    func testTheSpreadRoundTripsInTheStateAndAStateWithoutOneStaysVersionFour() throws {
        let full = syntheticHourlySeries(days: 20)
        let (forecaster, spread) = try combined(full)
        let config = try XCTUnwrap(forecaster.network).network.config
        let state = try XCTUnwrap(forecaster.forecast(full, settledBefore: nil).1)
        let bytes = SeriesStateArchive.encode(state)
        XCTAssertEqual(bytes[4], 5, "version 5")
        XCTAssertEqual(try SeriesStateArchive.decode(bytes, key: "s", config: config).baselineSpread, spread)
        XCTAssertEqual(SeriesStateArchive.encode(try SeriesStateArchive.decode(bytes, key: "s", config: config)), bytes)
        XCTAssertThrowsError(try SeriesStateArchive.decode(Array(bytes.dropLast(8)), key: "s", config: config))
        var plain = state
        plain.baselineSpread = nil
        let plainBytes = SeriesStateArchive.encode(plain)
        XCTAssertEqual(plainBytes[4], 4, "written as earlier builds wrote it")
        XCTAssertEqual(Array(bytes.prefix(plainBytes.count)).dropFirst(5), plainBytes.dropFirst(5), "the spread is appended")
        XCTAssertNil(try SeriesStateArchive.decode(plainBytes, key: "s", config: config).baselineSpread)
    }

    /// The seasonal-naive forecast split into its point and a spread gives what it gave whole,
    /// for horizons of one season and of several.
    func testAForecastFromASpreadEqualsTheWholeForecast() {
        let values = syntheticHourlySeries(days: 10).values
        for (season, horizon) in [(24, 6), (4, 8), (4, 9), (1, 5)] {
            let baseline = SeasonalNaive(season: season)
            let spread = baseline.spread(history: values, horizon: horizon, levels: [0.1, 0.5, 0.9])
            XCTAssertEqual(spread.offsets.count, (horizon - 1) / season + 1)
            XCTAssertEqual(baseline.forecast(history: values, horizon: horizon, spread: spread),
                           baseline.forecast(history: values, horizon: horizon, levels: [0.1, 0.5, 0.9]))
            XCTAssertTrue(spread.serves(horizon: horizon, levels: [0.1, 0.5, 0.9], season: season))
            XCTAssertFalse(spread.serves(horizon: horizon + season, levels: [0.1, 0.5, 0.9], season: season))
            XCTAssertFalse(spread.serves(horizon: horizon, levels: [0.5], season: season))
        }
    }
}
