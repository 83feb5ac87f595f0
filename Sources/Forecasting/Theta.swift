import Foundation
import NeuralNet

/// The Theta method (Assimakopoulos and Nikolopoulos 2000) in the state-space form of
/// Fiorucci et al. (2016), as statsforecast's `AutoTheta` fits it:
///
/// 1. Seasonal test: with m ≥ 4 and n ≥ 2m, the series is deseasonalised when the lag-m
///    autocorrelation r_m exceeds 1.645·√((1 + 2 Σ_{k<m} r_k²) / n) (90% two-sided). The
///    deseasonalisation is the classical multiplicative decomposition
///    (`Decomposition.classical`), additive when the data are not strictly positive or a
///    multiplicative factor falls below 0.01; the forecast is re-seasonalised with the last
///    season of factors.
/// 2. Four variants, each with the initial smoothed level ℓ0, α ∈ [0.1, 0.99] and (optimised
///    variants) θ ≥ 1 fitted by Nelder–Mead on the in-sample one-step errors (the first
///    three left out): STM (θ = 2, the standard method), OTM (θ optimised), and the dynamic
///    DSTM and DOTM, whose linear trend A_t + B_t·t is re-estimated as each value arrives
///    rather than fitted once on the whole series. The one-step forecast at step t is
///    μ_t = ℓ_{t−1} + (1 − 1/θ)(A·(1−α)^t + B·(1 − (1−α)^{t+1})/α), and ℓ_t = αy_t + (1 − α)ℓ_{t−1}.
/// 3. The variant with the smallest in-sample MSE is kept.
///
/// Prediction intervals are simulated as statsforecast does: Gaussian innovations with the
/// standard deviation of the in-sample errors (the first three left out) run through the
/// dynamic recursion for the horizon, and the empirical quantiles of the paths taken, here
/// with `paths` paths from a seeded generator (statsforecast: 200), so the same call gives the
/// same interval. Missing values (NaN) are interpolated linearly first; leading ones dropped.
public struct ThetaModel: Sendable {
    public enum Variant: String, Sendable, Hashable, CaseIterable {
        case standard = "STM", optimized = "OTM", dynamicStandard = "DSTM", dynamicOptimized = "DOTM"
        var isDynamic: Bool { self == .dynamicStandard || self == .dynamicOptimized }
        var optimisesTheta: Bool { self == .optimized || self == .dynamicOptimized }
    }

    public let variant: Variant
    public let alpha: Double
    public let theta: Double
    public let initialSmoothed: Double
    /// The deseasonalisation applied before fitting, nil when the seasonal test said none.
    public let seasonalMode: Decomposition.Mode?
    /// The seasonal factors (or offsets) of the next `season` steps, the next step first.
    public let seasonalForecast: [Double]
    /// Σ_{t≥3} e_t² / mean |y| on the deseasonalised series: the criterion between variants.
    public let criterion: Double
    /// One-step in-sample errors on the deseasonalised series.
    public let residuals: [Double]
    /// The state after the last step: level, running mean, A, B.
    let last: ThetaState
    /// Steps of the (trimmed) history.
    public let observations: Int
    /// The mean of the deseasonalised history.
    let meanValue: Double

    /// "OTM", or "OTM+multiplicative" when deseasonalised (as the reference data name them).
    public var name: String { variant.rawValue + (seasonalMode.map { "+" + $0.rawValue } ?? "") }
}

struct ThetaState: Sendable {
    var level: Double
    var mean: Double
    var a: Double
    var b: Double
}

public enum ThetaError: Error, Sendable, Equatable, CustomStringConvertible {
    case tooShort(got: Int)
    public var description: String {
        switch self {
        case .tooShort(let got): return "Theta needs at least 4 observations, got \(got)"
        }
    }
}

public enum Theta {
    /// statsforecast's `AutoTheta(season_length: season)`: the best of the four variants on
    /// the (when seasonal) deseasonalised series. `variants` restricts the choice.
    public static func auto(_ values: [Double], season: Int,
                            variants: [ThetaModel.Variant] = ThetaModel.Variant.allCases) throws(ThetaError) -> ThetaModel {
        guard let first = values.firstIndex(where: \.isFinite) else { throw .tooShort(got: 0) }
        var y = Numerics.interpolatingGaps(Array(values[first...]))
        let n = y.count
        guard n > 3 else { throw .tooShort(got: n) }
        var mode: Decomposition.Mode?
        var seasonalForecast: [Double] = []
        if season >= 4 && n >= 2 * season && isSeasonal(y, season: season) {
            var chosen: Decomposition.Mode = y.allSatisfy { $0 > 0 } ? .multiplicative : .additive
            var component = Decomposition.classical(y, period: season, mode: chosen).seasonal[0]
            if chosen == .multiplicative && component.contains(where: { $0 < 0.01 }) {
                chosen = .additive
                component = Decomposition.classical(y, period: season, mode: .additive).seasonal[0]
            }
            y = (0..<n).map { chosen == .additive ? y[$0] - component[$0] : y[$0] / component[$0] }
            mode = chosen
            seasonalForecast = Array(component[(n - season)...])
        }
        var best: ThetaModel?
        for variant in variants {
            let model = fit(y, variant: variant, mode: mode, seasonalForecast: seasonalForecast)
            if model.criterion.isFinite, model.criterion < (best?.criterion ?? .infinity) { best = model }
        }
        guard let best else { throw .tooShort(got: n) }
        return best
    }

    /// The seasonal test of step 1 (see `ThetaModel`).
    static func isSeasonal(_ y: [Double], season: Int) -> Bool {
        let r = Numerics.autocorrelation(y, maxLag: season)
        let spread = ((1 + 2 * r.dropLast().reduce(0) { $0 + $1 * $1 }) / Double(y.count)).squareRoot()
        return abs(r[season - 1]) / spread > 1.6448536269514722
    }

    static func fit(_ y: [Double], variant: ThetaModel.Variant, mode: Decomposition.Mode?, seasonalForecast: [Double]) -> ThetaModel {
        var start = [y[0] / 2, 0.5], lower = [-1e10, 0.1], upper = [1e10, 0.99]
        if variant.optimisesTheta { start.append(2); lower.append(1); upper.append(1e10) }
        let best = Numerics.nelderMead({ x in
            run(y, variant: variant, initialSmoothed: x[0], alpha: x[1], theta: x.count > 2 ? x[2] : 2).criterion
        }, start: start, lower: lower, upper: upper)
        let theta = best.x.count > 2 ? best.x[2] : 2
        let result = run(y, variant: variant, initialSmoothed: best.x[0], alpha: best.x[1], theta: theta)
        return ThetaModel(variant: variant, alpha: best.x[1], theta: theta, initialSmoothed: best.x[0],
                          seasonalMode: mode, seasonalForecast: seasonalForecast, criterion: result.criterion,
                          residuals: result.errors, last: result.last, observations: y.count,
                          meanValue: y.reduce(0, +) / Double(y.count))
    }

    /// The one-step forecast of step i from the state after step i − 1.
    @inline(__always)
    static func oneStep(_ s: ThetaState, step i: Int, alpha: Double, theta: Double) -> Double {
        let decay = pow(1 - alpha, Double(i))
        return s.level + (1 - 1 / theta) * (s.a * decay + s.b * (1 - decay * (1 - alpha)) / alpha)
    }

    /// The state after step i has read `value`.
    @inline(__always)
    static func update(_ s: ThetaState, step i: Int, value: Double, alpha: Double, dynamic: Bool) -> ThetaState {
        let di = Double(i)
        var next = s
        next.level = alpha * value + (1 - alpha) * s.level
        next.mean = (di * s.mean + value) / (di + 1)
        if dynamic {
            next.b = ((di - 1) * s.b + 6 * (value - s.mean) / (di + 1)) / (di + 2)
            next.a = next.mean - next.b * (di + 2) / 2
        }
        return next
    }

    static func run(_ y: [Double], variant: ThetaModel.Variant, initialSmoothed: Double, alpha: Double, theta: Double)
        -> (criterion: Double, errors: [Double], last: ThetaState) {
        let n = y.count
        var a: Double, b: Double
        if variant.isDynamic {
            a = y[0]; b = 0
        } else {
            // The least-squares line through the whole series.
            let dn = Double(n)
            let mean = y.reduce(0, +) / dn
            var weighted = 0.0
            for (t, v) in y.enumerated() { weighted += Double(t + 1) * v }
            weighted /= dn
            b = 6 * (2 * weighted - (dn + 1) * mean) / (dn * dn - 1)
            a = mean - (dn + 1) * b / 2
        }
        let mu0 = initialSmoothed + (1 - 1 / theta) * (a + b)
        var state = ThetaState(level: alpha * y[0] + (1 - alpha) * initialSmoothed, mean: y[0], a: a, b: b)
        var errors = [Double](repeating: 0, count: n)
        errors[0] = y[0] - mu0
        for i in 1..<n {
            errors[i] = y[i] - oneStep(state, step: i, alpha: alpha, theta: theta)
            state = update(state, step: i, value: y[i], alpha: alpha, dynamic: variant.isDynamic)
        }
        let scale = Swift.max(y.reduce(0) { $0 + abs($1) } / Double(n), 1e-10)
        let sum = errors.dropFirst(3).reduce(0) { $0 + $1 * $1 }
        return (sum / scale, errors, state)
    }
}

extension ThetaModel {
    func seasonalise(_ value: Double, step: Int) -> Double {
        guard let seasonalMode else { return value }
        let factor = seasonalForecast[step % seasonalForecast.count]
        return seasonalMode == .additive ? value + factor : value * factor
    }

    /// Point forecasts of the next `horizon` steps, re-seasonalised.
    public func pointForecast(horizon: Int) -> [Double] {
        var state = last
        return (0..<max(horizon, 0)).map { j in
            let i = observations + j
            let mu = Theta.oneStep(state, step: i, alpha: alpha, theta: theta)
            state = Theta.update(state, step: i, value: mu, alpha: alpha, dynamic: variant.isDynamic)
            return seasonalise(mu, step: j)
        }
    }

    /// Quantile forecasts at `levels` from `paths` simulated paths (see `ThetaModel`); the
    /// point forecast stays the model's own.
    public func forecast(horizon: Int, levels: [Double], paths: Int = 2000, seed: UInt64 = 0) -> QuantileForecast {
        let point = pointForecast(horizon: horizon)
        let tail = residuals.count > 4 ? Array(residuals.dropFirst(3)) : residuals
        let mean = tail.reduce(0, +) / Double(tail.count)
        let sigma = tail.count > 1 ? (tail.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(tail.count - 1)).squareRoot() : 0
        var generator = SeededGenerator(seed: seed)
        var level = [Double](repeating: last.level, count: paths)
        var runningMean = [Double](repeating: meanValue, count: paths)
        var a = [Double](repeating: last.a, count: paths), b = [Double](repeating: last.b, count: paths)
        var values: [Double] = []
        values.reserveCapacity(horizon * levels.count)
        var sample = [Double](repeating: 0, count: paths)
        for j in 0..<max(horizon, 0) {
            let i = Double(observations + j)
            let decay = pow(1 - alpha, i)
            for k in 0..<paths {
                let s = level[k] + (1 - 1 / theta) * (a[k] * decay + b[k] * (1 - decay * (1 - alpha)) / alpha)
                    + sigma * generator.nextGaussian()
                sample[k] = s
                level[k] = alpha * s + (1 - alpha) * level[k]
                runningMean[k] = (i * runningMean[k] + s) / (i + 1)
                b[k] = ((i - 1) * b[k] + 6 * (s - runningMean[k]) / (i + 1)) / (i + 2)
                a[k] = runningMean[k] - b[k] * (i + 2) / 2
            }
            let sorted = sample.sorted()
            values += levels.map { seasonalise(Quantiles.sortedQuantile(sorted, $0), step: j) }
        }
        return QuantileForecast(levels: levels, values: values, point: point)
    }
}
