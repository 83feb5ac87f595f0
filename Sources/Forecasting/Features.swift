import NeuralNet

/// The network's input at each step t, in the series' scaled units:
/// - the level `r_t`: the latest observed value at or before t (carried over gaps);
/// - a missing flag for step t;
/// - the last `lags` values relative to the level, `s_{t−k} − r_t` for k = 1…lags (0 where missing):
///   a season of them puts the seasonal-naive forecast one linear map away, which a recurrent
///   state alone would have to memorise; a week of them (hourly or half-hourly data whose week
///   repeats, see `ForecasterSettings.weekLags`) puts last week's same day there too;
/// - the calendar features of the step's bucket.
/// Targets are residuals on a base forecast (the level, or the value a season earlier; see
/// `ForecastBase`): `s_{t+h} − base(t, h)`, once per quantile (outputs horizon-major, quantile
/// fastest), and a forecast is the base plus the output. Working relative to recent values
/// makes the network indifferent to where a trending series has wandered since training.
public struct FeatureLayout: Sendable, Equatable {
    public let calendar: CalendarFeatures
    public let lags: Int
    public var inputSize: Int { 2 + lags + calendar.count }

    public init(grid: TimeGrid, lags: Int) {
        calendar = CalendarFeatures(grid: grid)
        self.lags = lags
    }

    /// Inputs of `steps` of a series, written at `offset` with `stride` floats between steps.
    func fillInputs(_ buffer: inout [Float], series s: PreparedSeries, steps: Range<Int>, offset: Int, stride: Int) {
        calendar.fill(&buffer, buckets: (s.firstBucket + steps.lowerBound)..<(s.firstBucket + steps.upperBound),
                      offset: offset + 2 + lags, stride: stride)
        var position = offset
        for t in steps {
            let level = s.level[t]
            buffer[position] = Float(level)
            buffer[position + 1] = s.scaled[t].isFinite ? 0 : 1
            for k in 1...max(lags, 1) where lags > 0 {
                let v = t - k >= 0 ? s.scaled[t - k] : .nan
                buffer[position + 1 + k] = v.isFinite ? Float(v - level) : 0
            }
            position += stride
        }
    }

    func inputs(series: PreparedSeries, steps: Range<Int>) -> [Float] {
        var buffer = [Float](repeating: 0, count: steps.count * inputSize)
        fillInputs(&buffer, series: series, steps: steps, offset: 0, stride: inputSize)
        return buffer
    }
}

/// One series prepared for the network: scaled on its own training part.
struct PreparedSeries {
    let key: String
    let firstBucket: Int
    let scaler: RobustScaler
    /// Scaled values, NaN where missing.
    let scaled: [Double]
    /// The latest observed scaled value at or before each step (`levelBefore` before the first).
    let level: [Double]
    /// Steps `0..<trainEnd` provide targets for training.
    let trainEnd: Int
    /// The seasonal shape the `.profile` base puts in, and the deseasonalised level of the last
    /// season at each step, in the series' own units (NaN where there is none).
    let profile: SeasonalProfile?
    let profileLevel: [Double]

    /// `levelBefore` is the level carried into step 0: 0 at the start of a series, the level
    /// where a saved state stopped when `series` is only the last part of one.
    init(_ series: RegularSeries, scaler: RobustScaler, trainEnd: Int, levelBefore: Double = 0, profile: SeasonalProfile? = nil) {
        key = series.key
        firstBucket = series.firstBucket
        self.scaler = scaler
        scaled = series.values.map { $0.isFinite ? scaler.transform($0) : .nan }
        level = ForecastBase.carriedLevels(scaled, initial: levelBefore)
        self.trainEnd = trainEnd
        self.profile = profile
        profileLevel = profile?.levels(series.values, firstBucket: series.firstBucket) ?? []
    }

    /// The base of the forecast made at step t for step t + h (h ≥ 1), in scaled units.
    func base(_ kind: ForecastBase, at t: Int, ahead h: Int, season: Int) -> Double {
        if kind == .profile, let profile, profileLevel[t].isFinite {
            return scaler.transform(profile.seasonalised(profileLevel[t], bucket: firstBucket + t + h))
        }
        return ForecastBase.forecast(kind, level: level, at: t, ahead: h, season: season)
    }

    /// Mean absolute error of a base over the training part: how level and season are chosen.
    func trainingError(of kind: ForecastBase, horizon: Int, season: Int) -> Double {
        ForecastBase.meanError(of: kind, values: scaled, level: level, end: trainEnd, horizon: horizon, season: season)
    }

    /// Mean absolute error of a base's forecasts from every origin t in `origins`, 1…horizon
    /// steps ahead, over the finite actuals; infinity when there is none.
    func meanError(of kind: ForecastBase, origins: Range<Int>, horizon: Int, season: Int) -> Double {
        var sum = 0.0, count = 0.0
        for t in origins where t >= 0 {
            for h in 1...horizon where t + h < scaled.count {
                let error = abs(scaled[t + h] - base(kind, at: t, ahead: h, season: season))
                guard error.isFinite else { continue }
                sum += error
                count += 1
            }
        }
        return count > 0 ? sum / count : .infinity
    }

    /// How a base is chosen: its error over the held-back tail, from the origins whose whole
    /// horizon lies in it. The profile is fitted on the training part only, so the tail
    /// judges every base out of sample (over the training part the profile would be judged
    /// on the very cycles it averages).
    func tailError(of kind: ForecastBase, horizon: Int, season: Int) -> Double {
        meanError(of: kind, origins: (trainEnd - 1)..<Swift.max(trainEnd - 1, scaled.count - horizon), horizon: horizon, season: season)
    }
}
