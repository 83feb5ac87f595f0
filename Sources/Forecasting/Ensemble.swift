import Foundation
import NeuralNet

/// Ensembles (issue 12, after N-BEATS and the M4 entries): `[jobs.model] ensemble = N` trains N
/// networks on the same series with the same settings but for the seed (`seed`, `seed + 1`, …)
/// and the input length: the lags each reads, one season, two and half of one in turn
/// (`ForecasterSettings.member(_:)`); the published network forecast is the median of theirs,
/// quantile by quantile and step by step. Every other choice training makes from the data
/// alone (the base, a week of lags, the decoder stride) is the same for every member; each
/// fits its own calibration.
///
/// An ensemble is a `TrainedForecaster` whose `members` are the N networks (the first one's
/// settings, scalers and profiles are the ensemble's, with every member's lags in
/// `ensembleLags`); its reads run each member's read and take the medians, and its saved state
/// is the first member's, whose tail covers the longest member's lags, with the other members'
/// recurrent states beside (`SeriesState.ensembleRecurrent`). Owns the ensemble's training
/// (members in parallel on the unit's threads) and its reads; knows nothing of the guard.
extension RecurrentForecaster {
    /// A network, or an ensemble of `settings.ensembleSize` of them. Members train side by side,
    /// as many at once as `threads` allows (each on `threads / N` threads, at least one), so an
    /// ensemble never keeps more threads busy than its unit may (`ComputeThreads`). A member
    /// that fails is left out; when every one fails, the first one's error is thrown. `progress`
    /// is told the first member's epochs, whose history the ensemble keeps.
    public static func trainEnsemble(series: [RegularSeries], settings: ForecasterSettings, threads: Int = 1,
                                     progress: ((EpochRecord) -> Void)? = nil) throws -> TrainedForecaster {
        let size = settings.ensembleSize
        guard size > 1 else { return try train(series: series, settings: settings, threads: threads, progress: progress) }
        let started = Date()
        let running = max(1, min(threads, size))
        let results = ComputeThreads.map(size, threads: running) { i -> Result<TrainedForecaster, Error> in
            Result { try train(series: series, settings: settings.member(i), threads: max(1, threads / running), progress: i == 0 ? progress : nil) }
        }
        let trained = results.compactMap { try? $0.get() }
        guard let first = trained.first else { _ = try results[0].get(); throw ForecasterError.noSeries }
        // Members whose data-driven choices differ from the first's could not share its state.
        let members = trained.filter { $0.settings.sameDesign(as: first.settings) && $0.network.config.sameDesign(as: first.network.config) }
        guard members.count > 1 else { return first }
        let ensemble = first.with(members: members)
        var times = StageTimes()
        for m in members {
            times.epochs += m.times.epochs
            times.validation += m.times.validation
            times.calibration += m.times.calibration
        }
        // The members ran side by side: the stages' shares of the wall time they took.
        let total = times.epochs + times.validation + times.calibration, wall = Date().timeIntervalSince(started)
        if total > 0 {
            times.epochs *= wall / total
            times.validation *= wall / total
            times.calibration *= wall / total
        }
        ensemble.times = times
        return ensemble
    }
}

extension ForecasterSettings {
    /// Networks in the ensemble of a unit of short series when the job leaves `ensemble` to
    /// `"auto"`: where the unit's median series has fewer observations than
    /// `ModelGuard.shortSeriesLength`, where the statistical challengers contend too. A network
    /// trained on a short series depends on its seed (AirPassengers' held-out MASE 0.675–0.927
    /// over seeds 1–5); the median of three, over the same seeds on the accuracy benchmark's
    /// short series, was better on 26 series and worse on 1, and what the guard published better
    /// on 10 and worse on 5 (on the series no rule was chosen on, 3 and 0). Five against three,
    /// under the guard of session 22 (ETS's Akaike-weighted combination): the network alone
    /// better on 18 series and worse on 3, what is published better on 6 and worse on 4
    /// (geometric mean of the ratios 0.997, the same on the check groups and on the series no
    /// rule was chosen on), AirPassengers 0.822 → 0.739 and its spread over seeds 0.681–0.929 →
    /// 0.714–0.754. Seven made the network better again but not what is published (on the
    /// check groups 3 series better, 5 worse). Training short series is cheap: 10,000 monthly
    /// series train in 114 s against 79 s with three (RESULTS.md, "Issue 12"); 313 s since the
    /// members differ in lags, the guard then publishing the network combined with ETS there.
    /// On long series one network: on one seed, three won on weather, elecdemand and
    /// elec_temperature and lost on weather_dewp and on the S&P 500 (1.826 → 1.863, past its
    /// target), for twice the training of the costliest units; not a reliable enough gain.
    public static let shortSeriesEnsemble = 5

    /// The lags of an ensemble's members as multiples of `lags`, in turn: one season, two, half
    /// of one (member i reads `lags × memberLagScales[i % 3]`), as N-BEATS' ensembles differ in
    /// their input length. Over seeds 1–5 on the accuracy benchmark's 45 short series, against
    /// members that all read one season: the network alone better on 16 series and worse on 7
    /// (geometric mean of the ratios 0.983; on the check groups 0.986, on the series no rule
    /// was chosen on 0.991), what is published 7 and 6 (0.998), and aus_arrivals within ≤ 1.02
    /// at every seed (1.006–1.038 before, 0.990–1.013 now). Two seasons against one alone, or
    /// half of one, helped the network less (0.992, 0.985) and what is published not at all
    /// (1.002, 0.999); members differing in their warm-up (`context`) instead made the network
    /// worse (1.008). RESULTS.md, "Issue 12".
    public static let memberLagScales: [Double] = [1, 2, 0.5]

    /// The settings of member `i` of an ensemble of these: seed `seed + i`, lags scaled by
    /// `memberLagScales` (at least 1, at most `maximumWeekLags`). A member whose data repeat
    /// their week reads the week all the same (`weekLags`).
    public func member(_ i: Int) -> ForecasterSettings {
        var member = self
        member.seed = seed &+ UInt64(i)
        let scale = Self.memberLagScales[i % Self.memberLagScales.count]
        member.lags = min(max(1, Int((scale * Double(lags)).rounded())), Self.maximumWeekLags)
        return member
    }

    /// These settings with the ensemble's size fixed for a unit of `series`: the job's, or for
    /// `"auto"` `shortSeriesEnsemble` networks on short series and one on long ones.
    public func resolvingEnsemble(for series: [RegularSeries]) -> ForecasterSettings {
        guard ensemble == nil else { return self }
        var settings = self
        settings.ensemble = ModelGuard.isShortUnit(series) ? Self.shortSeriesEnsemble : 1
        return settings
    }

    /// The same network design and data-driven choices, whatever the seed, the lags and the calibration.
    func sameDesign(as other: ForecasterSettings) -> Bool {
        var a = self, b = other
        a.seed = 0; b.seed = 0
        a.lags = 0; b.lags = 0
        a.calibration = nil; b.calibration = nil
        return a == b
    }
}

extension NetworkConfig {
    /// The same network but for the width of its input (the lags a member reads).
    func sameDesign(as other: NetworkConfig) -> Bool {
        var a = self
        a.inputSize = other.inputSize
        return a == other
    }
}

extension QuantileForecast {
    /// The median of `forecasts` (the same steps and levels), value by value: each quantile of
    /// each step is the median of the members' same quantile (the mean of the two middle ones
    /// for an even count). The median is monotone, so quantiles in order in every member stay in
    /// order; the point forecast is the median level's.
    public static func median(of forecasts: [QuantileForecast]) -> QuantileForecast {
        precondition(!forecasts.isEmpty, "at least one forecast")
        guard forecasts.count > 1 else { return forecasts[0] }
        let first = forecasts[0]
        precondition(forecasts.allSatisfy { $0.levels == first.levels && $0.values.count == first.values.count }, "the same steps at the same levels")
        var column = [Double](repeating: 0, count: forecasts.count)
        let values = first.values.indices.map { i -> Double in
            for (m, f) in forecasts.enumerated() { column[m] = f.values[i] }
            column.sort()
            let n = column.count
            return n % 2 == 1 ? column[n / 2] : (column[n / 2 - 1] + column[n / 2]) / 2
        }
        return QuantileForecast(levels: first.levels, values: values)
    }
}

extension TrainedForecaster {
    /// The ensemble of `members`, with the first one's settings, scalers and profiles, and
    /// every member's lags recorded in each one's settings (`ensembleLags`): each keeps a state
    /// tail as long as the longest member's lags.
    func with(members: [TrainedForecaster]) -> TrainedForecaster {
        let lags = members.map(\.settings.lags)
        let recording = { (settings: ForecasterSettings) -> ForecasterSettings in
            var recorded = settings
            recorded.ensembleLags = lags
            return recorded
        }
        return copy(settings: recording(settings), members: members.map { $0.copy(settings: recording($0.settings)) })
    }

    /// True for an ensemble of several networks.
    public var isEnsemble: Bool { members.count > 1 }

    /// The members' states after the same steps, as the ensemble's one: the first member's,
    /// with the others' recurrent states beside. nil when any member saved none.
    static func ensembleState(_ states: [SeriesState?]) -> SeriesState? {
        guard var first = states.first ?? nil else { return nil }
        var others: [RecurrentState] = []
        for state in states.dropFirst() {
            guard let state, state.nextBucket == first.nextBucket else { return nil }
            others.append(state.recurrent)
        }
        first.ensembleRecurrent = others
        return first
    }

    /// `forecast(_:settledBefore:)` of an ensemble.
    func ensembleForecast(_ series: RegularSeries, settledBefore: Int?) throws -> (QuantileForecast, SeriesState?) {
        let reads = try members.map { try $0.forecast(series, settledBefore: settledBefore) }
        return (QuantileForecast.median(of: reads.map(\.0)), Self.ensembleState(reads.map(\.1)))
    }

    /// `forecast(continuing:with:maxGap:settledBefore:)` of an ensemble: each member reads on
    /// from its own recurrent state.
    func ensembleForecast(continuing state: SeriesState, with newSteps: RegularSeries, maxGap: Int,
                          settledBefore: Int?) throws -> (QuantileForecast, SeriesState?) {
        guard state.ensembleRecurrent.count == members.count - 1 else {
            throw ForecasterError.mismatchedSeries("the saved state of \"\(state.key)\" holds \(state.ensembleRecurrent.count + 1) networks' states, the model has \(members.count)")
        }
        let reads = try members.enumerated().map { i, member in
            var own = state
            own.recurrent = i == 0 ? state.recurrent : state.ensembleRecurrent[i - 1]
            own.ensembleRecurrent = []
            return try member.forecast(continuing: own, with: newSteps, maxGap: maxGap, settledBefore: settledBefore)
        }
        return (QuantileForecast.median(of: reads.map(\.0)), Self.ensembleState(reads.map(\.1)))
    }

    /// `readInFull` of an ensemble: every member's pass, then the medians of the forecasts and
    /// of each backtest window's forecasts, scored again.
    func ensembleReadInFull(_ series: [RegularSeries], settledBefore: Int?, backtest windows: ((RegularSeries) -> Int)?,
                            season: Int, threads: Int) -> [FullRead?] {
        let reads = members.map { $0.readInFull(series, settledBefore: settledBefore, backtest: windows, season: season, threads: threads) }
        return ComputeThreads.map(series.count, threads: threads) { i -> FullRead? in
            let own = reads.compactMap { $0[i] }
            guard own.count == members.count else { return nil }
            let backtest = windows.map { windows -> BacktestResult in
                ensembleBacktest(series[i], windows: windows(series[i]), season: season, members: own.compactMap(\.backtest))
            }
            return FullRead(forecast: QuantileForecast.median(of: own.map(\.forecast)), state: Self.ensembleState(own.map(\.state)), backtest: backtest)
        }
    }

    /// The backtest of the members' medians over `results` (the members' backtests of the same windows).
    func ensembleBacktest(_ series: RegularSeries, windows: Int, season: Int, members results: [BacktestResult]) -> BacktestResult {
        let byOrigin = results.map { Dictionary(uniqueKeysWithValues: $0.windows.map { ($0.origin, $0.modelForecast) }) }
        let plan = Backtest(horizon: settings.horizon, windows: windows, season: season, levels: settings.quantiles)
        return plan.run(series: series) { window in QuantileForecast.median(of: byOrigin.compactMap { $0[window.origin] }) }
    }
}
