import Foundation
import NeuralNet

/// Every hyperparameter of a recurrent forecaster, resolved: the job's overrides on top of
/// defaults that follow the frequency. Stored with the model (`models.hyperparameters`).
public struct ForecasterSettings: Sendable, Codable, Equatable {
    public var cell: CellKind
    public var hiddenSize: Int
    public var layers: Int
    public var dropout: Float
    public var horizon: Int
    public var quantiles: [Double]
    /// Steps each training segment reads before its outputs count in the loss (a warm-up
    /// from the zero state), and the least history a series needs.
    public var context: Int
    /// Past values fed at every step, relative to the level (a season of them by default).
    public var lags: Int
    /// A week of steps on grids finer than a day (168 hourly, 336 half-hourly), where a weekly
    /// cycle may ride on the daily one; nil otherwise. Training feeds a week of lags instead of
    /// `lags` when the training data repeats its week more closely than its day (see
    /// `RecurrentForecaster.weekLagsFit`), and then records the week in `lags`.
    public var weekLags: Int?
    public var tbpttK1: Int
    public var tbpttK2: Int
    public var batchSize: Int
    public var epochs: Int
    /// Epochs without a better validation loss before training stops.
    public var patience: Int
    public var learningRate: Float
    public var clipNorm: Float
    public var seed: UInt64
    /// The least number of trailing steps held back from training: the backtest windows.
    public var holdout: Int
    /// Season length of the data; longer series hold back up to `validationSeasons` of them
    /// (at most a fifth of the series) so that early stopping does not follow the noise of a
    /// few days.
    public var season: Int
    public var validationSeasons: Int
    /// What the network's outputs are added to. nil: chosen at training, whichever base is
    /// more accurate on the training data (the profile only where every series has one).
    public var base: ForecastBase?
    /// Fitted on the held-back tail after training; nil before.
    public var calibration: Calibration?
    /// What turns the network's state into the horizon (`[jobs.model] decoder`): nil is the
    /// dense head (the default, and every model stored before the choice existed; not written,
    /// so that such models' hyperparameters stay as they were), `.recurrent` the encoder–decoder.
    public var decoder: DecoderKind?
    /// Layers of the recurrent decoder; nil: as many as `layers`.
    public var decoderLayers: Int?
    /// Jordan output feedback (`[jobs.model] feedback`): nil is none, `.output` feeds the
    /// previous step's median forecast back as an input.
    public var feedback: FeedbackKind?
    /// Recurrent decoder, training only: the decoder starts from every `decoderStride`-th scored
    /// step of a TBPTT window (`TBPTTTrainer.decoderStride`). nil before training, which sets it
    /// with `decoderStride(k1:batch:horizon:)` and records it.
    public var decoderStride: Int?
    /// Recurrent decoder and feedback, training only: the share of steps fed the network's own
    /// median instead of the truth in the last epoch; it rises linearly from 0 in the first
    /// (`ownShare(epoch:)`). nil: `finalOwnShare`; recorded by training.
    public var ownShare: Float?
    /// The source columns read as past-observed covariates (`[jobs.source] past_covariates`),
    /// in order: inputs of the network up to the forecast origin (`FeatureLayout`). nil: none
    /// (not written, so that the hyperparameters of models without them stay as they were).
    public var pastCovariates: [String]? = nil
    /// The source columns read as future-known covariates (`[jobs.source] future_covariates`),
    /// in order: read by the network like past ones up to the origin, and for every step of the
    /// horizon by the dense head or the recurrent decoder (`FeatureLayout`). nil: none.
    public var futureCovariates: [String]? = nil
    /// The job's static covariates query (`[jobs.source] static_covariates`), recorded so that
    /// a changed query retrains; nil: none.
    public var staticCovariates: String? = nil
    /// How the series' attributes become constant inputs of every step (`StaticEncoding`):
    /// fitted by training on its series when `staticCovariates` is set, nil before.
    public var staticEncoding: StaticEncoding? = nil

    /// Every covariate column a series carries for this model, in order: the past-observed
    /// ones, then the future-known (`RegularSeries.covariates`).
    public var covariateColumns: [String] { (pastCovariates ?? []) + (futureCovariates ?? []) }

    /// Networks trained side by side, differing in seed (`seed`, `seed + 1`, ...) and in the
    /// lags they read (`member(_:)`), whose forecasts are combined by the median, quantile by
    /// quantile (`[jobs.model] ensemble`; `TrainedForecaster.members`). nil: `"auto"`, the
    /// job's default, which the guard fixes per unit (`resolvingEnsemble(for:)`); a trained
    /// model's settings always hold the count (a network stored before ensembles existed holds
    /// none and is one network).
    public var ensemble: Int? = nil
    /// A trained ensemble's lags, member by member (the first one's are `lags`): what a saved
    /// state and a warm-up must look back over for every member to read on. nil for a single
    /// network (and for ensembles stored before members differed in lags, whose members all
    /// read `lags`).
    public var ensembleLags: [Int]? = nil

    /// The decoder, nil read as the dense head.
    public var decoderKind: DecoderKind { decoder ?? .dense }
    /// The feedback, nil read as none.
    public var feedbackKind: FeedbackKind { feedback ?? .none }

    /// Where the scheduled share of own forecasts ends: training ends seeing its own forecasts
    /// on half of the steps, as forecasting does on all of them, without giving up the truth's
    /// steadier gradient (Bengio et al. 2015 end near there too).
    public static let finalOwnShare: Float = 0.5

    /// The β of the Polyak average a long unit's network is judged and kept at
    /// (`TBPTTTrainer.averaging`): about the last twenty updates. At 0.99 (about a hundred) half-
    /// hourly demand and sunspots gained more and Melbourne's temperature lost at six seeds of
    /// seven; at 0.95 no long set lost. Short units, whose forecast is already the median of an
    /// ensemble and whose training is often a few dozen updates, were not measured with it and
    /// keep their last update's weights.
    public static let weightAveraging: Float = 0.95

    /// The share of own forecasts fed in epoch `epoch` (1-based) of `epochs`: 0 in the first,
    /// `ownShare` (or `finalOwnShare`) in the last, linear between.
    public func ownShare(epoch: Int) -> Float {
        let last = ownShare ?? Self.finalOwnShare
        guard epochs > 1 else { return last }
        return last * Float(epoch - 1) / Float(epochs - 1)
    }

    /// Decoder origins per TBPTT window: the smallest stride that keeps the decoder's steps per
    /// window (`ceil(k1 / stride) × horizon`) within twice the window's encoder steps, so that
    /// an encoder–decoder trains in about three times the dense head's time whatever the
    /// horizon, and its rows (`× batch`) under 200,000 (about 60 MB of LSTM activations per
    /// decoder layer at hidden 32). Hourly data (k1 24, horizon 24): every 12th step.
    public static func decoderStride(k1: Int, batch: Int, horizon: Int) -> Int {
        let k1 = max(k1, 1), horizon = max(horizon, 1)
        var stride = 1
        while stride < k1 {
            let origins = (k1 + stride - 1) / stride
            if origins * horizon <= 2 * k1, origins * batch * horizon <= 200_000 { break }
            stride += 1
        }
        return stride
    }

    /// Trailing steps of a series of `length` steps that training does not see.
    public func heldBack(length: Int) -> Int {
        max(holdout, min(length / 5, validationSeasons * season))
    }

    /// Defaults chosen for hourly, half-hourly, daily and monthly data alike: a season or a
    /// few of warm-up, truncation about two seasons long, and a small network, since most
    /// series are short and noisy and a big one overfits while training slower.
    public static func defaults(frequency: Frequency, horizon: Int, season: Int, backtestWindows: Int) -> ForecasterSettings {
        let cycle = max(season, 1)
        let context = min(max(2 * cycle, horizon, 12), 336)
        let tbptt = min(max(cycle, 24), 96)
        let lags = min(cycle, 168)
        let week = frequency.fixedStepSeconds.flatMap { step -> Int? in
            guard step < 86_400, (7 * 86_400) % step == 0 else { return nil }
            let steps = 7 * 86_400 / step
            return steps > lags && steps <= maximumWeekLags ? steps : nil
        }
        return ForecasterSettings(
            cell: .lstm, hiddenSize: 32, layers: 1, dropout: 0, horizon: horizon, quantiles: [0.1, 0.5, 0.9],
            context: context, lags: lags, weekLags: week, tbpttK1: tbptt, tbpttK2: tbptt, batchSize: 16, epochs: 60, patience: 8,
            learningRate: 0.005, clipNorm: 1.0, seed: 1,
            holdout: max(backtestWindows, 1) * horizon, season: cycle, validationSeasons: 14, base: nil, calibration: nil)
    }

    /// The defaults with the user's `overrides` on top: the one place where a job's (or the
    /// accuracy benchmark's) settings meet the defaults.
    public static func resolved(frequency: Frequency, horizon: Int, season: Int, backtestWindows: Int,
                                overrides o: ForecasterOverrides) -> ForecasterSettings {
        var settings = defaults(frequency: frequency, horizon: horizon, season: season, backtestWindows: backtestWindows)
        if let v = o.cell { settings.cell = v }
        if let v = o.hiddenSize { settings.hiddenSize = v }
        if let v = o.layers { settings.layers = v }
        if let v = o.context { settings.context = v }
        if let v = o.tbpttK1 { settings.tbpttK1 = v }
        if let v = o.tbpttK2 { settings.tbpttK2 = v }
        if let v = o.batchSize { settings.batchSize = v }
        if let v = o.epochs { settings.epochs = v }
        if let v = o.learningRate { settings.learningRate = v }
        if let v = o.clipNorm { settings.clipNorm = v }
        if let v = o.dropout { settings.dropout = v }
        if let v = o.quantiles { settings.quantiles = v }
        if let v = o.seed { settings.seed = v }
        settings.ensemble = o.ensemble
        settings.decoder = o.decoder == .recurrent ? .recurrent : nil
        settings.decoderLayers = settings.decoder == nil ? nil : o.decoderLayers
        settings.feedback = o.feedback == .output ? .output : nil
        if settings.decoder == .recurrent { settings.decoderStride = o.decoderStride }
        if settings.decoder == .recurrent || settings.feedback == .output { settings.ownShare = o.ownShare }
        return settings
    }

    /// How many networks are trained (at least 1); for `"auto"` (nil), see `resolvingEnsemble(for:)`.
    public var ensembleSize: Int { max(ensemble ?? 1, 1) }

    /// The most lags any network of the model reads (`lags`, or an ensemble's longest).
    public var longestLags: Int { Self.longestLags(lags, ensembleLags: ensembleLags) }

    /// The most lags any network reads, of a model that records `lags` and `ensembleLags`.
    public static func longestLags(_ lags: Int, ensembleLags: [Int]?) -> Int { max(lags, ensembleLags?.max() ?? 0) }

    /// The longest week offered as lags: half-hourly data (336 steps). Finer grids would feed
    /// thousands of inputs per step.
    public static let maximumWeekLags = 336

    public var outputSize: Int { horizon * quantiles.count }

    /// The week the network reads as lags, when training chose to (see `weekLags`); nil otherwise.
    public var weekRead: Int? { weekLags.flatMap { $0 == lags ? $0 : nil } }
}

/// The hyperparameters a user set (`[jobs.model]`, or `bench accuracy`'s options); nil means
/// "the default", which `ForecasterSettings.resolved` fills in.
public struct ForecasterOverrides: Sendable, Equatable {
    public var cell: CellKind?
    public var hiddenSize: Int?
    public var layers: Int?
    public var context: Int?
    public var tbpttK1: Int?
    public var tbpttK2: Int?
    public var batchSize: Int?
    public var epochs: Int?
    public var learningRate: Float?
    public var clipNorm: Float?
    public var dropout: Float?
    /// Validated (`Quantiles.validate(_:medianRequired:)`).
    public var quantiles: [Double]?
    public var seed: UInt64?
    /// Networks in the ensemble (`ForecasterSettings.ensemble`).
    public var ensemble: Int?
    /// `.dense` is the default (stored as nil in the settings).
    public var decoder: DecoderKind?
    /// Only with the recurrent decoder.
    public var decoderLayers: Int?
    /// `.none` is the default (stored as nil in the settings); `.output` needs the dense head.
    public var feedback: FeedbackKind?
    /// Training knobs of the two designs, not configuration keys (`bench accuracy` sets them to
    /// measure): nil lets training choose (`ForecasterSettings.decoderStride(k1:batch:horizon:)`,
    /// `finalOwnShare`).
    public var decoderStride: Int?
    public var ownShare: Float?

    public init() {}
}

/// The forecast the network corrects: its outputs are residuals on top of it, so an untrained
/// network already forecasts like this baseline and training only has to learn what it misses.
public enum ForecastBase: String, Sendable, Codable, Equatable {
    /// The latest observed value (naive).
    case level
    /// The value one season before the target (seasonal naive).
    case seasonal
    /// The level of the last season with the season's averaged shape put in
    /// (`SeasonalProfile`): seasonal naive without the noise of the one season it copies.
    /// A series without a profile (too short for one) forecasts as `seasonal`.
    case profile

    /// The baseline forecaster that forecasts like this base: naive for the level, seasonal
    /// naive for the season. What a fallback publishes.
    public func baseline(season: Int) -> SeasonalNaive {
        self == .level ? .naive : SeasonalNaive(season: season)
    }

    /// Which base forecasts a set of series better over their own histories: the mean absolute
    /// error of the forecasts made from every origin, 1…`horizon` steps ahead, each series
    /// weighed by its in-sample seasonal-naive error so that none dominates by its scale. The
    /// level wins only when it is strictly better: seasonal naive stays the baseline of record.
    ///
    /// This is how a fallback picks the stronger simple baseline: many origins over the whole
    /// history tell a random walk from a seasonal series far more surely than the few windows
    /// of a backtest.
    public static func stronger(on series: [[Double]], horizon: Int, season: Int) -> ForecastBase {
        guard season > 1 else { return .seasonal }
        var level = 0.0, seasonal = 0.0
        for values in series {
            let scale = Metrics.seasonalNaiveScale(training: values, season: season)
            guard scale.isFinite, scale > 0 else { continue }
            let levels = carriedLevels(values)
            level += meanError(of: .level, values: values, level: levels, end: values.count, horizon: horizon, season: season) / scale
            seasonal += meanError(of: .seasonal, values: values, level: levels, end: values.count, horizon: horizon, season: season) / scale
        }
        return level < seasonal ? .level : .seasonal
    }

    /// The latest finite value at or before each step; `initial` before the first.
    static func carriedLevels(_ values: [Double], initial: Double = .nan) -> [Double] {
        var last = initial
        return values.map { v in
            if v.isFinite { last = v }
            return last
        }
    }

    /// The forecast this base makes at step t for step t + h (h ≥ 1) from the carried levels.
    static func forecast(_ kind: ForecastBase, level: [Double], at t: Int, ahead h: Int, season: Int) -> Double {
        switch kind {
        case .level:
            return level[t]
        case .seasonal, .profile:
            // The same season back for every step of the first season ahead, without the
            // division (training lays out a target per step and horizon step).
            let back = h <= season ? season : season * ((h + season - 1) / season)
            let index = t + h - back
            return index >= 0 ? level[index] : level[t]
        }
    }

    /// Mean absolute error of this base's forecasts from every origin t < end − horizon, for
    /// 1…horizon steps ahead, over the finite actuals; infinity when there is none.
    static func meanError(of kind: ForecastBase, values: [Double], level: [Double], end: Int, horizon: Int, season: Int) -> Double {
        meanError(values: values, origins: 0..<max(end - horizon, 0), horizon: horizon) { t, h in
            forecast(kind, level: level, at: t, ahead: h, season: season)
        }
    }

    /// Mean absolute error of `forecast(t, h)` against `values[t + h]` from every origin t in
    /// `origins`, 1…horizon steps ahead, over the finite actuals inside `values`; infinity when
    /// there is none.
    static func meanError(values: [Double], origins: Range<Int>, horizon: Int, forecast: (Int, Int) -> Double) -> Double {
        var sum = 0.0, count = 0.0
        for t in origins {
            for h in 1...horizon where t + h < values.count {
                let error = abs(values[t + h] - forecast(t, h))
                guard error.isFinite else { continue }
                sum += error
                count += 1
            }
        }
        return count > 0 ? sum / count : .infinity
    }
}

/// Two numbers fitted on forecasts the network made for the held-back tail, which it never
/// trained on: how much of its median correction to trust (0 falls back to the base forecast,
/// 1 keeps it whole), and how far to stretch the spread of the outer quantiles around the
/// median so that the interval covers what it claims. Quantile losses fitted on training
/// data are overconfident out of sample; this is the cheap, honest repair (in the manner of
/// conformalized quantile regression).
public struct Calibration: Sendable, Codable, Equatable {
    public var residualGain: Double
    public var intervalScale: Double

    public static let identity = Calibration(residualGain: 1, intervalScale: 1)

    /// The forecast values of one step from the base and the network's residuals at every quantile.
    func apply(base: Double, residuals: ArraySlice<Float>, medianIndex: Int) -> [Double] {
        let median = Double(residuals[residuals.startIndex + medianIndex])
        let centre = base + residualGain * median
        return residuals.map { centre + intervalScale * (Double($0) - median) }
    }

    /// The share of calibration samples an interval must cover for `confidence` out of sample.
    static func conformalLevel(_ confidence: Double, origins: Int) -> Double {
        let n = Double(max(origins, 1))
        return min(((n + 1) * confidence).rounded(.up) / n, 1)
    }

    /// Fits both numbers to (base, residuals, actual) samples of the tail, taken from `origins`
    /// forecast origins.
    ///
    /// The interval is stretched until it covers the nominal share with split conformal
    /// prediction's finite-sample correction, ⌈(n + 1)·nominal⌉ / n, counting the origins as n
    /// (the steps of one origin's horizon are not independent draws): a short tail, such as a
    /// few years of monthly data, gets a wider interval, a long one the nominal share.
    static func fit(samples: [(base: Double, residuals: ArraySlice<Float>, actual: Double)], origins: Int, quantiles: [Double]) -> Calibration {
        guard samples.count >= 10, let medianIndex = quantiles.firstIndex(of: 0.5) else { return .identity }
        let gains = stride(from: 0.0, through: 1.0, by: 0.1)
        let gain = gains.min { a, b in
            let error = { (g: Double) in samples.reduce(0.0) { $0 + abs($1.actual - ($1.base + g * Double($1.residuals[$1.residuals.startIndex + medianIndex]))) } }
            return error(a) < error(b)
        } ?? 1
        guard quantiles.count >= 2, let confidence = Quantiles.confidenceLevel(quantiles) else {
            return Calibration(residualGain: gain, intervalScale: 1)
        }
        let nominal = conformalLevel(confidence, origins: origins)
        for scale in stride(from: 0.5, through: 4.0, by: 0.1) {
            let candidate = Calibration(residualGain: gain, intervalScale: scale)
            let covered = samples.filter { sample in
                let values = candidate.apply(base: sample.base, residuals: sample.residuals, medianIndex: medianIndex)
                return values.min()! <= sample.actual && sample.actual <= values.max()!
            }.count
            if Double(covered) >= nominal * Double(samples.count) { return candidate }
        }
        return Calibration(residualGain: gain, intervalScale: 4)
    }
}

/// How a stored network turns its state into forecasts, as its hyperparameters record it
/// (`decoder`, `decoderLayers`, `feedback`; a model stored before the choice existed records
/// none and is the dense head): what the report shows.
public struct NetworkDesign: Decodable, Sendable, Equatable, CustomStringConvertible {
    public var layers: Int?
    public var decoder: DecoderKind?
    public var decoderLayers: Int?
    public var feedback: FeedbackKind?

    /// The design of a network model's hyperparameters (unreadable ones: the dense head).
    public init(hyperparameters: String) {
        self = (try? JSONDecoder().decode(NetworkDesign.self, from: Data(hyperparameters.utf8)))
            ?? NetworkDesign(layers: nil, decoder: nil, decoderLayers: nil, feedback: nil)
    }

    init(layers: Int?, decoder: DecoderKind?, decoderLayers: Int?, feedback: FeedbackKind?) {
        self.layers = layers
        self.decoder = decoder
        self.decoderLayers = decoderLayers
        self.feedback = feedback
    }

    /// "dense head", "dense head with output feedback", "encoder–decoder (recurrent decoder, 1 layer)".
    public var description: String {
        if decoder == .recurrent {
            let depth = decoderLayers ?? layers ?? 1
            return "encoder–decoder (recurrent decoder, \(depth) layer\(depth == 1 ? "" : "s"))"
        }
        return feedback == .output ? "dense head with output feedback" : "dense head"
    }
}
