/// The seasonal-naive forecaster: every step repeats the value one season earlier, the last
/// observed season over and over for horizons longer than a season. With a season of 1 it
/// is the naive forecaster (the last value, repeated).
///
/// It is the baseline every model must beat, the scale of MASE, and the fallback published
/// when the network does not win, so it also forecasts quantiles: the point forecast plus
/// the empirical quantiles of its own in-sample errors at the same lead time.
public struct SeasonalNaive: Sendable, Hashable {
    public let season: Int

    /// Direct error samples needed before they are trusted for a lead time; with fewer, the
    /// one-season errors are widened by √(seasons ahead) instead.
    public static let minimumErrorSamples = 10

    public init(season: Int) {
        precondition(season >= 1, "a season is at least one step")
        self.season = season
    }

    /// The naive forecaster: the last observed value.
    public static let naive = SeasonalNaive(season: 1)

    /// True when every step of a forecast gets a value: the last season holds at least one
    /// observation for each phase, looking back season by season.
    public func canForecast(history: some RandomAccessCollection<Double>) -> Bool {
        guard history.count >= season else { return false }
        return pointForecast(history: Array(history), horizon: season).allSatisfy { $0.isFinite }
    }

    /// Step `h` (1-based; index n − 1 + h) after the end of `history` takes the latest finite
    /// value at the same phase of the season: index n − 1 + h − k·season for the smallest
    /// k ≥ ⌈h / season⌉ that holds one. NaN when the history has none (shorter than a season,
    /// or all missing at that phase).
    public func pointForecast(history: some RandomAccessCollection<Double>, horizon: Int) -> [Double] {
        let values = Array(history)
        let n = values.count
        return (0..<max(horizon, 0)).map { step in
            let lead = step + 1
            let seasonsBack = (lead + season - 1) / season
            var index = n - 1 + lead - seasonsBack * season
            while index >= 0 {
                if index < n, values[index].isFinite { return values[index] }
                index -= season
            }
            return .nan
        }
    }

    /// Quantile forecasts at `levels`: the point forecast plus the `level` quantile of the
    /// in-sample errors y[t] − y[t − k·season], where k = ⌈lead / season⌉ is how many seasons
    /// the step reaches ahead. The point forecast stays the seasonal-naive value itself.
    public func forecast(history: some RandomAccessCollection<Double>, horizon: Int, levels: [Double]) -> QuantileForecast {
        let values = Array(history)
        let point = pointForecast(history: values, horizon: horizon)
        var offsetsBySeasonsAhead: [Int: [Double]] = [:]
        let oneSeasonErrors = errors(values, lag: season)
        func offsets(seasonsAhead: Int) -> [Double] {
            if let known = offsetsBySeasonsAhead[seasonsAhead] { return known }
            var sample = seasonsAhead == 1 ? oneSeasonErrors : errors(values, lag: seasonsAhead * season)
            var widening = 1.0
            if sample.count < Self.minimumErrorSamples, seasonsAhead > 1, !oneSeasonErrors.isEmpty {
                sample = oneSeasonErrors
                widening = Double(seasonsAhead).squareRoot()
            }
            // The order statistics the levels need, selected in place (what sorting would put
            // there, at a fraction of a sort's cost: the guard's backtests make many of these).
            Quantiles.selectOrderStatistics(&sample, for: levels)
            let result = levels.map { level in
                sample.isEmpty ? 0 : Quantiles.sortedQuantile(sample, level) * widening
            }
            offsetsBySeasonsAhead[seasonsAhead] = result
            return result
        }
        var quantiles: [Double] = []
        quantiles.reserveCapacity(horizon * levels.count)
        for step in 0..<max(horizon, 0) {
            let shift = offsets(seasonsAhead: (step + season) / season)
            quantiles.append(contentsOf: shift.map { point[step] + $0 })
        }
        return QuantileForecast(levels: levels, values: quantiles, point: point)
    }

    /// y[t] − y[t − lag] wherever both are finite.
    func errors(_ values: [Double], lag: Int) -> [Double] {
        guard lag < values.count else { return [] }
        var result: [Double] = []
        result.reserveCapacity(values.count - lag)
        for t in lag..<values.count {
            let error = values[t] - values[t - lag]
            if error.isFinite { result.append(error) }
        }
        return result
    }
}
