import NeuralNet

/// How a published model forecasts: a stored model (its form, read from the cell and the
/// hyperparameters, and its decoded network) forecasts a series read in full, or reads on
/// from a saved series state over the new steps only. The one place that knows what each form
/// does with a series; it knows nothing of databases or of how the model was stored.
public struct PublishedForecaster: Sendable {
    public let form: PublishedForm
    /// The decoded network (`ModelArchive`); nil for a baseline, or when the weights are missing.
    public let network: TrainedForecaster?
    public let horizon: Int
    public let levels: [Double]
    /// The job's `max_gap`: a gap before the new steps up to this long is interpolated.
    public let maxGap: Int

    public init(form: PublishedForm, network: TrainedForecaster?, horizon: Int, levels: [Double], maxGap: Int) {
        self.form = form
        self.network = network
        self.horizon = horizon
        self.levels = levels
        self.maxGap = maxGap
    }

    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        case tooShort, noWeights
        case cannotFit(String)
        public var description: String {
            switch self {
            case .tooShort: return "the series is shorter than a season"
            case .noWeights: return "the active model has no weights"
            case .cannotFit(let why): return "the statistical model could not be fitted: \(why)"
            }
        }
    }

    /// A statistical model's forecast of `series` from its whole history (the model fitted again).
    func statisticalForecast(_ model: StatisticalModel, of series: RegularSeries) throws -> QuantileForecast {
        do {
            return try model.forecast(history: series.values, key: series.key, horizon: horizon, levels: levels)
        } catch {
            throw Failure.cannotFit("\(error)")
        }
    }

    /// The forecast of a series read in full, and the state to save after it (nil unless the
    /// network is published alone or combined with a baseline). `read`: the network's read of it, when already done with
    /// others in one batch (`TrainedForecaster.readInFull`, the same bits).
    /// A network that reads future-known covariates throws `MissingFuture` when one lacks a
    /// value for a step of the horizon (the caller serves the fallback and says why).
    public func forecast(_ series: RegularSeries, settledBefore: Int?, read: FullRead? = nil) throws -> (QuantileForecast, SeriesState?) {
        if form.needsWeights, let network { try network.checkFuture(series) }
        switch form {
        case .baseline(let baseline):
            guard baseline.canForecast(history: series.values) else { throw Failure.tooShort }
            return (baseline.forecast(history: series.values, horizon: horizon, levels: levels), nil)
        case .combined(let baseline):
            guard let network else { throw Failure.noWeights }
            guard baseline.canForecast(history: series.values) else { throw Failure.tooShort }
            let (forecast, state) = try read.map { ($0.forecast, $0.state) } ?? network.forecast(series, settledBefore: settledBefore)
            // The baseline forecasts the network's own steps and levels, whatever the job asks
            // now, with the spread fitted at training (or, for a series the model has not seen,
            // on this history), which the state keeps: reading on then equals this full read.
            let spread = network.baselineSpreads[series.key].flatMap { $0.serves(horizon: forecast.horizon, levels: forecast.levels, season: baseline.season) ? $0 : nil }
                ?? baseline.spread(history: series.values, horizon: forecast.horizon, levels: forecast.levels)
            let partner = baseline.forecast(history: series.values, horizon: forecast.horizon, spread: spread)
            return (forecast.combined(with: partner), state.map { var s = $0; s.baselineSpread = spread; return s })
        case .network:
            guard let network else { throw Failure.noWeights }
            return try read.map { ($0.forecast, $0.state) } ?? network.forecast(series, settledBefore: settledBefore)
        case .statistical(let model):
            return (try statisticalForecast(model, of: series), nil)
        case .combinedWithModel(let model):
            guard let network else { throw Failure.noWeights }
            let (forecast, _) = try read.map { ($0.forecast, $0.state) } ?? network.forecast(series, settledBefore: settledBefore)
            return (forecast.combined(with: try statisticalForecast(model, of: series)), nil)
        case .averaged(let chosen, let models):
            let (forecast, _) = try PublishedForecaster(form: chosen, network: network, horizon: horizon, levels: levels, maxGap: maxGap)
                .forecast(series, settledBefore: settledBefore, read: read)
            return (QuantileForecast.mean(of: [forecast] + (try models.map { try statisticalForecast($0, of: series) })), nil)
        }
    }

    /// The forecast after `newSteps` of series `key`, read on from its saved state (the bytes of
    /// `SeriesStateArchive`), and the state after them. A state that does not decode or fit
    /// throws `SeriesStateArchive.DamagedState`: the caller then reads the series again without it
    /// (over a warm-up, or in full for a model that reads its series in full).
    public func forecast(continuing state: [UInt8], of key: String, with newSteps: RegularSeries,
                         settledBefore: Int?) throws -> (QuantileForecast, SeriesState?) {
        switch form {
        case .baseline:
            throw Failure.tooShort
        case .statistical:
            // It is fitted on the whole history, so it never saves a state (see `ModelGuard.publish`).
            throw SeriesStateArchive.DamagedState(reason: "a statistical model reads its series in full")
        case .combinedWithModel:
            guard network != nil else { throw Failure.noWeights }
            // Its statistical partner is fitted on the whole history, so it is read in full
            // every time and keeps no state (it never saves one; see `ModelGuard.publish`).
            throw SeriesStateArchive.DamagedState(reason: "a network combined with a statistical model reads its series in full")
        case .averaged:
            // Its statistical partners are fitted on the whole history, so it never saves a state
            // (see `ModelGuard.joiningStatistical`).
            throw SeriesStateArchive.DamagedState(reason: "a model averaged with statistical models reads its series in full")
        case .combined(let baseline):
            guard let network else { throw Failure.noWeights }
            let saved = try SeriesStateArchive.decode(state, key: key, config: network.network.config)
            guard let spread = saved.baselineSpread else {
                throw SeriesStateArchive.DamagedState(reason: "it keeps no spread for the baseline the network is combined with")
            }
            let (forecast, next) = try readOn(network, from: saved, with: newSteps, settledBefore: settledBefore)
            // The baseline's point forecast from the window read (the tail holds the last season);
            // where a phase has no value there, a full read looks further back.
            let point = baseline.pointForecast(history: TrainedForecaster.continued(saved, with: newSteps, maxGap: maxGap).values,
                                               horizon: forecast.horizon)
            guard point.allSatisfy(\.isFinite), spread.serves(horizon: forecast.horizon, levels: forecast.levels, season: baseline.season) else {
                throw SeriesStateArchive.DamagedState(reason: "the baseline the network is combined with needs more of the series than the state keeps")
            }
            return (forecast.combined(with: baseline.forecast(point: point, spread: spread)), next.map { var s = $0; s.baselineSpread = spread; return s })
        case .network:
            guard let network else { throw Failure.noWeights }
            let saved = try SeriesStateArchive.decode(state, key: key, config: network.network.config)
            return try readOn(network, from: saved, with: newSteps, settledBefore: settledBefore)
        }
    }

    /// The network's forecast read on from `saved`; a state that does not fit is a damaged one.
    func readOn(_ network: TrainedForecaster, from saved: SeriesState, with newSteps: RegularSeries,
                settledBefore: Int?) throws -> (QuantileForecast, SeriesState?) {
        do {
            return try network.forecast(continuing: saved, with: newSteps, maxGap: maxGap, settledBefore: settledBefore)
        } catch let error as ForecasterError {
            throw SeriesStateArchive.DamagedState(reason: error.description)
        }
    }
}
