import NeuralNet

/// The network's input at each step t, in the series' scaled units:
/// - the level `r_t`: the latest observed value at or before t (carried over gaps);
/// - a missing flag for step t;
/// - the last `lags` values relative to the level, `s_{t−k} − r_t` for k = 1…lags (0 where missing):
///   a season of them puts the seasonal-naive forecast one linear map away, which a recurrent
///   state alone would have to memorise; a week of them (hourly or half-hourly data whose week
///   repeats, see `ForecasterSettings.weekLags`) puts last week's same day there too;
/// - the calendar features of the step's bucket;
/// - per covariate (`ForecasterSettings.pastCovariates`, then `futureCovariates`, in order), its
///   value at t scaled on the series' training part (its own `RobustScaler`, 0 where missing)
///   and its own missing flag: a flag each rather than one shared, since covariates come from
///   different sensors with different outages, and a shared flag would blank a humidity that
///   was read because the temperature was not (two inputs per covariate; jobs have few). A
///   future-known covariate is read here like a past one: its value at t;
/// - with static covariates (`ForecasterSettings.staticEncoding`), the series' encoded
///   attributes, the same at every step (`StaticEncoding`); the dense head and the decoder read
///   them through the state, which carries them from every step;
/// - with output feedback (Jordan), last: the feedback column, the base of the one-step forecast
///   made at t − 1, `base(t − 1, 1)` (0 at a series' first step). The network adds its previous
///   median output there (`NeuralNet/Feedback.swift`): since outputs are residuals on that
///   base, the column then holds its own forecast of `s_t`; teacher forcing gives `s_t` itself.
/// Targets are residuals on a base forecast (the level, or the value a season earlier; see
/// `ForecastBase`): `s_{t+h} − base(t, h)`, once per quantile (outputs horizon-major, quantile
/// fastest), and a forecast is the base plus the output. Working relative to recent values
/// makes the network indifferent to where a trending series has wandered since training.
///
/// The recurrent decoder (encoder–decoder) reads, per origin t and horizon step h (0-based,
/// forecasting `s_{t+1+h}` relative to `base(t, h + 1)`), a future block of `1 + calendar.count
/// + known` values (`future(series:origins:base:season:)`): first the value the fed-back median
/// is added to, `r_t` at h = 0 (the last observed value; nothing is added) and `base(t, h)` at
/// h ≥ 1 (so that base plus the fed-back residual is the forecast of `s_{t+h}`), then the
/// calendar features of the bucket of `s_{t+1+h}`, then the future-known covariates there.
///
/// The dense head with future-known covariates reads, per origin t, their scaled values at every
/// step of the horizon, `[horizon × known]` (`head(series:origins:horizon:)`): what step h of
/// the forecast will see, for each h. Where a value is missing (only ever in training and the
/// backtests over the past: a forecast from the end needs them all, `RegularSeries.missingFuture`)
/// it reads 0, the covariate's median, and the encoder's flag at that step says it was missing.
public struct FeatureLayout: Sendable, Equatable {
    public let calendar: CalendarFeatures
    public let lags: Int
    /// Output feedback: the last input is the feedback column.
    public let feedback: Bool
    /// Covariates, past-observed and future-known: two inputs each (value, missing flag) after
    /// the calendar features.
    public let covariates: Int
    /// The future-known covariates among them (the last `known`), which the horizon reads too.
    public let known: Int
    /// Static inputs (`StaticEncoding.width`) after the covariates.
    public let statics: Int
    /// What turns the state into the horizon, which decides the future block the network reads.
    public let decoder: DecoderKind
    public var inputSize: Int { 2 + lags + calendar.count + 2 * covariates + statics + (feedback ? 1 : 0) }
    /// Floats of one origin's future block per horizon step (recurrent decoder).
    public var futureWidth: Int { 1 + calendar.count + known }
    /// Whether the network reads a future block (`futureBlocks`): the recurrent decoder always,
    /// the dense head with future-known covariates.
    public var readsFuture: Bool { decoder == .recurrent || known > 0 }
    /// Floats of one origin's future block (`NetworkConfig.futureWidth`).
    public func blockWidth(horizon: Int) -> Int { decoder == .recurrent ? horizon * futureWidth : horizon * known }

    public init(grid: TimeGrid, lags: Int, feedback: Bool = false, covariates: Int = 0, known: Int = 0, statics: Int = 0,
                decoder: DecoderKind = .dense) {
        precondition(known <= covariates, "the future-known covariates are among the covariates")
        self.statics = statics
        calendar = CalendarFeatures(grid: grid)
        self.lags = lags
        self.feedback = feedback
        self.covariates = covariates
        self.known = known
        self.decoder = decoder
    }

    /// The layout of a model of these settings on `grid`.
    public init(grid: TimeGrid, settings: ForecasterSettings) {
        self.init(grid: grid, lags: settings.lags, feedback: settings.feedbackKind == .output,
                  covariates: settings.covariateColumns.count, known: settings.futureCovariates?.count ?? 0,
                  statics: settings.staticEncoding?.width ?? 0,
                  decoder: settings.decoderKind)
    }

    /// Inputs of `steps` of a series, written at `offset` with `stride` floats between steps;
    /// `base` and `season` give the feedback column (unused without feedback). Writes only those
    /// slots, so the rows of a time-major batch fill one buffer side by side. `calendarBlock`,
    /// when given, holds the calendar features of a range of buckets that covers these steps
    /// (`CalendarBlock`): a batch's rows share it instead of each computing the same sines.
    func fillInputs(_ buffer: UnsafeMutableBufferPointer<Float>, series s: PreparedSeries, steps: Range<Int>, offset: Int, stride: Int,
                    base: ForecastBase, season: Int, calendarBlock: CalendarBlock? = nil) {
        let buckets = (s.firstBucket + steps.lowerBound)..<(s.firstBucket + steps.upperBound)
        if let calendarBlock, calendarBlock.covers(buckets) {
            calendarBlock.copy(buckets, into: buffer, offset: offset + 2 + lags, stride: stride)
        } else {
            calendar.fill(buffer, buckets: buckets, offset: offset + 2 + lags, stride: stride)
        }
        var position = offset
        let covariateColumn = 2 + lags + calendar.count
        let staticColumn = covariateColumn + 2 * covariates
        let feedbackColumn = staticColumn + statics
        precondition(s.covariates.count == covariates, "one scaled column per covariate of the layout")
        precondition(s.statics.count == statics, "one static input per static column of the layout")
        precondition(steps.isEmpty || (steps.lowerBound >= 0 && steps.upperBound <= s.scaled.count), "steps inside the series")
        precondition(steps.isEmpty || offset + (steps.count - 1) * stride + 2 + lags <= buffer.count, "buffer too small")
        let staticInputs = s.statics.map { Float($0) }
        let out = buffer.baseAddress!
        for t in steps {
            let level = s.level[t]
            out[position] = Float(level)
            out[position + 1] = s.scaled[t].isFinite ? 0 : 1
            if lags > 0 {
                // The lags inside the series, then the zeros of those before its start; checked
                // once above rather than per lag (this loop fills most of a training batch).
                s.scaled.withUnsafeBufferPointer { scaled in
                    let inside = min(lags, t), lagged = out + position + 2
                    // Four lags at a time: values t−4−k … t−1−k, newest first; the same
                    // Double difference and rounding to Float as one at a time.
                    var k = 0
                    while k + 4 <= inside {
                        let v = UnsafeRawPointer(scaled.baseAddress! + (t - 4 - k)).loadUnaligned(as: SIMD4<Double>.self)
                        let newestFirst = SIMD4(v[3], v[2], v[1], v[0])
                        let finite = (newestFirst - newestFirst) .== 0
                        let d = SIMD4<Float>((newestFirst - level).replacing(with: 0, where: .!finite))
                        UnsafeMutableRawPointer(lagged + k).storeBytes(of: d, as: SIMD4<Float>.self)
                        k += 4
                    }
                    while k < inside {
                        let v = scaled[t - 1 - k]
                        lagged[k] = v.isFinite ? Float(v - level) : 0
                        k += 1
                    }
                    for k in inside..<lags { lagged[k] = 0 }
                }
            }
            for (c, column) in s.covariates.enumerated() {
                let v = column[t]
                buffer[position + covariateColumn + 2 * c] = v.isFinite ? Float(v) : 0
                buffer[position + covariateColumn + 2 * c + 1] = v.isFinite ? 0 : 1
            }
            for (k, v) in staticInputs.enumerated() { buffer[position + staticColumn + k] = v }
            if feedback {
                buffer[position + feedbackColumn] = t > 0 ? Float(s.base(base, at: t - 1, ahead: 1, season: season)) : 0
            }
            position += stride
        }
    }

    func inputs(series: PreparedSeries, steps: Range<Int>, base: ForecastBase, season: Int) -> [Float] {
        var buffer = [Float](repeating: 0, count: steps.count * inputSize)
        buffer.withUnsafeMutableBufferPointer {
            fillInputs($0, series: series, steps: steps, offset: 0, stride: inputSize, base: base, season: season)
        }
        return buffer
    }

    /// The future blocks the network reads from `origins` (nil when it reads none): the
    /// recurrent decoder's (`future`) or the dense head's (`head`).
    func futureBlocks(series s: PreparedSeries, origins: Range<Int>, horizon: Int, base: ForecastBase, season: Int) -> [Float]? {
        guard readsFuture else { return nil }
        return decoder == .recurrent ? future(series: s, origins: origins, horizon: horizon, base: base, season: season)
            : head(series: s, origins: origins, horizon: horizon)
    }

    /// The future blocks of `origins` (see the type's header), `[origins.count × horizon ×
    /// futureWidth]`, for the recurrent decoder.
    func future(series s: PreparedSeries, origins: Range<Int>, horizon: Int, base: ForecastBase, season: Int) -> [Float] {
        let width = futureWidth, block = horizon * width, f = calendar.count
        var buffer = [Float](repeating: 0, count: origins.count * block)
        guard !origins.isEmpty else { return buffer }
        // The buckets of every target of these origins, once: s_{t+1} … s_{t+horizon}.
        let first = s.firstBucket + origins.lowerBound + 1
        let features = calendar.values(buckets: first..<(first + origins.count + horizon - 1))
        for (i, t) in origins.enumerated() {
            var at = i * block
            for h in 0..<horizon {
                buffer[at] = Float(h == 0 ? s.level[t] : s.base(base, at: t, ahead: h, season: season))
                if f > 0 {
                    let from = (i + h) * f
                    for k in 0..<f { buffer[at + 1 + k] = features[from + k] }
                }
                for (c, column) in s.known.enumerated() { buffer[at + 1 + f + c] = Self.known(column, t + 1 + h) }
                at += width
            }
        }
        return buffer
    }

    /// The dense head's blocks of `origins`, `[origins.count × horizon × known]` (see the
    /// type's header).
    func head(series s: PreparedSeries, origins: Range<Int>, horizon: Int) -> [Float] {
        let k = known, block = horizon * k
        precondition(s.known.count == k, "one scaled column per future-known covariate of the layout")
        var buffer = [Float](repeating: 0, count: origins.count * block)
        for (i, t) in origins.enumerated() {
            for h in 0..<horizon {
                for (c, column) in s.known.enumerated() { buffer[i * block + h * k + c] = Self.known(column, t + 1 + h) }
            }
        }
        return buffer
    }

    /// A future-known covariate's scaled value at `step` (past the series' end: ahead), 0 where
    /// none is known.
    @inline(__always)
    static func known(_ column: [Double], _ step: Int) -> Float {
        step < column.count && column[step].isFinite ? Float(column[step]) : 0
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
    /// The covariates, each scaled by its own scaler, NaN where missing.
    let covariateScalers: [RobustScaler]
    let covariates: [[Double]]
    /// The future-known covariates, scaled, over the series' steps and then what is known ahead.
    let known: [[Double]]
    /// The series' static inputs (`StaticEncoding.encode`), empty without static covariates.
    let statics: [Double]

    /// `levelBefore` is the level carried into step 0: 0 at the start of a series, the level
    /// where a saved state stopped when `series` is only the last part of one.
    init(_ series: RegularSeries, scaler: RobustScaler, trainEnd: Int, levelBefore: Double = 0, profile: SeasonalProfile? = nil,
         covariateScalers: [RobustScaler] = [], statics: [Double] = []) {
        precondition(covariateScalers.count == series.covariates.count, "one scaler per covariate")
        key = series.key
        self.statics = statics
        firstBucket = series.firstBucket
        self.scaler = scaler
        self.covariateScalers = covariateScalers
        covariates = zip(series.covariates, covariateScalers).map { column, scaler in
            column.values.map { $0.isFinite ? scaler.transform($0) : .nan }
        }
        known = zip(series.covariates, covariateScalers).compactMap { column, scaler in
            column.ahead.map { ahead in (column.values + ahead).map { $0.isFinite ? scaler.transform($0) : .nan } }
        }
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

    /// How a base is chosen: its error over the held-back tail, from the origins whose whole
    /// horizon lies in it. The profile is fitted on the training part only, so the tail
    /// judges every base out of sample (over the training part the profile would be judged
    /// on the very cycles it averages).
    func tailError(of kind: ForecastBase, horizon: Int, season: Int) -> Double {
        let first = Swift.max(trainEnd - 1, 0)
        let origins = first..<Swift.max(first, scaled.count - horizon)
        return ForecastBase.meanError(values: scaled, origins: origins, horizon: horizon) { t, h in
            base(kind, at: t, ahead: h, season: season)
        }
    }
}

/// The calendar features of a range of buckets, computed once for the rows of a training batch
/// that all fall inside it (aligned series share their buckets), `width` floats per bucket.
struct CalendarBlock {
    let buckets: Range<Int>
    let width: Int
    let values: [Float]

    init(_ calendar: CalendarFeatures, buckets: Range<Int>) {
        self.buckets = buckets
        width = calendar.count
        values = calendar.values(buckets: buckets)
    }

    func covers(_ range: Range<Int>) -> Bool { range.isEmpty || (range.lowerBound >= buckets.lowerBound && range.upperBound <= buckets.upperBound) }

    func copy(_ range: Range<Int>, into buffer: UnsafeMutableBufferPointer<Float>, offset: Int, stride: Int) {
        guard width > 0, !range.isEmpty else { return }
        precondition(offset >= 0 && offset + (range.count - 1) * stride + width <= buffer.count, "buffer too small")
        values.withUnsafeBufferPointer { source in
            var position = offset
            for bucket in range {
                (buffer.baseAddress! + position).update(from: source.baseAddress! + (bucket - buckets.lowerBound) * width, count: width)
                position += stride
            }
        }
    }
}
