/// A series' seasonal shape, estimated once on its training part: one factor per phase of the
/// season, added to the level (additive) or multiplying it (multiplicative, where the swing
/// grows with the level, as in AirPassengers; `Decomposition.seasonalMode` decides).
///
/// It is what the `.profile` forecast base stands on. Seasonal naive copies the last season,
/// noise and all, so a network that forecasts a correction to it inherits that noise (on a
/// sine plus uniform noise, seasonal naive's error is the floor the network cannot get under).
/// The profile averages the season over every cycle of the training part instead (the
/// classical decomposition's per-phase means), and the level is the mean deseasonalised value
/// of the last season, so the base forecast carries the noise of neither.
///
/// Phases are counted on the grid (bucket index modulo the period), so a series read from any
/// step, in full or on from a saved state, meets the same factor at the same bucket.
public struct SeasonalProfile: Sendable, Equatable, Codable {
    public let mode: Decomposition.Mode
    /// Factor of the buckets b with b mod period == phase, at index phase.
    public let factors: [Double]

    public var period: Int { factors.count }

    public init(mode: Decomposition.Mode, factors: [Double]) {
        self.mode = mode
        self.factors = factors
    }

    /// Cycles the training part needs for a profile: the centred moving average loses half a
    /// cycle at each end, and a phase seen in one cycle only would be that cycle's noise.
    public static let minimumCycles = 3

    /// The profile of `values` (NaN where missing), whose first step is grid bucket
    /// `firstBucket`; nil when the period is under 2, there are fewer than `minimumCycles`
    /// cycles, or a phase is observed in fewer than two of them.
    public init?(fitting values: ArraySlice<Double>, firstBucket: Int, period: Int) {
        guard period >= 2, values.count >= Self.minimumCycles * period else { return nil }
        let y = Array(values)
        // Every phase observed in two cycles at least, or its factor would be interpolation's.
        var seen = [Int](repeating: 0, count: period)
        for (t, value) in y.enumerated() where value.isFinite { seen[t % period] += 1 }
        guard seen.allSatisfy({ $0 >= Self.minimumCycles - 1 }) else { return nil }
        let mode = Decomposition.seasonalMode(y, period: period)
        let averages = Decomposition.classical(y, period: period, mode: mode).seasonal[0].prefix(period)
        guard averages.allSatisfy(\.isFinite), mode == .additive || averages.allSatisfy({ $0 > 0 }) else { return nil }
        var factors = [Double](repeating: 0, count: period)
        for (t, factor) in averages.enumerated() { factors[Self.phase(of: firstBucket + t, period: period)] = factor }
        self.init(mode: mode, factors: factors)
    }

    static func phase(of bucket: Int, period: Int) -> Int { ((bucket % period) + period) % period }

    /// The factor of grid bucket `bucket`.
    public func factor(ofBucket bucket: Int) -> Double { factors[Self.phase(of: bucket, period: period)] }

    /// The value with its season taken out.
    func deseasonalised(_ value: Double, bucket: Int) -> Double {
        mode == .additive ? value - factor(ofBucket: bucket) : value / factor(ofBucket: bucket)
    }

    /// The level with the season of `bucket` put in.
    func seasonalised(_ level: Double, bucket: Int) -> Double {
        mode == .additive ? level + factor(ofBucket: bucket) : level * factor(ofBucket: bucket)
    }

    /// The level at each step of `values` (first bucket `firstBucket`): the mean deseasonalised
    /// value of the finite values among the last `period` steps up to it; NaN where there is
    /// none. Summed afresh at every step, in step order, so that a read on from a saved state
    /// (whose tail holds a period) gives every bit a full read does.
    func levels(_ values: [Double], firstBucket: Int) -> [Double] {
        let m = period
        return values.indices.map { t in
            var sum = 0.0, count = 0.0
            for k in Swift.max(0, t - m + 1)...t where values[k].isFinite {
                sum += deseasonalised(values[k], bucket: firstBucket + k)
                count += 1
            }
            return count > 0 ? sum / count : .nan
        }
    }
}
