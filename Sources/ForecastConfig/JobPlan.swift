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
    /// `model: lstm, hidden 32 × 1 layer, decoder "dense", feedback "none", ensemble 1, scope "series"`.
    public var modelSummary: String {
        let f = forecaster
        var decoder = "decoder \"\(f.decoderKind.rawValue)\""
        if f.decoderKind == .recurrent {
            let depth = f.decoderLayers ?? f.layers
            decoder += " (\(depth) layer\(depth == 1 ? "" : "s"))"
        }
        return "model: \(f.cell.rawValue), hidden \(f.hiddenSize) × \(f.layers) layer\(f.layers == 1 ? "" : "s"), \(decoder), "
            + "feedback \"\(f.feedbackKind.rawValue)\", ensemble \(f.ensembleSize), scope \"\(job.model.scope.rawValue)\""
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
