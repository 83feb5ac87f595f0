import Foundation

/// Seasonal decomposition of a regular series into a trend (the level), one seasonal component
/// per period and a remainder, additive or multiplicative:
///
///     additive:        y[t] = trend[t] + Σ_k seasonal_k[t] + remainder[t]
///     multiplicative:  y[t] = trend[t] · Π_k seasonal_k[t] · remainder[t]
///
/// Three estimators:
/// - `classical(_:period:mode:)`: the centred moving-average decomposition of statsmodels'
///   `seasonal_decompose` (trend NaN for half a period at each end; the seasonal the mean
///   detrended value per phase, normalised to sum 0 or average 1). ETS's initial states and
///   Theta's deseasonalisation use it, as statsforecast does.
/// - `stl(_:period:mode:)`: STL (Cleveland, Cleveland, McRae and Terpenning 1990) with
///   statsmodels' defaults and R's jumps: seasonal window 7, trend window the smallest odd
///   number ≥ 1.5·period / (1 − 1.5/7), low-pass window the smallest odd number > period,
///   locally linear loess, 5 inner passes, no robustness passes.
/// - `mstl(_:periods:mode:)`: MSTL (Bandara, Hyndman and Bergmeir 2021) for several periods
///   (day and week of sub-daily data) as R's `forecast::mstl` and statsforecast's `mstl`: STL
///   per period, shortest first, seasonal windows 11, 15, … (7 + 4·i, i from 1), locally
///   constant seasonal loess (`stl`'s `s.degree = 0`), two rounds, each period re-estimated
///   with the others removed. (Windows from 7 with a locally linear seasonal loess, as this
///   file had them before, put half-hourly demand's trend 0.3 GW below statsforecast's and its
///   ETS-after-MSTL forecasts 3–17% away; see `benchmarks/RESULTS.md`, issue 12.)
///
/// Multiplicative decompositions are STL/MSTL of log y, turned back with exp, the remainder
/// then taken as y / (trend · Π seasonal) so that the components recombine to the series to
/// rounding. `seasonalMode(_:period:)` chooses the mode from the data. Missing values (NaN)
/// are interpolated linearly for the estimation and stay NaN in the remainder, so
/// `recombined()` gives the series back with its gaps. Knows nothing of networks or grids
/// beyond `Frequency`.
public struct Decomposition: Sendable, Equatable {
    public enum Mode: String, Sendable, Hashable, Codable { case additive, multiplicative }

    public let mode: Mode
    /// The seasonal periods in steps, shortest first, one per `seasonal` component.
    public let periods: [Int]
    public let trend: [Double]
    public let seasonal: [[Double]]
    public let remainder: [Double]

    public var count: Int { trend.count }

    /// The series put back together from its components.
    public func recombined() -> [Double] {
        (0..<count).map { t in
            switch mode {
            case .additive: return seasonal.reduce(trend[t]) { $0 + $1[t] } + remainder[t]
            case .multiplicative: return seasonal.reduce(trend[t]) { $0 * $1[t] } * remainder[t]
            }
        }
    }

    /// The series without its seasonal components (trend and remainder).
    public func seasonallyAdjusted() -> [Double] {
        (0..<count).map { t in
            switch mode {
            case .additive: return trend[t] + remainder[t]
            case .multiplicative: return trend[t] * remainder[t]
            }
        }
    }

    /// The seasonal periods a decomposition of a series on `frequency` uses: the day and the
    /// week for sub-daily grids whose step divides a day (1h → [24, 168], 30m → [48, 336]),
    /// otherwise the frequency's default season ([] when it is 1).
    public static func periods(for frequency: Frequency) -> [Int] {
        if frequency.isSubDaily, let step = frequency.fixedStepSeconds, 86_400 % step == 0, 86_400 / step >= 2 {
            let day = 86_400 / step
            return [day, 7 * day]
        }
        let season = frequency.defaultSeasonLength
        return season > 1 ? [season] : []
    }

    // MARK: Choosing additive or multiplicative

    /// Multiplicative when the series is strictly positive and its seasonal swing grows with
    /// its level; additive otherwise. The swing of each whole cycle is the root mean square of
    /// the series around its centred moving average; the swing is "constant" in the mode
    /// where it varies least across cycles: multiplicative when the coefficient of variation of
    /// swing / level is below 0.75 × that of the swing itself (the margin keeps series whose
    /// level hardly moves, where both modes fit alike, additive). Needs three whole cycles
    /// of trend; additive with fewer.
    public static func seasonalMode(_ values: [Double], period: Int) -> Mode {
        let y = Numerics.interpolatingGaps(values)
        guard period >= 2, y.allSatisfy({ $0.isFinite && $0 > 0 }) else { return .additive }
        let trend = centredMovingAverage(y, period: period)
        var swings: [Double] = [], levels: [Double] = []
        var start = period / 2
        while start + period <= y.count - period / 2 {
            var squares = 0.0, level = 0.0
            for t in start..<(start + period) {
                squares += (y[t] - trend[t]) * (y[t] - trend[t])
                level += trend[t]
            }
            swings.append((squares / Double(period)).squareRoot())
            levels.append(level / Double(period))
            start += period
        }
        guard swings.count >= 3 else { return .additive }
        func variation(_ x: [Double]) -> Double {
            let mean = x.reduce(0, +) / Double(x.count)
            guard mean > 0 else { return .infinity }
            return (x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(x.count)).squareRoot() / mean
        }
        let absolute = variation(swings)
        let relative = variation(zip(swings, levels).map { $0 / $1 })
        return relative < 0.75 * absolute ? .multiplicative : .additive
    }

    // MARK: Classical

    /// statsmodels' `seasonal_decompose(y, period:, model:)`: the trend is the centred moving
    /// average (2×m for even m), NaN for the first and last ⌊m/2⌋ steps; the seasonal value of
    /// phase i is the mean of the detrended values y − trend (or y / trend) at that phase,
    /// centred to sum 0 (or average 1) over a period; the remainder is what is left (NaN where
    /// the trend is). Missing values are interpolated first.
    public static func classical(_ values: [Double], period: Int, mode: Mode) -> Decomposition {
        precondition(period >= 2 && values.count >= 2 * period, "two whole periods are needed")
        let y = Numerics.interpolatingGaps(values)
        let trend = centredMovingAverage(y, period: period)
        var averages = [Double](repeating: 0, count: period)
        for phase in 0..<period {
            var sum = 0.0, count = 0
            var t = phase
            while t < y.count {
                if trend[t].isFinite {
                    sum += mode == .additive ? y[t] - trend[t] : y[t] / trend[t]
                    count += 1
                }
                t += period
            }
            averages[phase] = count > 0 ? sum / Double(count) : (mode == .additive ? 0 : 1)
        }
        let centre = averages.reduce(0, +) / Double(period)
        averages = averages.map { mode == .additive ? $0 - centre : $0 / centre }
        let seasonal = (0..<y.count).map { averages[$0 % period] }
        let remainder = (0..<y.count).map { t -> Double in
            guard values[t].isFinite else { return .nan }
            return mode == .additive ? values[t] - trend[t] - seasonal[t] : values[t] / (trend[t] * seasonal[t])
        }
        return Decomposition(mode: mode, periods: [period], trend: trend, seasonal: [seasonal], remainder: remainder)
    }

    /// The centred moving average of one period (2×m with half weights at the ends for even
    /// m), NaN where the window leaves the series.
    static func centredMovingAverage(_ y: [Double], period: Int) -> [Double] {
        let weights: [Double] = period % 2 == 0
            ? [0.5] + [Double](repeating: 1, count: period - 1) + [0.5]
            : [Double](repeating: 1, count: period)
        let half = (weights.count - 1) / 2
        return (0..<y.count).map { t in
            guard t >= half, t + half < y.count else { return .nan }
            var sum = 0.0
            for (k, w) in weights.enumerated() { sum += w * y[t - half + k] }
            return sum / Double(period)
        }
    }

    // MARK: STL and MSTL

    /// STL with one period (see the type's comment); `mode` nil chooses it with
    /// `seasonalMode`. Needs two whole periods.
    public static func stl(_ values: [Double], period: Int, mode: Mode? = nil, seasonalWindow: Int = 7) -> Decomposition {
        mstl(values, periods: [period], mode: mode, seasonalWindows: [seasonalWindow], seasonalDegree: 1)
    }

    /// MSTL over `periods` (see the type's comment); periods that do not fit twice in the
    /// series are dropped, and with none left the trend is a loess smooth of the series.
    /// `mode` nil chooses it with `seasonalMode` on the shortest period.
    public static func mstl(_ values: [Double], periods: [Int], mode: Mode? = nil, seasonalWindows: [Int]? = nil,
                            seasonalDegree: Int = 0) -> Decomposition {
        let filled = Numerics.interpolatingGaps(values)
        precondition(filled.allSatisfy(\.isFinite), "at least one observed value is needed")
        let kept = Array(Set(periods.filter { $0 >= 2 && 2 * $0 <= values.count })).sorted()
        let mode = mode ?? (kept.first.map { seasonalMode(values, period: $0) } ?? .additive)
        let multiplicative = mode == .multiplicative && filled.allSatisfy { $0 > 0 }
        let y = multiplicative ? filled.map { Foundation.log($0) } : filled
        let windows = seasonalWindows ?? kept.indices.map { 11 + 4 * $0 }
        var seasonals = kept.map { _ in [Double](repeating: 0, count: y.count) }
        var trend: [Double]
        if kept.isEmpty {
            trend = loessSmooth(y, window: oddAtLeast(Swift.max(3, y.count / 10)))
        } else {
            trend = y
            let rounds = kept.count == 1 ? 1 : 2
            for _ in 0..<rounds {
                for (i, period) in kept.enumerated() {
                    var partial = y
                    for (j, s) in seasonals.enumerated() where j != i {
                        for t in partial.indices { partial[t] -= s[t] }
                    }
                    let fit = stlCore(partial, period: period, seasonalWindow: oddAtLeast(Swift.max(3, windows[i])),
                                      seasonalDegree: seasonalDegree)
                    seasonals[i] = fit.seasonal
                    trend = fit.trend
                }
            }
        }
        if multiplicative {
            let levels = trend.map { Foundation.exp($0) }
            let factors = seasonals.map { $0.map { Foundation.exp($0) } }
            let remainder = values.indices.map { t -> Double in
                guard values[t].isFinite else { return .nan }
                return values[t] / factors.reduce(levels[t]) { $0 * $1[t] }
            }
            return Decomposition(mode: .multiplicative, periods: kept, trend: levels, seasonal: factors, remainder: remainder)
        }
        let remainder = values.indices.map { t -> Double in
            guard values[t].isFinite else { return .nan }
            return values[t] - seasonals.reduce(trend[t]) { $0 + $1[t] }
        }
        return Decomposition(mode: .additive, periods: kept, trend: trend, seasonal: seasonals, remainder: remainder)
    }

    static func oddAtLeast(_ x: Int) -> Int { x % 2 == 0 ? x + 1 : x }

    /// The inner loop of STL (non-robust): seasonal by loess of each cycle-subseries (of
    /// `seasonalDegree` 0 or 1), its low-frequency part removed by moving averages of m, m and 3
    /// and a loess; trend by loess of the deseasonalised series.
    static func stlCore(_ y: [Double], period: Int, seasonalWindow: Int, seasonalDegree: Int) -> (trend: [Double], seasonal: [Double]) {
        let n = y.count
        let trendWindow = oddAtLeast(Int((1.5 * Double(period) / (1 - 1.5 / Double(seasonalWindow))).rounded(.up)))
        let lowPassWindow = oddAtLeast(period + 1)
        var trend = [Double](repeating: 0, count: n)
        var seasonal = [Double](repeating: 0, count: n)
        for _ in 0..<5 {
            // Cycle-subseries smoothing, each extended by one step at both ends.
            var cycle = [Double](repeating: 0, count: n + 2 * period)
            for phase in 0..<period {
                let sub = stride(from: phase, to: n, by: period).map { y[$0] - trend[$0] }
                let count = sub.count
                for k in -1...count {
                    let value = loess(sub, at: Double(k), window: seasonalWindow, degree: seasonalDegree)
                    let index = (k + 1) * period + phase
                    if index < cycle.count { cycle[index] = value }
                }
            }
            // Low-pass filter of the smoothed cycles.
            var low = movingAverage(cycle, period)
            low = movingAverage(low, period)
            low = movingAverage(low, 3)
            low = loessSmooth(low, window: lowPassWindow)
            for t in 0..<n { seasonal[t] = cycle[period + t] - low[t] }
            trend = loessSmooth((0..<n).map { y[$0] - seasonal[$0] }, window: trendWindow)
        }
        return (trend, seasonal)
    }

    static func movingAverage(_ x: [Double], _ length: Int) -> [Double] {
        guard x.count >= length else { return x }
        var result = [Double](repeating: 0, count: x.count - length + 1)
        var sum = x[0..<length].reduce(0, +)
        result[0] = sum / Double(length)
        for i in 1..<result.count {
            sum += x[i + length - 1] - x[i - 1]
            result[i] = sum / Double(length)
        }
        return result
    }

    /// Loess of `y` (at positions 0..<n) at every position, computed every ⌈window/10⌉ steps
    /// and interpolated linearly between (R's `stl` jumps).
    static func loessSmooth(_ y: [Double], window: Int) -> [Double] {
        let n = y.count
        guard n > 0 else { return [] }
        let jump = Swift.max(1, (window + 9) / 10)
        var result = [Double](repeating: 0, count: n)
        var previous = 0
        result[0] = loess(y, at: 0, window: window)
        var t = jump
        while true {
            let at = Swift.min(t, n - 1)
            if at == previous { break }
            result[at] = loess(y, at: Double(at), window: window)
            for i in (previous + 1)..<at {
                let f = Double(i - previous) / Double(at - previous)
                result[i] = result[previous] + f * (result[at] - result[previous])
            }
            previous = at
            if at == n - 1 { break }
            t += jump
        }
        return result
    }

    /// Locally linear (`degree` 1) or constant (0) loess with tricube weights of the `window`
    /// nearest points of `y` (at positions 0..<n), evaluated at `x` (which may lie outside), as
    /// STL's Fortran `est`.
    static func loess(_ y: [Double], at x: Double, window: Int, degree: Int = 1) -> Double {
        let n = y.count
        guard n > 1 else { return y.first ?? 0 }
        let q = Swift.min(window, n)
        let left = Swift.min(Swift.max(0, Int((x - Double(q - 1) / 2).rounded())), n - q)
        let right = left + q - 1
        var h = Swift.max(x - Double(left), Double(right) - x)
        if window > n { h += Double((window - n) / 2) }
        var weights = [Double](repeating: 0, count: q)
        var total = 0.0
        for j in 0..<q {
            let r = abs(Double(left + j) - x)
            if r <= 0.999 * h {
                let w = r <= 0.001 * h ? 1 : { let u = 1 - pow(r / h, 3); return u * u * u }()
                weights[j] = w
                total += w
            }
        }
        guard total > 0 else { return y[Swift.min(Swift.max(Int(x.rounded()), 0), n - 1)] }
        for j in 0..<q { weights[j] /= total }
        if h > 0, degree > 0 {
            var a = 0.0
            for j in 0..<q { a += weights[j] * Double(left + j) }
            var c = 0.0
            for j in 0..<q { c += weights[j] * (Double(left + j) - a) * (Double(left + j) - a) }
            if c.squareRoot() > 0.001 * Double(n - 1) {
                let b = (x - a) / c
                for j in 0..<q { weights[j] *= b * (Double(left + j) - a) + 1 }
            }
        }
        var value = 0.0
        for j in 0..<q { value += weights[j] * y[left + j] }
        return value
    }
}
