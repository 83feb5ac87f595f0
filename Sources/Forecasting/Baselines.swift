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
        return forecast(point: pointForecast(history: values, horizon: horizon), spread: spread(history: values, horizon: horizon, levels: levels))
    }

    /// The point forecast of `history` plus a spread fitted before (a combined model's, kept in
    /// its archive and series state so that reading on needs only the last season).
    public func forecast(history: some RandomAccessCollection<Double>, horizon: Int, spread: BaselineSpread) -> QuantileForecast {
        forecast(point: pointForecast(history: history, horizon: horizon), spread: spread)
    }

    /// `point` plus the spread's offsets of each step's seasons ahead.
    func forecast(point: [Double], spread: BaselineSpread) -> QuantileForecast {
        precondition(spread.offsets.count >= spread.seasonsAhead(of: point.count, season: season), "a spread for every step")
        var quantiles: [Double] = []
        quantiles.reserveCapacity(point.count * spread.levels.count)
        for step in point.indices {
            quantiles.append(contentsOf: spread.offsets[(step + season) / season - 1].map { point[step] + $0 })
        }
        return QuantileForecast(levels: spread.levels, values: quantiles, point: point)
    }

    /// The offsets its quantile forecasts add to the point forecast, per number of seasons a step
    /// reaches ahead (1 up to that of step `horizon`): the `level` quantiles of the in-sample
    /// errors y[t] − y[t − k·season] of `history`; with fewer than `minimumErrorSamples` of them
    /// for k > 1, those of one season widened by √k.
    public func spread(history: some RandomAccessCollection<Double>, horizon: Int, levels: [Double]) -> BaselineSpread {
        let values = Array(history)
        let oneSeasonErrors = errors(values, lag: season)
        let offsets = (1...max(BaselineSpread(levels: levels, offsets: []).seasonsAhead(of: horizon, season: season), 1)).map { seasonsAhead in
            var sample = seasonsAhead == 1 ? oneSeasonErrors : errors(values, lag: seasonsAhead * season)
            var widening = 1.0
            if sample.count < Self.minimumErrorSamples, seasonsAhead > 1, !oneSeasonErrors.isEmpty {
                sample = oneSeasonErrors
                widening = Double(seasonsAhead).squareRoot()
            }
            // The order statistics the levels need, selected in place (what sorting would put
            // there, at a fraction of a sort's cost: the guard's backtests make many of these).
            Quantiles.selectOrderStatistics(&sample, for: levels)
            return levels.map { level in
                sample.isEmpty ? 0 : Quantiles.sortedQuantile(sample, level) * widening
            }
        }
        return BaselineSpread(levels: levels, offsets: offsets)
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

/// The error quantiles a seasonal-naive forecast adds to its point forecast (`SeasonalNaive.spread`):
/// `offsets[k − 1]` holds one offset per level for the steps k seasons ahead. All that a
/// baseline's forecast needs beyond the last season of values, so a network combined with a
/// baseline keeps it per series (model archive, series state) and reads on like the network.
public struct BaselineSpread: Sendable, Equatable, Codable {
    public var levels: [Double]
    public var offsets: [[Double]]

    public init(levels: [Double], offsets: [[Double]]) {
        self.levels = levels
        self.offsets = offsets
    }

    /// How many seasons ahead the last of `horizon` steps reaches.
    public func seasonsAhead(of horizon: Int, season: Int) -> Int { (max(horizon, 1) - 1 + season) / season }

    /// True when it gives every one of `horizon` steps at `levels` (finite offsets).
    public func serves(horizon: Int, levels: [Double], season: Int) -> Bool {
        self.levels == levels && offsets.count >= seasonsAhead(of: horizon, season: season)
            && offsets.allSatisfy { $0.count == levels.count && $0.allSatisfy(\.isFinite) }
    }
}
