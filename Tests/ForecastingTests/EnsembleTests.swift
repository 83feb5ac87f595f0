import Foundation
import NeuralNet
import XCTest
@testable import Forecasting

/// Ensembles: N networks differing in seed, combined by the median quantile by quantile; stored
/// in one archive, read in full or on from one saved state, bit for bit alike.
final class EnsembleTests: XCTestCase {
    /// Three members' forecasts of two steps at levels 0.1, 0.5, 0.9, by hand: each value of the
    /// ensemble is the median of the members' same value, not a quantile of their pooled values,
    /// and quantiles in order in every member stay in order.
    func testTheMedianIsTakenQuantileByQuantileAndKeepsTheirOrder() {
        let levels = [0.1, 0.5, 0.9]
        let a = QuantileForecast(levels: levels, values: [1, 2, 3, 10, 11, 12])
        let b = QuantileForecast(levels: levels, values: [0, 5, 9, 8, 13, 14])
        let c = QuantileForecast(levels: levels, values: [2, 4, 4, 9, 9, 20])
        let median = QuantileForecast.median(of: [a, b, c])
        XCTAssertEqual(median.values, [1, 4, 4, 9, 11, 14])
        XCTAssertEqual(median.point, [4, 11], "the point is the median level's")
        for step in 0..<median.horizon {
            let q = Array(median.quantiles(atStep: step))
            XCTAssertEqual(q, q.sorted(), "step \(step)")
        }
        // An even count: the mean of the two middle ones.
        XCTAssertEqual(QuantileForecast.median(of: [a, b]).values, [0.5, 3.5, 6, 9, 12, 13])
        XCTAssertEqual(QuantileForecast.median(of: [a]), a)
        // The order holds for any members whose quantiles are in order (the median is monotone).
        var generator = SplitMix64(seed: 5)
        for _ in 0..<200 {
            let members = (0..<5).map { _ in
                QuantileForecast(levels: levels, values: (0..<4).flatMap { _ in
                    (0..<3).map { _ in Double(generator.next() % 1000) / 10 }.sorted()
                })
            }
            let m = QuantileForecast.median(of: members)
            for step in 0..<m.horizon {
                let q = Array(m.quantiles(atStep: step))
                XCTAssertEqual(q, q.sorted())
                for k in 0..<3 {
                    XCTAssertEqual(q[k], members.map { $0.values[step * 3 + k] }.sorted()[2])
                }
            }
        }
    }

    func ensembleSettings(_ size: Int) -> ForecasterSettings {
        var settings = smallForecasterSettings()
        settings.epochs = 3
        settings.ensemble = size
        return settings
    }

    func testAnEnsembleForecastsTheMedianOfItsMembersWhoDifferInSeedAndLags() throws {
        let series = syntheticHourlySeries(days: 20)
        let model = try RecurrentForecaster.trainEnsemble(series: [series], settings: ensembleSettings(3), threads: 2)
        XCTAssertTrue(model.isEnsemble)
        XCTAssertEqual(model.members.map(\.settings.seed), [1, 2, 3])
        XCTAssertEqual(model.settings.ensemble, 3, "recorded in the hyperparameters")
        // One season of lags, two, and half of one; every member's lags recorded, and every
        // member keeps a state tail as long as the longest's.
        let lags = ensembleSettings(3).lags
        XCTAssertEqual(model.members.map(\.settings.lags), [lags, 2 * lags, lags / 2])
        XCTAssertEqual(model.members.map { $0.network.config.inputSize - $0.settings.lags }, Array(repeating: model.network.config.inputSize - lags, count: 3))
        XCTAssertTrue(([model] + model.members).allSatisfy { $0.settings.ensembleLags == [lags, 2 * lags, lags / 2] && $0.stateTailLength == 2 * lags })
        XCTAssertEqual(WarmUp(model.settings), WarmUp(lags: 2 * lags, season: 24, context: model.settings.context, tbpttK2: model.settings.tbpttK2))
        let recorded = String(decoding: try JSONEncoder().encode(model.settings), as: UTF8.self)
        XCTAssertEqual(WarmUp(hyperparameters: recorded), WarmUp(model.settings), "a warm-up from the stored hyperparameters looks back as far")
        let single = try RecurrentForecaster.train(series: [series], settings: ensembleSettings(1))
        XCTAssertEqual(model.members[0].network.parameters, single.network.parameters, "the first member is the network of the job's seed")
        XCTAssertNotEqual(model.members[1].network.parameters, model.members[0].network.parameters)
        let forecast = try model.forecast(series).0
        XCTAssertEqual(forecast, QuantileForecast.median(of: try model.members.map { try $0.forecast(series).0 }))
        XCTAssertEqual(model.readInFull([series]).first??.forecast, forecast, "the batched read gives the same")

        // An ensemble of one is the network alone.
        let one = try RecurrentForecaster.trainEnsemble(series: [series], settings: ensembleSettings(1))
        XCTAssertFalse(one.isEnsemble)
        XCTAssertEqual(one.network.parameters, single.network.parameters)
        XCTAssertEqual(one.settings, single.settings)
        XCTAssertTrue(try ModelArchive.decode(try ModelArchive.encode(one)).members.isEmpty)
    }

    func testAnEnsembleRoundTripsThroughItsArchiveAndReadsOnFromOneState() throws {
        let full = syntheticHourlySeries(days: 20, gapAt: 200)
        let trained = try RecurrentForecaster.trainEnsemble(series: [full], settings: ensembleSettings(3), threads: 2)
        let model = try ModelArchive.decode(try ModelArchive.encode(trained))
        XCTAssertEqual(model.members.count, 3)
        XCTAssertEqual(model.members.map(\.settings.calibration), trained.members.map(\.settings.calibration))
        XCTAssertEqual(model.members.map(\.settings), trained.members.map(\.settings), "lags and all")
        let (reread, finalState) = try model.forecast(full)
        XCTAssertEqual(reread, try trained.forecast(full).0, "the archive keeps every member")
        XCTAssertEqual(finalState?.ensembleRecurrent.count, 2)
        for cut in [full.count - 17, full.count - 1, 30] {
            let (_, saved) = try model.forecast(full.prefix(cut))
            let bytes = SeriesStateArchive.encode(try XCTUnwrap(saved))
            let decoded = try SeriesStateArchive.decode(bytes, key: "s", config: model.network.config)
            XCTAssertEqual(decoded, saved, "the state round-trips")
            let (incremental, state) = try model.forecast(continuing: decoded, with: full.dropFirst(cut), maxGap: 3)
            XCTAssertEqual(incremental, reread, "bit for bit, cut at \(cut)")
            XCTAssertEqual(SeriesStateArchive.encode(try XCTUnwrap(state)), SeriesStateArchive.encode(try XCTUnwrap(finalState)))
        }
        // A state of the first network alone does not fit the ensemble, nor the reverse.
        var alone = try XCTUnwrap(finalState)
        alone.ensembleRecurrent = []
        XCTAssertThrowsError(try model.forecast(continuing: alone, with: full.dropFirst(full.count - 1), maxGap: 3))
        XCTAssertThrowsError(try model.members[0].forecast(continuing: try XCTUnwrap(finalState), with: full.dropFirst(full.count - 1), maxGap: 3))
        XCTAssertThrowsError(try SeriesStateArchive.decode(Array(SeriesStateArchive.encode(try XCTUnwrap(finalState)).dropLast(4)),
                                                           key: "s", config: model.network.config))
    }

    /// An archive written before members differed in lags (no member `lags`, no `ensembleLags`)
    /// reads as members that all read the first one's lags, and forecasts as it did.
    func testAnEnsembleArchivedBeforeMembersDifferedInLagsReadsAsBefore() throws {
        let series = syntheticHourlySeries(days: 20)
        let settings = ensembleSettings(3)
        let networks = try (0..<3).map { i -> TrainedForecaster in
            var own = settings
            own.seed = settings.seed &+ UInt64(i)
            return try RecurrentForecaster.train(series: [series], settings: own)
        }
        let ensemble = networks[0].with(members: networks)
        let bytes = try ModelArchive.encode(ensemble)
        let length = Int(ModelArchive.read(bytes, at: 8))
        var json = String(decoding: bytes[12..<(12 + length)], as: UTF8.self)
        let recorded = "\"ensembleLags\":[\(settings.lags),\(settings.lags),\(settings.lags)]"
        XCTAssertTrue(json.contains(recorded))
        json = json.replacingOccurrences(of: recorded + ",", with: "").replacingOccurrences(of: "," + recorded, with: "")
        // The members' array, to its closing bracket (the header's keys come in any order).
        let start = try XCTUnwrap(json.range(of: "\"members\":[")).upperBound
        var depth = 1, end = start
        while depth > 0 {
            if json[end] == "[" { depth += 1 } else if json[end] == "]" { depth -= 1 }
            end = json.index(after: end)
        }
        let lags = "\"lags\":\(settings.lags)"
        let stripped = json[start..<end].replacingOccurrences(of: lags + ",", with: "").replacingOccurrences(of: "," + lags, with: "")
        XCTAssertFalse(stripped.contains("\"lags\""), "no member records its lags")
        json = String(json[..<start]) + stripped + json[end...]
        XCTAssertFalse(json.contains("ensembleLags"))
        let header = Array(json.utf8)
        var old = Array(bytes[0..<8])
        ModelArchive.append(UInt32(header.count), to: &old)
        old += header + bytes[(12 + length)...]
        let model = try ModelArchive.decode(old)
        XCTAssertNil(model.settings.ensembleLags)
        XCTAssertEqual(model.members.map(\.settings.lags), Array(repeating: settings.lags, count: 3))
        XCTAssertEqual(model.stateTailLength, max(settings.lags, settings.season))
        XCTAssertEqual(try model.forecast(series).0, try ensemble.forecast(series).0)
    }

    func testTheGuardBacktestsTheEnsembleMedian() throws {
        let series = syntheticHourlySeries(days: 20)
        let model = try RecurrentForecaster.trainEnsemble(series: [series], settings: ensembleSettings(3), threads: 2)
        let backtest = try model.backtest(series, windows: 2, season: 24)
        let members = try model.members.map { try $0.backtest(series, windows: 2, season: 24) }
        for (w, window) in backtest.windows.enumerated() {
            XCTAssertEqual(window.modelForecast, QuantileForecast.median(of: members.map { $0.windows[w].modelForecast }))
        }
        XCTAssertEqual(model.readInFull([series], backtest: { _ in 2 }, season: 24).first??.backtest, backtest)
    }

    /// `ensemble = "auto"` (nil, the default): `shortSeriesEnsemble` networks for a unit whose
    /// median series is short, one for long ones, a job's own count whatever the series; and a
    /// model trained under "auto" fits the job whatever size it was given, where a set count
    /// must match.
    func testTheAutoEnsembleDependsOnTheUnitsMedianLengthAndFitsAnyTrainedSize() throws {
        let auto = smallForecasterSettings()
        XCTAssertNil(auto.ensemble)
        let short = syntheticHourlySeries(key: "short", days: 20), long = syntheticHourlySeries(key: "long", days: 60)
        XCTAssertLessThan(short.observedCount, ModelGuard.shortSeriesLength)
        XCTAssertGreaterThanOrEqual(long.observedCount, ModelGuard.shortSeriesLength)
        XCTAssertEqual(auto.resolvingEnsemble(for: [short]).ensemble, ForecasterSettings.shortSeriesEnsemble)
        XCTAssertEqual(auto.resolvingEnsemble(for: [long]).ensemble, 1)
        XCTAssertEqual(auto.resolvingEnsemble(for: [short, long, long]).ensemble, 1, "the median series decides")
        XCTAssertEqual(auto.resolvingEnsemble(for: [short, short, long]).ensemble, ForecasterSettings.shortSeriesEnsemble)
        XCTAssertEqual(ensembleSettings(2).resolvingEnsemble(for: [short]).ensemble, 2)
        XCTAssertEqual(ensembleSettings(1).resolvingEnsemble(for: [short]).ensemble, 1)

        let grid = GridRecord(frequency: "1h", timeZone: "UTC", aggregation: "mean", season: 24)
        func recorded(_ s: ForecasterSettings) throws -> String {
            String(decoding: try JSONEncoder().encode(RecordedHyperparameters(base: s, grid: grid)), as: UTF8.self)
        }
        let network = ModelCell.network(.lstm)
        for trained in [1, 3] {
            XCTAssertNil(ModelRequirements(settings: auto, grid: grid).mismatch(cell: network, hyperparameters: try recorded(ensembleSettings(trained))))
        }
        XCTAssertEqual(ModelRequirements(settings: ensembleSettings(2), grid: grid)
            .mismatch(cell: network, hyperparameters: try recorded(ensembleSettings(3)))?.setting, "model.ensemble")
    }

    /// The guard trains the ensemble "auto" resolves to, and records its size in the model.
    func testTheGuardTrainsThreeNetworksOnAShortSeriesUnderAuto() throws {
        var settings = smallForecasterSettings()
        settings.epochs = 2
        let series = syntheticHourlySeries(days: 20)
        let guardian = ModelGuard(settings: settings, season: 24, backtestWindows: 2, fallbackAllowed: true)
        guard case .trained(let model, let candidate) = guardian.trainNetwork([series], threads: 2, progress: nil) else {
            return XCTFail("the network trains")
        }
        XCTAssertEqual(model.members.count, ForecasterSettings.shortSeriesEnsemble)
        XCTAssertTrue(candidate.hyperparameters.contains("\"ensemble\":\(ForecasterSettings.shortSeriesEnsemble)"), candidate.hyperparameters)
    }
}
