import NeuralNet

/// What a published model is, as the models table records it; owned here so that the service
/// stores and reads it without knowing what a network or a baseline is. Nothing here knows of
/// databases.

/// What a stored model's `cell` column holds: the network's cell, or `seasonal_naive` for a
/// fallback (the baseline published when a network diverged or lost to it; its season, 1 for
/// naive, is in the hyperparameters).
public enum ModelCell: Sendable, Hashable, RawRepresentable {
    case network(CellKind)
    case seasonalNaive

    public init?(rawValue: String) {
        if rawValue == "seasonal_naive" {
            self = .seasonalNaive
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
        }
    }
}
