import Foundation
import NeuralNet
import XCTest
@testable import Forecasting

/// The two designs of issue 13 in the forecaster: the encoder–decoder (`decoder = "recurrent"`)
/// and Jordan output feedback (`feedback = "output"`), each with the LSTM and the GRU. What the
/// dense head is tested for in `RecurrentForecasterTests` holds for them: training learns,
/// reading on from a stored series state (through its bytes) gives a full re-read's forecast
/// and state bit for bit, the batched read equals the batch-1 read, and the model archive
/// round-trips.
final class DecoderFeedbackForecasterTests: XCTestCase {
    enum Design: String, CaseIterable { case recurrentDecoder, feedback }

    func settings(_ design: Design, cell: CellKind, epochs: Int = 8, horizon: Int = 6) -> ForecasterSettings {
        var overrides = ForecasterOverrides()
        overrides.cell = cell
        switch design {
        case .recurrentDecoder: overrides.decoder = .recurrent
        case .feedback: overrides.feedback = .output
        }
        var settings = ForecasterSettings.resolved(frequency: Frequency(.hour), horizon: horizon, season: 24, backtestWindows: 2,
                                                   overrides: overrides)
        let small = smallForecasterSettings(horizon: horizon)
        settings.hiddenSize = small.hiddenSize
        settings.context = small.context
        settings.tbpttK1 = small.tbpttK1
        settings.tbpttK2 = small.tbpttK2
        settings.batchSize = small.batchSize
        settings.epochs = epochs
        return settings
    }

    let cases: [(Design, CellKind)] = Design.allCases.flatMap { d in [CellKind.lstm, .gru].map { (d, $0) } }

    func testTrainingLowersTheLossForBothDesignsAndCells() throws {
        let series = syntheticHourlySeries(days: 30, gapAt: 200)
        for (design, cell) in cases {
            let model = try RecurrentForecaster.train(series: [series], settings: settings(design, cell: cell))
            let config = model.network.config
            XCTAssertEqual(config.decoder, design == .recurrentDecoder ? .recurrent : .dense, "\(design) \(cell)")
            XCTAssertEqual(config.feedback, design == .feedback ? .output : .none, "\(design) \(cell)")
            XCTAssertEqual(config.horizon, 6)
            let first = try XCTUnwrap(model.history.first), best = model.history[max(model.bestEpoch, 1) - 1]
            XCTAssertLessThan(best.validationLoss, first.validationLoss, "\(design) \(cell): \(model.history.map(\.validationLoss))")
            XCTAssertLessThan(model.history.last!.trainLoss, first.trainLoss, "\(design) \(cell): \(model.history.map(\.trainLoss))")
            // What training chose is recorded with the model.
            XCTAssertEqual(model.settings.ownShare, ForecasterSettings.finalOwnShare)
            XCTAssertEqual(model.settings.decoderStride, design == .recurrentDecoder ? ForecasterSettings.decoderStride(k1: 24, batch: 8, horizon: 6) : nil)
            let (forecast, _) = try model.forecast(series)
            for step in 0..<forecast.horizon {
                XCTAssertTrue((0.0...30.0).contains(forecast.point[step]), "\(design) \(cell): forecast \(forecast.point[step]) in the series' range")
            }
        }
    }

    /// The stored state (through `SeriesStateArchive`'s bytes) read on by a model decoded from
    /// its archive gives the full re-read's forecast and state, bit for bit; with the seasonal,
    /// the level and the profile base.
    func testReadingOnFromAStoredStateEqualsAFullRead() throws {
        let full = syntheticHourlySeries(days: 30, gapAt: 300)
        for (design, cell) in cases {
            for base in [ForecastBase.seasonal, .level, .profile] where cell == .lstm || base == .seasonal {
                var settings = settings(design, cell: cell, epochs: 2)
                settings.base = base
                let model = try RecurrentForecaster.train(series: [full], settings: settings)
                let decoded = try ModelArchive.decode(try ModelArchive.encode(model))
                let (reread, finalState) = try model.forecast(full)
                let final = try XCTUnwrap(finalState)
                XCTAssertEqual(final.recurrent.feedback.count, design == .feedback ? 1 : 0)
                if base == .profile { XCTAssertNotNil(final.profile, "\(design) \(cell)") }
                for cut in [full.count - 17, full.count - 1, 305, 3] {
                    let (_, saved) = try model.forecast(full.prefix(cut))
                    let bytes = SeriesStateArchive.encode(try XCTUnwrap(saved))
                    let restored = try SeriesStateArchive.decode(bytes, key: full.key, config: decoded.network.config)
                    XCTAssertEqual(restored, saved)
                    let (incremental, state) = try decoded.forecast(continuing: restored, with: full.dropFirst(cut), maxGap: 3)
                    XCTAssertEqual(incremental, reread, "\(design) \(cell) \(base): bit for bit, cut at \(cut)")
                    XCTAssertEqual(SeriesStateArchive.encode(try XCTUnwrap(state)), SeriesStateArchive.encode(final),
                                   "\(design) \(cell) \(base): the state, cut at \(cut)")
                }
            }
        }
    }

    /// What training publishes comes from the batched read (`readInFull`), what predict writes
    /// later from the batch-1 read: they agree to the bit, and the backtest of the batched read
    /// is the single-series backtest's.
    func testTheBatchedReadEqualsTheBatchOneRead() throws {
        let a = syntheticHourlySeries(key: "a", days: 25, seed: 3)
        let b = syntheticHourlySeries(key: "b", days: 22, seed: 4, gapAt: 100)
        for (design, cell) in cases {
            let model = try RecurrentForecaster.train(series: [a, b], settings: settings(design, cell: cell, epochs: 2))
            let reads = model.readInFull([a, b], backtest: { _ in 2 }, season: 24, threads: 2)
            for (series, read) in zip([a, b], reads) {
                let read = try XCTUnwrap(read)
                let (forecast, state) = try model.forecast(series)
                XCTAssertEqual(read.forecast, forecast, "\(design) \(cell) \(series.key)")
                XCTAssertEqual(read.state.map(SeriesStateArchive.encode), state.map(SeriesStateArchive.encode), "\(design) \(cell) \(series.key)")
                let single = try model.backtest(series, windows: 2, season: 24)
                XCTAssertEqual(read.backtest, single, "\(design) \(cell) \(series.key)")
                // Each window's forecast is the one made after reading the history before it.
                let windows = try XCTUnwrap(read.backtest?.windows)
                XCTAssertEqual(windows.count, 2)
                for window in windows {
                    XCTAssertEqual(window.modelForecast, try model.forecast(series.prefix(window.origin)).0,
                                   "\(design) \(cell) \(series.key) origin \(window.origin)")
                }
            }
        }
    }

    func testTheModelArchiveRoundTrips() throws {
        let series = syntheticHourlySeries(days: 20)
        for (design, cell) in cases {
            let model = try RecurrentForecaster.train(series: [series], settings: settings(design, cell: cell, epochs: 1))
            let bytes = try ModelArchive.encode(model)
            let decoded = try ModelArchive.decode(bytes)
            XCTAssertEqual(decoded.settings, model.settings)
            XCTAssertEqual(decoded.network.config, model.network.config)
            // The network's blob (after the JSON header, whose key order JSONEncoder does not fix) is the same bytes.
            XCTAssertTrue(ModelFormat.encode(decoded.network) == ModelFormat.encode(model.network), "\(design) \(cell)")
            XCTAssertTrue(bytes.suffix(ModelFormat.encode(model.network).count).elementsEqual(ModelFormat.encode(model.network)))
            XCTAssertEqual(try decoded.forecast(series).0, try model.forecast(series).0, "\(design) \(cell)")
        }
        // Settings that say another design than the network's are refused.
        let model = try RecurrentForecaster.train(series: [series], settings: settings(.feedback, cell: .gru, epochs: 1))
        var header = model.settings
        header.feedback = nil
        let forged = TrainedForecaster(settings: header, grid: model.grid, network: model.network, scalers: model.scalers,
                                       history: [], bestEpoch: 1)
        XCTAssertThrowsError(try ModelArchive.decode(try ModelArchive.encode(forged))) { error in
            XCTAssertEqual((error as? ModelArchive.ArchiveError)?.description,
                           "the model archive's header is damaged: the network's sizes do not match its settings")
        }
    }

    /// The dense head's stored settings, network and blob are what they were before the two
    /// designs existed: no new keys in its hyperparameters, no architecture block in its blob.
    func testTheDenseHeadIsStoredAsBefore() throws {
        let model = try RecurrentForecaster.train(series: [syntheticHourlySeries(days: 20)], settings: smallForecasterSettings())
        let json = String(decoding: try JSONEncoder().encode(model.settings), as: UTF8.self)
        for key in ["decoder", "feedback", "decoderLayers", "decoderStride", "ownShare"] {
            XCTAssertFalse(json.contains("\"\(key)\""), "\(key) in \(json)")
        }
        XCTAssertEqual(model.network.config, NetworkConfig(cell: .lstm, inputSize: model.features.inputSize, hiddenSize: 12, layers: 1,
                                                           outputSize: 18))
        let old = "{\"cell\":\"gru\",\"hiddenSize\":8,\"layers\":1}"
        XCTAssertNil(try? JSONDecoder().decode(ForecasterSettings.self, from: Data(old.utf8)).decoder)
    }

    /// A training batch's rows share one block of calendar features when their buckets
    /// overlap: the inputs are those each row computes alone, to the bit, lags before the
    /// series' start included.
    func testInputsFromASharedCalendarBlockEqualThoseComputedPerRow() throws {
        let series = syntheticHourlySeries(days: 4)
        let prepared = PreparedSeries(series, scaler: try XCTUnwrap(RobustScaler(fitting: series.values)), trainEnd: series.count)
        let layout = FeatureLayout(grid: series.grid, lags: 30, feedback: true)
        let block = CalendarBlock(layout.calendar, buckets: (series.firstBucket - 5)..<(series.firstBucket + series.count + 5))
        for steps in [0..<series.count, 3..<40, 60..<61] {
            let alone = layout.inputs(series: prepared, steps: steps, base: .seasonal, season: 24)
            var shared = [Float](repeating: .nan, count: alone.count)
            shared.withUnsafeMutableBufferPointer {
                layout.fillInputs($0, series: prepared, steps: steps, offset: 0, stride: layout.inputSize, base: .seasonal, season: 24,
                                  calendarBlock: block)
            }
            XCTAssertEqual(shared.map(\.bitPattern), alone.map(\.bitPattern), "steps \(steps)")
        }
        let short = CalendarBlock(layout.calendar, buckets: series.firstBucket..<(series.firstBucket + 10))
        XCTAssertFalse(short.covers(series.firstBucket..<(series.firstBucket + 11)), "a block that misses a bucket is not used")
    }

    func testTheFeedbackColumnHoldsTheOneStepBaseAndTheFutureBlockTheDecodersInputs() throws {
        let series = syntheticHourlySeries(days: 4)
        let scaler = try XCTUnwrap(RobustScaler(fitting: series.values))
        let prepared = PreparedSeries(series, scaler: scaler, trainEnd: series.count)
        let layout = FeatureLayout(grid: series.grid, lags: 24, feedback: true)
        XCTAssertEqual(layout.inputSize, FeatureLayout(grid: series.grid, lags: 24).inputSize + 1)
        let inputs = layout.inputs(series: prepared, steps: 0..<series.count, base: .seasonal, season: 24)
        let width = layout.inputSize
        XCTAssertEqual(inputs[width - 1], 0, "no base before the first step")
        for t in [1, 23, 24, 50] {
            XCTAssertEqual(inputs[t * width + width - 1], Float(prepared.base(.seasonal, at: t - 1, ahead: 1, season: 24)), "step \(t)")
        }
        XCTAssertEqual(inputs[50 * width + width - 1], Float(prepared.level[26]), "seasonal naive's one-step forecast from step 49")

        let block = layout.future(series: prepared, origins: 40..<42, horizon: 3, base: .seasonal, season: 24)
        let f = layout.futureWidth
        XCTAssertEqual(block.count, 2 * 3 * f)
        XCTAssertEqual(block[0], Float(prepared.level[40]), "step 0 reads the last observed value")
        XCTAssertEqual(block[f], Float(prepared.base(.seasonal, at: 40, ahead: 1, season: 24)), "step 1 adds its median to base(t, 1)")
        XCTAssertEqual(block[2 * f], Float(prepared.base(.seasonal, at: 40, ahead: 2, season: 24)))
        XCTAssertEqual(Array(block[1..<f]), layout.calendar.values(buckets: (series.firstBucket + 41)..<(series.firstBucket + 42)),
                       "the calendar of the step forecast")
        XCTAssertEqual(Array(block[(3 * f + 2 * f + 1)..<(3 * f + 3 * f)]),
                       layout.calendar.values(buckets: (series.firstBucket + 44)..<(series.firstBucket + 45)))
    }

    func testTheDecoderStrideKeepsDecodingWithinTwiceTheEncoder() {
        XCTAssertEqual(ForecasterSettings.decoderStride(k1: 24, batch: 16, horizon: 24), 12)
        XCTAssertEqual(ForecasterSettings.decoderStride(k1: 48, batch: 16, horizon: 48), 24)
        XCTAssertEqual(ForecasterSettings.decoderStride(k1: 24, batch: 16, horizon: 6), 3)
        XCTAssertEqual(ForecasterSettings.decoderStride(k1: 24, batch: 16, horizon: 168), 24, "one origin per window at most")
        XCTAssertEqual(ForecasterSettings.decoderStride(k1: 96, batch: 16, horizon: 1), 1)
    }

    /// A state of a feedback network keeps the fed-back value (version 3); one stored before
    /// (version 2) reads as a state without it, which a feedback network refuses (so the series
    /// is read in full again) and any other accepts.
    func testAVersionTwoStateStillDecodes() throws {
        let dense = NetworkConfig(cell: .gru, inputSize: 3, hiddenSize: 2, layers: 1, outputSize: 3)
        var feedback = dense
        feedback.horizon = 1
        feedback.feedback = .output
        let state = SeriesState(key: "s", nextBucket: 100, scaler: RobustScaler(center: 1, scale: 2),
                                recurrent: RecurrentState(batch: 1, hidden: [[0.5, -0.5]], cell: []), tail: [1, 2, 3], levelBeforeTail: 0.5)
        var bytes = SeriesStateArchive.encode(state)
        XCTAssertEqual(Array(bytes.suffix(8)), [0, 0, 0, 0, 0, 0, 0, 0], "no feedback, no covariates (version 4)")
        bytes.removeLast(8)
        bytes.replaceSubrange(4..<8, with: [2, 0, 0, 0])
        XCTAssertEqual(try SeriesStateArchive.decode(bytes, key: "s", config: dense), state)
        XCTAssertThrowsError(try SeriesStateArchive.decode(bytes, key: "s", config: feedback))

        var fed = state
        fed.recurrent.feedback = [0.75]
        let fedBytes = SeriesStateArchive.encode(fed)
        XCTAssertEqual(try SeriesStateArchive.decode(fedBytes, key: "s", config: feedback), fed)
        XCTAssertThrowsError(try SeriesStateArchive.decode(fedBytes, key: "s", config: dense))
        XCTAssertThrowsError(try SeriesStateArchive.decode(Array(fedBytes.dropLast(2)), key: "s", config: feedback))
    }

    /// A model of another design than the job asks is refused (so predict writes nothing from
    /// it and `run --once` retrains it); one stored before the designs existed is the dense head.
    func testAChangedDesignMakesTheModelUnfit() throws {
        let grid = GridRecord(frequency: "1h", timeZone: "UTC", aggregation: "mean", season: 24)
        let dense = settings(.feedback, cell: .lstm)
        var denseAsked = dense
        denseAsked.feedback = nil
        func recorded(_ s: ForecasterSettings) throws -> String {
            String(decoding: try JSONEncoder().encode(RecordedHyperparameters(base: s, grid: grid)), as: UTF8.self)
        }
        let recurrent = settings(.recurrentDecoder, cell: .lstm)
        var twoLayers = recurrent
        twoLayers.decoderLayers = 2
        let old = "{\"cell\":\"lstm\",\"hiddenSize\":\(dense.hiddenSize),\"layers\":1,\"horizon\":6,\"quantiles\":[0.1,0.5,0.9],\"season\":24}"
        let cases: [(trained: String, asked: ForecasterSettings, mismatch: String?)] = [
            (try recorded(dense), dense, nil),
            (try recorded(recurrent), recurrent, nil),
            (old, denseAsked, nil),
            (try recorded(denseAsked), dense, "trained with model.feedback \"none\", the job now asks \"output\""),
            (try recorded(dense), denseAsked, "trained with model.feedback \"output\", the job now asks \"none\""),
            (old, recurrent, "trained with model.decoder \"dense\", the job now asks \"recurrent\""),
            (try recorded(recurrent), denseAsked, "trained with model.decoder \"recurrent\", the job now asks \"dense\""),
            (try recorded(recurrent), twoLayers, "trained with model.decoder_layers 1, the job now asks 2"),
        ]
        for (i, c) in cases.enumerated() {
            let requirements = ModelRequirements(settings: c.asked, grid: grid)
            XCTAssertEqual(requirements.mismatch(cell: .network(.lstm), hyperparameters: c.trained)?.description, c.mismatch, "case \(i)")
        }
        // What the report says of each.
        XCTAssertEqual(NetworkDesign(hyperparameters: old).description, "dense head")
        XCTAssertEqual(NetworkDesign(hyperparameters: try recorded(dense)).description, "dense head with output feedback")
        XCTAssertEqual(NetworkDesign(hyperparameters: try recorded(twoLayers)).description, "encoder–decoder (recurrent decoder, 2 layers)")
        XCTAssertEqual(NetworkDesign(hyperparameters: try recorded(recurrent)).description, "encoder–decoder (recurrent decoder, 1 layer)")
        // A fallback does not depend on the network's design.
        XCTAssertNil(ModelRequirements(settings: recurrent, grid: grid).mismatch(cell: .seasonalNaive, hyperparameters: "{\"baseline\":\"seasonal_naive\",\"season\":24,\"horizon\":6,\"quantiles\":[0.1,0.5,0.9]}"))
    }
}
