/// The architecture description, the carried recurrent state and where each tensor sits in
/// the flat parameter vector.

/// The recurrent cell: the one definition of the cell kinds, which the configuration's `cell`
/// and the models table's `cell` column name too. (The order is the one `cell` errors list.)
public enum CellKind: String, Sendable, Codable, CaseIterable {
    case lstm, gru, rnn

    /// Gate blocks per cell: the width of W_ih and W_hh is `gates × hidden`.
    public var gates: Int {
        switch self {
        case .rnn: return 1
        case .lstm: return 4
        case .gru: return 3
        }
    }
}

public struct NetworkConfig: Sendable, Codable, Equatable {
    public var cell: CellKind
    public var inputSize: Int
    public var hiddenSize: Int
    public var layers: Int
    public var outputSize: Int
    /// Dropout probability on the outputs of every recurrent layer but the last (as PyTorch's
    /// `nn.LSTM(dropout:)`); only active in training.
    public var dropout: Float

    public init(cell: CellKind, inputSize: Int, hiddenSize: Int, layers: Int = 1,
                outputSize: Int, dropout: Float = 0) {
        self.cell = cell
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.layers = layers
        self.outputSize = outputSize
        self.dropout = dropout
    }

    public func validate() throws {
        func bad(_ why: String) -> NetworkError { .invalidConfiguration(why) }
        let limit = 1 << 20
        guard (1...limit).contains(inputSize) else { throw bad("inputSize \(inputSize) must be in 1...\(limit)") }
        guard (1...limit).contains(hiddenSize) else { throw bad("hiddenSize \(hiddenSize) must be in 1...\(limit)") }
        guard (1...64).contains(layers) else { throw bad("layers \(layers) must be in 1...64") }
        guard (1...limit).contains(outputSize) else { throw bad("outputSize \(outputSize) must be in 1...\(limit)") }
        guard dropout >= 0 && dropout < 1 else { throw bad("dropout \(dropout) must be in [0, 1)") }
        guard ParameterLayout(self).count < (1 << 31) else { throw bad("too many parameters") }
    }
}

public enum NetworkError: Error, Equatable, CustomStringConvertible {
    case invalidConfiguration(String)
    case shapeMismatch(String)

    public var description: String {
        switch self {
        case .invalidConfiguration(let s): return "invalid network configuration: \(s)"
        case .shapeMismatch(let s): return "shape mismatch: \(s)"
        }
    }
}

/// The hidden state of every layer for a batch of independent sequences: `hidden[l]` is
/// `[batch × hiddenSize]`, `cell[l]` the LSTM memory cell (empty arrays for RNN and GRU).
public struct RecurrentState: Sendable, Codable, Equatable {
    public var batch: Int
    public var hidden: [[Float]]
    public var cell: [[Float]]

    public init(config: NetworkConfig, batch: Int = 1) {
        self.batch = batch
        let n = batch * config.hiddenSize
        hidden = Array(repeating: Array(repeating: 0, count: n), count: config.layers)
        cell = config.cell == .lstm ? hidden : []
    }

    public init(batch: Int, hidden: [[Float]], cell: [[Float]]) {
        self.batch = batch
        self.hidden = hidden
        self.cell = cell
    }

    /// True when the shapes fit `config` (used before trusting a deserialised state).
    public func matches(_ config: NetworkConfig) -> Bool {
        let n = batch * config.hiddenSize
        guard batch >= 1, hidden.count == config.layers, hidden.allSatisfy({ $0.count == n }) else { return false }
        if config.cell == .lstm { return cell.count == config.layers && cell.allSatisfy { $0.count == n } }
        return cell.isEmpty
    }

    public mutating func reset() {
        for l in hidden.indices { for i in hidden[l].indices { hidden[l][i] = 0 } }
        for l in cell.indices { for i in cell[l].indices { cell[l][i] = 0 } }
    }
}

/// A named tensor inside the flat parameter vector.
public struct ParameterTensor: Sendable, Equatable {
    public var name: String
    public var offset: Int
    public var rows: Int
    public var cols: Int
    public var count: Int { rows * cols }
}

/// Offsets of each layer's tensors in the flat vector. Computed from the config alone, so a
/// blob's parameter count can be checked against its architecture.
struct ParameterLayout: Sendable {
    struct Layer: Sendable {
        var inSize: Int
        var wih: Int, whh: Int, bih: Int
        /// GRU only: the recurrent bias kept apart for the candidate gate; -1 otherwise.
        var bhh: Int
    }
    var layers: [Layer] = []
    var headW = 0
    var headB = 0
    var count = 0
    var tensors: [ParameterTensor] = []

    init(_ c: NetworkConfig) {
        let g = c.cell.gates * c.hiddenSize
        var off = 0
        func take(_ name: String, _ rows: Int, _ cols: Int) -> Int {
            tensors.append(ParameterTensor(name: name, offset: off, rows: rows, cols: cols))
            defer { off += rows * cols }
            return off
        }
        for l in 0..<max(c.layers, 0) {
            let inSize = l == 0 ? c.inputSize : c.hiddenSize
            // w_ih, w_hh, b_ih must stay adjacent: LSTM and Elman use them as one stacked matrix.
            let wih = take("layer\(l).w_ih", inSize, g)
            let whh = take("layer\(l).w_hh", c.hiddenSize, g)
            let bih = take("layer\(l).b_ih", 1, g)
            let bhh = c.cell == .gru ? take("layer\(l).b_hh", 1, g) : -1
            layers.append(Layer(inSize: inSize, wih: wih, whh: whh, bih: bih, bhh: bhh))
        }
        headW = take("head.w", c.hiddenSize, c.outputSize)
        headB = take("head.b", 1, c.outputSize)
        count = off
    }
}
