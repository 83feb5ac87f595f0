/// The versioned binary format of a trained network (stored in `models.weights`).
///
/// Little-endian throughout:
///
///     offset  size  field
///     0       4     magic "FDRN"
///     4       2     format version (1)
///     6       2     flags (bit 0: a recurrent state follows the weights; bit 1: the
///                   architecture block follows the header)
///     8       1     cell (0 rnn, 1 lstm, 2 gru)
///     9       3     reserved, zero
///     12      16    inputSize, hiddenSize, layers, outputSize (UInt32 each)
///     28      4     dropout (Float32 bits)
///     32      8     parameter count (UInt64)
///     40      24    if flag 1: decoder (0 dense, 1 recurrent), decoder layers (0: as the
///                   encoder), feedback (0 none, 1 output), horizon, future features, median
///                   output (0xFFFFFFFF: the middle one) (UInt32 each)
///     ...     4·P   parameters (Float32), in the network's flat order
///     ...           if flag 0: batch (UInt32), then per layer h [batch × hidden] and, for
///                   LSTM, per layer c [batch × hidden], and with feedback the fed-back
///                   forecast [batch] (Float32)
///     end−4   4     CRC-32 (IEEE) of every byte before it
///
/// A network without the recurrent decoder or feedback, and with horizon 1 and no median set,
/// is written without flag 1, byte for byte as before they existed, so every stored blob
/// decodes (and re-encodes) unchanged. A reader older than flag 1 refuses a blob that has it
/// ("unknown flags") rather than misreading it.
///
/// Decoding checks length, magic, version, checksum, then that the architecture is valid and
/// matches the parameter count, and throws a `ModelFormatError` rather than trapping.

public enum ModelFormatError: Error, Equatable, CustomStringConvertible {
    case truncated(needed: Int, available: Int)
    case badMagic
    case unsupportedVersion(Int)
    case checksumMismatch(stored: UInt32, computed: UInt32)
    case invalidArchitecture(String)
    case parameterCountMismatch(stored: Int, expected: Int)
    case trailingBytes(Int)
    case architectureMismatch(expected: NetworkConfig, found: NetworkConfig)

    public var description: String {
        switch self {
        case .truncated(let n, let a): return "model blob is truncated: needs \(n) bytes, has \(a)"
        case .badMagic: return "not a forecastd model blob (bad magic)"
        case .unsupportedVersion(let v): return "model format version \(v) is not supported (this build reads version \(ModelFormat.version))"
        case .checksumMismatch(let s, let c): return "model blob is corrupt: checksum \(hex(s)) stored, \(hex(c)) computed"
        case .invalidArchitecture(let s): return "model blob describes an invalid architecture: \(s)"
        case .parameterCountMismatch(let s, let e): return "model blob has \(s) parameters, its architecture needs \(e)"
        case .trailingBytes(let n): return "model blob has \(n) unexpected trailing bytes"
        case .architectureMismatch(let e, let f): return "model blob is a \(f.summary), expected \(e.summary)"
        }
    }
}

private func hex(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - s.count)) + s
}

public enum ModelFormat {
    public static let version = 1
    static let magic: [UInt8] = Array("FDRN".utf8)
    static let headerSize = 40
    static let architectureSize = 24
    private static let cellCodes: [CellKind] = [.rnn, .lstm, .gru]
    private static let decoderCodes: [DecoderKind] = [.dense, .recurrent]
    private static let feedbackCodes: [FeedbackKind] = [.none, .output]

    /// Whether `c` needs the architecture block (flag 1).
    static func extended(_ c: NetworkConfig) -> Bool {
        c.decoder != .dense || c.decoderLayers != nil || c.feedback != .none || c.horizon != 1
            || c.futureFeatures != 0 || c.medianOutput != nil
    }

    public static func encode(_ network: RecurrentNetwork, state: RecurrentState? = nil) -> [UInt8] {
        let c = network.config
        if let state { precondition(state.matches(c), "state does not fit the network") }
        var out: [UInt8] = []
        out.reserveCapacity(headerSize + 4 * network.parameterCount + 8)
        out += magic
        put16(&out, UInt16(version))
        let ext = extended(c)
        put16(&out, (state == nil ? 0 : 1) | (ext ? 2 : 0))
        out.append(UInt8(cellCodes.firstIndex(of: c.cell)!))
        out += [0, 0, 0]
        for v in [c.inputSize, c.hiddenSize, c.layers, c.outputSize] { put32(&out, UInt32(v)) }
        put32(&out, c.dropout.bitPattern)
        put64(&out, UInt64(network.parameterCount))
        if ext {
            for v in [decoderCodes.firstIndex(of: c.decoder)!, c.decoderLayers ?? 0, feedbackCodes.firstIndex(of: c.feedback)!,
                      c.horizon, c.futureFeatures] { put32(&out, UInt32(v)) }
            put32(&out, c.medianOutput.map { UInt32($0) } ?? 0xFFFF_FFFF)
        }
        network.withParameters { for v in $0 { put32(&out, v.bitPattern) } }
        if let state {
            put32(&out, UInt32(state.batch))
            for layer in state.hidden { for v in layer { put32(&out, v.bitPattern) } }
            for layer in state.cell { for v in layer { put32(&out, v.bitPattern) } }
            for v in state.feedback { put32(&out, v.bitPattern) }
        }
        put32(&out, crc32(out[...]))
        return out
    }

    /// Decodes a blob; with `expecting`, also rejects a network of another architecture.
    public static func decode(_ bytes: [UInt8], expecting: NetworkConfig? = nil) throws -> (network: RecurrentNetwork, state: RecurrentState?) {
        guard bytes.count >= headerSize + 4 else { throw ModelFormatError.truncated(needed: headerSize + 4, available: bytes.count) }
        guard Array(bytes[0..<4]) == magic else { throw ModelFormatError.badMagic }
        let v = Int(get16(bytes, 4))
        guard v == version else { throw ModelFormatError.unsupportedVersion(v) }
        let flags = get16(bytes, 6)
        let cellCode = Int(bytes[8])
        // Sizes are bounded before they are multiplied, so a hostile header cannot overflow.
        let sizes = (0..<4).map { Int(get32(bytes, 12 + 4 * $0)) }
        let dropout = Float(bitPattern: get32(bytes, 28))
        let storedCount = get64(bytes, 32)
        guard storedCount <= UInt64(Int32.max) else { throw ModelFormatError.invalidArchitecture("\(storedCount) parameters") }
        let p = Int(storedCount)
        let weightsAt = headerSize + (flags & 2 != 0 ? architectureSize : 0)
        guard bytes.count >= weightsAt + 4 else { throw ModelFormatError.truncated(needed: weightsAt + 4, available: bytes.count) }
        let arch = flags & 2 != 0 ? (0..<6).map { get32(bytes, headerSize + 4 * $0) } : [0, 0, 0, 1, 0, 0xFFFF_FFFF]
        let feedbackState = arch[2] == 1
        var needed = weightsAt + 4 * p + 4
        var batch = 0
        if flags & 1 != 0 {
            guard bytes.count >= weightsAt + 4 * p + 8 else { throw ModelFormatError.truncated(needed: weightsAt + 4 * p + 8, available: bytes.count) }
            batch = Int(get32(bytes, weightsAt + 4 * p))
            guard batch >= 1, batch <= 1 << 24, sizes[1] <= 1 << 20, sizes[2] <= 64 else {
                throw ModelFormatError.invalidArchitecture("state batch \(batch)")
            }
            let perLayer = batch * sizes[1]
            let arrays = sizes[2] * (cellCode == 1 ? 2 : 1)
            needed += 4 + 4 * perLayer * arrays + (feedbackState ? 4 * batch : 0)
        }
        guard bytes.count >= needed else { throw ModelFormatError.truncated(needed: needed, available: bytes.count) }
        guard bytes.count == needed else { throw ModelFormatError.trailingBytes(bytes.count - needed) }
        let stored = get32(bytes, needed - 4)
        let computed = crc32(bytes[0..<(needed - 4)])
        guard stored == computed else { throw ModelFormatError.checksumMismatch(stored: stored, computed: computed) }
        guard flags & ~3 == 0 else { throw ModelFormatError.invalidArchitecture("unknown flags \(flags)") }
        guard cellCode < cellCodes.count else { throw ModelFormatError.invalidArchitecture("cell code \(cellCode)") }
        guard arch[0] < decoderCodes.count else { throw ModelFormatError.invalidArchitecture("decoder code \(arch[0])") }
        guard arch[2] < feedbackCodes.count else { throw ModelFormatError.invalidArchitecture("feedback code \(arch[2])") }
        guard arch[1] <= 64, arch[3] <= 1 << 20, arch[4] <= 1 << 20, arch[5] == 0xFFFF_FFFF || arch[5] <= 1 << 20 else {
            throw ModelFormatError.invalidArchitecture("architecture block \(arch)")
        }
        let config = NetworkConfig(cell: cellCodes[cellCode], inputSize: sizes[0], hiddenSize: sizes[1],
                                   layers: sizes[2], outputSize: sizes[3], dropout: dropout,
                                   decoder: decoderCodes[Int(arch[0])], decoderLayers: arch[1] == 0 ? nil : Int(arch[1]),
                                   feedback: feedbackCodes[Int(arch[2])], horizon: Int(arch[3]), futureFeatures: Int(arch[4]),
                                   medianOutput: arch[5] == 0xFFFF_FFFF ? nil : Int(arch[5]))
        do { try config.validate() } catch let e as NetworkError {
            if case .invalidConfiguration(let why) = e { throw ModelFormatError.invalidArchitecture(why) }
            throw ModelFormatError.invalidArchitecture("\(e)")
        }
        if let expecting, expecting != config { throw ModelFormatError.architectureMismatch(expected: expecting, found: config) }
        let expectedCount = ParameterLayout(config).count
        guard p == expectedCount else { throw ModelFormatError.parameterCountMismatch(stored: p, expected: expectedCount) }
        var offset = weightsAt
        func floats(_ n: Int) -> [Float] {
            defer { offset += 4 * n }
            return (0..<n).map { Float(bitPattern: get32(bytes, offset + 4 * $0)) }
        }
        let network = try RecurrentNetwork(config: config, parameters: floats(p))
        var state: RecurrentState? = nil
        if flags & 1 != 0 {
            offset += 4
            let n = batch * config.hiddenSize
            let hidden = (0..<config.layers).map { _ in floats(n) }
            let cell = config.cell == .lstm ? (0..<config.layers).map { _ in floats(n) } : []
            state = RecurrentState(batch: batch, hidden: hidden, cell: cell, feedback: feedbackState ? floats(batch) : [])
        }
        return (network, state)
    }

    private static func put16(_ o: inout [UInt8], _ v: UInt16) { o.append(UInt8(v & 0xFF)); o.append(UInt8(v >> 8)) }
    private static func put32(_ o: inout [UInt8], _ v: UInt32) { for s in stride(from: 0, to: 32, by: 8) { o.append(UInt8((v >> UInt32(s)) & 0xFF)) } }
    private static func put64(_ o: inout [UInt8], _ v: UInt64) { for s in stride(from: 0, to: 64, by: 8) { o.append(UInt8((v >> UInt64(s)) & 0xFF)) } }
    private static func get16(_ b: [UInt8], _ i: Int) -> UInt16 { UInt16(b[i]) | UInt16(b[i + 1]) << 8 }
    private static func get32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
    }
    private static func get64(_ b: [UInt8], _ i: Int) -> UInt64 { UInt64(get32(b, i)) | UInt64(get32(b, i + 4)) << 32 }
}

private let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
    var c = UInt32(n)
    for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    return c
}

/// CRC-32 (IEEE 802.3, as zlib's crc32).
public func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
    var c: UInt32 = 0xFFFF_FFFF
    for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
    return c ^ 0xFFFF_FFFF
}
