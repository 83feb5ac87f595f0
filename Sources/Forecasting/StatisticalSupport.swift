import Foundation

/// The small numerical tools the statistical models (ETS.swift, Theta.swift,
/// Decomposition.swift) share: a bounded Nelder–Mead minimiser, the normal quantile, least
/// squares for a handful of columns, the sample autocorrelation, gap interpolation, and Akaike
/// weights for combining fitted models (`AkaikeWeights`).
/// Knows nothing of series keys, grids or networks.
enum Numerics {
    /// What a Nelder–Mead run ends with.
    struct Minimum {
        var x: [Double]
        var value: Double
        var iterations: Int
    }

    /// Minimises `f` from `start` with the Nelder–Mead simplex, every trial point clamped into
    /// [lower, upper] (infinite bounds allowed), as statsforecast does for ETS and Theta:
    /// the first simplex steps each coordinate by 5 % (1e-4 when it is 0), the coefficients
    /// are the adaptive ones of Gao and Han (2012) (expansion 1 + 2/n, contraction
    /// 0.75 − 1/(2n), shrink 1 − 1/n), and it stops when the standard deviation of the
    /// simplex's values falls below `tolerance` or after `maxIterations`. A NaN value counts
    /// as +∞. Returns the best vertex.
    static func nelderMead(_ f: ([Double]) -> Double, start: [Double], lower: [Double], upper: [Double],
                           tolerance: Double = 1e-4, maxIterations: Int = 1000) -> Minimum {
        let n = start.count
        precondition(n > 0 && lower.count == n && upper.count == n, "one bound per coordinate")
        func clamp(_ x: [Double]) -> [Double] { (0..<n).map { Swift.min(Swift.max(x[$0], lower[$0]), upper[$0]) } }
        func value(_ x: [Double]) -> Double { let v = f(x); return v.isNaN ? .infinity : v }
        let dn = Double(n)
        let reflection = 1.0, expansion = 1 + 2 / dn, contraction = 0.75 - 1 / (2 * dn), shrink = 1 - 1 / dn

        let x0 = clamp(start)
        var simplex = [[Double]](repeating: x0, count: n + 1)
        for i in 0..<n {
            let v = simplex[i][i]
            simplex[i][i] = Swift.min(Swift.max(v == 0 ? 1e-4 : v * 1.05, lower[i]), upper[i])
        }
        var values = simplex.map(value)
        var iteration = 0
        while iteration < maxIterations {
            let mean = values.reduce(0, +) / Double(values.count)
            let spread = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)).squareRoot()
            if spread < tolerance || !spread.isFinite && values.allSatisfy({ $0 == .infinity }) { break }
            iteration += 1
            let order = values.indices.sorted { values[$0] < values[$1] }
            let best = order[0], worst = order[n], secondWorst = order[n - 1]
            var centroid = [Double](repeating: 0, count: n)
            for (index, vertex) in simplex.enumerated() where index != worst {
                for j in 0..<n { centroid[j] += vertex[j] / dn }
            }
            func toward(_ point: [Double], _ t: Double) -> [Double] {
                clamp((0..<n).map { centroid[$0] + t * (point[$0] - centroid[$0]) })
            }
            let reflected = toward(simplex[worst], -reflection)
            let fr = value(reflected)
            if values[best] <= fr && fr < values[secondWorst] {
                simplex[worst] = reflected; values[worst] = fr
                continue
            }
            if fr < values[best] {
                let expanded = toward(reflected, expansion)
                let fe = value(expanded)
                if fe < fr { simplex[worst] = expanded; values[worst] = fe } else { simplex[worst] = reflected; values[worst] = fr }
                continue
            }
            if fr < values[worst] {
                let outside = toward(reflected, contraction)
                let fo = value(outside)
                if fo <= fr { simplex[worst] = outside; values[worst] = fo; continue }
            } else {
                let inside = toward(simplex[worst], contraction)
                let fi = value(inside)
                if fi < values[worst] { simplex[worst] = inside; values[worst] = fi; continue }
            }
            for index in simplex.indices where index != best {
                simplex[index] = clamp((0..<n).map { simplex[best][$0] + shrink * (simplex[index][$0] - simplex[best][$0]) })
                values[index] = value(simplex[index])
            }
        }
        let best = values.indices.min { values[$0] < values[$1] }!
        return Minimum(x: simplex[best], value: values[best], iterations: iteration)
    }

    /// The standard normal quantile Φ⁻¹(p), 0 < p < 1: Acklam's rational approximation
    /// refined by one Halley step on erfc (error below 1e-15).
    static func normalQuantile(_ p: Double) -> Double {
        precondition(p > 0 && p < 1, "a probability strictly between 0 and 1")
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        let low = 0.02425
        var x: Double
        if p < low {
            let q = (-2 * Foundation.log(p)).squareRoot()
            x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        } else if p <= 1 - low {
            let q = p - 0.5, r = q * q
            x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
        } else {
            let q = (-2 * Foundation.log(1 - p)).squareRoot()
            x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        }
        let e = 0.5 * erfc(-x / 2.0.squareRoot()) - p
        let u = e * (2 * Double.pi).squareRoot() * Foundation.exp(x * x / 2)
        return x - u / (1 + x * u / 2)
    }

    /// Least squares coefficients of `y` on the columns of `x` (rows of equal length), by the
    /// normal equations with partial pivoting: meant for well-scaled columns (two to four in the
    /// statistical models, up to 97 in `RandomWalkEvidence`, whose changes are standardised).
    static func leastSquares(_ x: [[Double]], _ y: [Double]) -> [Double] {
        let k = x.first?.count ?? 0
        var a = [[Double]](repeating: [Double](repeating: 0, count: k + 1), count: k)
        for (row, target) in zip(x, y) {
            for i in 0..<k {
                for j in 0..<k { a[i][j] += row[i] * row[j] }
                a[i][k] += row[i] * target
            }
        }
        for column in 0..<k {
            let pivot = (column..<k).max { abs(a[$0][column]) < abs(a[$1][column]) }!
            a.swapAt(column, pivot)
            guard a[column][column] != 0 else { continue }
            for r in 0..<k where r != column {
                let factor = a[r][column] / a[column][column]
                for j in column...k { a[r][j] -= factor * a[column][j] }
            }
        }
        return (0..<k).map { a[$0][$0] == 0 ? 0 : a[$0][k] / a[$0][$0] }
    }

    /// Sample autocorrelations at lags 1...maxLag (denominator n·c0, as statsmodels' `acf`).
    static func autocorrelation(_ y: [Double], maxLag: Int) -> [Double] {
        let n = y.count
        let mean = y.reduce(0, +) / Double(n)
        let centred = y.map { $0 - mean }
        let c0 = centred.reduce(0) { $0 + $1 * $1 }
        guard c0 > 0 else { return [Double](repeating: 0, count: maxLag) }
        return (1...maxLag).map { lag in
            lag >= n ? 0 : (lag..<n).reduce(0) { $0 + centred[$1] * centred[$1 - lag] } / c0
        }
    }

    /// `values` with NaN runs filled: inside the series by linear interpolation between the
    /// observations around them, at the ends by the nearest observation. Unchanged when
    /// nothing is missing; all NaN when nothing is observed.
    static func interpolatingGaps(_ values: [Double]) -> [Double] {
        let observed = values.indices.filter { values[$0].isFinite }
        guard let first = observed.first, let last = observed.last else { return values }
        guard observed.count < values.count else { return values }
        var result = values
        for i in 0..<first { result[i] = values[first] }
        for i in (last + 1)..<values.count { result[i] = values[last] }
        for (a, b) in zip(observed, observed.dropFirst()) where b > a + 1 {
            for i in (a + 1)..<b {
                result[i] = values[a] + (values[b] - values[a]) * Double(i - a) / Double(b - a)
            }
        }
        return result
    }
}

/// Akaike weights (Burnham and Anderson 2002): models fitted to the same data, each weighted by
/// exp(−ΔAICc / 2), ΔAICc its distance from the lowest (their forecasts are then averaged by
/// `QuantileForecast.mean(of:weights:)`).
enum AkaikeWeights {
    /// The normalised weights of `scores` (AICc values). A perfect fit (a constant series: no
    /// error, AICc −∞) takes all the weight, shared with any other perfect fit; a score that
    /// is not a number takes none; if none is usable, equal weights.
    static func of(_ scores: [Double]) -> [Double] {
        let best = scores.filter { !$0.isNaN }.min() ?? 0
        let raw = scores.map { score -> Double in
            if score.isNaN { return 0 }
            if best == -.infinity { return score == -.infinity ? 1 : 0 }
            return Foundation.exp(-0.5 * (score - best))
        }
        let total = raw.reduce(0, +)
        return total > 0 && total.isFinite ? raw.map { $0 / total } : scores.map { _ in 1 / Double(scores.count) }
    }
}
