/// The recurrent decoder (sequence to sequence): a second stack of the encoder's cell kind and
/// hidden size, started from the encoder's state at an origin (the context), unrolled over the
/// horizon one step at a time; a head maps each step's top hidden state to its `quantiles`
/// outputs. Knows nothing of series, bases or calendars: the caller's future block says what
/// each step reads.
///
///   decoder layer d starts from encoder layer e(d) = max(0, L − D + d) at the origin (the top
///   D encoder layers when D ≤ L; extra decoder layers start from layer 0's state);
///   input at step h: [ base_h + v_h | known features of step h ], v_0 = 0 (base_0 is the last
///   observed value), v_h = the median of step h − 1: the target (teacher forcing) or the
///   decoder's own output (a scheduled share in training, always in inference);
///   y_h = head(top h_h): `quantiles` outputs, scored with the loss against the origin's
///   targets of step h (the dense head's `[horizon × quantiles]` targets of that step).
///
/// Origins. The dense head emits the whole horizon at every step (forking sequences); the
/// decoder does the same from a set of origins: the scored steps of the window counted back
/// from its last step at a stride (`decoderStride`; 1: every step, as the dense head; a
/// stride ≥ the scored length: only the window's last step, the classic one-context
/// encoder–decoder). All origins × rows decode side by side as one batch, so each decoder step
/// is one product of `origins × batch` rows (cheap per row), and the cost is about
/// `horizon / stride` times the encoder's per window step; memory is `origins × batch ×
/// horizon` rows per decoder layer. Inference decodes from the steps whose forecasts are
/// wanted, rolling one step of buffers (no activations kept).
///
/// Gradient. Backward runs through every decoder step (layer-major, as the encoder: the fed
/// values are data, see below), into the initial state (`LayerBuffers.dh0`, and dL/dc_{-1}
/// for the LSTM), which is added to the encoder's dh (and, for the LSTM, dc via `dcIn`) at
/// each origin before the encoder's own backward pass over the window (TBPTT as usual).
/// The fed-back value v_h is detached (data) whether it is the target or the decoder's own
/// median: the exact gradient through an own median would make dL/dy_{h−1} depend on
/// layer 0's input gradient at step h, i.e. a step-major backward through all layers and the
/// head, giving up the chunk-wide weight-gradient products the cells share; scheduled sampling
/// (Bengio et al. 2015) treats the sampled input as a constant too. Gradient checks hold the
/// fed values fixed (`replay`) and check this gradient exactly.

extension RecurrentNetwork {
    /// The decoder's origins among the scored steps: the last, then every `stride`-th before it.
    static func decoderOrigins(scored: Range<Int>, stride: Int) -> [Int] {
        guard !scored.isEmpty else { return [] }
        return Array(Swift.stride(from: scored.upperBound - 1, through: scored.lowerBound, by: -max(1, stride)).reversed())
    }

    /// The encoder layer whose state decoder layer `d` starts from.
    func encoderLayer(forDecoderLayer d: Int) -> Int { max(0, config.layers - config.decoderDepth + d) }

    /// Copies each origin's encoder state (after step `origin`: slot origin + 1) to slot 0 of
    /// the decoder's rows.
    private func startDecoder(_ ws: Workspace, _ dec: DecoderBuffers) {
        let b = ws.batch, hs = config.hiddenSize, lstm = config.cell == .lstm
        for (d, buf) in dec.layers.enumerated() {
            let enc = ws.layers[encoderLayer(forDecoderLayer: d)]
            for (i, s) in ws.origins.enumerated() {
                (buf.h + i * b * hs).update(from: enc.h + (s + 1) * b * hs, count: b * hs)
                if lstm { (buf.c + i * b * hs).update(from: enc.c + (s + 1) * b * hs, count: b * hs) }
            }
        }
    }

    /// Every decoder layer and the head at buffer slot `h` (step h of `rows` decodings).
    private func decoderStep(_ dec: DecoderBuffers, slot h: Int, rows n: Int, inference: Bool) {
        let hs = config.hiddenSize, q = config.quantiles
        var input = UnsafePointer(dec.x)
        for (d, buf) in dec.layers.enumerated() {
            runCell(from: h, steps: h + 1, batch: n, x: input, w: layout.decoderLayers[d].weights(params), buf: buf, inference: inference)
            input = UnsafePointer(buf.h + n * hs)
        }
        DenseHead.forward(rows: n, inSize: hs, outSize: q, x: input + h * n * hs, w: params + layout.headW,
                          bias: params + layout.headB, y: dec.y + h * n * q, inference: inference)
    }

    // MARK: - Training: forward beside backward

    /// Decodes the whole horizon from every origin in `ws.origins` after `encoderForward`,
    /// keeping every step's activations; fills the decoder's targets and mask from the window's.
    func decoderForward(_ ws: Workspace, rowOffset: Int, feed: FeedSchedule) {
        let dec = ws.decoder!, b = ws.batch, origins = ws.origins, n = origins.count * b
        let H = config.horizon, q = config.quantiles, o = config.outputSize, fi = config.decoderInputSize, med = config.median
        precondition(n <= dec.rowCapacity, "more decoder origins than the workspace holds")
        startDecoder(ws, dec)
        for h in 0..<H {
            for (i, s) in origins.enumerated() {
                for r in 0..<b {
                    let m = h * n + i * b + r, src = (s * b + r) * o + h * q
                    (dec.x + m * fi).update(from: ws.future + ((s * b + r) * H + h) * fi, count: fi)
                    (dec.target + m * q).update(from: ws.target + src, count: q)
                    if ws.masked { (dec.mask + m * q).update(from: ws.mask + src, count: q) }
                }
            }
        }
        for h in 0..<H {
            if h > 0 {
                for (i, s) in origins.enumerated() {
                    for r in 0..<b {
                        let m = h * n + i * b + r, prev = (m - n) * q + med
                        let v: Float
                        if feed.replay {
                            v = dec.fed[m]
                        } else if feed.teacher(row: rowOffset + r, step: s, ahead: h), !ws.masked || dec.mask[prev] != 0 {
                            v = dec.target[prev]
                        } else {
                            v = dec.y[prev]
                        }
                        dec.fed[m] = v
                        dec.x[m * fi] += v
                    }
                }
            }
            decoderStep(dec, slot: h, rows: n, inference: false)
        }
    }

    /// Backpropagates the decoder's `dy` through its head and every step of every decoder layer,
    /// then into the encoder at each origin, then through the encoder window.
    func decoderBackward(_ ws: Workspace, steps t: Int) {
        let dec = ws.decoder!, b = ws.batch, origins = ws.origins, n = origins.count * b
        let H = config.horizon, q = config.quantiles, hs = config.hiddenSize, lstm = config.cell == .lstm
        let top = dec.layers[dec.layers.count - 1]
        DenseHead.backward(rows: H * n, inSize: hs, outSize: q, x: top.h + n * hs, w: params + layout.headW, dy: dec.dy,
                           dw: ws.grad + layout.headW, db: ws.grad + layout.headB, dx: top.dh)
        for d in stride(from: dec.layers.count - 1, through: 0, by: -1) {
            let x = d == 0 ? UnsafePointer(dec.x) : UnsafePointer(dec.layers[d - 1].h + n * hs)
            runCellBackward(steps: H, batch: n, x: x, w: layout.decoderLayers[d].weights(params),
                            g: layout.decoderLayers[d].gradients(ws.grad), buf: dec.layers[d])
        }
        // The encoder: no head of its own; its layers' dh (and c's gradient) gain, at each
        // origin, the gradient of the decoder's initial state.
        ws.layers[ws.layers.count - 1].dh.update(repeating: 0, count: t * b * hs)
        encoderBackward(ws, steps: t) { l in
            let enc = ws.layers[l]
            enc.dcIn?.update(repeating: 0, count: t * b * hs)
            for (d, buf) in dec.layers.enumerated() where encoderLayer(forDecoderLayer: d) == l {
                for (i, s) in origins.enumerated() {
                    addInPlace(enc.dh + s * b * hs, buf.dh0! + i * b * hs, count: b * hs)
                    if lstm, let dcIn = enc.dcIn { addInPlace(dcIn + s * b * hs, buf.dc + i * b * hs, count: b * hs) }
                }
            }
        }
    }

    // MARK: - Inference

    /// Decodes the horizon from every origin in `ws.origins` (after an inference
    /// `encoderForward`), always feeding back its own median, one step of buffers at a time;
    /// writes each origin's `[horizon × quantiles]` to its row of `ws.y`. Every product runs
    /// through `rowStableProduct`, so a row's forecasts do not depend on the batch.
    func decoderInference(_ ws: Workspace) {
        let dec = ws.decoder!, b = ws.batch, origins = ws.origins, n = origins.count * b
        let H = config.horizon, q = config.quantiles, o = config.outputSize, fi = config.decoderInputSize
        let hs = config.hiddenSize, med = config.median, lstm = config.cell == .lstm
        precondition(dec.steps == 1 && n <= dec.rowCapacity, "an inference workspace decodes its chunk's steps")
        startDecoder(ws, dec)
        for h in 0..<H {
            for (i, s) in origins.enumerated() {
                for r in 0..<b {
                    let m = i * b + r
                    (dec.x + m * fi).update(from: ws.future + ((s * b + r) * H + h) * fi, count: fi)
                    if h > 0 { dec.x[m * fi] += dec.y[m * q + med] }
                }
            }
            decoderStep(dec, slot: 0, rows: n, inference: true)
            for (i, s) in origins.enumerated() {
                for r in 0..<b { (ws.y + (s * b + r) * o + h * q).update(from: dec.y + (i * b + r) * q, count: q) }
            }
            for buf in dec.layers {
                buf.h.update(from: buf.h + n * hs, count: n * hs)
                if lstm { buf.c.update(from: buf.c + n * hs, count: n * hs) }
            }
        }
    }

    /// The recurrent decoder's forecasts from encoder states: `state` is the encoder's state
    /// after reading each sequence's history (batch B), `future` its future block
    /// `[B × horizon × (1 + futureFeatures)]` (column 0: at step 0 the last observed value, at
    /// later steps the base the fed-back median is added to, 0 when the targets are values;
    /// then the known features of the step). Returns `[B × horizon × quantiles]`. A batch of
    /// states gives each row the bits it gets alone.
    public func decode(state: RecurrentState, future: [Float]) throws -> [Float] {
        guard config.decoder == .recurrent else { throw NetworkError.invalidConfiguration("decoder: decode needs the recurrent decoder") }
        let b = state.batch, width = config.horizon * config.decoderInputSize
        guard state.matches(config) else { throw NetworkError.shapeMismatch("state does not fit the network") }
        guard future.count == b * width else {
            throw NetworkError.shapeMismatch("future has \(future.count) values, expected \(b) × \(config.horizon) × \(config.decoderInputSize)")
        }
        // The state goes where the encoder's step 0 would have left it (slot 1), and step 0
        // is the one origin.
        let ws = Workspace(config: config, steps: 1, batch: b, dropout: false, inference: true)
        let n = b * config.hiddenSize
        for (l, buf) in ws.layers.enumerated() {
            state.hidden[l].withUnsafeBufferPointer { (buf.h + n).update(from: $0.baseAddress!, count: n) }
            if config.cell == .lstm { state.cell[l].withUnsafeBufferPointer { (buf.c + n).update(from: $0.baseAddress!, count: n) } }
        }
        future.withUnsafeBufferPointer { ws.future.update(from: $0.baseAddress!, count: $0.count) }
        ws.origins = [0]
        decoderInference(ws)
        return Array(UnsafeBufferPointer(start: ws.y, count: b * config.outputSize))
    }
}

@inline(__always)
func addInPlace(_ a: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>, count n: Int) {
    var i = 0
    while i + 8 <= n { store8(load8(a + i) + load8(b + i), a + i); i += 8 }
    while i < n { a[i] += b[i]; i += 1 }
}
