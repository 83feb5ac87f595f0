import Foundation
import NeuralNet

/// Where a trained network stands after reading a series up to its last settled step: what lets
/// the next forecast read only the points after it. Reading on from a saved state gives bit for
/// bit what reading the whole series again would, as long as the steps already read have not
/// changed (rows that arrive late for them are seen at the next full read, e.g. training).
///
/// Besides the recurrent state it keeps what the inputs and the forecast of the next steps
/// look back at: the values of the last `max(lags, season)` steps (with an ensemble's longest
/// lags: the lag inputs, the seasonal base, and the anchor of a gap to interpolate), the level
/// carried into them, and the scaling the series was read with. With covariates, a state stops only after a step where the
/// value and every covariate are observed (`RegularSeries.lastSettledStep`), and keeps the
/// covariates' values there (the anchor of their next gap) and their scalers. What a
/// future-known covariate holds ahead is not kept: each read brings it afresh, as a full read
/// would (the state is the same bytes with and without it, `SeriesStateArchive` version 4).
public struct SeriesState: Sendable, Equatable {
    public var key: String
    /// The grid bucket after the last step read: the next read starts at its first instant.
    public var nextBucket: Int
    public var scaler: RobustScaler
    public var recurrent: RecurrentState
    /// Values of the last steps read, NaN where missing; the last one is always observed.
    public var tail: [Double]
    /// The level (latest finite scaled value) carried into the first step of `tail`; 0 when
    /// the tail begins the series.
    public var levelBeforeTail: Double
    /// The seasonal profile the series was read with (a `.profile` model's), kept like the
    /// scaler so that an unseen series of a global model reads on with its first profile.
    public var profile: SeasonalProfile?
    /// The scalers of the covariates, in the model's order (past-observed, then future-known;
    /// empty without covariates).
    public var covariateScalers: [RobustScaler]
    /// Each covariate's value at the last step read (observed there, like the value).
    public var lastCovariates: [Double]
    /// For a network combined with a baseline: the baseline's error quantiles, fitted when the
    /// model was trained (or when an unseen series was first read); with the tail's last season
    /// they are all the baseline's forecast needs (`PublishedForecaster`). nil otherwise.
    public var baselineSpread: BaselineSpread?
    /// For an ensemble: the recurrent states of its networks after the first (whose state is
    /// `recurrent`); empty for a single network.
    public var ensembleRecurrent: [RecurrentState]

    public init(key: String, nextBucket: Int, scaler: RobustScaler, recurrent: RecurrentState, tail: [Double], levelBeforeTail: Double,
                profile: SeasonalProfile? = nil, covariateScalers: [RobustScaler] = [], lastCovariates: [Double] = [],
                baselineSpread: BaselineSpread? = nil, ensembleRecurrent: [RecurrentState] = []) {
        precondition(covariateScalers.count == lastCovariates.count, "one scaler and one last value per covariate")
        self.key = key
        self.nextBucket = nextBucket
        self.scaler = scaler
        self.recurrent = recurrent
        self.tail = tail
        self.levelBeforeTail = levelBeforeTail
        self.profile = profile
        self.covariateScalers = covariateScalers
        self.lastCovariates = lastCovariates
        self.baselineSpread = baselineSpread
        self.ensembleRecurrent = ensembleRecurrent
    }

    /// The bucket of the last step read.
    public var lastBucket: Int { nextBucket - 1 }
}

extension TrainedForecaster {
    /// The scaler of a series the model was trained on, or one fitted on this history for a
    /// series the (global) model has not seen. A saved state keeps the scaler it was read with,
    /// so for an unseen series reading on equals a full read with that first scaler.
    public func scaler(for series: RegularSeries) -> RobustScaler? {
        scalers[series.key] ?? RobustScaler(fitting: series.values.filter(\.isFinite))
    }

    /// The seasonal profile of a series for a `.profile` model: the one fitted in training, or
    /// one fitted on this history for a series the (global) model has not seen; nil for other
    /// bases and for series too short for one (whose base is then seasonal naive's).
    public func profile(for series: RegularSeries) -> SeasonalProfile? {
        guard settings.base == .profile else { return nil }
        return profiles[series.key] ?? SeasonalProfile(fitting: series.values[...], firstBucket: series.firstBucket, period: settings.season)
    }

    /// The scalers of a series' past covariates: the ones fitted in training, or ones fitted on
    /// this history for a series the (global) model has not seen. Throws when the series does
    /// not carry the model's covariates.
    public func covariateScalers(for series: RegularSeries) throws -> [RobustScaler] {
        try checkCovariates(series.covariateNames, of: series.key)
        return covariateScalers[series.key] ?? RobustScaler.covariates(of: series, end: series.count)
    }

    func checkCovariates(_ names: [String], of key: String) throws {
        let expected = settings.covariateColumns
        guard names == expected else {
            throw ForecasterError.mismatchedSeries("series \"\(key)\" has the covariates \(names), the model reads \(expected)")
        }
    }

    /// Throws `MissingFuture` when the horizon after `series` lacks a future-known covariate.
    public func checkFuture(_ series: RegularSeries) throws {
        if let missing = series.missingFuture(horizon: settings.horizon) { throw missing }
    }

    func prepare(_ series: RegularSeries) throws -> PreparedSeries {
        guard let scaler = scaler(for: series) else { throw ForecasterError.seriesTooShort(key: series.key, needed: 1, got: 0) }
        return PreparedSeries(series, scaler: scaler, trainEnd: series.count, profile: profile(for: series),
                              covariateScalers: try covariateScalers(for: series), statics: try staticInputs(for: series))
    }

    /// The series' static inputs by the model's encoding (empty for a model without static
    /// covariates): the encoding comes with the model, so every read of the series gives the
    /// same inputs whatever series it is read with.
    func staticInputs(for series: RegularSeries) throws -> [Double] {
        guard let encoding = settings.staticEncoding else { return [] }
        return try encoding.encode(series.statics, of: series.key)
    }

    /// Steps of the past the next steps look back at: the lags (of an ensemble, its longest
    /// member's, so that the state it saves, the first member's, serves every member), and a
    /// season for the seasonal and profile bases.
    var stateTailLength: Int { max(settings.longestLags, settings.season, 1) }

    /// The forecast from the end of `series`, read from its first step, quantiles in order and
    /// in the series' own units, with the state after its last settled step (see
    /// `read(window:...)`; nil when none is observed).
    /// Throws `MissingFuture` when a future-known covariate lacks a value for a step of the
    /// horizon: the network never forecasts from an invented future (the caller serves the
    /// fallback and says why).
    public func forecast(_ series: RegularSeries, settledBefore: Int? = nil) throws -> (QuantileForecast, SeriesState?) {
        try checkFuture(series)
        if isEnsemble { return try ensembleForecast(series, settledBefore: settledBefore) }
        guard let scaler = scaler(for: series) else { throw ForecasterError.seriesTooShort(key: series.key, needed: 1, got: 0) }
        return try read(window: series, scaler: scaler, profile: profile(for: series), covariateScalers: try covariateScalers(for: series),
                        levelBefore: 0, from: 0, state: RecurrentState(config: network.config, batch: 1), settledBefore: settledBefore)
    }

    /// The forecast after reading on from `state` over `newSteps`: the series' steps from
    /// `state.nextBucket` on, as the series builder lays out the rows read since (so it begins
    /// and ends with an observed step; with covariates it may begin with steps that hold only
    /// covariates, see `SeriesSettings.leadingCovariates`). A gap of at most `maxGap` steps
    /// between the two is interpolated as a full read would, in the value and in each covariate.
    public func forecast(continuing state: SeriesState, with newSteps: RegularSeries, maxGap: Int,
                         settledBefore: Int? = nil) throws -> (QuantileForecast, SeriesState?) {
        if isEnsemble || !state.ensembleRecurrent.isEmpty {
            return try ensembleForecast(continuing: state, with: newSteps, maxGap: maxGap, settledBefore: settledBefore)
        }
        guard newSteps.key == state.key, newSteps.grid == grid, newSteps.firstBucket >= state.nextBucket, newSteps.count > 0,
              state.recurrent.matches(network.config), state.recurrent.batch == 1, state.tail.last?.isFinite == true,
              state.tail.count <= stateTailLength, state.profile == nil || settings.base == .profile,
              state.covariateScalers.count == settings.covariateColumns.count, state.lastCovariates.allSatisfy(\.isFinite) else {
            throw ForecasterError.mismatchedSeries("the saved state of \"\(state.key)\" does not fit the new steps or the model")
        }
        try checkCovariates(newSteps.covariateNames, of: newSteps.key)
        try checkFuture(newSteps)
        let gap = newSteps.firstBucket - state.nextBucket
        let (values, states) = Self.continued(state, with: newSteps, maxGap: maxGap)
        // A covariate's steps in the tail are not read again: only its last value, the anchor of
        // a gap that follows, takes part.
        let covariates = zip(newSteps.covariates, state.lastCovariates).map { column, last in
            var values = repeatElement(Double.nan, count: state.tail.count - 1) + [last] + repeatElement(Double.nan, count: gap) + column.values
            var states = repeatElement(StepState.missing, count: state.tail.count - 1) + [.observed] + repeatElement(StepState.missing, count: gap) + column.states
            interpolateShortGaps(&values, &states, maxGap: maxGap)
            return CovariateSeries(name: column.name, values: values, states: states, ahead: column.ahead)
        }
        var window = RegularSeries(key: state.key, grid: grid, firstBucket: state.nextBucket - state.tail.count,
                                   values: values, states: states, rows: newSteps.rows, covariates: covariates)
        window.statics = newSteps.statics
        return try read(window: window, scaler: state.scaler, profile: state.profile, covariateScalers: state.covariateScalers,
                        levelBefore: state.levelBeforeTail, from: state.tail.count, state: state.recurrent, settledBefore: settledBefore)
    }

    /// The values (and their states) that reading on from `state` over `newSteps` sees: the
    /// state's tail, the gap to the new steps (interpolated when at most `maxGap` steps, as a
    /// full read would), then the new steps; the window's first step is `state.nextBucket −
    /// state.tail.count`.
    static func continued(_ state: SeriesState, with newSteps: RegularSeries, maxGap: Int) -> (values: [Double], states: [StepState]) {
        let gap = newSteps.firstBucket - state.nextBucket
        var values = state.tail + repeatElement(Double.nan, count: gap) + newSteps.values
        var states = state.tail.map { $0.isFinite ? StepState.observed : .missing } + repeatElement(StepState.missing, count: gap) + newSteps.states
        interpolateShortGaps(&values, &states, maxGap: maxGap)
        return (values, states)
    }

    /// Reads steps `start...` of `window` on from `state` (which has read the steps before) and
    /// forecasts from the last step. The state is saved after the last observed step whose
    /// bucket lies before `settledBefore` (nil: all of them): the bucket that the read's end
    /// falls in may still receive rows, and a gap after the last observation may still turn
    /// out short enough to be interpolated, so steps after it are read again next time.
    func read(window: RegularSeries, scaler: RobustScaler, profile: SeasonalProfile?, covariateScalers: [RobustScaler],
              levelBefore: Double, from start: Int, state: RecurrentState, settledBefore: Int?) throws -> (QuantileForecast, SeriesState?) {
        guard start < window.count else {
            throw ForecasterError.mismatchedSeries("series \"\(window.key)\" has no step after its saved state")
        }
        let prepared = PreparedSeries(window, scaler: scaler, trainEnd: window.count, levelBefore: levelBefore, profile: profile,
                                      covariateScalers: covariateScalers, statics: try staticInputs(for: window))
        let settled = window.lastSettledStep(from: start, before: settledBefore).map { $0 + 1 } ?? start
        var recurrent = state
        var outputs: [Float] = []
        // The dense head's future blocks go with the steps (with feedback, every step's forecast
        // is fed on); the recurrent decoder's only with the last step, below.
        let head = settings.decoderKind == .dense
        if settled > start {
            outputs = try network.forward(inputs: inputs(prepared, steps: start..<settled), steps: settled - start, state: &recurrent,
                                          future: head ? future(prepared, origins: start..<settled) : nil)
        }
        var saved: SeriesState?
        if settled > 0 {
            let tailStart = Swift.max(0, settled - stateTailLength)
            saved = SeriesState(key: window.key, nextBucket: window.firstBucket + settled, scaler: scaler, recurrent: recurrent,
                                tail: Array(window.values[tailStart..<settled]),
                                levelBeforeTail: tailStart > 0 ? prepared.level[tailStart - 1] : levelBefore, profile: profile,
                                covariateScalers: covariateScalers, lastCovariates: window.covariates.map { $0.values[settled - 1] })
        }
        if settled < window.count {
            outputs = try network.forward(inputs: inputs(prepared, steps: settled..<window.count),
                                          steps: window.count - settled, state: &recurrent,
                                          future: head ? future(prepared, origins: settled..<window.count) : nil)
        }
        if settings.decoderKind == .recurrent {
            // The encoder has read every step; the decoder restarts from its state at the last.
            outputs = try network.decode(state: recurrent, future: future(prepared, origins: (window.count - 1)..<window.count)!)
        }
        let forecast = quantileForecast(outputs: outputs.suffix(settings.outputSize), at: window.count - 1, of: prepared)
        return (forecast, saved)
    }

    /// The network's outputs at step t (residuals on the base, in scaled units), back in the
    /// series' units and in order.
    func quantileForecast(outputs: ArraySlice<Float>, at t: Int, of series: PreparedSeries) -> QuantileForecast {
        let q = settings.quantiles.count, base = settings.base ?? .level
        let calibration = settings.calibration ?? .identity
        let medianIndex = settings.quantiles.firstIndex(of: 0.5) ?? q / 2
        var values: [Double] = []
        values.reserveCapacity(outputs.count)
        for h in 0..<settings.horizon {
            let start = outputs.startIndex + h * q
            let stepBase = series.base(base, at: t, ahead: h + 1, season: settings.season)
            values += calibration.apply(base: stepBase, residuals: outputs[start..<(start + q)], medianIndex: medianIndex).map(series.scaler.inverse)
        }
        Quantiles.sortEachStep(&values, levelsPerStep: settings.quantiles.count)
        return QuantileForecast(levels: settings.quantiles, values: values)
    }

    /// Series read in full, many at once: for each series (in order) the forecast from its
    /// end and the state after its last settled step, as `forecast(_:settledBefore:)` gives
    /// them (bit for bit: `RecurrentNetwork.read` runs each series as its batch-1 read would),
    /// and, when `windows` is given, the backtest of `backtest(_:windows:season:)` from the
    /// same pass. nil for a series that cannot be read (no scaler). One pass over the series
    /// serves the guard's backtest and the forecast it publishes.
    public func readInFull(_ series: [RegularSeries], settledBefore: Int? = nil, backtest windows: ((RegularSeries) -> Int)? = nil,
                           season: Int = 1, threads: Int = 1) -> [FullRead?] {
        if isEnsemble { return ensembleReadInFull(series, settledBefore: settledBefore, backtest: windows, season: season, threads: threads) }
        let o = settings.outputSize, layout = features
        var prepared: [PreparedSeries?] = series.map { try? prepare($0) }
        var requests: [ReadRequest] = [], index: [Int] = [], plans: [Backtest?] = [], settledSteps: [Int] = []
        for (i, s) in series.enumerated() {
            guard prepared[i] != nil, s.count > 0 else { prepared[i] = nil; continue }
            let settled = s.lastSettledStep(from: 0, before: settledBefore).map { $0 + 1 } ?? 0
            let plan = windows.map { Backtest(horizon: settings.horizon, windows: $0(s), season: season, levels: settings.quantiles) }
            let firstOrigin = plan?.origins(length: s.count).min() ?? s.count
            requests.append(ReadRequest(steps: s.count, keepFrom: Swift.max(0, Swift.min(firstOrigin, s.count) - 1),
                                        stateAfter: settled > 0 ? settled : nil))
            index.append(i); plans.append(plan); settledSteps.append(settled)
        }
        var results = [FullRead?](repeating: nil, count: series.count)
        let inputs = prepared.compactMap { $0 }
        // What a read gives is turned into forecasts, states and backtests on the unit's threads,
        // a round of reads at a time (scoring a backtest costs as much as reading the series).
        var pending: [(Int, ReadResult)] = []
        let round = Swift.max(1, threads) * Self.readBatch
        func assemble() {
            let done = ComputeThreads.map(pending.count, threads: threads) { j -> FullRead in
                let (r, read) = pending[j]
                let s = series[index[r]], p = inputs[r], keepFrom = requests[r].keepFrom
                let forecast = quantileForecast(outputs: read.outputs.suffix(o), at: s.count - 1, of: p)
                var saved: SeriesState?
                let settled = settledSteps[r]
                if settled > 0, let recurrent = read.state {
                    let tailStart = Swift.max(0, settled - stateTailLength)
                    saved = SeriesState(key: s.key, nextBucket: s.firstBucket + settled, scaler: p.scaler, recurrent: recurrent,
                                        tail: Array(s.values[tailStart..<settled]), levelBeforeTail: tailStart > 0 ? p.level[tailStart - 1] : 0,
                                        profile: p.profile, covariateScalers: p.covariateScalers,
                                        lastCovariates: s.covariates.map { $0.values[settled - 1] })
                }
                let backtest = plans[r].map { plan in
                    plan.run(series: s) { window in
                        let base = (window.origin - 1 - keepFrom) * o
                        return quantileForecast(outputs: read.outputs[base..<(base + o)], at: window.origin - 1, of: p)
                    }
                }
                return FullRead(forecast: forecast, state: saved, backtest: backtest)
            }
            for (j, read) in done.enumerated() { results[index[pending[j].0]] = read }
            pending.removeAll(keepingCapacity: true)
        }
        let base = settings.base ?? .level, season = settings.season, horizon = settings.horizon
        let future: (@Sendable (Int, Range<Int>) -> [Float])? = layout.readsFuture
            ? { @Sendable r, steps in layout.futureBlocks(series: inputs[r], origins: steps, horizon: horizon, base: base, season: season)! } : nil
        network.read(requests, batch: Self.readBatch, threads: threads,
                     inputs: { r, steps in layout.inputs(series: inputs[r], steps: steps, base: base, season: season) },
                     future: future) { r, read in
            pending.append((r, read))
            if pending.count == round || r == requests.count - 1 { assemble() }
        }
        return results
    }

    /// Series side by side in a batched read: enough rows to keep the products busy, few enough
    /// that a thread's activations stay in its cache (64 steps × 128 rows × hidden 64 × gates).
    static let readBatch = 128

    /// Rolling-origin backtest of this model beside seasonal naive on the last `windows`
    /// horizons of `series`. The network reads the series once; the forecast of each origin is
    /// its output after the step before it, so no window sees its own future.
    public func backtest(_ series: RegularSeries, windows: Int, season: Int) throws -> BacktestResult {
        if isEnsemble {
            return ensembleBacktest(series, windows: windows, season: season, members: try members.map { try $0.backtest(series, windows: windows, season: season) })
        }
        let prepared = try prepare(series)
        if features.readsFuture {
            // The decoder runs only from the windows' origins (a read keeps the steps from the
            // first on), not from every step of the series, and a head's future blocks are
            // built for those steps only; the same bits (`readInFull`).
            guard let result = readInFull([series], backtest: { _ in windows }, season: season).first??.backtest else {
                throw ForecasterError.seriesTooShort(key: series.key, needed: 1, got: series.count)
            }
            return result
        }
        var recurrent = RecurrentState(config: network.config, batch: 1)
        let outputs = try network.forward(inputs: inputs(prepared, steps: 0..<series.count), steps: series.count, state: &recurrent)
        let o = settings.outputSize
        let plan = Backtest(horizon: settings.horizon, windows: windows, season: season, levels: settings.quantiles)
        return plan.run(series: series) { window in
            let base = (window.origin - 1) * o
            return quantileForecast(outputs: outputs[base..<(base + o)], at: window.origin - 1, of: prepared)
        }
    }
}

/// One series read in full by `TrainedForecaster.readInFull`.
public struct FullRead: Sendable {
    public var forecast: QuantileForecast
    public var state: SeriesState?
    public var backtest: BacktestResult?
}
