import XCTest
@testable import NeuralNet

/// Training does what it should on small problems (kept small: these run in a debug build).
final class LearningTests: XCTestCase {
    /// A noisy sine wave, forecast 4 steps ahead at every step; scored against the clean wave.
    func testNoisySineIsForecastToLowError() throws {
        var rng = SeededGenerator(seed: 1)
        let period: Float = 16, horizon = 4, length = 8 * 160
        let clean = (0..<(length + horizon)).map { Foundation.sin(2 * Float.pi * Float($0) / period) }
        let noisy = clean.map { $0 + 0.1 * Float(rng.nextGaussian()) }
        var targets: [Float] = []
        for t in 0..<length { for h in 1...horizon { targets.append(noisy[t + h]) } }
        let data = try SequenceBatch.batchify(length: length, batch: 8, inputSize: 1, outputSize: horizon,
                                              inputs: Array(noisy[0..<length]), targets: targets)
        let net = try RecurrentNetwork(config: NetworkConfig(cell: .gru, inputSize: 1, hiddenSize: 12, outputSize: horizon), seed: 3)
        let trainer = try TBPTTTrainer(network: net, optimizer: Adam(learningRate: 1e-2), k1: 20, batch: 8)
        var first = 0.0, last = 0.0
        for epoch in 0..<25 {
            let s = try trainer.trainEpoch(data)
            if epoch == 0 { first = s.loss }
            last = s.loss
        }
        // Error against the clean future on a fresh stretch of the wave.
        var state = RecurrentState(config: net.config, batch: 1)
        let test = (0..<200).map { clean[$0 + 5] + 0.1 * Float(rng.nextGaussian()) }
        let y = try net.forward(inputs: test, steps: 200, state: &state)
        var se: Float = 0, n: Float = 0
        for t in 50..<190 { for h in 1...horizon { let d = y[t * horizon + h - 1] - clean[t + 5 + h]; se += d * d; n += 1 } }
        XCTAssertLessThan(last, first * 0.5)
        XCTAssertLessThan(se / n, 0.02, "MSE against the clean wave (signal variance 0.5)")
    }

    /// Remember a value shown at the first step, recall it `delay` steps later through noise.
    /// The LSTM's gated memory learns it; a tanh RNN with the same budget does not.
    func recallError(_ cell: CellKind, delay: Int, epochs: Int) throws -> Double {
        let env = ProcessInfo.processInfo.environment
        var rng = SeededGenerator(seed: UInt64(env["RECALL_SEED"] ?? "") ?? 1)
        let b = 32, t = delay + 1
        let config = NetworkConfig(cell: cell, inputSize: 2, hiddenSize: Int(env["RECALL_H"] ?? "") ?? 12, outputSize: 1)
        let net = try RecurrentNetwork(config: config, seed: UInt64(env["RECALL_SEED"] ?? "") ?? 1)
        let trainer = try TBPTTTrainer(network: net, optimizer: Adam(learningRate: Float(env["RECALL_LR"] ?? "") ?? 1e-2), k1: t, batch: b)
        func batch() throws -> SequenceBatch {
            var x = [Float](repeating: 0, count: t * b * 2), y = [Float](repeating: 0, count: t * b), m = y
            for s in 0..<b {
                // The marked step falls anywhere in the first half, so the network cannot rely on
                // timing: it has to latch the value when the marker shows and hold it.
                let at = Int(rng.next() % UInt64(t / 2))
                let v: Float = rng.nextFloat() < 0.5 ? -1 : 1
                for k in 0..<t { x[(k * b + s) * 2] = 2 * rng.nextFloat() - 1 }
                x[(at * b + s) * 2] = v; x[(at * b + s) * 2 + 1] = 1
                y[(t - 1) * b + s] = v; m[(t - 1) * b + s] = 1
            }
            return try SequenceBatch(steps: t, batch: b, inputSize: 2, outputSize: 1, inputs: x, targets: y, mask: m)
        }
        for _ in 0..<epochs { try trainer.trainEpoch(batch()) }
        var err = 0.0
        for _ in 0..<4 { err += try trainer.trainEpoch(batch()).loss }
        return err / 4
    }

    func testLSTMSolvesDelayedRecallThatRNNCannot() throws {
        let env = ProcessInfo.processInfo.environment
        let delay = Int(env["RECALL_DELAY"] ?? "") ?? 40, epochs = Int(env["RECALL_EPOCHS"] ?? "") ?? 100
        let lstm = try recallError(.lstm, delay: delay, epochs: epochs)
        let rnn = try recallError(.rnn, delay: delay, epochs: epochs)
        print("RECALL delay \(delay) epochs \(epochs): lstm \(lstm) rnn \(rnn)")
        XCTAssertLessThan(lstm, 0.1, "LSTM recall MSE (chance is 1)")
        XCTAssertGreaterThan(rnn, 0.5, "RNN recall MSE (chance is 1)")
    }

    func testClippingKeepsExplodingSetupFinite() throws {
        // Recurrent weights scaled far past the edge of chaos and a huge learning rate.
        let config = NetworkConfig(cell: .rnn, inputSize: 2, hiddenSize: 16, outputSize: 2)
        func run(clip: Float?) throws -> (TrainingStats, [Float]) {
            let net = try RecurrentNetwork(config: config, seed: 1)
            let whh = net.tensors.first { $0.name == "layer0.w_hh" }!
            net.withParameters { p in for i in whh.offset..<(whh.offset + whh.count) { p[i] *= 6 } }
            let d = WindowData(config: config, steps: 40, batch: 4, masked: false, seed: 2)
            let data = try SequenceBatch(steps: 40, batch: 4, inputSize: 2, outputSize: 2, inputs: d.inputs.map { $0 * 5 }, targets: d.targets.map { $0 * 100 })
            let trainer = try TBPTTTrainer(network: net, optimizer: SGD(learningRate: 0.5, momentum: 0.9), k1: 40, batch: 4, clipNorm: clip)
            var stats = try trainer.trainEpoch(data)
            for _ in 0..<20 { stats = try trainer.trainEpoch(data) }
            return (stats, net.parameters)
        }
        let (clipped, params) = try run(clip: 1)
        XCTAssertTrue(params.allSatisfy { $0.isFinite })
        XCTAssertTrue(clipped.loss.isFinite)
        XCTAssertGreaterThan(clipped.maxGradNorm, 10, "the setup does explode")
        // Without clipping the same setup diverges (or stops with an error).
        do {
            let (_, raw) = try run(clip: nil)
            let big = raw.map { abs($0) }.max()!
            XCTAssertGreaterThan(big, 1000 * params.map { abs($0) }.max()!)
        } catch is TrainingError {}
    }

    func testNaNInLossStopsTraining() throws {
        let config = NetworkConfig(cell: .lstm, inputSize: 2, hiddenSize: 4, outputSize: 2)
        let net = try RecurrentNetwork(config: config, seed: 1)
        let before = net.parameters
        let d = WindowData(config: config, steps: 8, batch: 2, masked: false, seed: 2)
        var targets = d.targets
        targets[17] = .nan
        let data = try SequenceBatch(steps: 8, batch: 2, inputSize: 2, outputSize: 2, inputs: d.inputs, targets: targets)
        let trainer = try TBPTTTrainer(network: net, optimizer: Adam(), k1: 4, batch: 2)
        XCTAssertThrowsError(try trainer.trainEpoch(data)) { error in
            guard case TrainingError.nonFiniteLoss(let update, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(update, 1)
        }
        XCTAssertEqual(trainer.updates, 1)
        // The same NaN behind a zero mask is a missing value, not an error.
        var mask = [Float](repeating: 1, count: targets.count)
        mask[17] = 0
        let masked = try SequenceBatch(steps: 8, batch: 2, inputSize: 2, outputSize: 2, inputs: d.inputs, targets: targets, mask: mask)
        let net2 = try RecurrentNetwork(config: config, seed: 1)
        XCTAssertEqual(net2.parameters, before)
        let s = try TBPTTTrainer(network: net2, optimizer: Adam(), k1: 4, batch: 2).trainEpoch(masked)
        XCTAssertTrue(s.loss.isFinite)
        XCTAssertTrue(net2.parameters.allSatisfy { $0.isFinite })
    }

    func testSameSeedGivesBitIdenticalWeights() throws {
        for threads in [1, 2] {
            func train() throws -> [UInt32] {
                let config = NetworkConfig(cell: .lstm, inputSize: 3, hiddenSize: 10, layers: 2, outputSize: 4, dropout: 0.2)
                let net = try RecurrentNetwork(config: config, seed: 77)
                let d = WindowData(config: config, steps: 30, batch: 6, masked: true, seed: 78)
                let data = try SequenceBatch(steps: 30, batch: 6, inputSize: 3, outputSize: 4, inputs: d.inputs, targets: d.targets, mask: d.mask)
                let trainer = try TBPTTTrainer(network: net, loss: .pinball(quantiles: [0.1, 0.5, 0.9, 0.99]),
                                               optimizer: Adam(learningRate: 3e-3, weightDecay: 1e-4), k1: 7, k2: 10,
                                               batch: 6, threads: threads, seed: 9)
                for _ in 0..<3 { try trainer.trainEpoch(data) }
                return net.parameters.map(\.bitPattern)
            }
            XCTAssertEqual(try train(), try train(), "threads \(threads)")
        }
        let a = try RecurrentNetwork(config: NetworkConfig(cell: .gru, inputSize: 2, hiddenSize: 8, outputSize: 1), seed: 1)
        let b = try RecurrentNetwork(config: NetworkConfig(cell: .gru, inputSize: 2, hiddenSize: 8, outputSize: 1), seed: 2)
        XCTAssertNotEqual(a.parameters, b.parameters)
    }

    func testInitialisation() throws {
        let net = try RecurrentNetwork(config: NetworkConfig(cell: .lstm, inputSize: 3, hiddenSize: 8, outputSize: 2), seed: 4)
        let p = net.parameters, h = 8, g = 32
        let whh = net.tensors.first { $0.name == "layer0.w_hh" }!
        // Each gate's recurrent block is orthogonal: QᵀQ = I.
        for gate in 0..<4 {
            for i in 0..<h { for j in 0..<h {
                var dot: Float = 0
                for r in 0..<h { dot += p[whh.offset + r * g + gate * h + i] * p[whh.offset + r * g + gate * h + j] }
                XCTAssertEqual(dot, i == j ? 1 : 0, accuracy: 1e-5)
            } }
        }
        let b = net.tensors.first { $0.name == "layer0.b_ih" }!
        XCTAssertEqual(Array(p[(b.offset + h)..<(b.offset + 2 * h)]), [Float](repeating: 1, count: h), "forget-gate bias 1")
        XCTAssertEqual(Array(p[b.offset..<(b.offset + h)]), [Float](repeating: 0, count: h))
        let wih = net.tensors.first { $0.name == "layer0.w_ih" }!
        let limit = (6.0 / Float(3 + h)).squareRoot()
        XCTAssertTrue(p[wih.offset..<(wih.offset + wih.count)].allSatisfy { abs($0) <= limit })
    }
}

import Foundation
