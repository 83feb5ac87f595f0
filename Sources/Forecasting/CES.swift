import Foundation

/// Complex exponential smoothing (Svetunkov and Kourentzes 2018; Svetunkov, Kourentzes and Ord
/// 2022, "Complex exponential smoothing", Naval Research Logistics 69), as statsforecast's
/// `AutoCES` fits it. The level is a complex number ℓ + i·c smoothed with a complex parameter
/// α₀ + i·α₁, so that one recursion spans what ETS splits into level and trend models:
///
///     ŷ_t = ℓ_{t−1}                                   (N, P, F: the previous step)
///     ℓ_t = ℓ_{t−1} − (1 − α₁)·c_{t−1} + (α₀ − α₁)·e_t
///     c_t = ℓ_{t−1} + (1 − α₀)·c_{t−1} + (α₀ + α₁)·e_t,     e_t = y_t − ŷ_t
///
/// Four seasonal types (`CESKind`): none (N); simple (S: the complex pair itself runs at lag m,
/// one level per phase); partial (P: a real seasonal term s_t = s_{t−m} + β₀·e_t added to the
/// forecast); full (F: a second complex pair at lag m with β₀ + i·β₁, updated as the first).
/// Each is fitted as statsforecast does: initial states from the first values (S), or their mean
/// and the classical additive decomposition's seasonal terms (P, F; `Decomposition.classical`),
/// refined by backfitting (forward over the series, backward, forward again); the parameters by
/// Nelder–Mead (`Numerics.nelderMead`, from α = 1.3 + 1.0i, β = 1.3 + 1.0i or β₀ = 0.1, bounded
/// to [0.01, 1.8] × [0.01, 1.9] × [0.01, 1.5]²) minimising n·log Σe²; the type with the least
/// AICc (with statsforecast's count of parameters: the states per step plus one) is kept.
///
/// Prediction intervals are Gaussian: the model is linear, so the h-step error is Σ_{j<h} ψ_j·e,
/// with ψ_j the response of the forecast j steps on to one unit innovation (run through the same
/// recursion), and σ² = Σe² / (n − k − 1). Missing values (NaN) are interpolated linearly first;
/// leading ones dropped. Knows nothing of networks, databases or rows.
public enum CESKind: String, Sendable, Hashable, CaseIterable {
    case none = "N", simple = "S", partial = "P", full = "F"

    /// Columns of the state: the complex level, then the partial seasonal term or the complex seasonal pair.
    var components: Int {
        switch self {
        case .none, .simple: 2
        case .partial: 3
        case .full: 4
        }
    }

    /// statsforecast's count of parameters in the information criteria.
    var parameterCount: Int { components + 1 }
}

public enum CESError: Error, Sendable, Equatable, CustomStringConvertible {
    case tooShort(got: Int, needs: Int)
    case noModel
    public var description: String {
        switch self {
        case .tooShort(let got, let needs): return "CES needs more than \(needs) observations, got \(got)"
        case .noModel: return "no CES model could be fitted"
        }
    }
}

public struct CESModel: Sendable {
    public let kind: CESKind
    public let season: Int
    /// α₀, α₁, β₀, β₁ (β unused where the kind has no seasonal term, β₁ unused but for F).
    public let alpha0: Double, alpha1: Double, beta0: Double, beta1: Double
    public let aicc: Double
    public let sigma2: Double
    /// The last `lag` state rows, oldest first: what the forecast recursion reads.
    let lastStates: [[Double]]

    /// The steps between a state and the one it updates: 1 for N, the season for the others.
    var lag: Int { kind == .none ? 1 : season }
}

public enum CES {
    /// statsforecast's `AutoCES(season_length: season)`: every kind the history allows (only N
    /// below two seasons or for a season of 1), the one of least AICc. `kinds` restricts the choice.
    public static func auto(_ values: [Double], season: Int, kinds: [CESKind] = CESKind.allCases) throws(CESError) -> CESModel {
        guard let first = values.firstIndex(where: \.isFinite) else { throw .tooShort(got: 0, needs: 2) }
        let y = Numerics.interpolatingGaps(Array(values[first...]))
        let seasonal = season > 1 && y.count >= 2 * season
        let allowed = seasonal ? kinds : [.none]  // a seasonal type asked of too short a history eases to N
        // More observations than smoothing parameters (one per state column), as statsforecast asks.
        let needs = allowed.map(\.components).max() ?? 2
        guard y.count > needs else { throw .tooShort(got: y.count, needs: needs) }
        var best: CESModel?
        for kind in allowed {
            guard let model = fit(y, season: season, kind: kind), model.aicc.isFinite else { continue }
            if model.aicc < best?.aicc ?? .infinity { best = model }
        }
        guard let best else { throw .noModel }
        return best
    }

    /// One kind fitted on `y` (no missing values); nil where its likelihood is not finite.
    static func fit(_ y: [Double], season: Int, kind: CESKind) -> CESModel? {
        let lag = kind == .none ? 1 : season
        let initial = initialStates(y, season: season, kind: kind)
        var start = [1.3, 1.0], upper = [1.8, 1.9]
        switch kind {
        case .partial: start.append(0.1); upper.append(1.5)
        case .full: start += [1.3, 1.0]; upper += [1.5, 1.5]
        case .none, .simple: break
        }
        let lower = [Double](repeating: 0.01, count: start.count)
        func parameters(_ x: [Double]) -> Parameters {
            Parameters(a0: x[0], a1: x[1], b0: x.count > 2 ? x[2] : 0, b1: x.count > 3 ? x[3] : 0)
        }
        let best = Numerics.nelderMead({ x in
            criterion(backfitted(y, lag: lag, kind: kind, initial: initial, p: parameters(x)).lik)
        }, start: start, lower: lower, upper: upper)
        let p = parameters(best.x)
        let run = backfitted(y, lag: lag, kind: kind, initial: initial, p: p)
        let lik = criterion(run.lik)
        guard lik.isFinite, !run.last.isEmpty else { return nil }
        let n = Double(y.count), k = Double(kind.parameterCount)
        let aic = lik + 2 * k
        let aicc = n - k - 1 != 0 ? aic + 2 * k * (k + 1) / (n - k - 1) : .infinity
        let sigma2 = run.sse / Swift.max(n - k - 1, 1)
        return CESModel(kind: kind, season: season, alpha0: p.a0, alpha1: p.a1, beta0: p.b0, beta1: p.b1,
                        aicc: aicc, sigma2: sigma2, lastStates: run.last)
    }

    struct Parameters {
        var a0: Double, a1: Double, b0: Double, b1: Double
    }

    /// statsforecast's `initstate`: `lag` rows of `kind.components` columns.
    static func initialStates(_ y: [Double], season: Int, kind: CESKind) -> [[Double]] {
        switch kind {
        case .none:
            let head = y.prefix(Swift.min(Swift.max(10, season), y.count))
            let mean = head.reduce(0, +) / Double(head.count)
            return [[mean, mean / 1.1]]
        case .simple:
            return y.prefix(season).map { [$0, $0 / 1.1] }
        case .partial, .full:
            let mean = y.prefix(season).reduce(0, +) / Double(season)
            let seasonal = Decomposition.classical(y, period: season, mode: .additive).seasonal[0]
            return (0..<season).map { i in
                kind == .partial ? [mean, mean / 1.1, seasonal[i]] : [mean, mean / 1.1, seasonal[i], seasonal[i] / 1.1]
            }
        }
    }

    /// State rows, oldest first, in one buffer: `width` columns (`CESKind.components`) per step.
    struct Rows {
        var data: [Double]
        let width: Int
        var count: Int { data.count / width }
        subscript(row: Int, column: Int) -> Double { data[row * width + column] }
        init(_ rows: [[Double]], width: Int, capacity: Int = 0) {
            self.width = width
            data = rows.flatMap { $0 }
            data.reserveCapacity(capacity * width)
        }
        func row(_ i: Int) -> [Double] { Array(data[(i * width)..<((i + 1) * width)]) }
        /// The last `k` rows, newest first.
        func lastReversed(_ k: Int) -> [[Double]] { (0..<k).map { row(count - 1 - $0) } }
    }

    /// The one-step forecast of the step after `rows`.
    @inline(__always)
    static func oneStep(_ rows: Rows, lag: Int, kind: CESKind) -> Double {
        let count = rows.count
        var f = kind == .simple ? rows[count - lag, 0] : rows[count - 1, 0]
        if kind == .partial || kind == .full { f += rows[count - lag, 2] }
        return f
    }

    /// Appends the state after an innovation `e` (statsforecast's `cesupdate`).
    @inline(__always)
    static func update(_ rows: inout Rows, lag: Int, kind: CESKind, p: Parameters, e: Double) {
        let count = rows.count
        let levelRow = kind == .simple ? count - lag : count - 1
        let l = rows[levelRow, 0], c = rows[levelRow, 1]
        rows.data.append(l - (1 - p.a1) * c + (p.a0 - p.a1) * e)
        rows.data.append(l + (1 - p.a0) * c + (p.a0 + p.a1) * e)
        switch kind {
        case .partial:
            rows.data.append(rows[count - lag, 2] + p.b0 * e)
        case .full:
            let s = rows[count - lag, 2], d = rows[count - lag, 3]
            rows.data.append(s - (1 - p.b1) * d + (p.b0 - p.b1) * e)
            rows.data.append(s + (1 - p.b0) * d + (p.b0 + p.b1) * e)
        case .none, .simple:
            break
        }
    }

    /// n·log Σe² as the optimiser and the criteria read it: NaN counts as +∞, a perfect fit as −10¹⁰.
    static func criterion(_ lik: Double) -> Double { lik.isNaN ? .infinity : Swift.max(lik, -1e10) }

    /// One pass over `y` from `initial` (`lag` rows): n·log Σe², Σe², and the state rows
    /// after it (the initial ones first), with one more lag of rows forecast on past the end.
    static func pass(_ y: [Double], lag: Int, kind: CESKind, initial: [[Double]], p: Parameters)
        -> (lik: Double, sse: Double, rows: Rows) {
        var rows = Rows(initial, width: kind.components, capacity: y.count + 2 * lag)
        var sse = 0.0
        for value in y {
            let e = value - oneStep(rows, lag: lag, kind: kind)
            sse += e * e
            update(&rows, lag: lag, kind: kind, p: p, e: e)
        }
        for _ in 0..<lag { update(&rows, lag: lag, kind: kind, p: p, e: 0) }
        return (Double(y.count) * log(sse), sse, rows)
    }

    /// statsforecast's backfitting: forward, then backward over the reversed series from the
    /// reversed states, then forward again from what the backward pass ended with. Returns the
    /// last pass's criterion and Σe², and its last `lag` rows of the series (not those forecast on).
    static func backfitted(_ y: [Double], lag: Int, kind: CESKind, initial: [[Double]], p: Parameters)
        -> (lik: Double, sse: Double, last: [[Double]]) {
        let forward = pass(y, lag: lag, kind: kind, initial: initial, p: p)
        guard forward.sse.isFinite else { return (.nan, forward.sse, []) }
        let backward = pass(Array(y.reversed()), lag: lag, kind: kind, initial: forward.rows.lastReversed(lag), p: p)
        guard backward.sse.isFinite else { return (.nan, backward.sse, []) }
        let again = pass(y, lag: lag, kind: kind, initial: backward.rows.lastReversed(lag), p: p)
        let end = again.rows.count - lag
        return (again.lik, again.sse, ((end - lag)..<end).map(again.rows.row))
    }
}

extension CESModel {
    var parameters: CES.Parameters { CES.Parameters(a0: alpha0, a1: alpha1, b0: beta0, b1: beta1) }

    /// The next `horizon` forecasts from the states after the last observation, each read back as
    /// an observation (no innovation); `shock` is an innovation at the first step (0: the point forecast).
    func run(horizon: Int, from states: [[Double]], shock: Double = 0) -> [Double] {
        var rows = CES.Rows(states, width: kind.components, capacity: states.count + horizon)
        return (0..<Swift.max(horizon, 0)).map { j in
            let f = CES.oneStep(rows, lag: lag, kind: kind)
            CES.update(&rows, lag: lag, kind: kind, p: parameters, e: j == 0 ? shock : 0)
            return f
        }
    }

    /// Point forecasts of the next `horizon` steps.
    public func pointForecast(horizon: Int) -> [Double] { run(horizon: horizon, from: lastStates) }

    /// Gaussian quantiles at `levels` around the point forecast (see `CES`).
    public func forecast(horizon: Int, levels: [Double]) -> QuantileForecast {
        let point = pointForecast(horizon: horizon)
        // The response to a unit innovation at the first step, from zero states: the system is linear.
        let zero = lastStates.map { [Double](repeating: 0, count: $0.count) }
        let response = run(horizon: horizon + 1, from: zero, shock: 1).dropFirst()
        let z = levels.map(Numerics.normalQuantile)
        var variance = 0.0, values: [Double] = []
        values.reserveCapacity(horizon * levels.count)
        for (j, psi) in zip(0..<horizon, [1.0] + response) {
            variance += psi * psi
            let sd = (sigma2 * variance).squareRoot()
            values += z.map { point[j] + $0 * sd }
        }
        return QuantileForecast(levels: levels, values: values, point: point)
    }
}
