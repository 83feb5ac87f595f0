import Foundation

/// How much of a series a network reads when it has no usable saved state for it (a new series,
/// states deleted or damaged): the last `steps` steps from the zero state, instead of the whole
/// history, since a recurrent state forgets where it started after a while and reading thousands
/// of steps to forecast from the last one costs more than everything else a prediction does.
///
/// The rule follows what the model was trained on. A training segment starts from the zero
/// state `context` steps before its outputs count, with its lag inputs read from before it, and
/// backpropagates over `tbptt_k2` steps: so the network has learnt to forecast after
/// `max(context, tbptt_k2)` steps from the zero state, given `max(lags, season)` steps of past
/// for its lag inputs and seasonal base (an ensemble's longest lags). A warm-up reads that
/// lookback and twice the warm-up training used; a series whose read holds less than the
/// lookback and one training warm-up (it stopped before the window, or is younger than it) is
/// read in full instead.
/// A forecast after a warm-up is not the bits of a full read (the contract a saved state keeps),
/// but close to it: `benchmarks/RESULTS.md` (issue 17) measures how close.
public struct WarmUp: Sendable, Equatable, CustomStringConvertible {
    /// Steps read back from the end.
    public var steps: Int
    /// The fewest steps a warm-up read must hold to be used.
    public var least: Int

    /// Times the training warm-up that a warm-up reads.
    public static let trainingWarmUps = 2

    public init(lags: Int, season: Int, context: Int, tbpttK2: Int) {
        let lookback = max(lags, season, 1), trained = max(context, tbpttK2, 1)
        steps = lookback + Self.trainingWarmUps * trained
        least = lookback + trained
    }

    public init(_ settings: ForecasterSettings) {
        self.init(lags: settings.longestLags, season: settings.season, context: settings.context, tbpttK2: settings.tbpttK2)
    }

    /// The warm-up of a network model from its stored `hyperparameters` (the settings it was
    /// trained with); nil when they do not record them.
    public init?(hyperparameters: String) {
        struct Recorded: Decodable { var lags: Int; var ensembleLags: [Int]?; var season: Int; var context: Int; var tbpttK2: Int }
        guard let recorded = try? JSONDecoder().decode(Recorded.self, from: Data(hyperparameters.utf8)) else { return nil }
        self.init(lags: ForecasterSettings.longestLags(recorded.lags, ensembleLags: recorded.ensembleLags), season: recorded.season,
                  context: recorded.context, tbpttK2: recorded.tbpttK2)
    }

    /// "264 steps (at least 216)"
    public var description: String { "\(steps) steps (at least \(least))" }
}
