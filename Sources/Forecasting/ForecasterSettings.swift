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
    /// What the network's outputs are added to. nil: chosen at training, whichever of the two
    /// baselines is more accurate on the training data.
    public var base: ForecastBase?

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
        return ForecasterSettings(
            cell: .lstm, hiddenSize: 32, layers: 1, dropout: 0, horizon: horizon, quantiles: [0.1, 0.5, 0.9],
            context: context, lags: min(cycle, 168), tbpttK1: tbptt, tbpttK2: tbptt, batchSize: 16, epochs: 60, patience: 8,
            learningRate: 0.005, clipNorm: 1.0, seed: 1,
            holdout: max(backtestWindows, 1) * horizon, season: cycle, validationSeasons: 14, base: nil)
    }

    public var outputSize: Int { horizon * quantiles.count }
}

/// The forecast the network corrects: its outputs are residuals on top of it, so an untrained
/// network already forecasts like this baseline and training only has to learn what it misses.
public enum ForecastBase: String, Sendable, Codable, Equatable {
    /// The latest observed value (naive).
    case level
    /// The value one season before the target (seasonal naive).
    case seasonal
}
