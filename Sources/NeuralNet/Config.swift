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

/// What turns the encoder's state into the horizon's outputs.
public enum DecoderKind: String, Sendable, Codable, CaseIterable {
    /// The dense head: at every step, one product emits all `horizon × quantiles` outputs
    /// (MQ-RNN's forking sequences).
    case dense
    /// A second recurrent stack of the same cell kind and hidden size, started from the
    /// encoder's state (the context), unrolled one step per horizon step; a head emits each
    /// step's quantiles (sequence to sequence). `Decoder.swift`.
    case recurrent
}

/// What the network feeds back to itself besides its hidden state.
public enum FeedbackKind: String, Sendable, Codable, CaseIterable {
    case none
    /// Jordan feedback: the previous step's median forecast of this step is an input
    /// (`Feedback.swift`).
    case output
}

public struct NetworkConfig: Sendable, Codable, Equatable {
    public var cell: CellKind
    /// Input features per step. With `feedback: .output` the last of them is the feedback
    /// column: the caller writes there the base the fed-back forecast is added to (0 when the
    /// targets are the values themselves), and the network adds its previous median (see
    /// `Feedback.swift`).
    public var inputSize: Int
    public var hiddenSize: Int
    public var layers: Int
    /// Outputs per step: `horizon × quantiles`, horizon-major, quantile fastest.
    public var outputSize: Int
    /// Dropout probability on the outputs of every recurrent layer but the last (as PyTorch's
    /// `nn.LSTM(dropout:)`); only active in training, and only in the encoder.
    public var dropout: Float
    public var decoder: DecoderKind
    /// Layers of the recurrent decoder (nil: as many as the encoder). Ignored by the dense head.
    public var decoderLayers: Int?
    public var feedback: FeedbackKind
    /// Steps ahead in `outputSize`; `outputSize / horizon` outputs (quantiles) per step. Only
    /// the recurrent decoder and the feedback need it (1 for the plain dense network).
    public var horizon: Int
    /// Known features per future step. The recurrent decoder reads them beside the fed-back
    /// value, so its input per step is `1 + futureFeatures` wide (see `Decoder.swift`); the
    /// dense head reads those of every horizon step beside the top hidden state (`Dense.swift`).
    /// Either way the caller hands them over as each step's future block (`futureWidth`).
    public var futureFeatures: Int
    /// Which of a step's `quantiles` outputs is the median that is fed back (recurrent decoder,
    /// feedback); nil: the middle one, `quantiles / 2`.
    public var medianOutput: Int?

    public init(cell: CellKind, inputSize: Int, hiddenSize: Int, layers: Int = 1,
                outputSize: Int, dropout: Float = 0, decoder: DecoderKind = .dense, decoderLayers: Int? = nil,
                feedback: FeedbackKind = .none, horizon: Int = 1, futureFeatures: Int = 0, medianOutput: Int? = nil) {
        self.cell = cell
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.layers = layers
        self.outputSize = outputSize
        self.dropout = dropout
        self.decoder = decoder
        self.decoderLayers = decoderLayers
        self.feedback = feedback
        self.horizon = horizon
        self.futureFeatures = futureFeatures
        self.medianOutput = medianOutput
    }

    /// `lstm 5→64×2→72`, with the decoder and feedback when they are not the defaults (errors).
    public var summary: String {
        var s = "\(cell) \(inputSize)→\(hiddenSize)×\(layers)→\(outputSize)"
        if decoder == .recurrent { s += ", recurrent decoder ×\(decoderDepth) over \(horizon) steps, \(futureFeatures) future features" }
        if decoder == .dense, futureFeatures > 0 { s += ", head reads \(futureFeatures) future features × \(horizon) steps" }
        if feedback == .output { s += ", output feedback" }
        return s
    }

    /// Outputs per horizon step (the quantiles).
    public var quantiles: Int { outputSize / max(horizon, 1) }
    /// Index of the fed-back median within a step's outputs.
    public var median: Int { medianOutput ?? quantiles / 2 }
    /// Layers of the recurrent decoder (0 with the dense head).
    public var decoderDepth: Int { decoder == .recurrent ? (decoderLayers ?? layers) : 0 }
    /// Width of the decoder's input per step: the fed-back value and the known features.
    public var decoderInputSize: Int { 1 + futureFeatures }
    /// Floats of one step's future block: `horizon × (1 + futureFeatures)` for the recurrent
    /// decoder, `horizon × futureFeatures` for the dense head (0: it reads none).
    public var futureWidth: Int { horizon * (decoder == .recurrent ? decoderInputSize : futureFeatures) }

    private enum CodingKeys: String, CodingKey {
        case cell, inputSize, hiddenSize, layers, outputSize, dropout
        case decoder, decoderLayers, feedback, horizon, futureFeatures, medianOutput
    }

    /// Configurations written before the recurrent decoder and the feedback existed decode as
    /// the dense head without feedback; those are also encoded without the new keys, so their
    /// JSON is unchanged.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        cell = try c.decode(CellKind.self, forKey: .cell)
        inputSize = try c.decode(Int.self, forKey: .inputSize)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        layers = try c.decode(Int.self, forKey: .layers)
        outputSize = try c.decode(Int.self, forKey: .outputSize)
        dropout = try c.decode(Float.self, forKey: .dropout)
        self.decoder = try c.decodeIfPresent(DecoderKind.self, forKey: .decoder) ?? .dense
        decoderLayers = try c.decodeIfPresent(Int.self, forKey: .decoderLayers)
        feedback = try c.decodeIfPresent(FeedbackKind.self, forKey: .feedback) ?? .none
        horizon = try c.decodeIfPresent(Int.self, forKey: .horizon) ?? 1
        futureFeatures = try c.decodeIfPresent(Int.self, forKey: .futureFeatures) ?? 0
        medianOutput = try c.decodeIfPresent(Int.self, forKey: .medianOutput)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(cell, forKey: .cell)
        try c.encode(inputSize, forKey: .inputSize)
        try c.encode(hiddenSize, forKey: .hiddenSize)
        try c.encode(layers, forKey: .layers)
        try c.encode(outputSize, forKey: .outputSize)
        try c.encode(dropout, forKey: .dropout)
        if decoder != .dense { try c.encode(decoder, forKey: .decoder) }
        try c.encodeIfPresent(decoderLayers, forKey: .decoderLayers)
        if feedback != .none { try c.encode(feedback, forKey: .feedback) }
        if horizon != 1 { try c.encode(horizon, forKey: .horizon) }
        if futureFeatures != 0 { try c.encode(futureFeatures, forKey: .futureFeatures) }
        try c.encodeIfPresent(medianOutput, forKey: .medianOutput)
    }

    /// Throws `invalidConfiguration` with a message that starts with the offending field's name.
    public func validate() throws {
        func bad(_ why: String) -> NetworkError { .invalidConfiguration(why) }
        let limit = 1 << 20
        guard (1...limit).contains(inputSize) else { throw bad("inputSize \(inputSize) must be in 1...\(limit)") }
        guard (1...limit).contains(hiddenSize) else { throw bad("hiddenSize \(hiddenSize) must be in 1...\(limit)") }
        guard (1...64).contains(layers) else { throw bad("layers \(layers) must be in 1...64") }
        guard (1...limit).contains(outputSize) else { throw bad("outputSize \(outputSize) must be in 1...\(limit)") }
        guard dropout >= 0 && dropout < 1 else { throw bad("dropout \(dropout) must be in [0, 1)") }
        guard (1...limit).contains(horizon) else { throw bad("horizon \(horizon) must be in 1...\(limit)") }
        guard outputSize % horizon == 0 else { throw bad("horizon \(horizon) must divide outputSize \(outputSize)") }
        if let m = medianOutput, !(0..<quantiles).contains(m) {
            throw bad("medianOutput \(m) must be in 0..<\(quantiles) (the outputs per horizon step)")
        }
        if let d = decoderLayers, !(1...64).contains(d) { throw bad("decoderLayers \(d) must be in 1...64") }
        guard (0...limit).contains(futureFeatures) else { throw bad("futureFeatures \(futureFeatures) must be in 0...\(limit)") }
        if feedback == .output {
            guard decoder == .dense else {
                throw bad("feedback output needs decoder dense: the recurrent decoder already feeds back its own forecasts")
            }
        }
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
/// With the recurrent decoder this is the encoder's state (the decoder restarts from it).
public struct RecurrentState: Sendable, Codable, Equatable {
    public var batch: Int
    public var hidden: [[Float]]
    public var cell: [[Float]]
    /// `feedback: .output` only: per sequence, the median the last step forecast for the next
    /// one (the network's raw output, before the caller's base is added), which the next step
    /// reads; empty otherwise. Part of the state so that reading on from it equals a full read.
    public var feedback: [Float]

    public init(config: NetworkConfig, batch: Int = 1) {
        self.batch = batch
        let n = batch * config.hiddenSize
        hidden = Array(repeating: Array(repeating: 0, count: n), count: config.layers)
        cell = config.cell == .lstm ? hidden : []
        feedback = config.feedback == .output ? Array(repeating: 0, count: batch) : []
    }

    public init(batch: Int, hidden: [[Float]], cell: [[Float]], feedback: [Float] = []) {
        self.batch = batch
        self.hidden = hidden
        self.cell = cell
        self.feedback = feedback
    }

    private enum CodingKeys: String, CodingKey { case batch, hidden, cell, feedback }

    /// States encoded before the feedback existed decode with none.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        batch = try c.decode(Int.self, forKey: .batch)
        hidden = try c.decode([[Float]].self, forKey: .hidden)
        cell = try c.decode([[Float]].self, forKey: .cell)
        feedback = try c.decodeIfPresent([Float].self, forKey: .feedback) ?? []
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(batch, forKey: .batch)
        try c.encode(hidden, forKey: .hidden)
        try c.encode(cell, forKey: .cell)
        if !feedback.isEmpty { try c.encode(feedback, forKey: .feedback) }
    }

    /// True when the shapes fit `config` (used before trusting a deserialised state).
    public func matches(_ config: NetworkConfig) -> Bool {
        let n = batch * config.hiddenSize
        guard batch >= 1, hidden.count == config.layers, hidden.allSatisfy({ $0.count == n }) else { return false }
        guard feedback.count == (config.feedback == .output ? batch : 0) else { return false }
        if config.cell == .lstm { return cell.count == config.layers && cell.allSatisfy { $0.count == n } }
        return cell.isEmpty
    }

    public mutating func reset() {
        for l in hidden.indices { for i in hidden[l].indices { hidden[l][i] = 0 } }
        for l in cell.indices { for i in cell[l].indices { cell[l][i] = 0 } }
        for i in feedback.indices { feedback[i] = 0 }
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
    /// The recurrent decoder's layers (empty with the dense head); its head maps the hidden
    /// state to one step's `quantiles` outputs.
    var decoderLayers: [Layer] = []
    var headW = 0
    var headB = 0
    /// The dense head's weights of the future block `[horizon·futureFeatures × outputSize]`
    /// (-1 without future features). After the others, so a network without them keeps its layout.
    var headF = -1
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
        func layer(_ name: String, _ inSize: Int) -> Layer {
            // w_ih, w_hh, b_ih must stay adjacent: LSTM and Elman use them as one stacked matrix.
            let wih = take("\(name).w_ih", inSize, g)
            let whh = take("\(name).w_hh", c.hiddenSize, g)
            let bih = take("\(name).b_ih", 1, g)
            let bhh = c.cell == .gru ? take("\(name).b_hh", 1, g) : -1
            return Layer(inSize: inSize, wih: wih, whh: whh, bih: bih, bhh: bhh)
        }
        for l in 0..<max(c.layers, 0) {
            layers.append(layer("layer\(l)", l == 0 ? c.inputSize : c.hiddenSize))
        }
        if c.decoder == .recurrent {
            for l in 0..<max(c.decoderDepth, 0) {
                decoderLayers.append(layer("decoder.layer\(l)", l == 0 ? c.decoderInputSize : c.hiddenSize))
            }
            headW = take("decoder.head.w", c.hiddenSize, max(c.quantiles, 0))
            headB = take("decoder.head.b", 1, max(c.quantiles, 0))
        } else {
            headW = take("head.w", c.hiddenSize, c.outputSize)
            headB = take("head.b", 1, c.outputSize)
            if c.futureFeatures > 0 { headF = take("head.w_future", c.horizon * c.futureFeatures, c.outputSize) }
        }
        count = off
    }
}
