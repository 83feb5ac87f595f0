import NeuralNet

/// The bytes of a `SeriesState` as `series_state.state` keeps them: a magic word and a version,
/// then little-endian numbers (the next bucket, the scaler, the level before the tail, the
/// tail's values, the recurrent state's shape and floats; since version 2 the seasonal profile:
/// its mode and factors, none when the count is 0; since version 3 the output feedback's value:
/// a count, 0 or 1, then the float; since version 4 the past covariates: a count, then per
/// covariate its scaler's centre and scale and its value at the last step read; since version 5
/// a combined model's baseline spread: a count of levels, 0 for none, then the levels, a count
/// of seasons ahead, and one offset per level for each; then an ensemble's other networks: a
/// count, then each one's hidden, cell and fed-back floats, in the first network's shapes; a
/// state with neither is written as version 4). Compact, because a predict cycle
/// reads and writes one per series. The key is not stored: it is the row's `series`.
/// A damaged or foreign blob is a thrown error, never a crash; the caller then reads the whole
/// series again.
public enum SeriesStateArchive {
    static let magic: [UInt8] = Array("FDSS".utf8)
    public static let version: UInt32 = 5

    public struct DamagedState: Error, Sendable, Equatable, CustomStringConvertible {
        public var reason: String
        public init(reason: String) { self.reason = reason }
        public var description: String { "the saved series state is unusable: \(reason)" }
    }

    /// The bytes a model that reads its series in full saves instead of a state (`FullReadMark`):
    /// their own magic word and a version, no numbers. Decoding them as a network's state fails
    /// on the magic word, so a mark never passes for one.
    public static let fullReadMark: [UInt8] = Array("FDRF".utf8) + [1, 0, 0, 0]

    public static func isFullReadMark(_ bytes: [UInt8]) -> Bool { bytes == fullReadMark }

    public static func encode(_ state: SeriesState) -> [UInt8] {
        var bytes = magic
        let floats = state.recurrent.hidden.reduce(0) { $0 + $1.count } + state.recurrent.cell.reduce(0) { $0 + $1.count }
        bytes.reserveCapacity(64 + 8 * state.tail.count + 4 * floats)
        // A state without a spread or an ensemble is written as version 4, byte for byte what
        // earlier builds wrote.
        let spread = state.baselineSpread.flatMap { $0.levels.isEmpty ? nil : $0 }
        let current = spread != nil || !state.ensembleRecurrent.isEmpty
        put(current ? version : 4, &bytes)
        put(UInt64(bitPattern: Int64(state.nextBucket)), &bytes)
        put(state.scaler.center.bitPattern, &bytes)
        put(state.scaler.scale.bitPattern, &bytes)
        put(state.levelBeforeTail.bitPattern, &bytes)
        put(UInt32(state.tail.count), &bytes)
        for value in state.tail { put(value.bitPattern, &bytes) }
        put(UInt32(state.recurrent.batch), &bytes)
        put(UInt32(state.recurrent.hidden.count), &bytes)
        put(UInt32(state.recurrent.cell.count), &bytes)
        for layer in state.recurrent.hidden + state.recurrent.cell {
            put(UInt32(layer.count), &bytes)
            for value in layer { put(value.bitPattern, &bytes) }
        }
        put(UInt32(state.profile?.period ?? 0), &bytes)
        if let profile = state.profile {
            put(UInt8(profile.mode == .additive ? 0 : 1), &bytes)
            for factor in profile.factors { put(factor.bitPattern, &bytes) }
        }
        put(UInt32(state.recurrent.feedback.count), &bytes)
        for value in state.recurrent.feedback { put(value.bitPattern, &bytes) }
        put(UInt32(state.covariateScalers.count), &bytes)
        for (scaler, last) in zip(state.covariateScalers, state.lastCovariates) {
            put(scaler.center.bitPattern, &bytes)
            put(scaler.scale.bitPattern, &bytes)
            put(last.bitPattern, &bytes)
        }
        guard current else { return bytes }
        put(UInt32(spread?.levels.count ?? 0), &bytes)
        if let spread {
            for level in spread.levels { put(level.bitPattern, &bytes) }
            put(UInt32(spread.offsets.count), &bytes)
            for offset in spread.offsets.joined() { put(offset.bitPattern, &bytes) }
        }
        put(UInt32(state.ensembleRecurrent.count), &bytes)
        for member in state.ensembleRecurrent {
            for layer in member.hidden + member.cell {
                for value in layer { put(value.bitPattern, &bytes) }
            }
            for value in member.feedback { put(value.bitPattern, &bytes) }
        }
        return bytes
    }

    /// The state of series `key`; it must fit `config` (a state of another network is refused).
    public static func decode(_ bytes: [UInt8], key: String, config: NetworkConfig) throws -> SeriesState {
        var reader = Reader(bytes: bytes)
        guard Array(try reader.take(4)) == magic else { throw DamagedState(reason: "not a series state (bad magic bytes)") }
        let version: UInt32 = try reader.read()
        guard (1...Self.version).contains(version) else { throw DamagedState(reason: "version \(version) is not supported") }
        let nextBucket = Int(Int64(bitPattern: try reader.read()))
        let center = Double(bitPattern: try reader.read()), scale = Double(bitPattern: try reader.read())
        let levelBeforeTail = Double(bitPattern: try reader.read())
        let tailCount = Int(try reader.read() as UInt32)
        guard tailCount <= reader.remaining / 8 else { throw DamagedState(reason: "truncated") }
        let tail = try (0..<tailCount).map { _ in Double(bitPattern: try reader.read()) }
        let batch = Int(try reader.read() as UInt32)
        let hiddenLayers = Int(try reader.read() as UInt32), cellLayers = Int(try reader.read() as UInt32)
        var layers: [[Float]] = []
        for _ in 0..<(hiddenLayers + cellLayers) {
            let count = Int(try reader.read() as UInt32)
            guard count <= reader.remaining / 4 else { throw DamagedState(reason: "truncated") }
            layers.append(try (0..<count).map { _ in Float(bitPattern: try reader.read()) })
        }
        var profile: SeasonalProfile?
        if version >= 2 {
            let period = Int(try reader.read() as UInt32)
            if period > 0 {
                let multiplicative: UInt8 = try reader.read()
                guard period <= reader.remaining / 8, multiplicative <= 1 else { throw DamagedState(reason: "truncated") }
                let factors = try (0..<period).map { _ in Double(bitPattern: try reader.read()) }
                guard factors.allSatisfy(\.isFinite) else { throw DamagedState(reason: "the seasonal profile is damaged") }
                profile = SeasonalProfile(mode: multiplicative == 1 ? .multiplicative : .additive, factors: factors)
            }
        }
        // Versions 1 and 2 were written before output feedback: their networks had none.
        var feedback: [Float] = []
        if version >= 3 {
            let count = Int(try reader.read() as UInt32)
            guard count <= reader.remaining / 4 else { throw DamagedState(reason: "truncated") }
            feedback = try (0..<count).map { _ in Float(bitPattern: try reader.read()) }
            guard feedback.allSatisfy(\.isFinite) else { throw DamagedState(reason: "the fed-back forecast is damaged") }
        }
        // Versions 1 to 3 were written before covariates: their models read none.
        var covariateScalers: [RobustScaler] = [], lastCovariates: [Double] = []
        if version >= 4 {
            let count = Int(try reader.read() as UInt32)
            guard count <= reader.remaining / 24 else { throw DamagedState(reason: "truncated") }
            for _ in 0..<count {
                let center = Double(bitPattern: try reader.read()), scale = Double(bitPattern: try reader.read())
                let last = Double(bitPattern: try reader.read())
                guard center.isFinite, scale.isFinite, scale > 0, last.isFinite else { throw DamagedState(reason: "the covariates are damaged") }
                covariateScalers.append(RobustScaler(center: center, scale: scale))
                lastCovariates.append(last)
            }
        }
        // Versions 1 to 4 were written before combined models kept a state.
        var baselineSpread: BaselineSpread?
        if version >= 5 {
            let levels = Int(try reader.read() as UInt32)
            if levels > 0 {
                guard levels <= reader.remaining / 8 else { throw DamagedState(reason: "truncated") }
                let list = try (0..<levels).map { _ in Double(bitPattern: try reader.read()) }
                let groups = Int(try reader.read() as UInt32)
                guard groups <= reader.remaining / (8 * levels) else { throw DamagedState(reason: "truncated") }
                let offsets = try (0..<groups).map { _ in try (0..<levels).map { _ in Double(bitPattern: try reader.read()) } }
                guard groups > 0, list.allSatisfy(\.isFinite), offsets.joined().allSatisfy(\.isFinite) else {
                    throw DamagedState(reason: "the baseline's spread is damaged")
                }
                baselineSpread = BaselineSpread(levels: list, offsets: offsets)
            }
        }
        // An ensemble's other networks: states of the first one's shape (since version 5).
        var ensembleRecurrent: [RecurrentState] = []
        if version >= 5 {
            let count = Int(try reader.read() as UInt32)
            let widths = layers.map(\.count)
            let floats = widths.reduce(0, +) + feedback.count
            guard count <= reader.remaining / max(4 * floats, 1) else { throw DamagedState(reason: "truncated") }
            for _ in 0..<count {
                let member = try widths.map { width in try (0..<width).map { _ in Float(bitPattern: try reader.read()) } }
                let fed = try feedback.indices.map { _ in Float(bitPattern: try reader.read()) }
                guard member.joined().allSatisfy(\.isFinite), fed.allSatisfy(\.isFinite) else {
                    throw DamagedState(reason: "an ensemble member's state is damaged")
                }
                ensembleRecurrent.append(RecurrentState(batch: batch, hidden: Array(member[..<hiddenLayers]), cell: Array(member[hiddenLayers...]),
                                                        feedback: fed))
            }
        }
        guard reader.remaining == 0 else { throw DamagedState(reason: "\(reader.remaining) trailing bytes") }
        guard center.isFinite, scale.isFinite, scale > 0, levelBeforeTail.isFinite, tail.last?.isFinite == true else {
            throw DamagedState(reason: "the scaling or the last values are damaged")
        }
        let recurrent = RecurrentState(batch: batch, hidden: Array(layers[..<hiddenLayers]), cell: Array(layers[hiddenLayers...]),
                                       feedback: feedback)
        guard batch == 1, recurrent.matches(config) else { throw DamagedState(reason: "it belongs to a network of another shape") }
        return SeriesState(key: key, nextBucket: nextBucket, scaler: RobustScaler(center: center, scale: scale),
                           recurrent: recurrent, tail: tail, levelBeforeTail: levelBeforeTail, profile: profile,
                           covariateScalers: covariateScalers, lastCovariates: lastCovariates, baselineSpread: baselineSpread,
                           ensembleRecurrent: ensembleRecurrent)
    }

    static func put<T: FixedWidthInteger>(_ value: T, _ bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    struct Reader {
        let bytes: [UInt8]
        var offset = 0
        var remaining: Int { bytes.count - offset }

        mutating func take(_ count: Int) throws -> ArraySlice<UInt8> {
            guard count <= remaining else { throw DamagedState(reason: "truncated") }
            defer { offset += count }
            return bytes[offset..<(offset + count)]
        }

        mutating func read<T: FixedWidthInteger>() throws -> T {
            let slice = try take(MemoryLayout<T>.size)
            return slice.reversed().reduce(T.zero) { $0 << 8 | T($1) }
        }
    }
}

/// Where a model that reads its series in full (a statistical model, alone, combined or averaged,
/// or a baseline: `PublishedForm.readsOnFromState` false) last read series `key`, saved as a
/// `series_state` row whose bytes are `SeriesStateArchive.fullReadMark`. Such a model is fitted
/// again on the whole history, so a predict cycle that finds no row after the mark keeps the
/// forecast made from the same rows instead of fitting the same history again; one row after
/// it, and the series is read and fitted in full. It stops, as a network's state does, at the
/// last observed step before the bucket the read's end falls in, which may still receive rows.
public struct FullReadMark: Sendable, Equatable {
    public let key: String
    public let lastBucket: Int
}

extension FullReadMark {
    /// The mark after reading `series` in full; nil when no step of it is settled yet.
    public init?(after series: RegularSeries, settledBefore: Int?) {
        guard let step = series.lastSettledStep(from: 0, before: settledBefore) else { return nil }
        self.init(key: series.key, lastBucket: series.firstBucket + step)
    }
}
