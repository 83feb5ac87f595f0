import Forecasting
import Foundation

/// A job's configuration turned into what the engine needs: its grid, season, the rules for
/// building series, and the forecaster's resolved hyperparameters.
public struct JobPlan: Sendable {
    public let job: JobSettings
    public let grid: TimeGrid
    public let season: Int
    public let forecaster: ForecasterSettings

    public init(_ job: JobSettings) {
        self.job = job
        grid = TimeGrid(frequency: job.frequency, timeZone: job.timeZone)
        season = job.season ?? grid.frequency.defaultSeasonLength
        var forecaster = ForecasterSettings.resolved(frequency: grid.frequency, horizon: job.horizon, season: season,
                                                     backtestWindows: job.backtestWindows, overrides: job.model.overrides)
        forecaster.pastCovariates = job.source.pastCovariates.isEmpty ? nil : job.source.pastCovariates
        // The holidays' features follow the future-known columns (`SeriesSettings.holidays`).
        let future = job.source.futureCovariates + (job.holidays == nil ? [] : HolidayCalendar.featureNames)
        forecaster.futureCovariates = future.isEmpty ? nil : future
        forecaster.staticCovariates = job.source.staticCovariates
        self.forecaster = forecaster
    }

    /// What the job asks of the models that serve it; a stored model that no longer meets it
    /// is refused by predict and retrained (`ModelRequirements.mismatch`).
    public var requirements: ModelRequirements {
        ModelRequirements(settings: forecaster,
                          grid: GridRecord(frequency: grid.frequency.description, timeZone: grid.timeZone.name,
                                           aggregation: job.aggregation.rawValue, season: season))
    }

    /// The network the job trains, as `check-config` shows it:
    /// `model: lstm, hidden 32 × 1 layer, decoder "dense", feedback "none", ensemble "auto", scope "auto"`.
    public var modelSummary: String {
        let f = forecaster
        var decoder = "decoder \"\(f.decoderKind.rawValue)\""
        if f.decoderKind == .recurrent {
            let depth = f.decoderLayers ?? f.layers
            decoder += " (\(depth) layer\(depth == 1 ? "" : "s"))"
        }
        return "model: \(f.cell.rawValue), hidden \(f.hiddenSize) × \(f.layers) layer\(f.layers == 1 ? "" : "s"), \(decoder), "
            + "feedback \"\(f.feedbackKind.rawValue)\", ensemble \(f.ensemble.map(String.init) ?? "\"auto\""), scope \"\(job.model.scope.rawValue)\""
    }

    public var seriesSettings: SeriesSettings {
        SeriesSettings(grid: grid, aggregation: job.aggregation, maxGap: job.maxGap,
                       minimumLength: RecurrentForecaster.minimumLength(forecaster), covariates: job.source.pastCovariates,
                       futureCovariates: job.source.futureCovariates,
                       futureSteps: job.source.futureCovariates.isEmpty && job.holidays == nil ? 0 : job.horizon)
    }

    /// Steps the default training window reaches back at least: enough seasons for monthly or
    /// daily data, where 365 days would be a dozen or a few hundred steps.
    public static let defaultWindowSteps = 2000

    /// Where training data starts for a run at `end` whose data's newest observation is
    /// `newest`: counted back from `end` while the data is recent, else from the end of the
    /// newest observation's step (`DataAge.isStale`), so data that stopped long ago is
    /// trained from its end rather than found missing.
    public func trainingStart(end: Date, newest: Date?) -> Date {
        guard let newest, DataAge(plan: self).isStale(newest: newest, now: end), let bucket = grid.index(of: newest) else {
            return trainingStart(end: end)
        }
        return min(trainingStart(end: end), trainingStart(end: grid.start(ofBucket: bucket + 1)))
    }

    /// Where training data starts for a training run ending at `end`.
    public func trainingStart(end: Date) -> Date {
        if let window = job.trainWindow { return end.addingTimeInterval(-Double(window)) }
        let year = end.addingTimeInterval(-365 * 86_400)
        guard let last = grid.index(of: end) else { return year }
        return min(year, grid.start(ofBucket: last - Self.defaultWindowSteps))
    }
}

/// What a training run trains: one global model, or a model per series, and why.
public struct ScopeChoice: Sendable, Equatable, CustomStringConvertible {
    public var global: Bool
    /// Why, for the model's hyperparameters and the log: `auto: 7 series of median 96 observations, under 120 (10 seasons)`.
    public var reason: String

    public init(global: Bool, reason: String) {
        self.global = global
        self.reason = reason
    }

    public var scope: ModelScope { global ? .global : .series }
    public var description: String { "\(scope.rawValue) (\(reason))" }
}

extension JobPlan {
    /// Series from which `scope = "auto"` trains one global model whatever their length: a
    /// network per series would train this many networks (hours at 10,000 series, where one
    /// global model trains in minutes: benchmarks/scale).
    public static let manySeries = 100
    /// Seasons under which a series is short: a network of its own would learn its season from
    /// a few cycles, where one model across the job's series sees every cycle of all of them
    /// (cross-learning, as in ES-RNN and the M4 entries that won with it).
    public static let shortSeasons = 10

    /// The scope a training run uses over `seriesCount` series whose observation counts (in
    /// the training window) are `observations`: the configured one, or `auto`'s choice: global
    /// with static covariates (a model of one series sees one row of attributes), per series for
    /// one series, global for `manySeries` or more, global when the median series has fewer
    /// observations than `shortSeasons` seasons, per series otherwise.
    public func scope(seriesCount: Int, observations: [Int]) -> ScopeChoice {
        switch job.model.scope {
        case .global: return ScopeChoice(global: true, reason: "scope = \"global\"")
        case .series: return ScopeChoice(global: false, reason: "scope = \"series\"")
        case .auto: break
        }
        if job.source.staticCovariates != nil {
            return ScopeChoice(global: true, reason: "auto: static covariates need one model across the series")
        }
        guard seriesCount > 1 else { return ScopeChoice(global: false, reason: "auto: one series") }
        if seriesCount >= Self.manySeries {
            return ScopeChoice(global: true, reason: "auto: \(seriesCount) series, \(Self.manySeries) or more")
        }
        let sorted = observations.sorted()
        let median = sorted.isEmpty ? 0 : sorted[sorted.count / 2]
        let short = Self.shortSeasons * max(season, 1)
        let counted = "\(seriesCount) series of median \(median) observations"
        return median < short
            ? ScopeChoice(global: true, reason: "auto: \(counted), under \(short) (\(Self.shortSeasons) seasons)")
            : ScopeChoice(global: false, reason: "auto: \(counted), \(short) (\(Self.shortSeasons) seasons) or more")
    }
}
