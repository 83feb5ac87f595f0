import Foundation
import XCTest
@testable import NeuralNet

/// The recurrent decoder and output feedback (issue 13): gradients against finite differences
/// with the fed-back values held as the data the backward pass treats them as, forecasts from a
/// stored state against a full read (bit for bit), batched against batch 1, and the old
/// configurations and blobs reading unchanged.
final class DecoderFeedbackTests: XCTestCase {
    static let quantiles: [Float] = [0.1, 0.5, 0.9]

    static func decoderConfig(_ cell: CellKind, layers: Int, decoderLayers: Int? = nil, hidden: Int = 5) -> NetworkConfig {
        NetworkConfig(cell: cell, inputSize: 3, hiddenSize: hidden, layers: layers, outputSize: 3 * 3, decoder: .recurrent,
                      decoderLayers: decoderLayers, horizon: 3, futureFeatures: 2)
    }

    static func feedbackConfig(_ cell: CellKind, layers: Int, hidden: Int = 5) -> NetworkConfig {
        NetworkConfig(cell: cell, inputSize: 3, hiddenSize: hidden, layers: layers, outputSize: 2 * 3, feedback: .output, horizon: 2)
    }

    /// The dense head reading the future block (issue 14's future-known covariates), with or
    /// without output feedback.
    static func headConfig(_ cell: CellKind, layers: Int, hidden: Int = 5, feedback: FeedbackKind = .none) -> NetworkConfig {
        NetworkConfig(cell: cell, inputSize: 3, hiddenSize: hidden, layers: layers, outputSize: 3 * 3, feedback: feedback,
                      horizon: 3, futureFeatures: 2)
    }

    /// A random future block `[steps × batch × futureWidth]`; nil for a network that reads none.
    static func future(_ config: NetworkConfig, steps: Int, batch: Int, seed: UInt64) -> [Float]? {
        guard config.futureWidth > 0 else { return nil }
        var rng = SeededGenerator(seed: seed)
        return (0..<(steps * batch * config.futureWidth)).map { _ in 2 * rng.nextFloat() - 1 }
    }

    // MARK: - Gradients

    func testDecoderGradientEveryCellOneAndTwoLayersWithMask() throws {
        for cell in CellKind.allCases {
            for layers in [1, 2] {
                for loss in [Loss.pinball(quantiles: Self.quantiles), .mse] {
                    try assertReplayedGradient(Self.decoderConfig(cell, layers: layers), ownShare: 0.5, loss: loss)
                }
            }
        }
    }

    /// Decoder layers other than the encoder's, decoding from every second scored step only.
    func testDecoderGradientOtherDepthsStrideAndLaterSteps() throws {
        for cell in CellKind.allCases {
            try assertReplayedGradient(Self.decoderConfig(cell, layers: 1, decoderLayers: 2), ownShare: 0.3, stride: 2, lossFromStep: 1)
            try assertReplayedGradient(Self.decoderConfig(cell, layers: 2, decoderLayers: 1), ownShare: 0.7, stride: 3)
        }
    }

    func testFeedbackGradientEveryCellOneAndTwoLayersWithMask() throws {
        for cell in CellKind.allCases {
            for layers in [1, 2] {
                for loss in [Loss.pinball(quantiles: Self.quantiles), .mse] {
                    try assertReplayedGradient(Self.feedbackConfig(cell, layers: layers), ownShare: 0.5, loss: loss)
                }
            }
        }
    }

    func testFeedbackGradientWithDropoutAndLaterSteps() throws {
        for cell in CellKind.allCases {
            var config = Self.feedbackConfig(cell, layers: 2, hidden: 6)
            config.dropout = 0.3
            try assertReplayedGradient(config, ownShare: 0.4, lossFromStep: 2, dropoutSeed: 9)
        }
    }

    /// Pure teacher forcing without holes: the fed values are the targets, so the gradient is
    /// the whole gradient, no value held fixed.
    /// The dense head reading each step's future block: its weights of the block (`head.w_future`)
    /// and everything under it, alone, with feedback (replayed), dropout and later steps.
    func testHeadFutureGradientEveryCellOneAndTwoLayersWithMask() throws {
        for cell in CellKind.allCases {
            for layers in [1, 2] {
                for loss in [Loss.pinball(quantiles: Self.quantiles), .mse] {
                    try assertReplayedGradient(Self.headConfig(cell, layers: layers), ownShare: 0, loss: loss)
                    try assertReplayedGradient(Self.headConfig(cell, layers: layers, feedback: .output), ownShare: 0.5, loss: loss)
                }
            }
            var config = Self.headConfig(cell, layers: 2, hidden: 6, feedback: .output)
            config.dropout = 0.3
            try assertReplayedGradient(config, ownShare: 0.4, lossFromStep: 2, dropoutSeed: 9)
        }
    }

    func testTeacherForcedGradientNeedsNoReplay() throws {
        for config in [Self.decoderConfig(.lstm, layers: 2), Self.feedbackConfig(.gru, layers: 2), Self.headConfig(.lstm, layers: 2, feedback: .output)] {
            let net = try RecurrentNetwork(config: config, seed: 3)
            let d = WindowData(config: config, steps: 4, batch: 2, masked: false, seed: 4)
            let future = Self.future(config, steps: 4, batch: 2, seed: 5)
            func lossAt() throws -> Double {
                try net.lossAndGradient(inputs: d.inputs, targets: d.targets, steps: 4, batch: 2, state: d.state,
                                        loss: .pinball(quantiles: Self.quantiles), future: future, ownShare: 0)
            }
            try assertFiniteDifferences(net, config: config, loss: .pinball(quantiles: Self.quantiles), lossAt: lossAt)
        }
    }

    /// The loss with the fed-back values chosen by the schedule (targets where known and
    /// drawn, the network's own median elsewhere) has, by design, the gradient of the same loss
    /// with those values as data; replaying them pins that loss down for finite differences.
    func assertReplayedGradient(_ config: NetworkConfig, ownShare: Float, stride: Int = 1, lossFromStep: Int = 0,
                                dropoutSeed: UInt64? = nil, steps: Int = 5, batch: Int = 2, loss: Loss = .pinball(quantiles: quantiles),
                                file: StaticString = #filePath, line: UInt = #line) throws {
        let net = try RecurrentNetwork(config: config, seed: 7)
        var d = WindowData(config: config, steps: steps, batch: batch, masked: true, seed: 107)
        if config.feedback == .output { d.state.feedback = (0..<batch).map { Float($0) * 0.3 - 0.2 } }
        let future = Self.future(config, steps: steps, batch: batch, seed: 108)
        func run(replay: Bool) throws -> Double {
            try net.lossAndGradient(inputs: d.inputs, targets: d.targets, mask: d.mask, steps: steps, batch: batch, state: d.state,
                                    loss: loss, lossFromStep: lossFromStep, dropoutSeed: dropoutSeed, future: future,
                                    decoderStride: stride, feed: FeedSchedule(ownShare: ownShare, seed: 11, replay: replay))
        }
        let scheduled = try run(replay: false)
        let analytic = net.gradients
        XCTAssertEqual(try run(replay: true), scheduled, "replaying the fed values gives the same loss", file: file, line: line)
        XCTAssertEqual(net.gradients, analytic, file: file, line: line)
        try assertFiniteDifferences(net, config: config, loss: loss, lossAt: { try run(replay: true) }, file: file, line: line)
    }

    /// Central differences over every parameter against the gradient `lossAt` leaves (see
    /// TestSupport's `assertGradientMatchesFiniteDifferences` for the tolerances). The pinball
    /// loss is piecewise linear: a difference quotient whose ±eps straddles an output crossing
    /// its target is off by up to the kink's jump for that parameter (GRU, one layer, with
    /// feedback: 8e-3 overall where MSE on the same window gives 6e-5), so its overall bound is
    /// 1e-2; the per-parameter bound is the same for both losses.
    func assertFiniteDifferences(_ net: RecurrentNetwork, config: NetworkConfig, loss: Loss, lossAt: () throws -> Double,
                                 file: StaticString = #filePath, line: UInt = #line) throws {
        let l0 = try lossAt()
        XCTAssertTrue(l0.isFinite && l0 > 0, "loss \(l0)", file: file, line: line)
        let analytic = net.gradients
        var p = net.parameters
        let eps: Float = 4e-3
        var failures = 0, num2 = 0.0, diff2 = 0.0
        for i in p.indices {
            let saved = p[i]
            p[i] = saved + eps; net.parameters = p
            let lp = try lossAt()
            p[i] = saved - eps; net.parameters = p
            let lm = try lossAt()
            p[i] = saved
            let numeric = (lp - lm) / Double(2 * eps), a = Double(analytic[i])
            let err = abs(numeric - a)
            num2 += numeric * numeric; diff2 += err * err
            if err > 3e-4 + 2e-2 * max(abs(numeric), abs(a)) {
                failures += 1
                if failures <= 5 {
                    let name = net.tensors.last { $0.offset <= i }!.name
                    XCTFail("\(config.cell) \(config.decoder) \(config.feedback) grad[\(i)] (\(name)): analytic \(a) numeric \(numeric)",
                            file: file, line: line)
                }
            }
        }
        net.parameters = p
        // Every tensor, the decoder's and the encoder's under it, gets a gradient.
        for t in net.tensors {
            XCTAssertTrue(analytic[t.offset..<(t.offset + t.count)].contains { $0 != 0 }, "\(t.name) has no gradient", file: file, line: line)
        }
        XCTAssertLessThan((diff2 / max(num2, 1e-12)).squareRoot(), loss == .mse ? 5e-3 : 1e-2, "relative gradient error", file: file, line: line)
    }

    // MARK: - Training forward against inference

    /// With every value its own forecast, training's forward pass (OpenBLAS) is inference's
    /// (the row-stable product) to float rounding.
    func testTrainingForwardAgreesWithInference() throws {
        for cell in CellKind.allCases {
            for config in [Self.decoderConfig(cell, layers: 2, hidden: 7), Self.feedbackConfig(cell, layers: 2, hidden: 7),
                           Self.headConfig(cell, layers: 2, hidden: 7), Self.headConfig(cell, layers: 1, hidden: 7, feedback: .output)] {
                let net = try RecurrentNetwork(config: config, seed: 5)
                var d = WindowData(config: config, steps: 6, batch: 2, masked: false, seed: 9)
                if config.feedback == .output { d.state.feedback = [0.3, -0.4] }
                let future = Self.future(config, steps: 6, batch: 2, seed: 10)
                let loss = Loss.pinball(quantiles: Self.quantiles)
                let l = try net.lossAndGradient(inputs: d.inputs, targets: d.targets, steps: 6, batch: 2, state: d.state, loss: loss,
                                                future: future, ownShare: 1)
                var s = d.state
                let y = try net.forward(inputs: d.inputs, steps: 6, state: &s, future: future)
                XCTAssertEqual(y.count, d.targets.count)
                XCTAssertEqual(l, loss.value(outputs: y, targets: d.targets), accuracy: 1e-9 + 1e-5 * l, "\(cell) \(config.summary)")
            }
        }
    }

    // MARK: - Stored state against a full read, pieces, batches

    /// The recurrent decoder's forecast from a stored encoder state (read in pieces, then
    /// `decode`) is the forecast of a full read decoding from every step, bit for bit.
    func testDecoderForecastFromStoredStateEqualsFullRead() throws {
        for cell in CellKind.allCases {
            let config = Self.decoderConfig(cell, layers: 2, hidden: 24)
            let net = try RecurrentNetwork(config: config, seed: 3)
            let steps = 70, width = config.horizon * config.decoderInputSize
            let d = WindowData(config: config, steps: steps, batch: 1, masked: false, seed: 4)
            let future = Self.future(config, steps: steps, batch: 1, seed: 6)!
            var whole = d.state
            let y = try net.forward(inputs: d.inputs, steps: steps, state: &whole, future: future)
            for cut in [1, 17, 69] {
                var pieces = d.state
                XCTAssertEqual(try net.forward(inputs: Array(d.inputs[..<(cut * 3)]), steps: cut, state: &pieces), [])
                _ = try net.forward(inputs: Array(d.inputs[(cut * 3)...]), steps: steps - cut, state: &pieces)
                XCTAssertEqual(pieces, whole, "\(cell), cut at \(cut)")
                let forecast = try net.decode(state: pieces, future: Array(future[((steps - 1) * width)...]))
                XCTAssertEqual(forecast, Array(y[((steps - 1) * config.outputSize)...]), "\(cell), cut at \(cut)")
                // From the stored state after the cut, decoding from every later step.
                var stored = d.state
                _ = try net.forward(inputs: Array(d.inputs[..<(cut * 3)]), steps: cut, state: &stored)
                let rest = try net.forward(inputs: Array(d.inputs[(cut * 3)...]), steps: steps - cut, state: &stored,
                                           future: Array(future[(cut * width)...]))
                XCTAssertEqual(rest, Array(y[(cut * config.outputSize)...]), "\(cell), cut at \(cut)")
            }
        }
    }

    /// Feedback: reading on from a saved state (which carries the fed-back forecast) equals a
    /// full read, outputs and state, bit for bit.
    func testFeedbackReadingOnFromStateEqualsFullRead() throws {
        for cell in CellKind.allCases {
            let config = Self.feedbackConfig(cell, layers: 2, hidden: 24)
            let net = try RecurrentNetwork(config: config, seed: 3)
            let steps = 300
            let d = WindowData(config: config, steps: steps, batch: 1, masked: false, seed: 4)
            var whole = d.state
            let y = try net.forward(inputs: d.inputs, steps: steps, state: &whole)
            XCTAssertEqual(whole.feedback, [y[(steps - 1) * config.outputSize + config.median]])
            for cut in [1, 3, 17, 256] {
                var pieces = d.state
                let first = try net.forward(inputs: Array(d.inputs[..<(cut * 3)]), steps: cut, state: &pieces)
                // Through the model format, as a saved state would be.
                let (loaded, saved) = try ModelFormat.decode(ModelFormat.encode(net, state: pieces), expecting: config)
                var restored = saved!
                XCTAssertEqual(restored, pieces)
                let rest = try loaded.forward(inputs: Array(d.inputs[(cut * 3)...]), steps: steps - cut, state: &restored)
                XCTAssertEqual(first + rest, y, "\(cell), cut at \(cut)")
                XCTAssertEqual(restored, whole, "\(cell), cut at \(cut)")
            }
        }
    }

    /// The dense head with future features: reading on from a saved state (through the model
    /// format; with feedback it carries the fed-back forecast, which read its step's future
    /// block) equals a full read, outputs and state, bit for bit; the future block matters.
    func testHeadFutureReadingOnFromStateEqualsFullRead() throws {
        for cell in CellKind.allCases {
            for feedback in FeedbackKind.allCases {
                let config = Self.headConfig(cell, layers: 2, hidden: 24, feedback: feedback)
                let net = try RecurrentNetwork(config: config, seed: 3)
                let steps = 300, width = config.futureWidth
                let d = WindowData(config: config, steps: steps, batch: 1, masked: false, seed: 4)
                let future = Self.future(config, steps: steps, batch: 1, seed: 6)!
                var whole = d.state
                let y = try net.forward(inputs: d.inputs, steps: steps, state: &whole, future: future)
                var other = d.state
                XCTAssertNotEqual(try net.forward(inputs: d.inputs, steps: steps, state: &other, future: future.map { -$0 }), y)
                for cut in [1, 17, 256] {
                    var pieces = d.state
                    let first = try net.forward(inputs: Array(d.inputs[..<(cut * 3)]), steps: cut, state: &pieces,
                                                future: Array(future[..<(cut * width)]))
                    let (loaded, saved) = try ModelFormat.decode(ModelFormat.encode(net, state: pieces), expecting: config)
                    var restored = saved!
                    let rest = try loaded.forward(inputs: Array(d.inputs[(cut * 3)...]), steps: steps - cut, state: &restored,
                                                  future: Array(future[(cut * width)...]))
                    XCTAssertEqual(first + rest, y, "\(cell) \(feedback), cut at \(cut)")
                    XCTAssertEqual(restored, whole, "\(cell) \(feedback), cut at \(cut)")
                }
            }
        }
    }

    /// Batched reads (many sequences, carried states, states handed back) equal batch-1 reads
    /// bit for bit, for both designs and the head with future features.
    func testBatchedReadEqualsBatchOne() throws {
        for cell in CellKind.allCases {
            for config in [Self.decoderConfig(cell, layers: 2, hidden: 9), Self.feedbackConfig(cell, layers: 2, hidden: 9),
                           Self.headConfig(cell, layers: 2, hidden: 9), Self.headConfig(cell, layers: 1, hidden: 9, feedback: .output)] {
                let net = try RecurrentNetwork(config: config, seed: 5)
                var rng = SeededGenerator(seed: 9)
                let ins = config.inputSize, width = config.futureWidth
                let lengths = (0..<13).map { i in [1, 3, 40, 70][i % 4] + i }
                let inputs = lengths.map { n in (0..<(n * ins)).map { _ in 2 * rng.nextFloat() - 1 } }
                let futures = lengths.map { n in (0..<(n * width)).map { _ in 2 * rng.nextFloat() - 1 } }
                let initials: [RecurrentState?] = lengths.indices.map { i in
                    guard i % 3 == 1 else { return nil }
                    var s = RecurrentState(config: config, batch: 1)
                    for l in 0..<config.layers {
                        s.hidden[l] = s.hidden[l].map { _ in rng.nextFloat() - 0.5 }
                        if cell == .lstm { s.cell[l] = s.cell[l].map { _ in rng.nextFloat() - 0.5 } }
                    }
                    if config.feedback == .output { s.feedback = [rng.nextFloat() - 0.5] }
                    return s
                }
                let requests = lengths.indices.map { i in
                    ReadRequest(steps: lengths[i], keepFrom: i % 2 == 0 ? 0 : lengths[i] / 2,
                                stateAfter: (i * 7) % (lengths[i] + 1), initial: initials[i])
                }
                let recurrent = width > 0
                let expected = try requests.indices.map { i -> ([Float], RecurrentState?) in
                    let r = requests[i]
                    var state = r.initial ?? RecurrentState(config: config, batch: 1)
                    let y = try net.forward(inputs: inputs[i], steps: r.steps, state: &state, future: recurrent ? futures[i] : nil)
                    var s = r.initial ?? RecurrentState(config: config, batch: 1)
                    _ = try net.forward(inputs: Array(inputs[i][..<(r.stateAfter! * ins)]), steps: r.stateAfter!, state: &s,
                                        future: recurrent ? Array(futures[i][..<(r.stateAfter! * width)]) : nil)
                    return (Array(y[(r.keepFrom * config.outputSize)...]), s)
                }
                for (batch, threads, chunk) in [(1, 1, 64), (4, 2, 16), (16, 1, 50)] {
                    let data = inputs, fut = futures
                    var seen = 0
                    let readInputs: @Sendable (Int, Range<Int>) -> [Float] = { i, steps in
                        Array(data[i][(steps.lowerBound * ins)..<(steps.upperBound * ins)])
                    }
                    let readFuture: @Sendable (Int, Range<Int>) -> [Float] = { i, steps in
                        Array(fut[i][(steps.lowerBound * width)..<(steps.upperBound * width)])
                    }
                    net.read(requests, batch: batch, threads: threads, chunk: chunk, inputs: readInputs,
                             future: recurrent ? readFuture : nil) { (i: Int, result: ReadResult) in
                        seen += 1
                        XCTAssertEqual(result.outputs, expected[i].0, "\(cell) \(config.summary): sequence \(i), batch \(batch)")
                        XCTAssertEqual(result.state, expected[i].1, "\(cell) \(config.summary): state \(i), batch \(batch)")
                    }
                    XCTAssertEqual(seen, requests.count)
                }
            }
        }
    }

    /// `decode` over a batch of states gives each row the bits of its batch-1 decode.
    func testDecodeBatchEqualsBatchOne() throws {
        let config = Self.decoderConfig(.lstm, layers: 2, hidden: 16)
        let net = try RecurrentNetwork(config: config, seed: 2)
        let d = WindowData(config: config, steps: 1, batch: 9, masked: false, seed: 3)
        let future = Self.future(config, steps: 1, batch: 9, seed: 4)!
        let all = try net.decode(state: d.state, future: future)
        let width = config.horizon * config.decoderInputSize, o = config.outputSize, hs = config.hiddenSize
        for r in 0..<9 {
            let one = RecurrentState(batch: 1, hidden: d.state.hidden.map { Array($0[(r * hs)..<((r + 1) * hs)]) },
                                     cell: d.state.cell.map { Array($0[(r * hs)..<((r + 1) * hs)]) })
            XCTAssertEqual(try net.decode(state: one, future: Array(future[(r * width)..<((r + 1) * width)])), Array(all[(r * o)..<((r + 1) * o)]))
        }
    }

    // MARK: - Training

    /// Both designs train with the TBPTT trainer (threads, stride, a rising own share) and learn a
    /// noisy sine's next steps, with the same bits for the same seed.
    func testTrainerLearnsAndIsDeterministic() throws {
        for design in ["decoder", "feedback"] {
            func train() throws -> (first: Double, last: Double, weights: [Float]) {
                let h = 4, steps = 256, batch = 4
                var config = NetworkConfig(cell: .gru, inputSize: 2, hiddenSize: 12, layers: 1, outputSize: h * 3, horizon: h)
                if design == "decoder" { config.decoder = .recurrent; config.futureFeatures = 1 } else { config.feedback = .output }
                let net = try RecurrentNetwork(config: config, seed: 1)
                var rng = SeededGenerator(seed: 2)
                let series = (0..<(steps * batch + h + 1)).map { t in Float(sin(Double(t) * 0.3)) + 0.05 * (rng.nextFloat() - 0.5) }
                var inputs = [Float](), targets = [Float](), future = [Float]()
                for s in 0..<steps {
                    for r in 0..<batch {
                        let t = r * steps + s
                        inputs += [series[t], design == "feedback" ? 0 : 1]
                        for k in 0..<h { targets += Array(repeating: series[t + 1 + k], count: 3) }
                        for k in 0..<h { future += [k == 0 ? series[t] : 0, Float(sin(Double(t + 1 + k) * 0.3))] }
                    }
                }
                let data = try SequenceBatch(steps: steps, batch: batch, inputSize: 2, outputSize: h * 3, inputs: inputs,
                                             targets: targets, future: design == "decoder" ? future : nil)
                let trainer = try TBPTTTrainer(network: net, loss: .pinball(quantiles: Self.quantiles), optimizer: Adam(learningRate: 1e-2),
                                               k1: 32, batch: batch, threads: 2, seed: 3, decoderStride: 2)
                var losses: [Double] = []
                for epoch in 0..<12 {
                    trainer.ownShare = Float(epoch) / 12
                    losses.append(try trainer.trainEpoch(data).loss)
                }
                return (losses[0], losses.last!, net.parameters)
            }
            let a = try train(), b = try train()
            XCTAssertLessThan(a.last, 0.5 * a.first, "\(design) learns: \(a.first) → \(a.last)")
            XCTAssertEqual(a.weights, b.weights, "\(design): same seed, same bits")
        }
    }

    // MARK: - Configuration and format

    func testValidationNamesTheField() {
        func message(_ c: NetworkConfig) -> String {
            do { try c.validate(); return "" } catch { return "\(error)" }
        }
        let base = NetworkConfig(cell: .lstm, inputSize: 3, hiddenSize: 4, outputSize: 6, horizon: 2)
        var c = base; c.horizon = 4
        XCTAssertTrue(message(c).contains("horizon 4"), message(c))
        c = base; c.decoder = .recurrent; c.decoderLayers = 0
        XCTAssertTrue(message(c).contains("decoderLayers 0"), message(c))
        c = base; c.futureFeatures = -1
        XCTAssertTrue(message(c).contains("futureFeatures -1"), message(c))
        c = base; c.decoder = .recurrent; c.feedback = .output
        XCTAssertTrue(message(c).contains("feedback output needs decoder dense"), message(c))
        c = base; c.medianOutput = 3
        XCTAssertTrue(message(c).contains("medianOutput 3"), message(c))
        XCTAssertEqual(message(base), "")
    }

    /// A configuration encoded before the new fields existed decodes as the dense head without
    /// feedback, and one without them encodes as it did.
    func testOldConfigurationJSONDecodes() throws {
        let old = #"{"cell":"gru","inputSize":5,"hiddenSize":8,"layers":2,"outputSize":12,"dropout":0.25}"#
        let c = try JSONDecoder().decode(NetworkConfig.self, from: Data(old.utf8))
        XCTAssertEqual(c, NetworkConfig(cell: .gru, inputSize: 5, hiddenSize: 8, layers: 2, outputSize: 12, dropout: 0.25))
        XCTAssertEqual(c.decoder, .dense); XCTAssertEqual(c.feedback, .none); XCTAssertEqual(c.decoderDepth, 0)
        let encoder = JSONEncoder(); encoder.outputFormatting = .sortedKeys
        XCTAssertEqual(String(decoding: try encoder.encode(c), as: UTF8.self),
                       #"{"cell":"gru","dropout":0.25,"hiddenSize":8,"inputSize":5,"layers":2,"outputSize":12}"#)
        let newer = Self.decoderConfig(.lstm, layers: 2, decoderLayers: 1)
        XCTAssertEqual(try JSONDecoder().decode(NetworkConfig.self, from: encoder.encode(newer)), newer)
        let state = try JSONDecoder().decode(RecurrentState.self, from: Data(#"{"batch":1,"hidden":[[0.5]],"cell":[]}"#.utf8))
        XCTAssertEqual(state.feedback, [])
    }

    /// A blob written by the format before issue 13 (an LSTM 1→1×1→2 with a state, built by hand
    /// from the format's table) decodes, and encodes again to the same bytes.
    func testBlobOfTheFirstFormatDecodesUnchanged() throws {
        let hex = "4644524e0100010001000000010000000100000001000000020000000000000010000000000000000000003f000080be0000003e"
            + "0000803f0000403f000000bf0000803e000000be000000000000803f000000000000000000000040000080bf0000003f0000803e"
            + "010000000000c03e000020bf0afa6901"
        var bytes: [UInt8] = []
        var i = hex.startIndex
        while i < hex.endIndex {
            let j = hex.index(i, offsetBy: 2)
            bytes.append(UInt8(hex[i..<j], radix: 16)!)
            i = j
        }
        let (net, state) = try ModelFormat.decode(bytes)
        XCTAssertEqual(net.config, NetworkConfig(cell: .lstm, inputSize: 1, hiddenSize: 1, outputSize: 2))
        XCTAssertEqual(net.config.decoder, .dense)
        XCTAssertEqual(net.config.feedback, .none)
        XCTAssertEqual(net.parameters, [0.5, -0.25, 0.125, 1, 0.75, -0.5, 0.25, -0.125, 0, 1, 0, 0, 2, -1, 0.5, 0.25])
        XCTAssertEqual(state, RecurrentState(batch: 1, hidden: [[0.375]], cell: [[-0.625]]))
        XCTAssertEqual(ModelFormat.encode(net, state: state), bytes)
    }

    func testNewDesignsRoundTripThroughTheFormat() throws {
        for config in [Self.decoderConfig(.gru, layers: 2, decoderLayers: 3), Self.feedbackConfig(.lstm, layers: 1),
                       NetworkConfig(cell: .rnn, inputSize: 2, hiddenSize: 3, outputSize: 4, horizon: 2, medianOutput: 1)] {
            let net = try RecurrentNetwork(config: config, seed: 4)
            var state = RecurrentState(config: config, batch: 2)
            if config.feedback == .output { state.feedback = [0.25, -1.5] }
            let blob = ModelFormat.encode(net, state: state)
            let (loaded, loadedState) = try ModelFormat.decode(blob, expecting: config)
            XCTAssertEqual(loaded.config, config)
            XCTAssertEqual(loaded.parameters, net.parameters)
            XCTAssertEqual(loadedState, state)
            XCTAssertEqual(ModelFormat.encode(loaded, state: loadedState), blob)
            XCTAssertThrowsError(try ModelFormat.decode(Array(blob.dropLast())))
        }
    }
}
