import Foundation

/// The statistical challengers of the guard (issue 12, item 4): `ETS.autoCombination`,
/// `Theta.auto`, `ARIMA.auto` and `CES.auto` fitted on a series' own history, as a published
/// model records them in `hyperparameters` (cell `ets` or `theta`; ARIMA and CES only join a
/// choice, in `averaged_with`; ETS's `model` lists the members of its Akaike-weighted combination):
///
///     {"method": "ets", "model": "MAdM", "season": 12, "window": 1000}
///     {"method": "ets", "model": "MAA+MNA+MAdA", "season": 12, "window": 1000}
///     {"method": "arima", "model": "(0,1,1)(0,1,1), on logs", "season": 12, "window": 1000}
///     {"method": "ces", "model": "F", "season": 12, "window": 1000}
///     {"method": "ets", "model": "AAdN", "season": 48, "deseasonalised": [48, 336], "window": 1344}
///     {"method": "theta", "model": "OTM", "season": 12, "window": 1000}
///
/// A statistical model keeps no weights and no series state but a mark of where it read
/// (`FullReadMark`): at every predict that finds rows after the mark the recorded specification
/// (`model`; per series in `models` for a global unit) is fitted again on the last `window`
/// steps of the series' history and forecast, so the forecast published at training and the
/// one predict makes from the same rows are the same (`forecast(history:key:…)`
/// is the one path for both). Seasons longer than `ETS.maximumSeason` (half-hourly and hourly
/// days beside their week) are not fitted by a seasonal ETS: the series is decomposed by MSTL
/// over `deseasonalised` first, a non-seasonal ETS forecasts the seasonally adjusted series,
/// and the last cycle of each seasonal component is put back (statsforecast's
/// `MSTL(trend_forecaster=AutoETS)`).
///
/// The fitting work is capped: at most `window` trailing steps, max(1000, 4 × the longest
/// period), are fitted (`fitWindow`). That keeps every monthly and quarterly series whole
/// (1000 months is 83 years) and bounds an hourly series to six weeks, where Nelder–Mead over
/// 24 seasonal states and thousands of steps would otherwise dominate training.
/// Knows nothing of networks, databases or rows.
public struct StatisticalModel: Codable, Sendable, Equatable {
    public enum Method: String, Codable, Sendable, CaseIterable {
        case ets, theta, arima, ces

        /// How reasons and the report name it.
        public var title: String {
            switch self {
            case .ets: "ETS"
            case .theta: "Theta"
            case .arima: "ARIMA"
            case .ces: "CES"
            }
        }

        /// The longest season the guard backtests the method for (nil: any). ARIMA's search
        /// grows with the season (`ARIMA.maximumSeason`); CES, whose seasonal states span a whole
        /// season and which only joins a choice, keeps to the same seasons: with hourly data's
        /// day (24) a debug build trained a unit of 720 hours in 35 s, and the daemon's restart
        /// test (three such units, two minutes) timed out; without it there the test passes in 56 s.
        /// On weekly data's year (52) it lost weekly CO2 (0.210 → 0.226 over seeds 1–5) and left
        /// M4's weekly sample as it was.
        public var longestSeason: Int? {
            switch self {
            case .arima, .ces: ARIMA.maximumSeason
            case .ets, .theta: nil
            }
        }
    }

    public var method: Method
    /// The season the model was chosen with (1: none).
    public var season: Int
    /// The fitted specification of a one-series unit: ETS codes ("MAdM", "MAA+MNA"), a Theta variant
    /// ("OTM"), ARIMA orders ("(0,1,1)(0,1,1), on logs") or a CES seasonal type ("F").
    public var model: String?
    /// The specifications per series of a global unit.
    public var models: [String: String]?
    /// The periods MSTL removes before a non-seasonal ETS; nil when ETS fits the season itself.
    public var deseasonalised: [Int]?
    /// At most this many trailing steps of a series are fitted.
    public var window: Int

    public init(method: Method, season: Int, model: String? = nil, models: [String: String]? = nil,
                deseasonalised: [Int]? = nil, window: Int) {
        self.method = method
        self.season = season
        self.model = model
        self.models = models
        self.deseasonalised = deseasonalised
        self.window = window
    }

    /// The steps a statistical model is fitted on at most (see the type's comment).
    public static func fitWindow(periods: [Int]) -> Int { max(1000, 4 * (periods.max() ?? 1)) }

    /// The challenger of `method` for a job of `season`; `week` is the week of a sub-daily
    /// grid (its steps), whose cycle MSTL removes too when the season is too long for ETS.
    public static func challenger(_ method: Method, season: Int, week: Int?) -> StatisticalModel {
        if method == .ets && season > ETS.maximumSeason {
            let periods = [season] + (week.map { $0 > season && $0 % season == 0 ? [$0] : [] } ?? [])
            return StatisticalModel(method: .ets, season: season, deseasonalised: periods, window: fitWindow(periods: periods))
        }
        return StatisticalModel(method: method, season: season, window: fitWindow(periods: [season]))
    }

    /// The recorded specification of series `key`; nil: chosen automatically.
    public func spec(for key: String) -> String? { models?[key] ?? model }

    /// "ETS(MAdM)", "Theta(OTM)", "ETS(AAdN) after MSTL (48, 336)", "ARIMA(0,1,1)(0,1,1), on logs".
    public var name: String {
        let spec = model ?? (models.map { Set($0.values).count == 1 ? $0.values.first! : "per series" } ?? "auto")
        let after = deseasonalised.map { " after MSTL (\($0.map(String.init).joined(separator: ", ")))" } ?? ""
        if method == .arima, spec.hasPrefix("(") { return "ARIMA\(spec)" }
        return "\(method.title)(\(spec))\(after)"
    }

    /// Names in a sentence: "ETS(MAdM)", "ETS(MAdM) and ARIMA(0,1,1)", "A, B and C".
    public static func listed(_ names: [String]) -> String {
        names.count <= 1 ? names.joined() : names.dropLast().joined(separator: ", ") + " and " + names.last!
    }

    /// This model with the specification chosen for each series.
    func recording(_ specs: [String: String]) -> StatisticalModel {
        var recorded = self
        if specs.count == 1 { recorded.model = specs.values.first } else { recorded.models = specs }
        return recorded
    }

    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        case cannotFit(String)
        public var description: String {
            switch self { case .cannotFit(let why): return why }
        }
    }

    /// Fits series `key`'s recorded specification on the last `window` steps of `history` and
    /// forecasts `horizon` steps at `levels`: what predict does, and what training publishes.
    public func forecast(history: some Collection<Double>, key: String, horizon: Int, levels: [Double]) throws -> QuantileForecast {
        try fit(history: history, spec: spec(for: key), horizon: horizon, levels: levels).forecast
    }

    /// Fits `spec` (nil: the automatic choice) on the last `window` steps of `history` and
    /// forecasts; returns the forecast and the specification fitted.
    public func fit(history: some Collection<Double>, spec: String?, horizon: Int, levels: [Double]) throws
        -> (forecast: QuantileForecast, spec: String) {
        var y = Array(history.suffix(window))
        if let first = y.firstIndex(where: \.isFinite) { y.removeFirst(first) } else { throw Failure.cannotFit("no observations") }
        switch method {
        case .theta:
            let variants: [ThetaModel.Variant] = try Self.choices(spec, named: "Theta variant")
            do {
                let model = try Theta.auto(y, season: season, variants: variants)
                return (model.forecast(horizon: horizon, levels: levels), model.variant.rawValue)
            } catch { throw Failure.cannotFit(error.description) }
        case .arima:
            let model = try fitARIMA(y, spec: spec)
            return (model.forecast(horizon: horizon, levels: levels), model.spec.description)
        case .ces:
            // A recorded seasonal type on a history shorter than two seasons is fitted without
            // its season, as `CES.auto` eases any seasonal type there.
            let kinds: [CESKind] = try Self.choices(spec, named: "CES type")
            do {
                let model = try CES.auto(y, season: season, kinds: kinds)
                return (model.forecast(horizon: horizon, levels: levels), model.kind.rawValue)
            } catch { throw Failure.cannotFit(error.description) }
        case .ets:
            let periods = (deseasonalised ?? []).filter { y.count >= 2 * $0 }
            if deseasonalised != nil {
                return try deseasonalisedETS(y, periods: periods, spec: spec, horizon: horizon, levels: levels)
            }
            return try forecastETS(y, season: season, spec: spec, horizon: horizon, levels: levels)
        }
    }

    /// What an automatic fit may choose among: the recorded `spec`'s one code, or every code when
    /// none is recorded; an unknown code cannot be fitted.
    static func choices<Code: RawRepresentable & CaseIterable>(_ spec: String?, named name: String) throws -> [Code]
        where Code.RawValue == String {
        guard let spec else { return Array(Code.allCases) }
        guard let code = Code(rawValue: spec) else { throw Failure.cannotFit("unknown \(name) \(spec)") }
        return [code]
    }

    /// ETS as `ETS.autoCombination` chooses it, or the recorded combination `spec` ("MAdM",
    /// "MAdM+AAdA") fitted again and weighted again on `y`. A recorded seasonal member on a
    /// history that became too short for its season is fitted without it.
    func forecastETS(_ y: [Double], season: Int, spec: String?, horizon: Int, levels: [Double]) throws
        -> (forecast: QuantileForecast, spec: String) {
        let combination: ETSCombination
        do {
            if let spec {
                var members: [ETSSpec] = []
                for code in spec.split(separator: "+") {
                    guard let parsed = ETSSpec(String(code)) else { throw Failure.cannotFit("unknown ETS model \(code)") }
                    let usable = parsed.season != .none && y.count <= season
                        ? ETSSpec(error: parsed.error, trend: parsed.trend, damped: parsed.damped, season: .none) : parsed
                    if !members.contains(usable) { members.append(usable) }
                }
                combination = try ETS.combination(y, season: season, specs: members, horizon: horizon)
            } else {
                combination = try ETS.autoCombination(y, season: season, horizon: horizon)
            }
        } catch let error as ETSError {
            throw Failure.cannotFit(error.description)
        }
        return (combination.forecast(horizon: horizon, levels: levels), combination.spec)
    }

    /// `spec` fitted, or the automatic choice. A recorded specification the history no longer
    /// allows is eased as a predict on changed rows needs it: without the logarithm when a value
    /// is not positive, with its seasonal difference alone or without the season when the
    /// history became too short for it (`ARIMASpec.easedForShorterHistory`).
    func fitARIMA(_ y: [Double], spec: String?) throws -> ARIMAModel {
        guard let spec else {
            do { return try ARIMA.auto(y, season: season) } catch { throw Failure.cannotFit(error.description) }
        }
        guard var parsed = ARIMASpec(spec) else { throw Failure.cannotFit("unknown ARIMA model \(spec)") }
        if parsed.logarithm && !y.allSatisfy({ !$0.isFinite || $0 > 0 }) { parsed.logarithm = false }
        let fitted: Result<ARIMAModel, ARIMAError> = Result { () throws(ARIMAError) in try ARIMA.fit(y, season: season, spec: parsed) }
        switch fitted {
        case .success(let model): return model
        case .failure(.tooShort) where parsed.isSeasonal:
            var lastError = ARIMAError.noModel
            for eased in parsed.easedForShorterHistory {
                do { return try ARIMA.fit(y, season: season, spec: eased) } catch { lastError = error }
            }
            throw Failure.cannotFit(lastError.description)
        case .failure(let error): throw Failure.cannotFit(error.description)
        }
    }

    /// MSTL over `periods`, a non-seasonal ETS on the seasonally adjusted series, and the last
    /// cycle of every seasonal component put back onto each quantile.
    func deseasonalisedETS(_ y: [Double], periods: [Int], spec: String?, horizon: Int, levels: [Double]) throws
        -> (forecast: QuantileForecast, spec: String) {
        guard !periods.isEmpty else {
            return try forecastETS(y, season: 1, spec: spec, horizon: horizon, levels: levels)
        }
        let parts = Decomposition.mstl(y, periods: periods)
        let adjusted = parts.seasonallyAdjusted()
        let (core, fittedSpec) = try forecastETS(adjusted, season: 1, spec: spec, horizon: horizon, levels: levels)
        let n = parts.count
        let seasonal = (0..<horizon).map { step -> Double in
            zip(parts.periods, parts.seasonal).reduce(parts.mode == .additive ? 0 : 1) { total, component in
                let (period, values) = component
                let value = values[n - period + step % period]
                return parts.mode == .additive ? total + value : total * value
            }
        }
        let apply = { (value: Double, step: Int) in parts.mode == .additive ? value + seasonal[step] : value * seasonal[step] }
        let values = core.values.enumerated().map { apply($0.element, $0.offset / levels.count) }
        let point = core.point.enumerated().map { apply($0.element, $0.offset) }
        return (QuantileForecast(levels: levels, values: values, point: point), fittedSpec)
    }
}
