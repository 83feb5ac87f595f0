import XCTest
@testable import NeuralNet

final class ModelFormatTests: XCTestCase {
    func trainedModel(_ cell: CellKind) throws -> (RecurrentNetwork, RecurrentState, [Float]) {
        let config = NetworkConfig(cell: cell, inputSize: 3, hiddenSize: 9, layers: 2, outputSize: 4, dropout: 0.1)
        let net = try RecurrentNetwork(config: config, seed: 21)
        let d = WindowData(config: config, steps: 16, batch: 2, masked: true, seed: 22)
        let data = try SequenceBatch(steps: 16, batch: 2, inputSize: 3, outputSize: 4, inputs: d.inputs, targets: d.targets, mask: d.mask)
        let trainer = try TBPTTTrainer(network: net, optimizer: Adam(learningRate: 1e-2), k1: 8, batch: 2)
        for _ in 0..<3 { try trainer.trainEpoch(data) }
        return (net, trainer.state, d.inputs)
    }

    func testRoundTripReproducesOutputsBitForBit() throws {
        for cell in CellKind.allCases {
            let (net, state, inputs) = try trainedModel(cell)
            let blob = ModelFormat.encode(net, state: state)
            let (loaded, loadedState) = try ModelFormat.decode(blob, expecting: net.config)
            XCTAssertEqual(loaded.config, net.config)
            XCTAssertEqual(loadedState, state)
            XCTAssertEqual(loaded.parameters.map(\.bitPattern), net.parameters.map(\.bitPattern))
            var s1 = state, s2 = loadedState!
            let y1 = try net.forward(inputs: inputs, steps: 16, state: &s1)
            let y2 = try loaded.forward(inputs: inputs, steps: 16, state: &s2)
            XCTAssertEqual(y1.map(\.bitPattern), y2.map(\.bitPattern))
            XCTAssertEqual(ModelFormat.encode(loaded, state: loadedState), blob)
            // Without a state.
            let (again, none) = try ModelFormat.decode(ModelFormat.encode(net))
            XCTAssertNil(none)
            XCTAssertEqual(again.parameters, net.parameters)
        }
    }

    func testTruncatedBlobsAreRejected() throws {
        let (net, state, _) = try trainedModel(.lstm)
        let blob = ModelFormat.encode(net, state: state)
        for n in Array(0..<64) + stride(from: 64, to: blob.count, by: 97).map({ $0 }) + [blob.count - 1] {
            XCTAssertThrowsError(try ModelFormat.decode(Array(blob[0..<n]))) { e in
                guard let e = e as? ModelFormatError else { return XCTFail("\(e)") }
                switch e {
                case .truncated, .checksumMismatch, .badMagic: break
                default: XCTFail("length \(n): \(e)")
                }
            }
        }
        XCTAssertThrowsError(try ModelFormat.decode(blob + [0])) { XCTAssertEqual($0 as? ModelFormatError, .trailingBytes(1)) }
    }

    func testCorruptBlobsAreRejected() throws {
        let (net, state, _) = try trainedModel(.gru)
        let blob = ModelFormat.encode(net, state: state)
        var rng = SeededGenerator(seed: 3)
        for _ in 0..<200 {
            var bad = blob
            let i = Int(rng.next() % UInt64(blob.count))
            bad[i] ^= UInt8(1 + rng.next() % 255)
            XCTAssertThrowsError(try ModelFormat.decode(bad), "byte \(i)")
        }
        var flipped = blob
        flipped[100] ^= 0x10
        XCTAssertThrowsError(try ModelFormat.decode(flipped)) { e in
            guard case .checksumMismatch = e as? ModelFormatError else { return XCTFail("\(e)") }
        }
        var magic = blob
        magic[0] = UInt8(ascii: "X")
        XCTAssertThrowsError(try ModelFormat.decode(magic)) { XCTAssertEqual($0 as? ModelFormatError, .badMagic) }
        // Random garbage of every small length never crashes.
        for n in 0..<300 {
            XCTAssertThrowsError(try ModelFormat.decode((0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }))
        }
    }

    /// Blobs whose checksum is right but whose content does not fit.
    func testMismatchedBlobsAreRejected() throws {
        let (net, _, _) = try trainedModel(.lstm)
        let blob = ModelFormat.encode(net)
        func resealed(_ edit: (inout [UInt8]) -> Void) -> [UInt8] {
            var b = Array(blob.dropLast(4))
            edit(&b)
            let c = crc32(b[...])
            return b + [UInt8(c & 0xFF), UInt8(c >> 8 & 0xFF), UInt8(c >> 16 & 0xFF), UInt8(c >> 24)]
        }
        XCTAssertThrowsError(try ModelFormat.decode(resealed { $0[4] = 9 })) {
            XCTAssertEqual($0 as? ModelFormatError, .unsupportedVersion(9))
        }
        XCTAssertThrowsError(try ModelFormat.decode(resealed { $0[16] = 10 })) { e in   // hidden 9 → 10
            guard case .parameterCountMismatch = e as? ModelFormatError else { return XCTFail("\(e)") }
        }
        XCTAssertThrowsError(try ModelFormat.decode(resealed { $0[8] = 7 })) { e in     // unknown cell
            guard case .invalidArchitecture = e as? ModelFormatError else { return XCTFail("\(e)") }
        }
        XCTAssertThrowsError(try ModelFormat.decode(resealed { $0[20] = 0 })) { e in    // 0 layers
            guard case .invalidArchitecture = e as? ModelFormatError else { return XCTFail("\(e)") }
        }
        var other = net.config
        other.hiddenSize = 16
        XCTAssertThrowsError(try ModelFormat.decode(blob, expecting: other)) { e in
            guard case .architectureMismatch = e as? ModelFormatError else { return XCTFail("\(e)") }
        }
        XCTAssertTrue("\(ModelFormatError.truncated(needed: 10, available: 3))".contains("truncated"))
    }
}
