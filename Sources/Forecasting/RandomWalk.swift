import Foundation

/// Whether a unit's series change like a random walk, as far as a linear forecast of their
/// change can tell; where they do, the guard presumes naive (`Selection`): it is published
/// unless another contender beats it significantly on the backtest windows.
///
/// Why a presumption: on a random walk nothing forecasts better than the last value, but three
/// to seven backtest windows cannot tell a network that learned noise from one that learned
/// something, and the network's windows are the tail its early stopping read. Without it, over
/// seeds 1–7 what the guard published on the S&P 500, Microsoft's close and six other long price
/// series lost to naive on average (benchmarks/RESULTS.md, issue 12, session 33).
public struct RandomWalkEvidence: Sendable, Equatable {
    /// The share of the variance of the change over the horizon, x[t+h] − x[t], that a least-squares
    /// forecast from the `lags` one-step changes before t explains, less what as many columns of
    /// noise would explain (the adjusted R²): the median over the series scored.
    public let predictableShare: Double
    /// The one-step changes the forecast read: ten, or two seasons where that is more (the
    /// lags of a Ljung–Box test of seasonal data), so that a daily cycle in hourly data counts;
    /// at most `maximumLags`.
    public let lags: Int

    /// Two days of half-hours. With the last `maximumSteps` steps, the fit costs at most about
    /// 10⁸ multiply-adds however fine the grid (a 5-minute job's two seasons would be 576 lags).
    public static let maximumLags = 96
    public static let maximumSteps = 10_000

    /// The most a forecast of the change may explain for the series to count as a random walk:
    /// explaining a share s cuts the error's standard deviation by 1 − √(1 − s), and at
    /// 1 − (1 − 0.02)² ≈ 0.04 that is the guard's tolerance (`Selection.tolerance`, 2%), the
    /// difference in MASE that the guard already lets a cheaper contender give away. Prices
    /// explain 0.1–3.3% (the S&P 500 1.1–1.3%, Microsoft 1.6%, the DAX 3.3%); hourly dew point, the
    /// nearest of the other long sets, 9–12%.
    public static var limit: Double { 1 - (1 - Selection.tolerance) * (1 - Selection.tolerance) }

    /// Whether naive is presumed.
    public var presumesNaive: Bool { predictableShare <= Self.limit }

    public static func lags(season: Int) -> Int { min(max(10, 2 * season), maximumLags) }

    init(predictableShare: Double, lags: Int) {
        self.predictableShare = predictableShare
        self.lags = lags
    }

    /// The evidence over `series` (nil when none is long enough to tell).
    public init?(_ series: [RegularSeries], horizon: Int, season: Int) {
        let lags = Self.lags(season: season)
        let shares = series.compactMap { Self.predictableShare(of: $0.values, horizon: horizon, lags: lags) }.sorted()
        guard !shares.isEmpty else { return nil }
        self.init(predictableShare: shares[shares.count / 2], lags: lags)
    }

    /// The adjusted R² of x[t+h] − x[t] on an intercept and the `lags` changes x[t−k+1] − x[t−k],
    /// k = 1…lags, over every t of the last `maximumSteps` steps where all of them are finite;
    /// nil for fewer than ten rows per column or changes without spread. The changes are scaled
    /// by their standard deviation so that the normal equations stay well conditioned whatever
    /// the series' units.
    static func predictableShare(of series: [Double], horizon: Int, lags: Int) -> Double? {
        let values = Array(series.suffix(maximumSteps))
        guard horizon >= 1, lags >= 1, values.count > lags + horizon + 1 else { return nil }
        let changes = zip(values.dropFirst(), values).map { $0 - $1 }
        let finite = changes.filter(\.isFinite)
        guard finite.count > 1 else { return nil }
        let mean = finite.reduce(0, +) / Double(finite.count)
        let spread = (finite.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(finite.count - 1)).squareRoot()
        guard spread > 0 else { return nil }
        // Row t: the changes ending at t (changes[t − k] is x[t − k + 1] − x[t − k]) and x[t + h] − x[t].
        var rows: [[Double]] = [], targets: [Double] = []
        for t in lags..<(values.count - horizon) {
            let row = [1.0] + (1...lags).map { changes[t - $0] / spread }
            let target = (values[t + horizon] - values[t]) / spread
            guard target.isFinite, row.allSatisfy(\.isFinite) else { continue }
            rows.append(row)
            targets.append(target)
        }
        let n = rows.count
        guard n >= 10 * (lags + 1) else { return nil }
        let beta = Numerics.leastSquares(rows, targets)
        let targetMean = targets.reduce(0, +) / Double(n)
        var residual = 0.0, total = 0.0
        for (row, y) in zip(rows, targets) {
            let fitted = zip(row, beta).reduce(0) { $0 + $1.0 * $1.1 }
            residual += (y - fitted) * (y - fitted)
            total += (y - targetMean) * (y - targetMean)
        }
        guard total > 0 else { return nil }
        return 1 - (residual / Double(n - lags - 1)) / (total / Double(n - 1))
    }
}
