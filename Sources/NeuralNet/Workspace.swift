/// Preallocated buffers for one shard of a batch over a window of at most `steps` time steps.
/// Allocated once per (trainer, shard) and reused for every chunk, so the hot loop never
/// allocates; each thread owns one workspace, so shards never share writable memory.

final class LayerBuffers {
    let steps: Int, batch: Int, hidden: Int, gates: Int, inSize: Int
    /// Hidden states, `(steps + 1) × batch × hidden`; slot 0 is the state carried in.
    let h: UnsafeMutablePointer<Float>
    /// LSTM memory cells, same shape as `h`.
    let c: UnsafeMutablePointer<Float>
    /// LSTM tanh(c_t), kept from the forward pass, `steps × batch × hidden`.
    let tc: UnsafeMutablePointer<Float>
    /// Gate activations (after their nonlinearities), `steps × batch × gates·hidden`.
    let a: UnsafeMutablePointer<Float>
    /// GRU: the recurrent pre-activations `h W_hh + b_hh` (only the n block is used backward).
    let gh: UnsafeMutablePointer<Float>
    /// LSTM and Elman: rows `[x_t | h_{t-1} | 1]`, `steps × batch × (inSize + hidden + 1)`, so one
    /// product with the stacked `[W_ih; W_hh; b]` (adjacent in the parameter vector) gives each
    /// step's gate pre-activations, bias included, and one product gives all three gradients.
    /// OpenBLAS is slow on the thin K = inSize products and the bias sums this replaces.
    let xh: UnsafeMutablePointer<Float>
    /// W_hhᵀ `[gates·hidden × hidden]`, refreshed each backward pass, so the per-step product
    /// dG W_hhᵀ is a plain NN product (faster in OpenBLAS than NT at these shapes).
    let whhT: UnsafeMutablePointer<Float>
    /// GRU: `[b_ir + b_hr | b_iz + b_hz | b_in | b_hn]`, refreshed each forward pass, so the fused
    /// loop loads four bias vectors instead of six.
    let gruBias: UnsafeMutablePointer<Float>
    /// Gradient w.r.t. gate pre-activations (GRU: of the input-side pre-activations); shares `a`.
    let dg: UnsafeMutablePointer<Float>
    /// GRU: gradient w.r.t. the recurrent-side pre-activations; shares `gh`.
    let dgh: UnsafeMutablePointer<Float>
    /// Gradient w.r.t. this layer's outputs h_1...h_T; the backward pass adds the recurrent part in place.
    let dh: UnsafeMutablePointer<Float>
    /// LSTM: dL/dc carried from step t+1 to t.
    let dc: UnsafeMutablePointer<Float>
    /// Output after dropout, fed to the next layer (nil when there is no dropout after this layer).
    let out: UnsafeMutablePointer<Float>?
    /// Dropout multipliers (0 or 1/(1-p)).
    let dropMask: UnsafeMutablePointer<Float>?
    /// Gradient w.r.t. this layer's input (nil for layer 0, whose input is data). Without
    /// dropout below, this is the lower layer's `dh`, so nothing is copied between layers.
    let dx: UnsafeMutablePointer<Float>?
    private let ownsDx: Bool
    /// Recurrent decoder layers: dL/dh of the carried-in state, `batch × hidden` (its dL/dc is
    /// `dc` after an LSTM backward), which flows into the encoder; nil elsewhere (truncation).
    let dh0: UnsafeMutablePointer<Float>?
    /// LSTM encoder layers under a recurrent decoder: gradient reaching each c_t from the decoder
    /// started there, `steps × batch × hidden`; nil elsewhere.
    let dcIn: UnsafeMutablePointer<Float>?

    init(cell: CellKind, steps: Int, batch: Int, hidden: Int, inSize: Int, dropoutAfter: Bool, needsDx: Bool, dxAlias: UnsafeMutablePointer<Float>?,
         keepsInitialGradient: Bool = false, takesCellGradient: Bool = false) {
        self.steps = steps; self.batch = batch; self.hidden = hidden; self.inSize = inSize
        gates = cell.gates * hidden
        let n = steps * batch
        h = allocateFloats((steps + 1) * batch * hidden)
        c = allocateFloats(cell == .lstm ? (steps + 1) * batch * hidden : 1)
        tc = allocateFloats(cell == .lstm ? n * hidden : 1)
        a = allocateFloats(n * gates)
        xh = allocateFloats(cell == .gru ? 1 : n * (inSize + hidden + 1))
        whhT = allocateFloats(gates * hidden)
        gruBias = allocateFloats(cell == .gru ? 4 * hidden : 1)
        gh = allocateFloats(cell == .gru ? n * gates : 1)
        // The gate gradients overwrite the gate activations they are computed from (each backward
        // step reads its activations before writing), which halves the chunk's largest buffers.
        dg = a
        dgh = gh
        dh = allocateFloats(n * hidden)
        dc = allocateFloats(batch * hidden)
        out = dropoutAfter ? allocateFloats(n * hidden) : nil
        dropMask = dropoutAfter ? allocateFloats(n * hidden) : nil
        ownsDx = needsDx && dxAlias == nil
        dx = needsDx ? (dxAlias ?? allocateFloats(n * inSize)) : nil
        dh0 = keepsInitialGradient ? allocateFloats(batch * hidden) : nil
        dcIn = takesCellGradient && cell == .lstm ? allocateFloats(n * hidden) : nil
    }

    deinit {
        for p in [h, c, tc, a, xh, whhT, gruBias, gh, dh, dc] { p.deallocate() }
        out?.deallocate(); dropMask?.deallocate()
        if ownsDx { dx?.deallocate() }
        dh0?.deallocate(); dcIn?.deallocate()
    }

    /// What the next layer reads: the dropped-out copy if any, else h_1...h_T.
    var output: UnsafeMutablePointer<Float> { out ?? (h + batch * hidden) }
}

/// The recurrent decoder's buffers: up to `origins` decodings of each of the encoder's `batch`
/// rows side by side, row `i · batch + r` decoding from origin `i` of encoder row r, over
/// `steps` horizon steps (time-major like the encoder: step h's rows at `h × rows`). Training
/// keeps all H steps for the backward pass (`steps` = horizon); inference keeps one and rolls
/// (`steps` = 1: slot 1 is copied back to slot 0 after each step).
final class DecoderBuffers {
    let steps: Int, rowCapacity: Int
    /// Inputs `[steps × rows × (1 + futureFeatures)]`: the fed-back value, then the known features.
    let x: UnsafeMutablePointer<Float>
    /// Outputs, their gradient, targets and mask, `[steps × rows × quantiles]`.
    let y: UnsafeMutablePointer<Float>
    let dy: UnsafeMutablePointer<Float>
    let target: UnsafeMutablePointer<Float>
    let mask: UnsafeMutablePointer<Float>
    /// The value each row's step was fed besides its base (teacher or own), `[steps × rows]`.
    let fed: UnsafeMutablePointer<Float>
    let layers: [LayerBuffers]

    init(config: NetworkConfig, steps: Int, rows: Int, training: Bool) {
        self.steps = steps; rowCapacity = rows
        let n = steps * rows, q = config.quantiles
        x = allocateFloats(n * config.decoderInputSize)
        y = allocateFloats(n * q)
        dy = allocateFloats(training ? n * q : 1)
        target = allocateFloats(training ? n * q : 1)
        mask = allocateFloats(training ? n * q : 1)
        fed = allocateFloats(n)
        var built: [LayerBuffers] = []
        for l in 0..<config.decoderDepth {
            let below = built.last
            built.append(LayerBuffers(cell: config.cell, steps: steps, batch: rows, hidden: config.hiddenSize,
                                      inSize: l == 0 ? config.decoderInputSize : config.hiddenSize,
                                      dropoutAfter: false, needsDx: training && l > 0, dxAlias: training ? below?.dh : nil,
                                      keepsInitialGradient: training))
        }
        layers = built
    }

    deinit { for p in [x, y, dy, target, mask, fed] { p.deallocate() } }
}

final class Workspace {
    let steps: Int, batch: Int
    let config: NetworkConfig
    /// Inputs `[steps × batch × inputSize]`; with feedback, the fed-back value is added to the
    /// last column in place.
    let x: UnsafeMutablePointer<Float>
    /// Outputs `[steps × batch × outputSize]` (the recurrent decoder's, per origin, in inference).
    let y: UnsafeMutablePointer<Float>
    let dy: UnsafeMutablePointer<Float>
    let target: UnsafeMutablePointer<Float>
    let mask: UnsafeMutablePointer<Float>
    /// Whether `mask` holds this window's mask (else every target counts).
    var masked = false
    let grad: UnsafeMutablePointer<Float>
    let gradCount: Int
    let layers: [LayerBuffers]
    /// Feedback: the carried-in fed-back value per row (`batch`), and the value each step was
    /// fed besides its base, `[steps × batch]`.
    let feedback: UnsafeMutablePointer<Float>
    let fed: UnsafeMutablePointer<Float>
    /// The future blocks `[steps × batch × futureWidth]`: the recurrent decoder's (per horizon
    /// step, column 0 the base the fed-back value is added to, at step 0 the last observed
    /// value, then the known features of that future step) or the dense head's (the known
    /// features of every horizon step); the origins of this pass (window steps, ascending) and
    /// the recurrent decoder's buffers.
    let future: UnsafeMutablePointer<Float>
    var origins: [Int] = []
    let decoder: DecoderBuffers?

    /// `origins`: the most decoder origins a window may have (recurrent decoder; default every
    /// step). `inference`: buffers for reading only (the decoder rolls one step at a time).
    init(config: NetworkConfig, steps: Int, batch: Int, dropout: Bool, origins: Int? = nil, inference: Bool = false) {
        self.config = config; self.steps = steps; self.batch = batch
        let n = steps * batch
        x = allocateFloats(n * config.inputSize)
        y = allocateFloats(n * config.outputSize)
        dy = allocateFloats(n * config.outputSize)
        target = allocateFloats(n * config.outputSize)
        mask = allocateFloats(n * config.outputSize)
        gradCount = ParameterLayout(config).count
        grad = allocateFloats(gradCount)
        var built: [LayerBuffers] = []
        let recurrent = config.decoder == .recurrent
        for l in 0..<config.layers {
            let below = built.last
            built.append(LayerBuffers(cell: config.cell, steps: steps, batch: batch, hidden: config.hiddenSize,
                                      inSize: l == 0 ? config.inputSize : config.hiddenSize,
                                      dropoutAfter: dropout && config.dropout > 0 && l < config.layers - 1,
                                      needsDx: l > 0,
                                      dxAlias: below.flatMap { $0.dropMask == nil ? $0.dh : nil },
                                      takesCellGradient: recurrent && !inference))
        }
        layers = built
        feedback = allocateFloats(batch)
        fed = allocateFloats(config.feedback == .output ? n : 1)
        future = allocateFloats(max(1, n * config.futureWidth))
        let originCount = max(1, min(origins ?? steps, steps))
        decoder = recurrent ? DecoderBuffers(config: config, steps: inference ? 1 : config.horizon,
                                             rows: originCount * batch, training: !inference) : nil
    }

    deinit { for p in [x, y, dy, target, mask, grad, feedback, fed, future] { p.deallocate() } }
}
