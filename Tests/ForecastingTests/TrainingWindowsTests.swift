import NeuralNet
import XCTest
@testable import Forecasting

/// Training lays out each TBPTT window straight from the series (`SegmentWindows`) instead of
/// a whole batch of segments: any window and any shard of rows must hold exactly what the whole
/// layout holds there, and training on it must give the weights a materialised batch gives.
final class TrainingWindowsTests: XCTestCase {
    /// Five series of different lengths (one with a gap) cut into segments, laid out as a batch
    /// of 8 rows, so that rows are short, long and missing.
    func windows() throws -> RecurrentForecaster.SegmentWindows {
        var settings = smallForecasterSettings()
        settings.horizon = 6
        settings.lags = 24
        settings.context = 12
        settings.tbpttK1 = 5
        settings.tbpttK2 = 5
        settings.batchSize = 8
        settings.season = 24
        settings.base = .seasonal
        let series = (0..<5).map { i in syntheticHourlySeries(key: "s\(i)", days: 4 + i, seed: UInt64(i + 3), gapAt: i == 2 ? 40 : nil) }
        let prepared = try series.map { s in
            PreparedSeries(s, scaler: try XCTUnwrap(RobustScaler(fitting: s.values.filter(\.isFinite))), trainEnd: s.count - 12)
        }
        let layout = FeatureLayout(grid: series[0].grid, settings: settings)
        let segments = RecurrentForecaster.trainingSegments(prepared, settings: settings)
        XCTAssertGreaterThan(segments.count, 4)
        return RecurrentForecaster.SegmentWindows(Array(segments.prefix(6)), batch: 8, prepared: prepared, layout: layout, settings: settings)
    }

    /// The window `steps` of rows `rows`, filled into buffers that held garbage before.
    func fill(_ data: some TrainingSequence, steps: Range<Int>, rows: Range<Int>) -> (inputs: [Float], targets: [Float], mask: [Float]) {
        let slots = steps.count * rows.count
        var inputs = [Float](repeating: .nan, count: slots * data.inputSize)
        var targets = [Float](repeating: -7, count: slots * data.outputSize)
        var mask = [Float](repeating: 3, count: slots * data.outputSize)
        var future: [Float] = [.nan]
        inputs.withUnsafeMutableBufferPointer { x in targets.withUnsafeMutableBufferPointer { y in
            mask.withUnsafeMutableBufferPointer { m in future.withUnsafeMutableBufferPointer { f in
                data.fill(WindowBuffers(inputs: x.baseAddress!, targets: y.baseAddress!, mask: m.baseAddress!, future: f.baseAddress!),
                          steps: steps, rows: rows)
            }}
        }}
        return (inputs, targets, mask)
    }

    func testAnyWindowOfAnyShardHoldsWhatTheWholeLayoutHoldsThere() throws {
        let data = try windows()
        let whole = fill(data, steps: 0..<data.steps, rows: 0..<data.batch)
        XCTAssertFalse(whole.inputs.contains { $0.isNaN }, "every input slot is written")
        XCTAssertTrue(whole.mask.allSatisfy { $0 == 0 || $0 == 1 })
        XCTAssertTrue(zip(whole.targets, whole.mask).allSatisfy { $1 == 1 || $0 == 0 }, "unscored targets are 0")
        for row in 6..<8 {  // missing rows: masked zeros
            for t in 0..<data.steps {
                XCTAssertEqual(whole.mask[((t * 8 + row) * data.outputSize)..<((t * 8 + row + 1) * data.outputSize)].reduce(0, +), 0)
                XCTAssertTrue(whole.inputs[((t * 8 + row) * data.inputSize)..<((t * 8 + row + 1) * data.inputSize)].allSatisfy { $0 == 0 })
            }
        }
        // A scored step's target is the residual of the actual value on the base.
        let segment = data.segments[1], s = data.prepared[segment.series], t = segment.scoredFrom + 2
        let at = ((t - segment.start) * 8 + 1) * data.outputSize
        XCTAssertEqual(whole.targets[at + 3 * data.quantiles],
                       Float(s.scaled[t + 4] - s.base(.seasonal, at: t, ahead: 4, season: 24)))
        XCTAssertEqual(whole.mask[at + 3 * data.quantiles], 1)

        for window in [0..<5, 5..<10, 3..<4, (data.steps - 5)..<data.steps] {
            for rows in [0..<3, 3..<8, 5..<6] {
                let part = fill(data, steps: window, rows: rows)
                for (i, t) in window.enumerated() {
                    for (j, row) in rows.enumerated() {
                        func same(_ a: [Float], _ b: [Float], _ w: Int, _ what: String) {
                            XCTAssertEqual(a[((i * rows.count + j) * w)..<((i * rows.count + j + 1) * w)],
                                           b[((t * 8 + row) * w)..<((t * 8 + row + 1) * w)], "\(what) of step \(t), row \(row)")
                        }
                        same(part.inputs, whole.inputs, data.inputSize, "inputs")
                        same(part.targets, whole.targets, data.outputSize, "targets")
                        same(part.mask, whole.mask, data.outputSize, "mask")
                    }
                }
            }
        }
    }

    func testTrainingWindowByWindowEqualsTrainingOnTheMaterialisedBatch() throws {
        let data = try windows()
        let whole = fill(data, steps: 0..<data.steps, rows: 0..<data.batch)
        let batch = try SequenceBatch(steps: data.steps, batch: data.batch, inputSize: data.inputSize, outputSize: data.outputSize,
                                      inputs: whole.inputs, targets: whole.targets, mask: whole.mask)
        func trained(_ sequence: some TrainingSequence) throws -> [Float] {
            let config = NetworkConfig(cell: .lstm, inputSize: data.inputSize, hiddenSize: 8, layers: 1, outputSize: data.outputSize)
            let network = try RecurrentNetwork(config: config, seed: 5)
            let trainer = try TBPTTTrainer(network: network, loss: .pinball(quantiles: [0.1, 0.5, 0.9]), optimizer: Adam(learningRate: 0.01),
                                           k1: 5, batch: data.batch, threads: 2, seed: 9)
            for _ in 0..<2 { try trainer.trainEpoch(sequence) }
            return network.parameters
        }
        XCTAssertEqual(try trained(data), try trained(batch))
    }
}
