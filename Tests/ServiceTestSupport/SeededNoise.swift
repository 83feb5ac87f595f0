/// Uniform noise in [−0.5, 0.5) from a 64-bit linear congruential generator (Knuth's MMIX
/// constants): the same numbers on every machine for the same seed, for test tables whose
/// trained models must be reproducible.
public struct SeededNoise {
    var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> Double {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Double(state >> 11) / Double(1 << 53) - 0.5
    }
}
