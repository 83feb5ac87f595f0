import Foundation

/// Seasonal ARIMA(p,d,q)(P,D,Q)[m], chosen as forecast::auto.arima and statsforecast's
/// `AutoARIMA` choose it, fitted by conditional sum of squares. With B the backshift operator,
/// x the series (or its logarithm, below), w = (1 − B)^d (1 − B^m)^D x and μ its mean when the
/// model has a constant (a mean when d + D = 0, a drift when d + D = 1):
///
///     φ(B) Φ(B^m) (w[t] − μ) = θ(B) Θ(B^m) ε[t],   φ(B) = 1 − φ₁B − … − φ_pB^p,
///                                                  θ(B) = 1 + θ₁B + … + θ_qB^q (Φ, Θ alike in B^m)
///
/// Fitting (`fit`), as R's `arima(method = "CSS")`: the coefficients and μ minimise the
/// conditional sum of squares Σ ε[t]² over t ≥ p + Pm (ε before that taken as 0), by
/// Nelder–Mead over partial autocorrelations (tanh of the free parameters, turned into
/// coefficients by the Durbin–Levinson recursion), so every fitted AR polynomial is stationary
/// and every MA polynomial invertible, as auto.arima requires of the models it keeps. σ² is the
/// mean squared residual. The models a search compares share d and D, so they are compared on
/// the same differenced series: log L = −n/2 (log 2πσ² + 1) with n the length of w for every
/// model, and AICc = −2 log L + 2k + 2k(k+1)/(n − k − 1), k the coefficients, the constant and σ².
/// (The exact likelihood of a Kalman filter, statsforecast's `CSS-ML`, is not implemented.)
///
/// Choice (`auto`), as auto.arima's defaults (stepwise):
/// - the logarithm is modelled when the series is strictly positive and its seasonal swing grows
///   with its level (`Decomposition.seasonalMode`, the rule the decomposition uses), a Box–Cox
///   λ = 0 chosen from the data; otherwise the series itself;
/// - D = 1 when the seasonal strength of an STL decomposition, 1 − var(remainder) / var(season +
///   remainder), exceeds 0.64 (needs two whole seasons and m ≤ `maximumSeason`, 12);
/// - d: differenced while a KPSS test (level, lag ⌊3√n/13⌋) rejects stationarity at 5%
///   (statistic above 0.463), at most twice;
/// - start with (2,d,2)(1,D,1), (0,d,0)(0,D,0), (1,d,0)(1,D,0), (0,d,1)(0,D,1) (with a constant
///   where d + D ≤ 1) and (0,d,0)(0,D,0) without; then move to the first neighbour of lower AICc
///   (P, Q, then p, q, each ±1 and in pairs, then the constant toggled) until none is lower,
///   with p, q ≤ 5, P, Q ≤ 2, p + q + P + Q ≤ 5 and at most 94 models.
///
/// Forecasts run the recursion on w with future ε = 0 and undo the differencing; intervals are
/// Gaussian with variance σ² Σ_{j<h} ψ_j², ψ the MA(∞) weights of the whole model with its
/// differencing. On the logarithm each quantile is taken back with exp, so the point forecast
/// (the median) is exp of the mean. Missing values are interpolated linearly first; leading ones
/// dropped. Knows nothing of series keys, grids or networks.
public struct ARIMASpec: Hashable, Sendable, CustomStringConvertible {
    public var p: Int, d: Int, q: Int
    /// The seasonal orders (P, D, Q); all 0 for a non-seasonal model.
    public var seasonalP: Int, seasonalD: Int, seasonalQ: Int
    public var constant: Bool
    /// The model is of log x (the forecasts are taken back with exp).
    public var logarithm: Bool

    public init(p: Int, d: Int, q: Int, seasonalP: Int = 0, seasonalD: Int = 0, seasonalQ: Int = 0,
                constant: Bool = false, logarithm: Bool = false) {
        (self.p, self.d, self.q) = (p, d, q)
        (self.seasonalP, self.seasonalD, self.seasonalQ) = (seasonalP, seasonalD, seasonalQ)
        self.constant = constant
        self.logarithm = logarithm
    }

    public var isSeasonal: Bool { seasonalP + seasonalD + seasonalQ > 0 }

    /// "(2,1,1)(0,1,1) with drift, on logs", "(1,0,0) with mean", "(0,1,1)".
    public var description: String {
        var text = "(\(p),\(d),\(q))"
        if isSeasonal { text += "(\(seasonalP),\(seasonalD),\(seasonalQ))" }
        if constant { text += d + seasonalD == 0 ? " with mean" : " with drift" }
        if logarithm { text += ", on logs" }
        return text
    }

    /// Reads `description` back; nil for anything else.
    public init?(_ text: String) {
        var orders = text.prefix { $0 == "(" || $0 == ")" || $0 == "," || $0.isNumber }
        if orders.hasSuffix(",") { orders = orders.dropLast() }
        let numbers = orders.split { !$0.isNumber }.compactMap { Int($0) }
        let rest = text.dropFirst(orders.count)
        guard numbers.count == 3 || numbers.count == 6, numbers.allSatisfy({ $0 >= 0 && $0 <= 9 }),
              [" with mean", " with drift", ", on logs", " with mean, on logs", " with drift, on logs", ""].contains(String(rest))
        else { return nil }
        let seasonal = numbers.count == 6 ? Array(numbers[3...]) : [0, 0, 0]
        self.init(p: numbers[0], d: numbers[1], q: numbers[2], seasonalP: seasonal[0], seasonalD: seasonal[1], seasonalQ: seasonal[2],
                  constant: rest.hasPrefix(" with"), logarithm: rest.hasSuffix("on logs"))
        guard description == text else { return nil }
    }

    /// The same orders without the seasonal part. Where the seasonal difference was the only
    /// one, the series' level went with it, so the model gets a mean: (0,0,1)(1,1,1) eased to a
    /// zero-mean (0,0,1) forecast 0 for a quarterly series near 4,000 (prisoners in fpp2's
    /// `prison`, a backtest window of two years).
    var withoutSeason: ARIMASpec {
        ARIMASpec(p: p, d: d, q: q, constant: (d == 0 && seasonalD > 0) || (constant && d <= 1), logarithm: logarithm)
    }

    /// What a seasonal specification is eased to, in turn, on a history too short for it: its
    /// seasonal difference alone (no seasonal AR or MA terms), then no season.
    var easedForShorterHistory: [ARIMASpec] {
        let differenceOnly = ARIMASpec(p: p, d: d, q: q, seasonalD: seasonalD, constant: constant, logarithm: logarithm)
        return (seasonalD > 0 && differenceOnly != self ? [differenceOnly] : []) + [withoutSeason]
    }

    /// Coefficients, constant and σ²: the k of AICc.
    var parameterCount: Int { p + q + seasonalP + seasonalQ + (constant ? 1 : 0) + 1 }
}

public enum ARIMAError: Error, Sendable, Equatable, CustomStringConvertible {
    case tooShort(needed: Int, got: Int)
    case notPositive
    case noModel

    public var description: String {
        switch self {
        case .tooShort(let needed, let got): return "ARIMA needs at least \(needed) observations, got \(got)"
        case .notPositive: return "ARIMA on logs needs strictly positive values"
        case .noModel: return "no ARIMA model could be fitted"
        }
    }
}

public struct ARIMAModel: Sendable {
    public let spec: ARIMASpec
    public let season: Int
    /// φ(B)Φ(B^m) multiplied out: w[t] − μ = Σ ar[i−1] (w[t−i] − μ) + …
    public let ar: [Double]
    /// θ(B)Θ(B^m) multiplied out: … + ε[t] + Σ ma[j−1] ε[t−j].
    public let ma: [Double]
    /// The constant of w (0 without one).
    public let mean: Double
    public let sigma2: Double
    public let aicc: Double
    /// The modelled series (the logarithm when `spec.logarithm`), gaps filled.
    let x: [Double]
    /// The in-sample one-step errors on w, 0 before the conditioning steps.
    let residuals: [Double]

    /// The median forecast of the next `horizon` steps.
    public func pointForecast(horizon: Int) -> [Double] { forecast(horizon: horizon, levels: [0.5]).point }

    /// Quantile forecasts at `levels` (each in (0, 1)), Gaussian on the modelled scale.
    public func forecast(horizon: Int, levels: [Double]) -> QuantileForecast {
        let stages = ARIMA.differencingStages(x, spec: spec, season: season)
        var w = stages.last!.series
        var errors = residuals
        let start = w.count
        for t in start..<(start + horizon) {
            var value = mean
            for (i, a) in ar.enumerated() where t - i - 1 >= 0 { value += a * (w[t - i - 1] - mean) }
            for (j, b) in ma.enumerated() where t - j - 1 >= 0 { value += b * errors[t - j - 1] }
            w.append(value)
            errors.append(0)
        }
        var future = Array(w[start...])
        // Undo each differencing, the last applied first.
        for stage in stages.dropLast().reversed() {
            var extended = stage.series
            for k in 0..<horizon { extended.append(future[k] + extended[extended.count - stage.lag]) }
            future = Array(extended[stage.series.count...])
        }
        let psi = ARIMA.psiWeights(ar: ARIMA.integratedAR(ar, spec: spec, season: season), ma: ma, count: horizon)
        var cumulative = 0.0
        let z = levels.map(Numerics.normalQuantile)
        var values: [Double] = [], point: [Double] = []
        values.reserveCapacity(horizon * levels.count)
        let back = { (v: Double) in spec.logarithm ? Foundation.exp(v) : v }
        for k in 0..<horizon {
            cumulative += psi[k] * psi[k]
            let sd = (sigma2 * cumulative).squareRoot()
            values += z.map { back(future[k] + $0 * sd) }
            point.append(back(future[k]))
        }
        return QuantileForecast(levels: levels, values: values, point: point)
    }
}

public enum ARIMA {
    /// The longest season a seasonal model is fitted with (monthly data's year); longer seasons
    /// get a non-seasonal model, and the guard does not backtest ARIMA for them. With hourly
    /// data's day (24) the stepwise search fits seasonal lags up to 48 some thirty times per
    /// choice: on a test's 12 short hourly series the guard's debug-build time went from 53 s to
    /// 500 s; on weekly data's year (52) it gained nothing over seeds 1–5 (weekly CO2 0.190 →
    /// 0.193).
    public static let maximumSeason = 12
    static let maxOrder = 5, maxP = 5, maxQ = 5, maxSeasonalP = 2, maxSeasonalQ = 2, maxModels = 94
    /// KPSS at 5% (Kwiatkowski et al. 1992, level stationarity) and the seasonal strength above
    /// which the season is differenced (forecast's `nsdiffs(test = "seas")`).
    static let kpssCritical = 0.463, seasonalStrengthLimit = 0.64

    /// The model of lowest AICc of the stepwise search (see `ARIMASpec`'s comment).
    public static func auto(_ values: [Double], season: Int) throws(ARIMAError) -> ARIMAModel {
        let y = try prepared(values)
        let seasonal = season >= 2 && season <= maximumSeason && y.count >= 2 * season
        let logarithm = seasonal && y.allSatisfy { $0 > 0 } && Decomposition.seasonalMode(y, period: season) == .multiplicative
        let x = logarithm ? y.map { Foundation.log($0) } : y
        if x.allSatisfy({ $0 == x[0] }) {
            return try fit(y, season: season, spec: ARIMASpec(p: 0, d: 0, q: 0, constant: true))
        }
        let bigD = seasonal && seasonalStrength(x, period: season) > seasonalStrengthLimit ? 1 : 0
        var z = bigD == 1 ? difference(x, lag: season) : x
        var d = 0
        while d < 2, z.count > 3, !isConstant(z), kpss(z) > kpssCritical {
            z = difference(z, lag: 1)
            d += 1
        }
        let n = z.count
        let limitP = min(maxP, n / 3), limitQ = min(maxQ, n / 3)
        let limitSP = seasonal ? min(maxSeasonalP, n / 3 / season) : 0
        let limitSQ = seasonal ? min(maxSeasonalQ, n / 3 / season) : 0
        let constantAllowed = d + bigD <= 1
        var tried: [ARIMASpec: ARIMAModel?] = [:]
        var best: ARIMAModel?
        @discardableResult
        func consider(_ p: Int, _ q: Int, _ sp: Int, _ sq: Int, _ constant: Bool) -> Bool {
            guard p >= 0, q >= 0, sp >= 0, sq >= 0, p <= limitP, q <= limitQ, sp <= limitSP, sq <= limitSQ,
                  p + q + sp + sq <= maxOrder, !constant || constantAllowed, tried.count < maxModels else { return false }
            let spec = ARIMASpec(p: p, d: d, q: q, seasonalP: sp, seasonalD: bigD, seasonalQ: sq, constant: constant, logarithm: logarithm)
            if tried[spec] != nil { return false }
            let model = try? fit(y, season: season, spec: spec)
            tried[spec] = .some(model)
            guard let model, model.aicc.isFinite, model.aicc < (best?.aicc ?? .infinity) else { return false }
            best = model
            return true
        }
        let s = seasonal ? 1 : 0
        consider(2, 2, s, s, constantAllowed)
        consider(0, 0, 0, 0, constantAllowed)
        consider(1, 0, s, 0, constantAllowed)
        consider(0, 1, 0, s, constantAllowed)
        if constantAllowed { consider(0, 0, 0, 0, false) }
        while let current = best?.spec {
            let (p, q, sp, sq, c) = (current.p, current.q, current.seasonalP, current.seasonalQ, current.constant)
            let neighbours: [(Int, Int, Int, Int, Bool)] = [
                (p, q, sp - 1, sq, c), (p, q, sp + 1, sq, c), (p, q, sp, sq - 1, c), (p, q, sp, sq + 1, c),
                (p, q, sp - 1, sq - 1, c), (p, q, sp - 1, sq + 1, c), (p, q, sp + 1, sq - 1, c), (p, q, sp + 1, sq + 1, c),
                (p - 1, q, sp, sq, c), (p + 1, q, sp, sq, c), (p, q - 1, sp, sq, c), (p, q + 1, sp, sq, c),
                (p - 1, q - 1, sp, sq, c), (p - 1, q + 1, sp, sq, c), (p + 1, q - 1, sp, sq, c), (p + 1, q + 1, sp, sq, c),
                (p, q, sp, sq, !c),
            ]
            guard neighbours.contains(where: { consider($0.0, $0.1, $0.2, $0.3, $0.4) }) else { break }
        }
        guard let best else { throw .noModel }
        return best
    }

    /// The model `spec` fitted by conditional sum of squares (see `ARIMASpec`'s comment).
    public static func fit(_ values: [Double], season: Int, spec: ARIMASpec) throws(ARIMAError) -> ARIMAModel {
        let y = try prepared(values)
        if spec.logarithm && !y.allSatisfy({ $0 > 0 }) { throw .notPositive }
        let x = spec.logarithm ? y.map { Foundation.log($0) } : y
        let m = spec.isSeasonal ? season : 1
        let w = differencingStages(x, spec: spec, season: m).last!.series
        let conditioning = spec.p + spec.seasonalP * m
        let used = w.count - conditioning
        let k = spec.parameterCount
        guard used > k + 1 else {
            throw .tooShort(needed: x.count - w.count + conditioning + k + 2, got: x.count)
        }
        let average = w.reduce(0, +) / Double(w.count)
        let free = spec.p + spec.q + spec.seasonalP + spec.seasonalQ
        // The free parameters: a partial autocorrelation's tanh⁻¹ per coefficient, then the constant.
        func polynomials(_ u: [Double]) -> (ar: [Double], ma: [Double], mean: Double) {
            var index = 0
            func take(_ count: Int) -> [Double] {
                defer { index += count }
                return coefficients(partials: u[index..<(index + count)].map { Foundation.tanh($0) })
            }
            let phi = take(spec.p), theta = take(spec.q).map { -$0 }
            let seasonalPhi = take(spec.seasonalP), seasonalTheta = take(spec.seasonalQ).map { -$0 }
            return (multiplied(phi, seasonalPhi, season: m, sign: -1), multiplied(theta, seasonalTheta, season: m, sign: 1),
                    spec.constant ? u[free] : 0)
        }
        func sumOfSquares(_ ar: [Double], _ ma: [Double], _ mean: Double) -> (Double, [Double]) {
            var errors = [Double](repeating: 0, count: w.count)
            var total = 0.0
            for t in conditioning..<w.count {
                var e = w[t] - mean
                for (i, a) in ar.enumerated() { e -= a * (w[t - i - 1] - mean) }
                for (j, b) in ma.enumerated() where t - j - 1 >= conditioning { e -= b * errors[t - j - 1] }
                errors[t] = e
                total += e * e
            }
            return (total, errors)
        }
        let start = [Double](repeating: 0.1, count: free) + (spec.constant ? [average] : [])
        var (ar, ma, mean) = polynomials(start)
        if !start.isEmpty {
            let limit = 3.8  // tanh(3.8) ≈ 0.999: a partial autocorrelation short of a unit root
            let objective = { (u: [Double]) -> Double in
                let (a, b, c) = polynomials(u)
                let (total, _) = sumOfSquares(a, b, c)
                return total.isFinite ? 0.5 * Foundation.log(Swift.max(total / Double(used), 1e-300)) : .infinity
            }
            let lower = [Double](repeating: -limit, count: free) + (spec.constant ? [-Double.infinity] : [])
            let upper = [Double](repeating: limit, count: free) + (spec.constant ? [Double.infinity] : [])
            let best = Numerics.nelderMead(objective, start: start, lower: lower, upper: upper,
                                           tolerance: 1e-9, maxIterations: 400 * start.count)
            (ar, ma, mean) = polynomials(best.x)
        }
        let (total, residuals) = sumOfSquares(ar, ma, mean)
        let sigma2 = total / Double(used)
        let n = Double(w.count), kk = Double(k)
        let logLikelihood = -0.5 * n * (Foundation.log(2 * Double.pi * Swift.max(sigma2, 1e-300)) + 1)
        let aicc = -2 * logLikelihood + 2 * kk + 2 * kk * (kk + 1) / (n - kk - 1)
        return ARIMAModel(spec: spec, season: m, ar: ar, ma: ma, mean: mean, sigma2: sigma2, aicc: aicc, x: x, residuals: residuals)
    }

    // MARK: Pieces

    /// The observations from the first finite one, gaps interpolated.
    static func prepared(_ values: [Double]) throws(ARIMAError) -> [Double] {
        guard let first = values.firstIndex(where: \.isFinite) else { throw .tooShort(needed: 4, got: 0) }
        let y = Numerics.interpolatingGaps(Array(values[first...]))
        guard y.count >= 4 else { throw .tooShort(needed: 4, got: y.count) }
        return y
    }

    /// x, then each differencing applied in turn (the seasonal ones first), each with the lag
    /// that made it; the last is w.
    static func differencingStages(_ x: [Double], spec: ARIMASpec, season: Int) -> [(series: [Double], lag: Int)] {
        var stages: [(series: [Double], lag: Int)] = [(x, 0)]
        for lag in Array(repeating: season, count: spec.isSeasonal ? spec.seasonalD : 0) + Array(repeating: 1, count: spec.d) {
            stages[stages.count - 1].lag = lag
            stages.append((difference(stages.last!.series, lag: lag), 0))
        }
        return stages
    }

    static func difference(_ x: [Double], lag: Int) -> [Double] {
        x.count > lag ? (lag..<x.count).map { x[$0] - x[$0 - lag] } : []
    }

    static func isConstant(_ x: [Double]) -> Bool { x.allSatisfy { abs($0 - x[0]) <= 1e-12 * Swift.max(1, abs(x[0])) } }

    /// The Durbin–Levinson map from partial autocorrelations (each in (−1, 1)) to the
    /// coefficients of a stationary AR polynomial 1 − Σ φ_i B^i.
    static func coefficients(partials: [Double]) -> [Double] {
        var phi: [Double] = []
        for r in partials {
            let previous = phi
            phi = previous.indices.map { previous[$0] - r * previous[previous.count - 1 - $0] } + [r]
        }
        return phi
    }

    /// The lag coefficients of (1 ∓ Σ a_i B^i)(1 ∓ Σ s_j B^{jm}) as they enter the recursion
    /// (`sign` −1 for AR polynomials, whose coefficients are subtracted; +1 for MA).
    static func multiplied(_ a: [Double], _ s: [Double], season: Int, sign: Double) -> [Double] {
        let length = a.count + s.count * season
        guard length > 0 else { return [] }
        var full = [Double](repeating: 0, count: length + 1)
        full[0] = 1
        var left = [Double](repeating: 0, count: a.count + 1), right = [Double](repeating: 0, count: s.count * season + 1)
        left[0] = 1; right[0] = 1
        for (i, v) in a.enumerated() { left[i + 1] = sign * v }
        for (j, v) in s.enumerated() { right[(j + 1) * season] = sign * v }
        full[0] = 0
        for (i, l) in left.enumerated() where l != 0 {
            for (j, r) in right.enumerated() where r != 0 { full[i + j] += l * r }
        }
        return full[1...].map { sign * $0 }
    }

    /// The AR lag coefficients with the differencing multiplied in: (1 − Σ ar B^i)(1 − B)^d (1 − B^m)^D.
    static func integratedAR(_ ar: [Double], spec: ARIMASpec, season: Int) -> [Double] {
        var polynomial = [1.0] + ar.map { -$0 }
        let factors = Array(repeating: season, count: spec.isSeasonal ? spec.seasonalD : 0) + Array(repeating: 1, count: spec.d)
        for lag in factors {
            var next = [Double](repeating: 0, count: polynomial.count + lag)
            for (i, c) in polynomial.enumerated() { next[i] += c; next[i + lag] -= c }
            polynomial = next
        }
        return polynomial.dropFirst().map { -$0 }
    }

    /// ψ_0 … ψ_{count−1} of the MA(∞) form: ψ_0 = 1, ψ_j = ma_j + Σ_i ar_i ψ_{j−i}.
    static func psiWeights(ar: [Double], ma: [Double], count: Int) -> [Double] {
        var psi = [Double](repeating: 0, count: Swift.max(count, 1))
        psi[0] = 1
        for j in stride(from: 1, to: count, by: 1) {
            var value = j <= ma.count ? ma[j - 1] : 0
            for i in stride(from: 1, through: Swift.min(j, ar.count), by: 1) { value += ar[i - 1] * psi[j - i] }
            psi[j] = value
        }
        return psi
    }

    /// 1 − var(remainder) / var(season + remainder) of an additive STL, at least 0.
    static func seasonalStrength(_ x: [Double], period: Int) -> Double {
        let parts = Decomposition.stl(x, period: period, mode: .additive)
        guard let seasonal = parts.seasonal.first else { return 0 }
        let remainder = parts.remainder
        let both = zip(seasonal, remainder).map { $0 + $1 }
        let total = variance(both)
        return total > 0 ? Swift.max(0, 1 - variance(remainder) / total) : 0
    }

    static func variance(_ x: [Double]) -> Double {
        let mean = x.reduce(0, +) / Double(x.count)
        return x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(Swift.max(x.count - 1, 1))
    }

    /// The KPSS statistic for level stationarity with the Bartlett long-run variance over
    /// ⌊3√n/13⌋ lags (urca's `ur.kpss(type = "mu")` as forecast's `ndiffs` calls it).
    static func kpss(_ x: [Double]) -> Double {
        let n = x.count
        let mean = x.reduce(0, +) / Double(n)
        let e = x.map { $0 - mean }
        var partial = 0.0, squares = 0.0
        for v in e { partial += v; squares += partial * partial }
        let lags = Int(3 * Double(n).squareRoot() / 13)
        var longRun = e.reduce(0) { $0 + $1 * $1 } / Double(n)
        if lags > 0 {
            for l in 1...lags {
                var s = 0.0
                for t in l..<n { s += e[t] * e[t - l] }
                longRun += 2 * (1 - Double(l) / Double(lags + 1)) * s / Double(n)
            }
        }
        return longRun > 0 ? squares / (Double(n) * Double(n) * longRun) : 0
    }
}
