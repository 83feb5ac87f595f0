import XCTest
@testable import NeuralNet

final class TBPTTTests: XCTestCase {
    /// A trainer whose updates leave the weights alone (SGD at rate 0, no clipping), so that
    /// `network.gradients` after an epoch is the raw gradient of its last update.
    func frozenTrainer(_ net: RecurrentNetwork, k1: Int, k2: Int? = nil, batch: Int, threads: Int = 1,
                       loss: Loss = .mse) throws -> TBPTTTrainer {
        try TBPTTTrainer(network: net, loss: loss, optimizer: SGD(learningRate: 0), k1: k1, k2: k2, batch: batch,
                         clipNorm: nil, threads: threads)
    }

    func slice(_ a: [Float], steps r: Range<Int>, width: Int) -> [Float] { Array(a[(r.lowerBound * width)..<(r.upperBound * width)]) }

    func assertClose(_ a: [Float], _ b: [Float], _ tol: Float = 1e-5, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        var worst: Float = 0
        for i in a.indices { worst = max(worst, abs(a[i] - b[i]) / max(1, abs(b[i]))) }
        XCTAssertLessThan(worst, tol, file: file, line: line)
    }

    func testFullWindowEqualsFullBPTT() throws {
        for cell in CellKind.allCases {
            let config = NetworkConfig(cell: cell, inputSize: 3, hiddenSize: 6, layers: 2, outputSize: 4)
            let (t, b) = (12, 4)
            let d = WindowData(config: config, steps: t, batch: b, masked: true, seed: 1)
            let net = try RecurrentNetwork(config: config, seed: 2)
            let data = try SequenceBatch(steps: t, batch: b, inputSize: 3, outputSize: 4, inputs: d.inputs, targets: d.targets, mask: d.mask)
            let stats = try frozenTrainer(net, k1: t, batch: b).trainEpoch(data)
            XCTAssertEqual(stats.updates, 1)
            let trained = net.gradients
            let reference = try RecurrentNetwork(config: config, seed: 2)
            let l = try reference.lossAndGradient(inputs: d.inputs, targets: d.targets, mask: d.mask, steps: t, batch: b, loss: .mse)
            XCTAssertEqual(stats.loss, l, accuracy: 1e-6 * l)
            XCTAssertEqual(trained, reference.gradients, "k1 = k2 = T must be full BPTT, bit for bit")
            // Two shards compute the same gradient up to summation order.
            let net2 = try RecurrentNetwork(config: config, seed: 2)
            try frozenTrainer(net2, k1: t, batch: b, threads: 2).trainEpoch(data)
            assertClose(net2.gradients, reference.gradients)
        }
    }

    /// k1 = k2 = k < T: the last update's gradient is that of the last chunk's loss with the state
    /// entering the chunk held constant, and differs from the gradient through the whole past.
    func testTruncatedGradientIsThatOfTheTruncatedGraph() throws {
        let config = NetworkConfig(cell: .lstm, inputSize: 2, hiddenSize: 5, outputSize: 3)
        let (k, t, b) = (4, 12, 2)
        let d = WindowData(config: config, steps: t, batch: b, masked: false, seed: 4)
        let net = try RecurrentNetwork(config: config, seed: 5)
        let data = try SequenceBatch(steps: t, batch: b, inputSize: 2, outputSize: 3, inputs: d.inputs, targets: d.targets)
        let trainer = try frozenTrainer(net, k1: k, batch: b)
        let stats = try trainer.trainEpoch(data)
        XCTAssertEqual(stats.updates, 3)
        let truncated = net.gradients

        // The state entering the last chunk, from a plain forward pass over the first 8 steps.
        var s8 = RecurrentState(config: config, batch: b)
        _ = try net.forward(inputs: slice(d.inputs, steps: 0..<8, width: b * 2), steps: 8, state: &s8)
        let lastX = slice(d.inputs, steps: 8..<12, width: b * 2), lastY = slice(d.targets, steps: 8..<12, width: b * 3)
        let ref = try RecurrentNetwork(config: config, seed: 5)
        try ref.lossAndGradient(inputs: lastX, targets: lastY, steps: k, batch: b, state: s8, loss: .mse)
        assertClose(truncated, ref.gradients, 1e-5)

        // Finite differences of that truncated objective (state fixed at s8) agree...
        var p = net.parameters
        func truncatedLoss() throws -> Double {
            try net.lossAndGradient(inputs: lastX, targets: lastY, steps: k, batch: b, state: s8, loss: .mse)
        }
        // ...while the full-graph gradient of the same loss (state depending on the weights) does not.
        let full = try RecurrentNetwork(config: config, seed: 5)
        var fullMask = [Float](repeating: 0, count: d.targets.count)
        for i in (8 * b * 3)..<fullMask.count { fullMask[i] = 1 }
        try full.lossAndGradient(inputs: d.inputs, targets: d.targets, mask: fullMask, steps: t, batch: b, loss: .mse)
        var differs = false
        for i in stride(from: 0, to: p.count, by: 7) {
            let saved = p[i], eps: Float = 4e-3
            p[i] = saved + eps; net.parameters = p; let lp = try truncatedLoss()
            p[i] = saved - eps; net.parameters = p; let lm = try truncatedLoss()
            p[i] = saved; net.parameters = p
            let numeric = Float((lp - lm) / Double(2 * eps))
            XCTAssertEqual(truncated[i], numeric, accuracy: 3e-4 + 2e-2 * abs(numeric))
            if abs(full.gradients[i] - truncated[i]) > 1e-4 { differs = true }
        }
        XCTAssertTrue(differs, "truncation should change the gradient of a recurrent weight")
    }

    /// k1 < k2: windows overlap; the last update's window is [T − k2, T) from the stored state at
    /// its start, scoring only its last k1 steps.
    func testOverlappingWindows() throws {
        for cell in CellKind.allCases {
            let config = NetworkConfig(cell: cell, inputSize: 2, hiddenSize: 4, layers: 2, outputSize: 2)
            let (t, b) = (9, 3)
            let d = WindowData(config: config, steps: t, batch: b, masked: true, seed: 8)
            let net = try RecurrentNetwork(config: config, seed: 9)
            let data = try SequenceBatch(steps: t, batch: b, inputSize: 2, outputSize: 2, inputs: d.inputs, targets: d.targets, mask: d.mask)
            let trainer = try frozenTrainer(net, k1: 2, k2: 5, batch: b)
            let stats = try trainer.trainEpoch(data)
            XCTAssertEqual(stats.updates, 5)
            // Windows: [0,2) [0,4) [1,6) [3,8) [4,9); the last scores step 8 only.
            var s4 = RecurrentState(config: config, batch: b)
            _ = try net.forward(inputs: slice(d.inputs, steps: 0..<4, width: b * 2), steps: 4, state: &s4)
            let ref = try RecurrentNetwork(config: config, seed: 9)
            try ref.lossAndGradient(inputs: slice(d.inputs, steps: 4..<9, width: b * 2),
                                    targets: slice(d.targets, steps: 4..<9, width: b * 2),
                                    mask: slice(d.mask!, steps: 4..<9, width: b * 2),
                                    steps: 5, batch: b, state: s4, loss: .mse, lossFromStep: 4)
            assertClose(net.gradients, ref.gradients, 1e-5)
            // Every target is scored exactly once: the epoch loss is the loss of the whole sequence.
            var s0 = RecurrentState(config: config, batch: b)
            let y = try net.forward(inputs: d.inputs, steps: t, state: &s0)
            XCTAssertEqual(stats.loss, Loss.mse.value(outputs: y, targets: d.targets, mask: d.mask), accuracy: 1e-5)
        }
    }

    func testHiddenStateCarriesAcrossChunks() throws {
        for cell in CellKind.allCases {
            let config = NetworkConfig(cell: cell, inputSize: 3, hiddenSize: 5, layers: 2, outputSize: 2)
            let (t, b) = (10, 2)
            let d = WindowData(config: config, steps: t, batch: b, masked: false, seed: 3)
            let net = try RecurrentNetwork(config: config, seed: 1)
            var whole = RecurrentState(config: config, batch: b)
            let yWhole = try net.forward(inputs: d.inputs, steps: t, state: &whole)
            var parts = RecurrentState(config: config, batch: b)
            var yParts: [Float] = []
            for r in [0..<3, 3..<4, 4..<10] {
                yParts += try net.forward(inputs: slice(d.inputs, steps: r, width: b * 3), steps: r.count, state: &parts)
            }
            assertClose(yParts, yWhole, 1e-6)
            assertClose(parts.hidden.flatMap { $0 }, whole.hidden.flatMap { $0 }, 1e-6)
            // The trainer carries the same state from chunk to chunk (weights frozen).
            let data = try SequenceBatch(steps: t, batch: b, inputSize: 3, outputSize: 2, inputs: d.inputs, targets: d.targets)
            let trainer = try frozenTrainer(net, k1: 3, batch: b, threads: 2)
            try trainer.trainEpoch(data)
            assertClose(trainer.state.hidden.flatMap { $0 }, whole.hidden.flatMap { $0 }, 1e-6)
            assertClose(trainer.state.cell.flatMap { $0 }, whole.cell.flatMap { $0 }, 1e-6)
            // Stepwise prediction gives the same outputs as the sequence forward.
            var stepState = RecurrentState(config: config, batch: b)
            var yStep: [Float] = []
            for s in 0..<t { yStep += try net.predict(inputs: slice(d.inputs, steps: s..<(s + 1), width: b * 3), state: &stepState) }
            assertClose(yStep, yWhole, 1e-6)
        }
    }

    /// Polyak averaging: the first update's weights, then β·average + (1 − β)·weights after each
    /// later one; the weights themselves train as without it.
    func testAveragedWeightsAreTheMovingAverageOfTheUpdates() throws {
        let config = NetworkConfig(cell: .lstm, inputSize: 3, hiddenSize: 4, layers: 1, outputSize: 2)
        let (t, b) = (6, 2)
        let d = WindowData(config: config, steps: t, batch: b, masked: false, seed: 4)
        let data = try SequenceBatch(steps: t, batch: b, inputSize: 3, outputSize: 2, inputs: d.inputs, targets: d.targets)
        let net = try RecurrentNetwork(config: config, seed: 5)
        let trainer = try TBPTTTrainer(network: net, optimizer: Adam(learningRate: 0.01), k1: t, batch: b)
        trainer.averaging = 0.75
        XCTAssertNil(trainer.averaged)
        var weights: [[Float]] = []
        for _ in 0..<3 {
            try trainer.trainEpoch(data)  // one update each (k1 = T)
            weights.append(net.parameters)
        }
        var expected = weights[0]
        for w in weights.dropFirst() { expected = zip(expected, w).map { 0.75 * $0 + 0.25 * $1 } }
        assertClose(try XCTUnwrap(trainer.averaged), expected, 1e-6)
        XCTAssertNotEqual(trainer.averaged, weights[2], "the average lags the last update")
        // Without averaging the same updates give the same weights.
        let plain = try RecurrentNetwork(config: config, seed: 5)
        let plainTrainer = try TBPTTTrainer(network: plain, optimizer: Adam(learningRate: 0.01), k1: t, batch: b)
        for _ in 0..<3 { try plainTrainer.trainEpoch(data) }
        XCTAssertEqual(plain.parameters, weights[2])
        XCTAssertNil(plainTrainer.averaged)
    }

    func testBatchify() throws {
        // One series 0...7 cut into 2 segments: [0,1,2,3] and [4,5,6,7], side by side.
        let xs: [Float] = (0..<8).map(Float.init)
        let b = try SequenceBatch.batchify(length: 8, batch: 2, inputSize: 1, outputSize: 1, inputs: xs, targets: xs)
        XCTAssertEqual(b.steps, 4)
        XCTAssertEqual(b.inputs, [0, 4, 1, 5, 2, 6, 3, 7])
        XCTAssertThrowsError(try SequenceBatch(steps: 3, batch: 2, inputSize: 1, outputSize: 1, inputs: [1], targets: [1]))
    }

    func testLearningRateSchedule() {
        let warm = LearningRateSchedule(warmupSteps: 4, decay: .step(every: 10, factor: 0.5))
        XCTAssertEqual(warm.factor(at: 0), 0.25)
        XCTAssertEqual(warm.factor(at: 3), 1)
        XCTAssertEqual(warm.factor(at: 13), 1)
        XCTAssertEqual(warm.factor(at: 14), 0.5)
        let cos = LearningRateSchedule(decay: .cosine(totalSteps: 100, minimumFactor: 0.1))
        XCTAssertEqual(cos.factor(at: 0), 1, accuracy: 1e-6)
        XCTAssertEqual(cos.factor(at: 50), 0.55, accuracy: 1e-6)
        XCTAssertEqual(cos.factor(at: 500), 0.1, accuracy: 1e-6)
        XCTAssertEqual(LearningRateSchedule(decay: .exponential(gamma: 0.5)).factor(at: 3), 0.125)
    }

    func testAdamMatchesReferenceStep() {
        // One step from zero moments moves each parameter by ~lr against the gradient sign.
        let adam = Adam(learningRate: 0.1)
        var p: [Float] = [1, -2, 3]
        let g: [Float] = [0.5, -4, 1e-3]
        p.withUnsafeMutableBufferPointer { pb in g.withUnsafeBufferPointer { adam.update(parameters: pb.baseAddress!, gradients: $0.baseAddress!, count: 3) } }
        XCTAssertEqual(p[0], 0.9, accuracy: 1e-5)
        XCTAssertEqual(p[1], -1.9, accuracy: 1e-5)
        XCTAssertEqual(p[2], 2.9, accuracy: 1e-4)
        let sgd = SGD(learningRate: 0.1, momentum: 0.9)
        var q: [Float] = [1]
        for _ in 0..<2 { q.withUnsafeMutableBufferPointer { qb in [Float(1)].withUnsafeBufferPointer { sgd.update(parameters: qb.baseAddress!, gradients: $0.baseAddress!, count: 1) } } }
        XCTAssertEqual(q[0], 1 - 0.1 - 0.19, accuracy: 1e-6)
    }
}
