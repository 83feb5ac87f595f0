import Foundation
import NeuralNet

/// Whether a stored model still fits its job's configuration: the settings a model depends on,
/// as the models table records them beside the network's (`hyperparameters`), and the one
/// function that compares them with what the job asks now (`ModelRequirements.mismatch`),
/// which predict, `run --once` and the scheduler all call. Nothing here knows of databases.

/// What the series a model was trained on were: the grid (frequency and time zone), how rows
/// were aggregated onto it, and the job's season. Recorded in every model's hyperparameters
/// under `"grid"`; a model stored before it was recorded has none, and is then taken to have
/// been trained on the job's current grid (what forecastd assumed before).
public struct GridRecord: Codable, Sendable, Equatable {
    public var frequency: String
    public var timeZone: String
    public var aggregation: String
    public var season: Int

    public init(frequency: String, timeZone: String, aggregation: String, season: Int) {
        self.frequency = frequency
        self.timeZone = timeZone
        self.aggregation = aggregation
        self.season = season
    }

    private enum CodingKeys: String, CodingKey {
        case frequency, timeZone = "time_zone", aggregation, season
    }
}

/// A model's hyperparameters with what it was trained for added beside them: `base` (the
/// network's settings, or a fallback's baseline) with `"grid"` and, for a baseline, whose
/// settings do not hold them, `"horizon"` and `"quantiles"`.
struct RecordedHyperparameters<Base: Encodable>: Encodable {
    var base: Base
    var grid: GridRecord?
    var horizon: Int?
    var quantiles: [Double]?
    /// A baseline's covariates: it reads none, but it won against a network that did.
    var pastCovariates: [String]?
    var futureCovariates: [String]?
    var staticCovariates: String?

    private enum CodingKeys: String, CodingKey { case grid, horizon, quantiles, pastCovariates, futureCovariates, staticCovariates }

    func encode(to encoder: any Encoder) throws {
        try base.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(grid, forKey: .grid)
        try container.encodeIfPresent(horizon, forKey: .horizon)
        try container.encodeIfPresent(quantiles, forKey: .quantiles)
        try container.encodeIfPresent(pastCovariates, forKey: .pastCovariates)
        try container.encodeIfPresent(futureCovariates, forKey: .futureCovariates)
        try container.encodeIfPresent(staticCovariates, forKey: .staticCovariates)
    }
}

/// The first setting in which a stored model differs from what its job asks now.
public struct ModelMismatch: Sendable, Equatable, CustomStringConvertible {
    /// The configuration key, as `forecastd.toml` spells it (`horizon`, `model.cell`, ...).
    public var setting: String
    public var trained: String
    public var asked: String

    public init(setting: String, trained: String, asked: String) {
        self.setting = setting
        self.trained = trained
        self.asked = asked
    }

    /// "trained with horizon 12, the job now asks 48"
    public var description: String { "trained with \(setting) \(trained), the job now asks \(asked)" }
}

/// What a job's configuration asks of the model that serves it: every setting a stored model
/// depends on (the forecaster's resolved settings and the grid).
public struct ModelRequirements: Sendable, Equatable {
    public var settings: ForecasterSettings
    public var grid: GridRecord

    public init(settings: ForecasterSettings, grid: GridRecord) {
        self.settings = settings
        self.grid = grid
    }

    /// What a stored model's hyperparameters may hold; every key optional, since models stored
    /// by older versions lack some (see each comparison below).
    private struct Recorded: Decodable {
        var cell: String?
        var hiddenSize: Int?
        var layers: Int?
        var horizon: Int?
        var quantiles: [Double]?
        var season: Int?
        var grid: GridRecord?
        /// Absent for the dense head and for models stored before the choice existed (all dense).
        var decoder: String?
        var decoderLayers: Int?
        /// Absent without feedback.
        var feedback: String?
        /// Absent without covariates (and in every model stored before they existed).
        var pastCovariates: [String]?
        var futureCovariates: [String]?
        /// Absent in every network stored before ensembles existed (taken to be the job's, so
        /// that a new default does not retrain them all at once).
        var ensemble: Int?
        /// The static covariates query; absent without (and before they existed).
        var staticCovariates: String?
    }

    /// nil when the model (its `cell` column and `hyperparameters`) still fits the job; else
    /// the first setting that differs. A setting the model does not record is taken to be the
    /// job's (what forecastd assumed before recording it): a network always recorded its
    /// horizon, quantiles, cell, size and season; a baseline fallback forecasts any horizon
    /// and quantiles, and does not depend on the network's cell or size.
    public func mismatch(cell: ModelCell, hyperparameters: String) -> ModelMismatch? {
        let recorded = (try? JSONDecoder().decode(Recorded.self, from: Data(hyperparameters.utf8)))
            ?? Recorded(cell: nil, hiddenSize: nil, layers: nil, horizon: nil, quantiles: nil, season: nil, grid: nil,
                        decoder: nil, decoderLayers: nil, feedback: nil, pastCovariates: nil, futureCovariates: nil,
                        ensemble: nil, staticCovariates: nil)
        func differs<T: Equatable>(_ setting: String, _ trained: T?, _ asked: T, _ text: (T) -> String = { "\($0)" }) -> ModelMismatch? {
            guard let trained, trained != asked else { return nil }
            return ModelMismatch(setting: setting, trained: text(trained), asked: text(asked))
        }
        let quoted = { (text: String) in "\"\(text)\"" }
        let names = { (names: [String]) in "[" + names.map(quoted).joined(separator: ", ") + "]" }
        let list = { (values: [Double]) in "[" + values.map { "\($0)" }.joined(separator: ", ") + "]" }
        let network: Bool
        if case .network = cell { network = true } else { network = false }
        // For a network the settings' season is the job's; a baseline's is its own (1: naive).
        let season = recorded.grid?.season ?? (network ? recorded.season : nil)
        let checks: [() -> ModelMismatch?] = [
            { differs("frequency", recorded.grid?.frequency, grid.frequency, quoted) },
            { differs("timezone", recorded.grid?.timeZone, grid.timeZone, quoted) },
            { differs("horizon", recorded.horizon, settings.horizon) },
            { differs("model.quantiles", recorded.quantiles, settings.quantiles, list) },
            { network ? differs("model.cell", cell.rawValue, settings.cell.rawValue, quoted) : nil },
            { network ? differs("model.hidden_size", recorded.hiddenSize, settings.hiddenSize) : nil },
            { network ? differs("model.layers", recorded.layers, settings.layers) : nil },
            // A network that records no decoder or feedback has the dense head without feedback.
            { network ? differs("model.decoder", recorded.decoder ?? DecoderKind.dense.rawValue, settings.decoderKind.rawValue, quoted) : nil },
            { network && settings.decoderKind == .recurrent
                ? differs("model.decoder_layers", recorded.decoderLayers ?? recorded.layers ?? settings.layers, settings.decoderLayers ?? settings.layers)
                : nil },
            { network ? differs("model.feedback", recorded.feedback ?? FeedbackKind.none.rawValue, settings.feedbackKind.rawValue, quoted) : nil },
            // `"auto"` (nil) takes whatever size the unit was trained with.
            { network ? settings.ensemble.flatMap { differs("model.ensemble", recorded.ensemble, $0) } : nil },
            { differs("season", season, grid.season) },
            { differs("aggregation", recorded.grid?.aggregation, grid.aggregation, quoted) },
            // Every model records the covariates it was chosen with (a network in its settings, a
            // baseline or statistical model beside them); none recorded: none (all older models).
            { differs("source.past_covariates", recorded.pastCovariates ?? [], settings.pastCovariates ?? [], names) },
            { differs("source.future_covariates", recorded.futureCovariates ?? [], settings.futureCovariates ?? [], names) },
            // The query as written: a changed query (another table, a new attribute column) retrains.
            { differs("source.static_covariates", recorded.staticCovariates ?? "none", settings.staticCovariates ?? "none",
                      { $0 == "none" ? $0 : quoted($0) }) },
        ]
        for check in checks { if let mismatch = check() { return mismatch } }
        return nil
    }
}
