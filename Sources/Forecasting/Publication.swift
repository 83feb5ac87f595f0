import Foundation
import NeuralNet

/// What a published model is, as the models table records it; owned here so that the service
/// stores and reads it without knowing what a network or a baseline is. Nothing here knows of
/// databases.

/// What a stored model's `cell` column holds: the network's cell, `seasonal_naive` for a
/// fallback (the baseline published when a network diverged or lost to it; its season, 1 for
/// naive, is in the hyperparameters), or `ets` / `theta` for a statistical model (its fitted
/// specification in the hyperparameters, see `StatisticalModel`).
public enum ModelCell: Sendable, Hashable, RawRepresentable {
    case network(CellKind)
    case seasonalNaive
    case statistical(StatisticalModel.Method)

    public init?(rawValue: String) {
        if rawValue == "seasonal_naive" {
            self = .seasonalNaive
        } else if let method = StatisticalModel.Method(rawValue: rawValue) {
            self = .statistical(method)
        } else if let cell = CellKind(rawValue: rawValue) {
            self = .network(cell)
        } else {
            return nil
        }
    }

    public var rawValue: String {
        switch self {
        case .network(let cell): cell.rawValue
        case .seasonalNaive: "seasonal_naive"
        case .statistical(let method): method.rawValue
        }
    }

    /// A network's cell (published alone or combined): it has weights and a training curve.
    public var isNetwork: Bool { if case .network = self { true } else { false } }

    /// Every network's `cell` value, for statements that pick networks out.
    public static var networks: [ModelCell] { CellKind.allCases.map { .network($0) } }
}

/// The forecasts of one series from one origin, ready to be written.
public struct SeriesForecast: Sendable {
    public var series: String
    /// The forecast origin: the last step of the history.
    public var issuedAt: Date
    public var targets: [Date]
    public var forecast: QuantileForecast

    /// The forecast of the `forecast.horizon` steps after the last step of `series`.
    public init(after series: RegularSeries, forecast: QuantileForecast) {
        self.series = series.key
        issuedAt = series.date(ofStep: series.count - 1)
        targets = (1...forecast.horizon).map { series.grid.start(ofBucket: series.endBucket - 1 + $0) }
        self.forecast = forecast
    }
}

/// The baseline a fallback model publishes, as its `hyperparameters` record it:
/// `{"baseline": "seasonal_naive", "season": 24}`, or `{"baseline": "naive", "season": 1}`
/// when the last value forecasts the history better. The cell stays `seasonal_naive` (naive
/// is seasonal naive with a season of one step).
public struct FallbackBaseline: Codable, Sendable, Equatable {
    public var baseline: String
    public var season: Int

    public init(_ base: ForecastBase, season: Int) {
        let forecaster = base.baseline(season: season)
        self.baseline = forecaster.season == 1 && season > 1 ? "naive" : "seasonal_naive"
        self.season = forecaster.season
    }

    /// The baseline of a stored fallback model; models stored before the baseline was
    /// recorded (or with unreadable hyperparameters) use the job's season.
    public init(hyperparameters: String, jobSeason: Int) {
        let stored = try? JSONDecoder().decode(FallbackBaseline.self, from: Data(hyperparameters.utf8))
        baseline = stored?.baseline ?? "seasonal_naive"
        season = max(stored?.season ?? jobSeason, 1)
    }

    private enum CodingKeys: String, CodingKey { case baseline, season }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        season = try container.decode(Int.self, forKey: .season)
        baseline = try container.decodeIfPresent(String.self, forKey: .baseline) ?? "seasonal_naive"
    }

    public var forecaster: SeasonalNaive { SeasonalNaive(season: max(season, 1)) }

    /// How reasons name it: "seasonal naive" or "naive".
    public var name: String { baseline == "naive" ? "naive" : "seasonal naive" }

    /// The baseline a published network is combined with, when its hyperparameters record one
    /// (`combined_with`); nil for a network published alone.
    public static func combinedWith(hyperparameters: String) -> FallbackBaseline? {
        guard StatisticalModel.combinedWith(hyperparameters: hyperparameters) == nil else { return nil }
        return combinedPartner(hyperparameters)
    }

    /// Appended to the fallback's reason when it is not the seasonal naive of record.
    var note: String {
        baseline == "naive" ? "; published naive (the last value), which forecasts this history better than seasonal naive" : ""
    }
}

/// The `hyperparameters` of a network published combined with a partner: the network's
/// settings and, beside them, `combined_with` recording the partner as its own model records it
/// (a `FallbackBaseline`, or a `StatisticalModel` as an `ets`/`theta` cell does).
struct CombinedSettings<Partner: Encodable>: Encodable {
    var settings: ForecasterSettings
    var combinedWith: Partner

    private enum CodingKeys: String, CodingKey { case combinedWith = "combined_with" }

    func encode(to encoder: any Encoder) throws {
        try settings.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(combinedWith, forKey: .combinedWith)
    }
}

extension StatisticalModel {
    /// The statistical model a published network is combined with (`combined_with` holding a
    /// `method`); nil otherwise.
    public static func combinedWith(hyperparameters: String) -> StatisticalModel? {
        combinedPartner(hyperparameters)
    }

    /// The model of a stored `ets` or `theta` cell; hyperparameters that do not decode give
    /// the automatic choice of `method` at the job's season.
    public init(hyperparameters: String, method: Method, jobSeason: Int) {
        self = (try? JSONDecoder().decode(StatisticalModel.self, from: Data(hyperparameters.utf8)))
            ?? StatisticalModel(method: method, season: jobSeason, window: StatisticalModel.fitWindow(periods: [jobSeason]))
    }
}

/// What a stored model publishes, read from its cell and hyperparameters (once per predict
/// cycle, not once per series).
public enum PublishedForm: Sendable, Equatable {
    /// A fallback: this baseline alone.
    case baseline(SeasonalNaive)
    /// The network alone.
    case network
    /// The network averaged with this baseline.
    case combined(SeasonalNaive)
    /// A statistical model alone, refitted on each series' history.
    case statistical(StatisticalModel)
    /// The network averaged with a statistical model.
    case combinedWithModel(StatisticalModel)
    /// What the guard chose (any other form) averaged with the statistical models that tied
    /// with it on the backtest (`averaged_with` in the hyperparameters; see
    /// `ModelGuard.joiningStatistical`).
    indirect case averaged(PublishedForm, with: [StatisticalModel])

    public init(cell: ModelCell, hyperparameters: String, jobSeason: Int) {
        if let partners = StatisticalModel.averagedWith(hyperparameters: hyperparameters) {
            self = .averaged(PublishedForm(chosen: cell, hyperparameters: hyperparameters, jobSeason: jobSeason), with: partners)
        } else {
            self = PublishedForm(chosen: cell, hyperparameters: hyperparameters, jobSeason: jobSeason)
        }
    }

    /// The form of what the guard chose, `averaged_with` left aside.
    private init(chosen cell: ModelCell, hyperparameters: String, jobSeason: Int) {
        if case .statistical(let method) = cell {
            self = .statistical(StatisticalModel(hyperparameters: hyperparameters, method: method, jobSeason: jobSeason))
        } else if cell == .seasonalNaive {
            self = .baseline(FallbackBaseline(hyperparameters: hyperparameters, jobSeason: jobSeason).forecaster)
        } else if let partner = StatisticalModel.combinedWith(hyperparameters: hyperparameters) {
            self = .combinedWithModel(partner)
        } else if let partner = FallbackBaseline.combinedWith(hyperparameters: hyperparameters) {
            self = .combined(partner.forecaster)
        } else {
            self = .network
        }
    }

    /// A network's weights are needed to forecast.
    public var needsWeights: Bool {
        switch self {
        case .baseline, .statistical: false
        case .network, .combined, .combinedWithModel: true
        case .averaged(let chosen, _): chosen.needsWeights
        }
    }
    /// It saves a state per series and reads on from it: the network alone, or combined with a
    /// baseline (whose spread the state keeps). A statistical model, alone, combined or averaged
    /// with another form, and a baseline alone read their series in full whenever rows arrive,
    /// and save only where they read (`FullReadMark`).
    public var readsOnFromState: Bool {
        switch self {
        case .network, .combined: true
        case .baseline, .statistical, .combinedWithModel, .averaged: false
        }
    }
}

extension StatisticalModel {
    /// The statistical models a published model is averaged with (`averaged_with`: one object,
    /// or a list of them); nil when none.
    public static func averagedWith(hyperparameters: String) -> [StatisticalModel]? {
        let data = Data(hyperparameters.utf8)
        if let one = (try? JSONDecoder().decode(AveragedRecord<StatisticalModel>.self, from: data))?.averaged_with { return [one] }
        guard let several = (try? JSONDecoder().decode(AveragedRecord<[StatisticalModel]>.self, from: data))?.averaged_with,
              !several.isEmpty else { return nil }
        return several
    }
}

private struct AveragedRecord<Partners: Decodable>: Decodable { var averaged_with: Partners? }

/// `hyperparameters` (a JSON object) with `entries` recorded beside what it holds (each encoded
/// as `hyperparametersJSON` encodes it); unchanged if it is not an object.
public func hyperparameters(_ hyperparameters: String, adding entries: [String: any Encodable]) -> String {
    guard var object = (try? JSONSerialization.jsonObject(with: Data(hyperparameters.utf8))) as? [String: Any] else { return hyperparameters }
    for (key, value) in entries {
        guard let encoded = try? JSONSerialization.jsonObject(with: Data(hyperparametersJSON(value).utf8), options: [.fragmentsAllowed]) else {
            return hyperparameters
        }
        object[key] = encoded
    }
    guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return hyperparameters }
    return String(decoding: data, as: UTF8.self)
}

/// The JSON of a model's `hyperparameters`: keys sorted, non-finite numbers as strings.
public func hyperparametersJSON<T: Encodable>(_ value: T) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
    return (try? encoder.encode(value)).flatMap { String(data: $0, encoding: .utf8) } ?? "{}"
}

/// The `combined_with` of a combined network's hyperparameters, read as `Partner`; nil when it
/// records none, or another kind of partner.
func combinedPartner<Partner: Decodable>(_ hyperparameters: String) -> Partner? {
    (try? JSONDecoder().decode(CombinedRecord<Partner>.self, from: Data(hyperparameters.utf8)))?.combined_with
}

private struct CombinedRecord<Partner: Decodable>: Decodable { var combined_with: Partner? }
