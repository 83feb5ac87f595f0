import NeuralNet
import XCTest

/// Batched inference (`RecurrentNetwork.read`) against the batch-1 path, to the bit: what lets
/// validation, calibration, backtests and forecasts read many series at once without changing
/// a single forecast.
final class BatchedReadTests: XCTestCase {
    func testBatchedReadEqualsBatchOneBitForBit() throws {
        for cell in CellKind.allCases {
            for hidden in [7, 24, 40] {
                let config = NetworkConfig(cell: cell, inputSize: 11, hiddenSize: hidden, layers: hidden == 24 ? 2 : 1, outputSize: 12)
                let net = try RecurrentNetwork(config: config, seed: 5)
                var rng = SeededGenerator(seed: 9)
                // Sequences of different lengths, some from a carried state, some handing one back.
                let lengths = (0..<29).map { i in [1, 3, 40, 70, 90][i % 5] + i }
                let inputs = lengths.map { n in (0..<(n * 11)).map { _ in 2 * rng.nextFloat() - 1 } }
                let initials: [RecurrentState?] = lengths.indices.map { i in
                    guard i % 3 == 1 else { return nil }
                    var s = RecurrentState(config: config, batch: 1)
                    for l in 0..<config.layers {
                        s.hidden[l] = (0..<hidden).map { _ in rng.nextFloat() - 0.5 }
                        if cell == .lstm { s.cell[l] = (0..<hidden).map { _ in rng.nextFloat() - 0.5 } }
                    }
                    return s
                }
                let requests = lengths.indices.map { i in
                    ReadRequest(steps: lengths[i], keepFrom: i % 2 == 0 ? 0 : lengths[i] / 2,
                                stateAfter: i % 4 == 3 ? nil : (i * 7) % (lengths[i] + 1), initial: initials[i])
                }
                // The batch-1 path: each sequence alone, and alone up to the state it hands back.
                let expected = try requests.indices.map { i -> ([Float], RecurrentState?) in
                    let r = requests[i]
                    var state = r.initial ?? RecurrentState(config: config, batch: 1)
                    let y = try net.forward(inputs: inputs[i], steps: r.steps, state: &state)
                    var split: RecurrentState?
                    if let after = r.stateAfter {
                        var s = r.initial ?? RecurrentState(config: config, batch: 1)
                        _ = try net.forward(inputs: Array(inputs[i][..<(after * 11)]), steps: after, state: &s)
                        split = s
                    }
                    return (Array(y[(r.keepFrom * 12)...]), split)
                }
                for (batch, threads, chunk) in [(1, 1, 64), (4, 1, 16), (16, 2, 64), (64, 3, 50)] {
                    let data = inputs
                    var seen = 0
                    net.read(requests, batch: batch, threads: threads, chunk: chunk,
                             inputs: { i, steps in Array(data[i][(steps.lowerBound * 11)..<(steps.upperBound * 11)]) }) { i, result in
                        XCTAssertEqual(i, seen, "results come in request order")
                        seen += 1
                        XCTAssertEqual(result.outputs, expected[i].0, "\(cell) \(hidden): sequence \(i), batch \(batch)")
                        XCTAssertEqual(result.state, expected[i].1, "\(cell) \(hidden): state of sequence \(i), batch \(batch)")
                    }
                    XCTAssertEqual(seen, requests.count)
                }
            }
        }
    }

    /// The inference product gives each row the bits it gets alone, whatever the row count.
    func testRowStableProductRowsDoNotDependOnTheBatch() throws {
        let config = NetworkConfig(cell: .lstm, inputSize: 30, hiddenSize: 64, outputSize: 72)
        let net = try RecurrentNetwork(config: config, seed: 1)
        var rng = SeededGenerator(seed: 2)
        let batch = 13
        let x = (0..<(batch * 30)).map { _ in 2 * rng.nextFloat() - 1 }
        var all = RecurrentState(config: config, batch: batch)
        let y = try net.forward(inputs: x, steps: 1, state: &all)
        for r in 0..<batch {
            var one = RecurrentState(config: config, batch: 1)
            let yr = try net.forward(inputs: Array(x[(r * 30)..<((r + 1) * 30)]), steps: 1, state: &one)
            XCTAssertEqual(yr, Array(y[(r * 72)..<((r + 1) * 72)]), "row \(r)")
        }
    }
}
