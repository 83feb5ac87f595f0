import XCTest
@testable import NeuralNet

final class GradientCheckTests: XCTestCase {
    func testEveryCellMSEWithMask() throws {
        for cell in CellKind.allCases {
            // hidden 5 exercises the partial SIMD lanes, hidden 9 a full block plus a tail.
            for hidden in [5, 9] {
                try assertGradientMatchesFiniteDifferences(
                    NetworkConfig(cell: cell, inputSize: 3, hiddenSize: hidden, outputSize: 4))
            }
        }
    }

    func testEveryCellWithoutMask() throws {
        for cell in CellKind.allCases {
            try assertGradientMatchesFiniteDifferences(
                NetworkConfig(cell: cell, inputSize: 2, hiddenSize: 4, outputSize: 3), masked: false, seed: 3)
        }
    }

    /// Hidden sizes from `transposedRecurrentMinHidden` up take the transposed-W_hh path backward.
    func testWideHiddenPath() throws {
        XCTAssertLessThanOrEqual(transposedRecurrentMinHidden, 48)
        for cell in CellKind.allCases {
            try assertGradientMatchesFiniteDifferences(
                NetworkConfig(cell: cell, inputSize: 2, hiddenSize: 48, outputSize: 2), steps: 4, batch: 2, stride: 53)
        }
    }

    /// Per-step products above OpenBLAS's small-matrix size are cut into column blocks.
    func testSplitProductsMatchWholeProducts() {
        var rng = SeededGenerator(seed: 5)
        for (m, n, k, transB) in [(64, 512, 134, false), (64, 128, 512, false), (120, 160, 60, true)] {
            XCTAssertGreaterThan(m * n * k, smallProductLimit)
            let a = (0..<(m * k)).map { _ in rng.nextFloat() - 0.5 }
            let b = (0..<(k * n)).map { _ in rng.nextFloat() - 0.5 }
            var whole = [Float](repeating: 1, count: m * n), split = whole
            let ldb = transB ? k : n
            a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in
                whole.withUnsafeMutableBufferPointer { gemm(false, transB, m, n, k, 1, ap.baseAddress!, k, bp.baseAddress!, ldb, 1, $0.baseAddress!, n) }
                split.withUnsafeMutableBufferPointer { stepGemm(transB: transB, m, n, k, ap.baseAddress!, k, bp.baseAddress!, ldb, 1, $0.baseAddress!, n) }
            } }
            for i in whole.indices { XCTAssertEqual(split[i], whole[i], accuracy: 1e-4) }
        }
    }

    func testPinballLossWithMask() throws {
        for cell in CellKind.allCases {
            try assertGradientMatchesFiniteDifferences(
                NetworkConfig(cell: cell, inputSize: 3, hiddenSize: 6, outputSize: 6),
                loss: .pinball(quantiles: [0.1, 0.5, 0.9]), seed: 11)
        }
    }

    func testStackedLayers() throws {
        for cell in CellKind.allCases {
            try assertGradientMatchesFiniteDifferences(
                NetworkConfig(cell: cell, inputSize: 3, hiddenSize: 5, layers: 3, outputSize: 2), steps: 4, batch: 2)
        }
    }

    func testStackedLayersWithDropout() throws {
        for cell in CellKind.allCases {
            try assertGradientMatchesFiniteDifferences(
                NetworkConfig(cell: cell, inputSize: 3, hiddenSize: 6, layers: 2, outputSize: 2, dropout: 0.3),
                steps: 4, batch: 2, dropoutSeed: 42)
        }
    }

    func testLossOnLaterStepsOnly() throws {
        // TBPTT windows with k2 > k1 score only their last k1 steps.
        try assertGradientMatchesFiniteDifferences(
            NetworkConfig(cell: .lstm, inputSize: 2, hiddenSize: 4, layers: 2, outputSize: 3),
            steps: 6, batch: 2, lossFromStep: 3)
    }

    func testFastMathAccuracy() {
        var worstTanh: Float = 0, worstSig: Float = 0, worstExp: Float = 0
        var x: Float = -12
        while x <= 12 {
            let t = Float(Foundation.tanh(Double(x)))
            worstTanh = max(worstTanh, abs(FastMath.tanh(x) - t) / max(abs(t), 1e-30))
            let s = Float(1 / (1 + Foundation.exp(-Double(x))))
            worstSig = max(worstSig, abs(FastMath.sigmoid(x) - s) / s)
            let e = Float(Foundation.exp(Double(x)))
            worstExp = max(worstExp, abs(FastMath.exp(x) - e) / e)
            x += 0.000_37
        }
        XCTAssertLessThan(worstTanh, 1e-6)
        XCTAssertLessThan(worstSig, 1e-6)
        XCTAssertLessThan(worstExp, 1e-6)
        XCTAssertEqual(FastMath.tanh(0), 0)
        XCTAssertEqual(FastMath.tanh(50), 1)
        XCTAssertEqual(FastMath.tanh(-50), -1)
        XCTAssertEqual(FastMath.sigmoid(-200), 0, accuracy: 1e-30)
    }

    func testTrainingForwardAgreesWithInference() throws {
        for cell in CellKind.allCases {
            let config = NetworkConfig(cell: cell, inputSize: 3, hiddenSize: 7, layers: 2, outputSize: 3)
            let net = try RecurrentNetwork(config: config, seed: 5)
            let d = WindowData(config: config, steps: 6, batch: 2, masked: false, seed: 9)
            let l = try net.lossAndGradient(inputs: d.inputs, targets: d.targets, steps: 6, batch: 2, state: d.state, loss: .mse)
            var s = d.state
            let y = try net.forward(inputs: d.inputs, steps: 6, state: &s)
            XCTAssertEqual(l, Loss.mse.value(outputs: y, targets: d.targets), accuracy: 1e-9 + 1e-6 * l)
        }
    }

    /// What a saved series state relies on: inference over a sequence in one call and in pieces
    /// of any length gives the same outputs and state, to the bit, whichever BLAS kernel the
    /// CPU gets (OpenBLAS rounds a row by how many rows share its product; inference runs one
    /// step at a time so that count never changes).
    func testInferenceInPiecesEqualsOnePassBitForBit() throws {
        for cell in CellKind.allCases {
            let config = NetworkConfig(cell: cell, inputSize: 5, hiddenSize: 24, layers: 2, outputSize: 12)
            let net = try RecurrentNetwork(config: config, seed: 3)
            let steps = 300
            let d = WindowData(config: config, steps: steps, batch: 1, masked: false, seed: 4)
            var whole = d.state
            let y = try net.forward(inputs: d.inputs, steps: steps, state: &whole)
            for cut in [1, 3, 17, 256] {
                var pieces = d.state
                let first = try net.forward(inputs: Array(d.inputs[..<(cut * 5)]), steps: cut, state: &pieces)
                let rest = try net.forward(inputs: Array(d.inputs[(cut * 5)...]), steps: steps - cut, state: &pieces)
                XCTAssertEqual(first + rest, y, "\(cell), cut at \(cut)")
                XCTAssertEqual(pieces.hidden, whole.hidden, "\(cell), cut at \(cut)")
            }
        }
    }
}

import Foundation
