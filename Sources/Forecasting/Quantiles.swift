/// Quantile levels and the helpers that keep quantile forecasts coherent.
public enum Quantiles {
    /// Checks quantile levels: at least one, each strictly between 0 and 1, strictly
    /// increasing, and with `medianRequired` (a job's `quantiles`) 0.5 among them, the median
    /// that becomes the point forecast. The one check, for the configuration and the backtest.
    public static func validate(_ levels: [Double], medianRequired: Bool = false) throws(QuantileLevelsError) {
        guard !levels.isEmpty else { throw QuantileLevelsError(levels: levels, problem: .empty, reason: "at least one level is needed") }
        for level in levels where !(level > 0 && level < 1) {
            throw QuantileLevelsError(levels: levels, problem: .outOfRange, reason: "\(level) is not strictly between 0 and 1")
        }
        for (a, b) in zip(levels, levels.dropFirst()) where !(a < b) {
            throw QuantileLevelsError(levels: levels, problem: .notIncreasing, reason: "levels must be strictly increasing (\(a) then \(b))")
        }
        if medianRequired && !levels.contains(0.5) {
            throw QuantileLevelsError(levels: levels, problem: .noMedian, reason: "0.5 is needed, the median that becomes the point forecast")
        }
    }

    /// The nominal coverage of the outermost levels, e.g. 0.8 for [0.1, 0.5, 0.9]; `nil`
    /// with a single level.
    public static func confidenceLevel(_ levels: [Double]) -> Double? {
        guard let lowest = levels.first, let highest = levels.last, highest > lowest else { return nil }
        return highest - lowest
    }

    /// Monotone rearrangement: sorts the quantile values of every step, so that a higher
    /// level never forecasts less than a lower one. Sorting is the rearrangement of
    /// Chernozhukov et al.: it never increases the pinball loss. `values` holds
    /// `levelsPerStep` values per step, step after step. NaN values go last.
    public static func sortEachStep(_ values: inout [Double], levelsPerStep: Int) {
        precondition(levelsPerStep > 0 && values.count % levelsPerStep == 0, "a whole number of steps is needed")
        guard levelsPerStep > 1 else { return }
        var start = 0
        while start < values.count {
            values[start..<(start + levelsPerStep)].sort { a, b in
                a.isNaN ? false : (b.isNaN ? true : a < b)
            }
            start += levelsPerStep
        }
    }

    /// The median of one step's quantile values: the value at level 0.5, or linear
    /// interpolation between the levels around 0.5, or the nearest level when all lie on
    /// one side.
    public static func median(levels: [Double], values: some Collection<Double>) -> Double {
        precondition(levels.count == values.count && !levels.isEmpty, "one value per level")
        let values = Array(values)
        if let exact = levels.firstIndex(of: 0.5) { return values[exact] }
        guard let above = levels.firstIndex(where: { $0 > 0.5 }) else { return values[values.count - 1] }
        guard above > 0 else { return values[0] }
        let below = above - 1
        let fraction = (0.5 - levels[below]) / (levels[above] - levels[below])
        return values[below] + (values[above] - values[below]) * fraction
    }

    /// The empirical `level` quantile of finite values (linear interpolation between order
    /// statistics, "type 7"); NaN when there are none.
    public static func quantile(of values: some Sequence<Double>, level: Double) -> Double {
        var sorted = values.filter { $0.isFinite }
        guard !sorted.isEmpty else { return .nan }
        sorted.sort()
        return sortedQuantile(sorted, level)
    }

    /// As `quantile(of:level:)` for values already sorted, all finite, at least one.
    /// Moves into place the elements `sortedQuantile(_:_:)` reads for `levels`, as a sort would
    /// leave them: one three-way partition around a median-of-three pivot, then only the parts
    /// that hold a wanted index are partitioned again (a multi-select, about 2–3 passes over
    /// the values instead of a sort's log n). Afterwards `sortedQuantile(values, level)` gives
    /// what it gives on the sorted array. The values must not be NaN.
    static func selectOrderStatistics(_ values: inout [Double], for levels: [Double]) {
        let n = values.count
        guard n > 1 else { return }
        var wanted = Set<Int>()
        for level in levels {
            let lower = Swift.max(0, Swift.min(Int((level * Double(n - 1)).rounded(.down)), n - 1))
            wanted.insert(lower)
            wanted.insert(Swift.min(lower + 1, n - 1))
        }
        let targets = wanted.sorted()
        values.withUnsafeMutableBufferPointer { v in
            // Ranges [lo, hi] of the values with the wanted indices (a slice of `targets`) inside.
            var stack: [(lo: Int, hi: Int, first: Int, last: Int)] = [(0, n - 1, 0, targets.count - 1)]
            while let (lo, hi, first, last) = stack.popLast() {
                guard lo < hi, first <= last else { continue }
                let mid = lo + (hi - lo) / 2
                let a = v[lo], b = v[mid], c = v[hi]
                let pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b))
                var lt = lo, i = lo, gt = hi
                while i <= gt {
                    let x = v[i]
                    if x < pivot { v.swapAt(lt, i); lt += 1; i += 1 } else if x > pivot { v.swapAt(i, gt); gt -= 1 } else { i += 1 }
                }
                // [lo, lt) < pivot, [lt, gt] == pivot (in place), (gt, hi] > pivot.
                var split = first
                while split <= last && targets[split] < lt { split += 1 }
                var right = split
                while right <= last && targets[right] <= gt { right += 1 }
                if split > first { stack.append((lo, lt - 1, first, split - 1)) }
                if right <= last { stack.append((gt + 1, hi, right, last)) }
            }
        }
    }

    static func sortedQuantile(_ sorted: [Double], _ level: Double) -> Double {
        let position = level * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down))
        let upper = Swift.min(lower + 1, sorted.count - 1)
        let fraction = position - Double(lower)
        if fraction == 0 { return sorted[lower] }
        return sorted[lower] + (sorted[upper] - sorted[lower]) * fraction
    }
}

public struct QuantileLevelsError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Problem: Sendable, Equatable { case empty, outOfRange, notIncreasing, noMedian }
    public let levels: [Double]
    public let problem: Problem
    public let reason: String
    public var description: String { "invalid quantiles \(levels): \(reason)" }
}

/// A forecast of `horizon` steps at several quantile levels, kept in order per step.
public struct QuantileForecast: Sendable, Equatable {
    public let levels: [Double]
    /// `levels.count` values per step, step after step; sorted within each step.
    public let values: [Double]
    /// The point forecast per step: the median of the quantiles unless given explicitly
    /// (the seasonal-naive baseline keeps its own value as the point).
    public let point: [Double]

    /// Sorts each step's values (monotone rearrangement) and derives the point forecast
    /// from the median when `point` is `nil`.
    public init(levels: [Double], values: [Double], point: [Double]? = nil) {
        precondition(!levels.isEmpty && values.count % levels.count == 0, "levels.count values per step")
        var ordered = values
        Quantiles.sortEachStep(&ordered, levelsPerStep: levels.count)
        let horizon = values.count / levels.count
        self.levels = levels
        self.values = ordered
        if let point {
            precondition(point.count == horizon, "one point forecast per step")
            self.point = point
        } else {
            self.point = (0..<horizon).map { step in
                Quantiles.median(levels: levels, values: ordered[(step * levels.count)..<((step + 1) * levels.count)])
            }
        }
    }

    public var horizon: Int { point.count }

    /// The values of all levels at `step` (0-based).
    public func quantiles(atStep step: Int) -> ArraySlice<Double> {
        values[(step * levels.count)..<((step + 1) * levels.count)]
    }

    public func value(atStep step: Int, level index: Int) -> Double {
        values[step * levels.count + index]
    }

    /// The lowest level's values: the lower bound of the published interval.
    public var lower: [Double] { (0..<horizon).map { value(atStep: $0, level: 0) } }
    /// The highest level's values: the upper bound of the published interval.
    public var upper: [Double] { (0..<horizon).map { value(atStep: $0, level: levels.count - 1) } }
    public var confidenceLevel: Double? { Quantiles.confidenceLevel(levels) }
}

extension QuantileForecast {
    /// The equal-weight combination of two forecasts of the same steps and levels: each
    /// quantile the mean of the two (Vincentization, averaging the quantile functions), the
    /// point forecast the mean of the two points. Averaging forecasts whose errors differ is
    /// the cheapest robust gain there is: the combination is rarely much worse than the better
    /// of the two and often better than both.
    public func combined(with other: QuantileForecast) -> QuantileForecast {
        precondition(levels == other.levels && values.count == other.values.count, "the same steps at the same levels")
        return QuantileForecast(levels: levels, values: zip(values, other.values).map { ($0 + $1) / 2 },
                                point: zip(point, other.point).map { ($0 + $1) / 2 })
    }

    /// The equal-weight combination of several forecasts of the same steps and levels (at
    /// least one), as `combined(with:)` combines two: each quantile and the point the mean of theirs.
    public static func mean(of forecasts: [QuantileForecast]) -> QuantileForecast {
        precondition(!forecasts.isEmpty, "at least one forecast")
        if forecasts.count <= 2 { return forecasts.count == 1 ? forecasts[0] : forecasts[0].combined(with: forecasts[1]) }
        let first = forecasts[0], n = Double(forecasts.count)
        precondition(forecasts.allSatisfy { $0.levels == first.levels && $0.values.count == first.values.count }, "the same steps at the same levels")
        let values = first.values.indices.map { i in forecasts.reduce(0) { $0 + $1.values[i] } / n }
        let point = first.point.indices.map { i in forecasts.reduce(0) { $0 + $1.point[i] } / n }
        return QuantileForecast(levels: first.levels, values: values, point: point)
    }

    /// The combination with `weights` (summing to 1, one per forecast): each quantile and the
    /// point the weighted mean of theirs (the Akaike-weighted ETS, `ETSCombination`).
    public static func mean(of forecasts: [QuantileForecast], weights: [Double]) -> QuantileForecast {
        precondition(!forecasts.isEmpty && weights.count == forecasts.count, "one weight per forecast, at least one")
        let first = forecasts[0]
        precondition(forecasts.allSatisfy { $0.levels == first.levels && $0.values.count == first.values.count }, "the same steps at the same levels")
        let values = first.values.indices.map { i in zip(forecasts, weights).reduce(0) { $0 + $1.1 * $1.0.values[i] } }
        let point = first.point.indices.map { i in zip(forecasts, weights).reduce(0) { $0 + $1.1 * $1.0.point[i] } }
        return QuantileForecast(levels: first.levels, values: values, point: point)
    }
}
