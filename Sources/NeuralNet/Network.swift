/// The stacked recurrent network with its dense head (or its recurrent decoder, `Decoder.swift`;
/// with output feedback, `Feedback.swift`): owns the flat parameter and gradient vectors,
/// initialises them, and runs forward/backward over a window held in a workspace.

public final class RecurrentNetwork {
    public let config: NetworkConfig
    let layout: ParameterLayout
    public var parameterCount: Int { layout.count }
    let params: UnsafeMutablePointer<Float>
    let grads: UnsafeMutablePointer<Float>
    /// Reused by `forward(inputs:steps:state:)` so inference does not allocate per call.
    private var inferenceWorkspace: Workspace?
    /// Used by `lossAndGradient`, reused while the window shape stays the same.
    private var gradientWorkspace: Workspace?

    /// A freshly initialised network: Xavier/Glorot-uniform input and head weights, orthogonal
    /// recurrent blocks (one per gate), zero biases except the LSTM forget gate at 1.
    public init(config: NetworkConfig, seed: UInt64) throws {
        try config.validate()
        self.config = config
        layout = ParameterLayout(config)
        params = allocateFloats(layout.count)
        grads = allocateFloats(layout.count)
        var rng = SeededGenerator(seed: seed)
        let h = config.hiddenSize, g = config.cell.gates
        for lay in layout.layers + layout.decoderLayers {
            let limit = Float((6.0 / Double(lay.inSize + h)).squareRoot())
            for i in 0..<(lay.inSize * g * h) { params[lay.wih + i] = (2 * rng.nextFloat() - 1) * limit }
            for gate in 0..<g {
                let q = orthogonalMatrix(h, &rng)
                for r in 0..<h { for c in 0..<h { params[lay.whh + r * g * h + gate * h + c] = Float(q[r * h + c]) } }
            }
            if config.cell == .lstm { for j in h..<(2 * h) { params[lay.bih + j] = 1 } }
        }
        let headOutputs = config.decoder == .recurrent ? config.quantiles : config.outputSize
        let limit = Float((6.0 / Double(h + headOutputs)).squareRoot())
        for i in 0..<(h * headOutputs) { params[layout.headW + i] = (2 * rng.nextFloat() - 1) * limit }
        // Drawn after the rest, so a network without future features draws what it always did.
        if layout.headF >= 0 {
            let k = config.horizon * config.futureFeatures
            let limit = Float((6.0 / Double(k + headOutputs)).squareRoot())
            for i in 0..<(k * headOutputs) { params[layout.headF + i] = (2 * rng.nextFloat() - 1) * limit }
        }
    }

    /// Sets the head's weights (and its future-block weights) to zero, so that the network
    /// outputs its head's biases, zero, whatever it reads, until training moves them. The
    /// recurrent layers keep their random start and learn once the head's weights leave zero
    /// (after the first update), as with a zero-initialised last layer of a residual block.
    public func zeroHead() {
        let headOutputs = config.decoder == .recurrent ? config.quantiles : config.outputSize
        (params + layout.headW).update(repeating: 0, count: config.hiddenSize * headOutputs)
        if layout.headF >= 0 { (params + layout.headF).update(repeating: 0, count: config.horizon * config.futureFeatures * headOutputs) }
    }

    /// A network with the given parameter vector (from a model blob).
    public init(config: NetworkConfig, parameters: [Float]) throws {
        try config.validate()
        let layout = ParameterLayout(config)
        guard parameters.count == layout.count else {
            throw NetworkError.shapeMismatch("\(parameters.count) parameters given, the architecture has \(layout.count)")
        }
        self.config = config
        self.layout = layout
        params = allocateFloats(layout.count)
        grads = allocateFloats(layout.count)
        parameters.withUnsafeBufferPointer { params.update(from: $0.baseAddress!, count: layout.count) }
    }

    deinit {
        params.deallocate()
        grads.deallocate()
    }

    /// A deep copy (weights only).
    public func copy() -> RecurrentNetwork { try! RecurrentNetwork(config: config, parameters: parameters) }

    /// The flat parameter vector (a copy); setting it requires the same count.
    public var parameters: [Float] {
        get { Array(UnsafeBufferPointer(start: params, count: layout.count)) }
        set {
            precondition(newValue.count == layout.count, "parameter count mismatch")
            newValue.withUnsafeBufferPointer { params.update(from: $0.baseAddress!, count: layout.count) }
        }
    }

    /// The gradient of the last `lossAndGradient` or training update (after clipping).
    public var gradients: [Float] { Array(UnsafeBufferPointer(start: grads, count: layout.count)) }

    /// Where each tensor sits in `parameters` / `gradients`.
    public var tensors: [ParameterTensor] { layout.tensors }

    public func withParameters<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeMutableBufferPointer(start: params, count: layout.count))
    }

    // MARK: - Window forward / backward over a workspace (one shard)

    /// Runs all layers and the head over `steps` rows of `ws` (inputs in `ws.x`, carried state in
    /// slot 0 of each layer's h/c). Dropout is applied when the workspace was built for it.
    /// `inference` runs every product through `rowStableProduct` instead of OpenBLAS: OpenBLAS's
    /// kernels round a row differently depending on how many rows share the product (its
    /// Haswell/Zen kernels do for 4 rows and more), so neither a forecast read on from a saved
    /// state nor a batch of many series would give the bits of a single full read.
    /// With the recurrent decoder this is the encoder alone (the decoder runs in the window pass
    /// or the inference calls, from the origins they choose); with feedback it runs step-major.
    func forward(_ ws: Workspace, steps t: Int, dropoutSeed: UInt64, rowOffset: Int, inference: Bool = false,
                 feed: FeedSchedule = .own) {
        if config.feedback == .output {
            feedbackForward(ws, steps: t, dropoutSeed: dropoutSeed, rowOffset: rowOffset, inference: inference, feed: feed)
            return
        }
        encoderForward(ws, from: 0, steps: t, dropoutSeed: dropoutSeed, rowOffset: rowOffset, inference: inference)
        guard config.decoder == .dense else { return }
        headForward(ws, steps: 0..<t, inference: inference)
    }

    /// The dense head over `steps` of the window: the top layer's outputs, and each step's
    /// future block when the head reads one (`DenseHead`).
    func headForward(_ ws: Workspace, steps: Range<Int>, inference: Bool) {
        let b = ws.batch, hs = config.hiddenSize, o = config.outputSize, rows = steps.count * b, first = steps.lowerBound * b
        DenseHead.forward(rows: rows, inSize: hs, outSize: o, x: ws.layers[ws.layers.count - 1].output + first * hs,
                          w: params + layout.headW, bias: params + layout.headB, y: ws.y + first * o, inference: inference)
        if layout.headF >= 0 {
            let k = config.futureWidth
            DenseHead.addFuture(rows: rows, k: k, outSize: o, f: ws.future + first * k, w: params + layout.headF, y: ws.y + first * o,
                                inference: inference)
        }
    }

    /// Steps `s0..<t` of every encoder layer, layer by layer, with dropout between them.
    func encoderForward(_ ws: Workspace, from s0: Int, steps t: Int, dropoutSeed: UInt64, rowOffset: Int, inference: Bool) {
        let b = ws.batch, hs = config.hiddenSize
        var input = UnsafePointer(ws.x)
        for (l, buf) in ws.layers.enumerated() {
            runCell(from: s0, steps: t, batch: b, x: input, w: layout.layers[l].weights(params), buf: buf, inference: inference)
            if let out = buf.out, let mask = buf.dropMask {
                fillDropoutMask(mask, layer: l, from: s0, steps: t, batch: b, seed: dropoutSeed, rowOffset: rowOffset)
                let h1 = buf.h + b * hs
                for i in (s0 * b * hs)..<(t * b * hs) { out[i] = h1[i] * mask[i] }
            }
            input = UnsafePointer(buf.output)
        }
    }

    @inline(__always)
    func runCell(from s0: Int = 0, steps t: Int, batch b: Int, x: UnsafePointer<Float>, w: LayerWeights, buf: LayerBuffers,
                 inference: Bool) {
        switch config.cell {
        case .lstm: LSTMCell.forward(from: s0, steps: t, batch: b, x: x, w: w, buf: buf, inference: inference)
        case .gru: GRUCell.forward(from: s0, steps: t, batch: b, x: x, w: w, buf: buf, inference: inference)
        case .rnn: ElmanCell.forward(from: s0, steps: t, batch: b, x: x, w: w, buf: buf, inference: inference)
        }
    }

    @inline(__always)
    func runCellBackward(steps t: Int, batch b: Int, x: UnsafePointer<Float>, w: LayerWeights, g: LayerGradients, buf: LayerBuffers) {
        switch config.cell {
        case .lstm: LSTMCell.backward(steps: t, batch: b, x: x, w: w, g: g, buf: buf)
        case .gru: GRUCell.backward(steps: t, batch: b, x: x, w: w, g: g, buf: buf)
        case .rnn: ElmanCell.backward(steps: t, batch: b, x: x, w: w, g: g, buf: buf)
        }
    }

    /// Backpropagates `ws.dy` through the head and every layer; writes the gradient to `ws.grad`.
    /// The fed-back values (feedback) are data here: see `Feedback.swift`.
    func backward(_ ws: Workspace, steps t: Int) {
        let b = ws.batch, hs = config.hiddenSize
        let top = ws.layers[ws.layers.count - 1]
        DenseHead.backward(rows: t * b, inSize: hs, outSize: config.outputSize, x: top.output,
                           w: params + layout.headW, dy: ws.dy, dw: ws.grad + layout.headW,
                           db: ws.grad + layout.headB, dx: top.dh)
        if layout.headF >= 0 {
            DenseHead.futureBackward(rows: t * b, k: config.futureWidth, outSize: config.outputSize, f: ws.future, dy: ws.dy,
                                     dw: ws.grad + layout.headF)
        }
        encoderBackward(ws, steps: t, beforeLayer: { _ in })
    }

    /// Every encoder layer's backward pass, top down, from the gradient already in the top
    /// layer's `dh`; `beforeLayer(l)` runs once layer l's `dh` holds what comes from above
    /// (the recurrent decoder adds its initial-state gradients there).
    func encoderBackward(_ ws: Workspace, steps t: Int, beforeLayer: (Int) -> Void) {
        let b = ws.batch, hs = config.hiddenSize
        for l in stride(from: ws.layers.count - 1, through: 0, by: -1) {
            let buf = ws.layers[l]
            beforeLayer(l)
            let x = l == 0 ? UnsafePointer(ws.x) : UnsafePointer(ws.layers[l - 1].output)
            runCellBackward(steps: t, batch: b, x: x, w: layout.layers[l].weights(params), g: layout.layers[l].gradients(ws.grad), buf: buf)
            if l > 0, let dx = buf.dx, let mask = ws.layers[l - 1].dropMask {
                let below = ws.layers[l - 1].dh
                for i in 0..<(t * b * hs) { below[i] = dx[i] * mask[i] }
            }
        }
    }

    /// Forward, loss over the scored steps `skip..<t` and backward of one window of one shard;
    /// returns the loss sum (`scale` is 1 / the count of scored targets, `scoredTargets`). The
    /// one sequence of `lossAndGradient` and the trainer's shards.
    func windowPass(_ ws: Workspace, steps t: Int, skip: Int, loss: Loss, scale: Float, dropoutSeed: UInt64,
                    rowOffset: Int, feed: FeedSchedule, decoderStride: Int) -> Double {
        let b = ws.batch
        if config.decoder == .recurrent {
            ws.origins = Self.decoderOrigins(scored: skip..<t, stride: decoderStride)
            encoderForward(ws, from: 0, steps: t, dropoutSeed: dropoutSeed, rowOffset: rowOffset, inference: false)
            decoderForward(ws, rowOffset: rowOffset, feed: feed)
            let dec = ws.decoder!, n = ws.origins.count * b
            let sum = loss.sum(y: dec.y, target: dec.target, mask: ws.masked ? UnsafePointer(dec.mask) : nil,
                               rows: config.horizon * n, outputs: config.quantiles, dy: dec.dy, scale: scale)
            decoderBackward(ws, steps: t)
            return sum
        }
        forward(ws, steps: t, dropoutSeed: dropoutSeed, rowOffset: rowOffset, feed: feed)
        let o = skip * b * config.outputSize
        ws.dy.update(repeating: 0, count: o)
        let sum = loss.sum(y: ws.y + o, target: ws.target + o, mask: ws.masked ? UnsafePointer(ws.mask + o) : nil,
                           rows: (t - skip) * b, outputs: config.outputSize, dy: ws.dy + o, scale: scale)
        backward(ws, steps: t)
        return sum
    }

    /// The targets a window scores: every one of steps `skip..<t` (the dense head), or those of
    /// the decoder's origins; weighted by `mask` when given (`[t × batch × outputSize]`).
    func scoredTargets(mask: UnsafePointer<Float>?, steps t: Int, batch b: Int, skip: Int, decoderStride: Int) -> Double {
        let o = config.outputSize
        let steps = config.decoder == .recurrent ? Self.decoderOrigins(scored: skip..<t, stride: decoderStride) : Array(skip..<t)
        guard let mask else { return Double(steps.count * b * o) }
        var total = 0.0
        for s in steps { for i in (s * b * o)..<((s + 1) * b * o) { total += Double(mask[i]) } }
        return total
    }

    /// Inverted-dropout multipliers from a counter-based hash of (seed, layer, step, global row,
    /// unit): the mask does not depend on how the batch is split across threads, nor on whether
    /// the steps are filled in one call or one at a time.
    private func fillDropoutMask(_ mask: UnsafeMutablePointer<Float>, layer: Int, from s0: Int, steps t: Int, batch b: Int,
                                 seed: UInt64, rowOffset: Int) {
        let hs = config.hiddenSize, p = config.dropout
        let keep = 1 / (1 - p)
        let threshold = UInt64(Double(p) * 16_777_216.0)
        let base = seed ^ (UInt64(layer) &* 0xD6E8_FEB8_6659_FD93)
        for s in s0..<t {
            for r in 0..<b {
                let rowKey = base ^ (UInt64(s) &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(rowOffset + r) &* 0xC2B2_AE3D_27D4_EB4F)
                let m = mask + (s * b + r) * hs
                for j in 0..<hs {
                    let u = mix64(rowKey &+ UInt64(j)) >> 40
                    m[j] = u < threshold ? 0 : keep
                }
            }
        }
    }

    func loadState(_ state: RecurrentState, into ws: Workspace, rowOffset: Int) {
        let n = ws.batch * config.hiddenSize, o = rowOffset * config.hiddenSize
        for (l, buf) in ws.layers.enumerated() {
            state.hidden[l].withUnsafeBufferPointer { buf.h.update(from: $0.baseAddress! + o, count: n) }
            if config.cell == .lstm {
                state.cell[l].withUnsafeBufferPointer { buf.c.update(from: $0.baseAddress! + o, count: n) }
            }
        }
        if config.feedback == .output {
            state.feedback.withUnsafeBufferPointer { ws.feedback.update(from: $0.baseAddress! + rowOffset, count: ws.batch) }
        }
    }

    /// Copies the state after `step` steps of the window (0 = the carried-in state) to `state`.
    func storeState(from ws: Workspace, step: Int, into state: inout RecurrentState, rowOffset: Int) {
        let n = ws.batch * config.hiddenSize, o = rowOffset * config.hiddenSize
        for (l, buf) in ws.layers.enumerated() {
            state.hidden[l].withUnsafeMutableBufferPointer { ($0.baseAddress! + o).update(from: buf.h + step * n, count: n) }
            if config.cell == .lstm {
                state.cell[l].withUnsafeMutableBufferPointer { ($0.baseAddress! + o).update(from: buf.c + step * n, count: n) }
            }
        }
        if config.feedback == .output {
            for r in 0..<ws.batch { state.feedback[rowOffset + r] = feedbackAfter(ws, step: step, row: r) }
        }
    }

    /// Makes the state after `t` steps slot 0 of the next chunk.
    func carryChunk(_ ws: Workspace, steps t: Int) {
        let n = ws.batch * config.hiddenSize
        if config.feedback == .output { for r in 0..<ws.batch { ws.feedback[r] = feedbackAfter(ws, step: t, row: r) } }
        for buf in ws.layers {
            buf.h.update(from: buf.h + t * n, count: n)
            if config.cell == .lstm { buf.c.update(from: buf.c + t * n, count: n) }
        }
    }

    // MARK: - Inference

    /// Runs the network over `steps` time steps of `inputs` (`[steps × state.batch × inputSize]`,
    /// time-major) from `state`, leaves the final state in `state` and returns the outputs
    /// `[steps × batch × outputSize]`. No dropout. Memory is bounded by an internal chunk length.
    ///
    /// The recurrent decoder, and the dense head with future features: with `future` (`[steps ×
    /// batch × futureWidth]`, each step's future block, see `decode(state:future:)` and
    /// `DenseHead`) the outputs are the forecasts from every step; without, the encoder only
    /// reads (the state advances) and the outputs are empty. Feedback: the fed-back forecast is
    /// carried in `state.feedback` (with future features it is the head's output, so the head
    /// then needs `future`).
    public func forward(inputs: [Float], steps: Int, state: inout RecurrentState, future: [Float]? = nil) throws -> [Float] {
        let b = state.batch, inSize = config.inputSize, outSize = config.outputSize
        guard state.matches(config) else { throw NetworkError.shapeMismatch("state does not fit the network") }
        guard steps >= 0, inputs.count == steps * b * inSize else {
            throw NetworkError.shapeMismatch("inputs have \(inputs.count) values, expected \(steps) × \(b) × \(inSize)")
        }
        let width = config.futureWidth
        if let future {
            guard width > 0 else { throw NetworkError.shapeMismatch("future: this network reads no future block") }
            guard future.count == steps * b * width else {
                throw NetworkError.shapeMismatch("future has \(future.count) values, expected \(steps) × \(b) × \(width)")
            }
        } else if config.decoder == .dense, config.feedback == .output, width > 0, steps > 0 {
            throw NetworkError.shapeMismatch("future: the fed-back forecast of a head with future features needs its future block")
        }
        let decoding = (config.decoder == .dense && width == 0) || future != nil
        var outputs = [Float](repeating: 0, count: decoding ? steps * b * outSize : 0)
        if steps == 0 { return outputs }
        let chunk = min(steps, 256)
        let ws: Workspace
        if let w = inferenceWorkspace, w.batch == b, w.steps >= chunk { ws = w } else {
            ws = Workspace(config: config, steps: chunk, batch: b, dropout: false, inference: true)
            inferenceWorkspace = ws
        }
        loadState(state, into: ws, rowOffset: 0)
        var start = 0
        inputs.withUnsafeBufferPointer { xp in
        (future ?? []).withUnsafeBufferPointer { fp in
            outputs.withUnsafeMutableBufferPointer { yp in
                while start < steps {
                    let t = min(chunk, steps - start)
                    ws.x.update(from: xp.baseAddress! + start * b * inSize, count: t * b * inSize)
                    if future != nil {
                        ws.future.update(from: fp.baseAddress! + start * b * width, count: t * b * width)
                    } else if width > 0 {
                        ws.future.update(repeating: 0, count: t * b * width)  // a head whose outputs are not wanted
                    }
                    forward(ws, steps: t, dropoutSeed: 0, rowOffset: 0, inference: true)
                    if future != nil, config.decoder == .recurrent {
                        ws.origins = Array(0..<t)
                        decoderInference(ws)
                    }
                    if decoding { (yp.baseAddress! + start * b * outSize).update(from: ws.y, count: t * b * outSize) }
                    carryChunk(ws, steps: t)
                    start += t
                }
            }
        }}
        storeState(from: ws, step: 0, into: &state, rowOffset: 0)
        return outputs
    }

    /// One time step for every sequence of the batch: `inputs` is `[state.batch × inputSize]`.
    public func predict(inputs: [Float], state: inout RecurrentState) throws -> [Float] {
        try forward(inputs: inputs, steps: 1, state: &state)
    }

    // MARK: - Gradient of one window

    /// The mean loss over steps `lossFromStep..<steps` of one window started from `state` (zero
    /// state when nil), with its gradient left in `gradients`. Inputs, targets and mask are
    /// time-major. Gradients do not flow into the given state (it is detached), as in TBPTT.
    /// `dropoutSeed` fixes the dropout masks (dropout is off when it is nil).
    ///
    /// Recurrent decoder and the dense head with future features: `future` is the window's
    /// future blocks (`[steps × batch × futureWidth]`). The recurrent decoder decodes from the
    /// scored steps counted back from the last at `decoderStride` (`Decoder.swift`), scored on
    /// those origins' targets.
    /// Decoder and feedback: `ownShare` is the share of steps fed the network's own median
    /// rather than the known true value, drawn from `feedSeed`.
    @discardableResult
    public func lossAndGradient(inputs: [Float], targets: [Float], mask: [Float]? = nil, steps: Int, batch: Int,
                                state: RecurrentState? = nil, loss: Loss, lossFromStep: Int = 0,
                                dropoutSeed: UInt64? = nil, future: [Float]? = nil, decoderStride: Int = 1,
                                ownShare: Float = 0, feedSeed: UInt64 = 0) throws -> Double {
        try lossAndGradient(inputs: inputs, targets: targets, mask: mask, steps: steps, batch: batch, state: state, loss: loss,
                            lossFromStep: lossFromStep, dropoutSeed: dropoutSeed, future: future, decoderStride: decoderStride,
                            feed: FeedSchedule(ownShare: ownShare, seed: feedSeed))
    }

    /// As above; `feed.replay` feeds back the values the previous call recorded (same shapes),
    /// so a gradient check can hold them fixed.
    func lossAndGradient(inputs: [Float], targets: [Float], mask: [Float]?, steps: Int, batch: Int,
                         state: RecurrentState?, loss: Loss, lossFromStep: Int, dropoutSeed: UInt64?,
                         future: [Float]?, decoderStride: Int, feed: FeedSchedule) throws -> Double {
        let n = steps * batch
        guard steps >= 1, batch >= 1, inputs.count == n * config.inputSize, targets.count == n * config.outputSize,
              mask == nil || mask!.count == n * config.outputSize, (0..<steps).contains(lossFromStep), decoderStride >= 1
        else { throw NetworkError.shapeMismatch("window arrays do not match steps × batch × sizes") }
        let futureCount = n * config.futureWidth
        guard (future?.count ?? 0) == futureCount else {
            throw NetworkError.shapeMismatch("future has \(future?.count ?? 0) values, expected \(futureCount)")
        }
        try loss.validate(outputSize: config.outputSize)
        let useDropout = dropoutSeed != nil && config.dropout > 0
        let ws: Workspace
        if let w = gradientWorkspace, w.steps == steps, w.batch == batch,
           (w.layers.first?.dropMask != nil || config.layers == 1) == (useDropout || config.layers == 1) {
            ws = w
        } else {
            ws = Workspace(config: config, steps: steps, batch: batch, dropout: useDropout)
            gradientWorkspace = ws
        }
        let initial = state ?? RecurrentState(config: config, batch: batch)
        guard initial.batch == batch, initial.matches(config) else { throw NetworkError.shapeMismatch("state does not fit") }
        loadState(initial, into: ws, rowOffset: 0)
        inputs.withUnsafeBufferPointer { ws.x.update(from: $0.baseAddress!, count: $0.count) }
        targets.withUnsafeBufferPointer { ws.target.update(from: $0.baseAddress!, count: $0.count) }
        if let mask { mask.withUnsafeBufferPointer { ws.mask.update(from: $0.baseAddress!, count: $0.count) } }
        if let future { future.withUnsafeBufferPointer { ws.future.update(from: $0.baseAddress!, count: $0.count) } }
        ws.masked = mask != nil
        let count = (mask ?? []).withUnsafeBufferPointer { m in
            scoredTargets(mask: mask == nil ? nil : m.baseAddress!, steps: steps, batch: batch, skip: lossFromStep, decoderStride: decoderStride)
        }
        let scale = count > 0 ? Float(1 / count) : 0
        let sum = windowPass(ws, steps: steps, skip: lossFromStep, loss: loss, scale: scale, dropoutSeed: dropoutSeed ?? 0,
                             rowOffset: 0, feed: feed, decoderStride: decoderStride)
        grads.update(from: ws.grad, count: layout.count)
        return count > 0 ? sum / count : 0
    }
}

/// Q of the QR factorisation of an n×n Gaussian matrix (modified Gram-Schmidt in Double),
/// row-major; a uniformly random orthogonal matrix.
func orthogonalMatrix(_ n: Int, _ rng: inout SeededGenerator) -> [Double] {
    var a = (0..<(n * n)).map { _ in rng.nextGaussian() }
    for j in 0..<n {
        for k in 0..<j {
            var dot = 0.0
            for i in 0..<n { dot += a[i * n + j] * a[i * n + k] }
            for i in 0..<n { a[i * n + j] -= dot * a[i * n + k] }
        }
        var norm = 0.0
        for i in 0..<n { norm += a[i * n + j] * a[i * n + j] }
        norm = norm.squareRoot()
        for i in 0..<n { a[i * n + j] /= norm }
    }
    return a
}
