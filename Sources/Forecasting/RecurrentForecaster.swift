import Foundation
import NeuralNet

/// One epoch of training, as `training_history` records it.
public struct EpochRecord: Sendable, Equatable, Codable {
    public var epoch: Int
    public var trainLoss: Double
    /// Pinball loss on the held-back tail, in scaled units; NaN when there is no tail.
    public var validationLoss: Double
    public var gradNorm: Double
    public var learningRate: Double
    public var seconds: Double
    /// Training throughput of the epoch's updates: sequence steps read forward and backward
    /// per second (warm-up steps included, padding not), as `forecastd bench rnn` counts them.
    public var stepsPerSecond: Double = .nan
}

/// Where a training's time went, stage by stage, for the `train timing` log line.
public struct StageTimes: Sendable, Equatable {
    /// The epochs' updates.
    public var epochs = 0.0
    /// The validation passes after each epoch (which also collect the calibration samples).
    public var validation = 0.0
    /// Fitting the calibration on the best epoch's samples.
    public var calibration = 0.0
    /// The guard's contest: the network's one pass over every series (its backtest windows,
    /// forecasts and states) and the other contenders' backtests.
    public var backtest = 0.0
    /// The published model's forecasts assembled from that pass (a statistical model or a
    /// combination fitted to each series' whole history).
    public var forecast = 0.0

    public init() {}
}

public enum ForecasterError: Error, Sendable, Equatable, CustomStringConvertible {
    case noSeries
    case seriesTooShort(key: String, needed: Int, got: Int)
    case diverged(String)
    case mismatchedSeries(String)

    public var description: String {
        switch self {
        case .noSeries: return "no series to train on"
        case .seriesTooShort(let key, let needed, let got): return "series \"\(key)\" has \(got) steps; training needs at least \(needed)"
        case .diverged(let why): return "training diverged: \(why)"
        case .mismatchedSeries(let why): return why
        }
    }
}

/// A trained network with what it needs to forecast: the settings, the grid (for calendar
/// features) and the scaler of every series it was trained on.
public final class TrainedForecaster: @unchecked Sendable {
    public let settings: ForecasterSettings
    public let grid: TimeGrid
    public let network: RecurrentNetwork
    public let scalers: [String: RobustScaler]
    /// The seasonal profile of every series it was trained on, when its base is `.profile`.
    public let profiles: [String: SeasonalProfile]
    /// The scalers of every series' past covariates (`settings.pastCovariates`, in order).
    public let covariateScalers: [String: [RobustScaler]]
    /// Published combined with a baseline: the baseline's spread of every series (see
    /// `withBaselineSpreads`); empty otherwise.
    public let baselineSpreads: [String: BaselineSpread]
    /// An ensemble's networks (`Ensemble.swift`), the first one this one's own; empty for a
    /// single network.
    public let members: [TrainedForecaster]
    public let history: [EpochRecord]
    /// The epoch whose weights were kept (1-based; 0 when the first validation never improved).
    public let bestEpoch: Int
    /// The training stages' seconds (zero for a decoded model).
    public internal(set) var times = StageTimes()
    let features: FeatureLayout

    init(settings: ForecasterSettings, grid: TimeGrid, network: RecurrentNetwork, scalers: [String: RobustScaler],
         profiles: [String: SeasonalProfile] = [:], covariateScalers: [String: [RobustScaler]] = [:],
         baselineSpreads: [String: BaselineSpread] = [:], members: [TrainedForecaster] = [], history: [EpochRecord], bestEpoch: Int) {
        self.settings = settings
        self.grid = grid
        self.network = network
        self.scalers = scalers
        self.profiles = profiles
        self.covariateScalers = covariateScalers
        self.baselineSpreads = baselineSpreads
        self.members = members
        self.history = history
        self.bestEpoch = bestEpoch
        features = FeatureLayout(grid: grid, settings: settings)
    }

    /// The same network, keeping `spreads` for its combination with a baseline (archived with it).
    public func withBaselineSpreads(_ spreads: [String: BaselineSpread]) -> TrainedForecaster {
        copy(baselineSpreads: spreads)
    }

    /// This model with other settings, baseline spreads or members; the rest, and its times, the same.
    func copy(settings: ForecasterSettings? = nil, baselineSpreads: [String: BaselineSpread]? = nil,
              members: [TrainedForecaster]? = nil) -> TrainedForecaster {
        let model = TrainedForecaster(settings: settings ?? self.settings, grid: grid, network: network, scalers: scalers,
                                      profiles: profiles, covariateScalers: covariateScalers,
                                      baselineSpreads: baselineSpreads ?? self.baselineSpreads, members: members ?? self.members,
                                      history: history, bestEpoch: bestEpoch)
        model.times = times
        return model
    }

    /// The future blocks of `origins` of a prepared series (the recurrent decoder's, or the
    /// dense head's with future-known covariates; nil when the network reads none).
    func future(_ series: PreparedSeries, origins: Range<Int>) -> [Float]? {
        features.futureBlocks(series: series, origins: origins, horizon: settings.horizon, base: settings.base ?? .level, season: settings.season)
    }

    /// The inputs of `steps` of a prepared series.
    func inputs(_ series: PreparedSeries, steps: Range<Int>) -> [Float] {
        features.inputs(series: series, steps: steps, base: settings.base ?? .level, season: settings.season)
    }
}

/// Trains the multi-horizon quantile forecaster: the network reads a series step by step and
/// at every step emits every quantile of the whole horizon ("forking sequences"), so one pass
/// trains on every forecast origin. Training runs TBPTT over stateful segments with pinball
/// loss; the last steps of every series (`heldBack`) are held back, scored after each epoch, and
/// the weights of the best epoch are kept.
public enum RecurrentForecaster {
    /// The least length a series needs: warm-up, a horizon of targets, and the holdout.
    public static func minimumLength(_ settings: ForecasterSettings) -> Int {
        settings.context + 2 * settings.horizon + settings.holdout
    }

    public static func train(series: [RegularSeries], settings: ForecasterSettings, threads: Int = 1,
                             progress: ((EpochRecord) -> Void)? = nil) throws -> TrainedForecaster {
        guard let grid = series.first?.grid else { throw ForecasterError.noSeries }
        guard series.allSatisfy({ $0.grid == grid }) else { throw ForecasterError.mismatchedSeries("all series of one model share one grid") }
        let needed = minimumLength(settings)
        var prepared: [PreparedSeries] = []
        var scalers: [String: RobustScaler] = [:], covariateScalers: [String: [RobustScaler]] = [:]
        let covariates = settings.covariateColumns
        // The profile base is a candidate only when every series has a season to profile.
        let profiling = settings.base == nil || settings.base == .profile
        for s in series {
            guard s.count >= needed else { throw ForecasterError.seriesTooShort(key: s.key, needed: needed, got: s.count) }
            guard s.covariateNames == covariates else {
                throw ForecasterError.mismatchedSeries("series \"\(s.key)\" has the covariates \(s.covariateNames), the settings ask \(covariates)")
            }
            let trainEnd = s.count - settings.heldBack(length: s.count)
            guard let scaler = RobustScaler(fitting: s.values[..<trainEnd].filter(\.isFinite)) else {
                throw ForecasterError.seriesTooShort(key: s.key, needed: needed, got: 0)
            }
            scalers[s.key] = scaler
            let profile = profiling ? SeasonalProfile(fitting: s.values[..<trainEnd], firstBucket: s.firstBucket, period: settings.season) : nil
            let scaling = RobustScaler.covariates(of: s, end: trainEnd)
            if !scaling.isEmpty { covariateScalers[s.key] = scaling }
            prepared.append(PreparedSeries(s, scaler: scaler, trainEnd: trainEnd, profile: profile, covariateScalers: scaling))
        }

        var settings = settings
        // Static covariates: the encoding is fitted on the training series, then each series is
        // prepared again with its static inputs (the rest of its preparation does not depend on them).
        if settings.staticCovariates != nil {
            let attributes = series.compactMap(\.statics)
            guard attributes.count == series.count, let encoding = StaticEncoding(fitting: attributes) else {
                throw ForecasterError.mismatchedSeries("the settings ask for static covariates, and a series carries none")
            }
            settings.staticEncoding = encoding
            prepared = try zip(series, prepared).map { s, p in
                PreparedSeries(s, scaler: p.scaler, trainEnd: p.trainEnd, profile: p.profile, covariateScalers: p.covariateScalers,
                               statics: try encoding.encode(s.statics, of: s.key))
            }
        }
        if settings.base == nil {
            let error = { (kind: ForecastBase) in prepared.reduce(0.0) { $0 + $1.trainingError(of: kind, horizon: settings.horizon, season: settings.season) } }
            settings.base = error(.seasonal) < error(.level) ? .seasonal : .level
            // The profile replaces seasonal naive where it forecasts the held-back tail better:
            // judged out of sample, since it is fitted on the training part.
            if settings.base == .seasonal, prepared.allSatisfy({ $0.profile != nil }) {
                let tail = { (kind: ForecastBase) in prepared.reduce(0.0) { $0 + $1.tailError(of: kind, horizon: settings.horizon, season: settings.season) } }
                if tail(.profile) < tail(.seasonal) { settings.base = .profile }
            }
        }
        let profiles = settings.base == .profile ? Dictionary(prepared.compactMap { p in p.profile.map { (p.key, $0) } }, uniquingKeysWith: { a, _ in a }) : [:]
        if let week = settings.weekLags, week > settings.lags, weekLagsFit(prepared, week: week, day: settings.season) {
            settings.lags = week
        }
        let layout = FeatureLayout(grid: grid, settings: settings)
        let config = networkConfig(settings, layout: layout)
        let network = try RecurrentNetwork(config: config, seed: settings.seed)
        // The outputs are corrections to the base, so on short series the untrained network
        // forecasts the base itself. A randomly drawn head adds a correction of about half an
        // interquartile range at each horizon step, which a short series, stopping early (often
        // after its first epoch), kept (the employment panel's single networks: MASE 0.901 with
        // a random head, 0.603 with this one). Long series train on: there the head at zero
        // was better on half-hourly demand and worse on hourly temperature at every seed, so
        // they keep the random head (benchmarks/RESULTS.md, issue 12).
        let short = ModelGuard.isShortUnit(series)
        if short { network.zeroHead() }
        let segments = trainingSegments(prepared, settings: settings)
        // As few groups as `batchSize` allows, of even size: 2,000 segments train as 8 groups of
        // 250 rows, not 7 of 256 and one of 208 padded to 256, and 17 as 9 and 8, not 16 and
        // one row (an update from a single segment, padded with 15 that compute nothing).
        let groupCount = max(1, (segments.count + settings.batchSize - 1) / settings.batchSize)
        let batch = max(1, (segments.count + groupCount - 1) / groupCount)
        if settings.decoderKind == .recurrent, settings.decoderStride == nil {
            settings.decoderStride = ForecasterSettings.decoderStride(k1: settings.tbpttK1, batch: batch, horizon: settings.horizon)
        }
        let feeding = settings.decoderKind == .recurrent || settings.feedbackKind == .output
        if feeding, settings.ownShare == nil { settings.ownShare = ForecasterSettings.finalOwnShare }
        let trainer = try TBPTTTrainer(network: network, loss: .pinball(quantiles: settings.quantiles.map { Float($0) }),
                                       optimizer: Adam(learningRate: settings.learningRate),
                                       k1: settings.tbpttK1, k2: settings.tbpttK2, batch: batch,
                                       clipNorm: settings.clipNorm, threads: threads, seed: settings.seed,
                                       decoderStride: settings.decoderStride ?? 1)
        // Warm up briefly, then cosine decay to a tenth over the planned updates.
        let updatesPerEpoch = stride(from: 0, to: segments.count, by: batch).reduce(0) { total, start in
            let longest = segments[start..<min(start + batch, segments.count)].map { $0.end - $0.start }.max() ?? 0
            return total + (longest + settings.tbpttK1 - 1) / settings.tbpttK1
        }
        let plannedUpdates = max(1, updatesPerEpoch * settings.epochs)
        trainer.schedule = LearningRateSchedule(warmupSteps: min(50, plannedUpdates / 20),
                                                decay: .cosine(totalSteps: plannedUpdates, minimumFactor: 0.1))
        // A long unit's network is judged after each epoch, and kept, at the average of its last
        // twenty or so updates rather than at the last one: the epoch that early stopping keeps
        // then depends less on where the last steps happened to land. Over seeds 1-7 on the eight
        // long sets this was better on four (half-hourly demand 0.637 -> 0.614, hourly
        // temperature 0.660 -> 0.642, dew point 0.830 -> 0.796, sunspots 0.963 -> 0.935) and level
        // on the other four (benchmarks/RESULTS.md, issue 12).
        if !short { trainer.averaging = ForecasterSettings.weightAveraging }
        var generator = SplitMix64(seed: settings.seed)
        var history: [EpochRecord] = []
        var best = (loss: Double.infinity, epoch: 0, parameters: network.parameters, samples: CalibrationSamples())
        var sinceBest = 0
        var times = StageTimes()
        for epoch in 1...settings.epochs {
            let started = Date()
            if feeding { trainer.ownShare = settings.ownShare(epoch: epoch) }
            var order = Array(segments.indices)
            order.shuffle(using: &generator)
            var lossSum = 0.0, normSum = 0.0, groups = 0, steps = 0
            for start in stride(from: 0, to: order.count, by: batch) {
                let group = order[start..<min(start + batch, order.count)].map { segments[$0] }
                let data = SegmentWindows(group, batch: batch, prepared: prepared, layout: layout, settings: settings)
                do {
                    let stats = try trainer.trainEpoch(data, resetState: true)
                    lossSum += stats.loss
                    normSum += Double(stats.gradNorm)
                    groups += 1
                    steps += group.reduce(0) { $0 + $1.end - $1.start }
                } catch let error as TrainingError {
                    throw ForecasterError.diverged(error.description)
                }
            }
            let trained = Date()
            let latest = trainer.averaged.map { averaged -> [Float] in
                let latest = network.parameters
                network.parameters = averaged
                return latest
            }
            let tail = tailPass(network: network, prepared: prepared, layout: layout, settings: settings, threads: threads)
            if let latest { network.parameters = latest }
            let validation = tail.loss
            let seconds = trained.timeIntervalSince(started)
            times.epochs += seconds
            times.validation += Date().timeIntervalSince(trained)
            let record = EpochRecord(epoch: epoch, trainLoss: lossSum / Double(max(groups, 1)), validationLoss: validation,
                                     gradNorm: normSum / Double(max(groups, 1)), learningRate: Double(trainer.optimizer.learningRate),
                                     seconds: Date().timeIntervalSince(started), stepsPerSecond: seconds > 0 ? Double(steps) / seconds : .nan)
            history.append(record)
            progress?(record)
            guard record.trainLoss.isFinite else { throw ForecasterError.diverged("training loss is \(record.trainLoss) at epoch \(epoch)") }
            let score = validation.isNaN ? record.trainLoss : validation
            if score < best.loss {
                best = (score, epoch, trainer.averaged ?? network.parameters, tail.samples)
                sinceBest = 0
            } else {
                sinceBest += 1
                if sinceBest >= settings.patience { break }
            }
        }
        let restored = try RecurrentNetwork(config: config, parameters: best.parameters)
        let calibrating = Date()
        // The best epoch's validation pass read the tail with these very weights: its samples
        // are what a calibration pass over the restored network would collect, to the bit.
        if best.epoch > 0 {
            settings.calibration = Calibration.fit(samples: best.samples.list, origins: best.samples.origins, quantiles: settings.quantiles)
        } else {
            settings.calibration = calibrate(network: restored, prepared: prepared, layout: layout, settings: settings, threads: threads)
        }
        times.calibration = Date().timeIntervalSince(calibrating)
        let model = TrainedForecaster(settings: settings, grid: grid, network: restored, scalers: scalers, profiles: profiles,
                                      covariateScalers: covariateScalers, history: history, bestEpoch: best.epoch)
        model.times = times
        return model
    }

    /// The network of `settings` over `layout`'s inputs. The dense head without feedback gets
    /// the configuration it always had (horizon and median left at their defaults), so its
    /// model blobs stay byte for byte what earlier builds wrote.
    static func networkConfig(_ settings: ForecasterSettings, layout: FeatureLayout) -> NetworkConfig {
        var config = NetworkConfig(cell: settings.cell, inputSize: layout.inputSize, hiddenSize: settings.hiddenSize,
                                   layers: settings.layers, outputSize: settings.outputSize, dropout: settings.dropout)
        guard settings.decoderKind == .recurrent || settings.feedbackKind == .output || layout.known > 0 else { return config }
        config.horizon = settings.horizon
        let median = settings.quantiles.firstIndex(of: 0.5) ?? settings.quantiles.count / 2
        config.medianOutput = median == settings.quantiles.count / 2 ? nil : median
        config.feedback = settings.feedbackKind
        if settings.decoderKind == .recurrent {
            config.decoder = .recurrent
            config.decoderLayers = settings.decoderLayers
            config.futureFeatures = layout.calendar.count + layout.known
        } else {
            // The dense head reads the future-known covariates of every horizon step.
            config.futureFeatures = layout.known
        }
        return config
    }

    /// True when the training parts repeat their week more closely than their day: the mean
    /// absolute change over a week is smaller than over a day, averaged over series as ratios so
    /// that none dominates by its scale. Electricity demand and traffic, whose weekends differ
    /// from their weekdays, do; temperature, which follows the sun and the weather, does not,
    /// and a week of lags would only give the network more to overfit.
    static func weekLagsFit(_ prepared: [PreparedSeries], week: Int, day: Int) -> Bool {
        var ratios = 0.0, count = 0.0
        for s in prepared {
            let training = Array(s.scaled[..<s.trainEnd])
            guard training.count > 2 * week else { continue }
            let weekly = Metrics.seasonalNaiveScale(training: training, season: week)
            let daily = Metrics.seasonalNaiveScale(training: training, season: max(day, 1))
            guard weekly.isFinite, daily.isFinite, daily > 0 else { continue }
            ratios += weekly / daily
            count += 1
        }
        return count > 0 && ratios / count < 1
    }

    /// (origin, step) pairs the calibration is fitted on at most. A global model of thousands of
    /// series has tens of millions in its tails (10,000 hourly series: 75 million, 12 GB held at
    /// once, and 47 candidate settings tried on each); beyond the limit, origins are taken at an
    /// even stride in every series. Below it (every single-series job) all of them are used.
    static let calibrationSampleLimit = 1_000_000

    /// Fits the calibration on the forecasts made from the origins of the held-back tail.
    static func calibrate(network: RecurrentNetwork, prepared: [PreparedSeries], layout: FeatureLayout,
                          settings: ForecasterSettings, threads: Int = 1, batch: Int = TrainedForecaster.readBatch) -> Calibration {
        let samples = tailPass(network: network, prepared: prepared, layout: layout, settings: settings, threads: threads, batch: batch).samples
        return Calibration.fit(samples: samples.list, origins: samples.origins, quantiles: settings.quantiles)
    }

    /// The (origin, step) samples the calibration is fitted on: the base, the network's
    /// residuals (q per sample) and the actual value, in scaled units.
    struct CalibrationSamples {
        var bases: [Double] = [], actuals: [Double] = [], residuals: [Float] = []
        var origins = 0
        var list: [(base: Double, residuals: ArraySlice<Float>, actual: Double)] {
            let q = bases.isEmpty ? 0 : residuals.count / bases.count
            return bases.indices.map { i in (base: bases[i], residuals: residuals[(i * q)..<(i * q + q)], actual: actuals[i]) }
        }
    }

    /// One batched pass of the network over the held-back tail of every series, up to its last
    /// origin whose whole horizon lies inside it (read from `context` steps before the tail,
    /// from the zero state; see `RecurrentNetwork.read`): the mean pinball loss of the forecasts from every such origin
    /// (in scaled units; NaN when no series has one), and the calibration samples, taken from
    /// the same origins at an even stride beyond `calibrationSampleLimit`. Validation and
    /// calibration read the same tail, so one pass serves both.
    static func tailPass(network: RecurrentNetwork, prepared: [PreparedSeries], layout: FeatureLayout,
                         settings: ForecasterSettings, threads: Int,
                         batch: Int = TrainedForecaster.readBatch) -> (loss: Double, samples: CalibrationSamples) {
        let o = settings.outputSize, q = settings.quantiles.count, horizon = settings.horizon
        let pairs = prepared.reduce(0) { $0 + Swift.max(0, $1.scaled.count - horizon - ($1.trainEnd - 1)) } * horizon
        let every = Swift.max(1, (pairs + calibrationSampleLimit - 1) / calibrationSampleLimit)
        // Each read starts `context` steps before the tail's first origin, from the zero state,
        // as every training segment warms up: the tail is judged as training sees data, and
        // reading it costs the tail, not the whole series, at every epoch.
        var read: [Int] = [], requests: [ReadRequest] = [], starts: [Int] = []
        for (i, s) in prepared.enumerated() {
            let origins = (s.trainEnd - 1)..<(s.scaled.count - horizon)
            guard !origins.isEmpty else { continue }
            let start = Swift.max(0, origins.lowerBound - settings.context)
            read.append(i)
            starts.append(start)
            requests.append(ReadRequest(steps: origins.upperBound - start, keepFrom: origins.lowerBound - start))
        }
        var sum = 0.0, count = 0.0
        var samples = CalibrationSamples()
        let inputs = read.map { prepared[$0] }, offsets = starts
        let base = settings.base!, season = settings.season
        let shifted = { @Sendable (r: Int, steps: Range<Int>) in (steps.lowerBound + offsets[r])..<(steps.upperBound + offsets[r]) }
        let future: (@Sendable (Int, Range<Int>) -> [Float])? = layout.readsFuture
            ? { @Sendable r, steps in layout.futureBlocks(series: inputs[r], origins: shifted(r, steps), horizon: horizon, base: base, season: season)! } : nil
        network.read(requests, batch: batch, threads: threads,
                     inputs: { r, steps in layout.inputs(series: inputs[r], steps: shifted(r, steps), base: base, season: season) },
                     future: future) { r, result in
            let s = inputs[r], first = requests[r].keepFrom + offsets[r], outputs = result.outputs
            let origins = first..<(requests[r].steps + offsets[r])
            for t in origins {
                let at = (t - first) * o
                for h in 0..<horizon {
                    let base = s.base(settings.base!, at: t, ahead: h + 1, season: settings.season)
                    let actual = s.scaled[t + 1 + h] - base
                    guard actual.isFinite else { continue }
                    for (k, level) in settings.quantiles.enumerated() {
                        sum += pinballLoss(actual - Double(outputs[at + h * q + k]), level: level)
                        count += 1
                    }
                }
            }
            for t in stride(from: origins.lowerBound, to: origins.upperBound, by: every) {
                samples.origins += 1
                let at = (t - first) * o
                for h in 0..<horizon {
                    let actual = s.scaled[t + 1 + h]
                    guard actual.isFinite else { continue }
                    samples.bases.append(s.base(settings.base!, at: t, ahead: h + 1, season: settings.season))
                    samples.actuals.append(actual)
                    samples.residuals += outputs[(at + h * q)..<(at + h * q + q)]
                }
            }
        }
        return (count > 0 ? sum / count : .nan, samples)
    }
}
