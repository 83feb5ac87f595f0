/// What every cell's forward and backward pass is given: pointers into the flat parameter and
/// gradient vectors for one layer.

struct LayerWeights {
    let wih: UnsafePointer<Float>
    let whh: UnsafePointer<Float>
    let bih: UnsafePointer<Float>
    /// GRU only (points at `bih` for the other cells).
    let bhh: UnsafePointer<Float>
}

struct LayerGradients {
    let wih: UnsafeMutablePointer<Float>
    let whh: UnsafeMutablePointer<Float>
    let bih: UnsafeMutablePointer<Float>
    let bhh: UnsafeMutablePointer<Float>
}

extension ParameterLayout.Layer {
    func weights(_ p: UnsafeMutablePointer<Float>) -> LayerWeights {
        LayerWeights(wih: p + wih, whh: p + whh, bih: p + bih, bhh: p + (bhh >= 0 ? bhh : bih))
    }
    func gradients(_ g: UnsafeMutablePointer<Float>) -> LayerGradients {
        LayerGradients(wih: g + wih, whh: g + whh, bih: g + bih, bhh: g + (bhh >= 0 ? bhh : bih))
    }
}

/// The gradients every cell computes the same way once its gate gradients `dg` are known for the
/// whole chunk: one product each over all T·B rows instead of T small ones.
///   dW_ih = Xᵀ dG, dW_hh = H_prevᵀ dG_h, db = Σ rows dG, dX = dG W_ihᵀ.
@inline(__always)
func chunkWeightGradients(steps t: Int, batch b: Int, x: UnsafePointer<Float>, w: LayerWeights,
                          g: LayerGradients, buf: LayerBuffers, dgRecurrent: UnsafePointer<Float>) {
    let n = t * b, gw = buf.gates, hs = buf.hidden, ins = buf.inSize
    gemm(true, false, ins, gw, n, 1, x, ins, buf.dg, gw, 0, g.wih, gw)
    gemm(true, false, hs, gw, n, 1, buf.h, hs, dgRecurrent, gw, 0, g.whh, gw)
    g.bih.update(repeating: 0, count: gw)
    addColumnSums(buf.dg, rows: n, cols: gw, into: g.bih)
    if let dx = buf.dx { gemm(false, true, n, ins, gw, 1, buf.dg, gw, w.wih, gw, 0, dx, ins) }
}

/// Width of a stacked row `[x_t | h_{t-1} | 1]`.
@inline(__always)
func stackedWidth(_ buf: LayerBuffers) -> Int { buf.inSize + buf.hidden + 1 }

/// Fills the `x_t` and `1` parts of the `[x_t | h_{t-1} | 1]` rows of steps `s0..<t` and the
/// `h_{s0-1}` part of step s0 (the carried state, or the state a previous call left); the
/// forward loop writes each later `h_{t-1}` as it computes it.
@inline(__always)
func fillStackedInputs(from s0: Int = 0, steps t: Int, batch b: Int, x: UnsafePointer<Float>, buf: LayerBuffers) {
    let ins = buf.inSize, kx = stackedWidth(buf)
    for r in (s0 * b)..<(t * b) {
        (buf.xh + r * kx).update(from: x + r * ins, count: ins)
        buf.xh[r * kx + kx - 1] = 1
    }
    for r in (s0 * b)..<((s0 + 1) * b) { (buf.xh + r * kx + ins).update(from: buf.h + r * buf.hidden, count: buf.hidden) }
}

/// Where the recurrent gradient of step s goes: dh_{s-1} inside the chunk, and at s = 0 the
/// gradient of the carried-in state when the layer keeps one (`dh0`: the recurrent decoder,
/// whose initial state is the encoder's), else nowhere (the truncation).
@inline(__always)
func previousHiddenGradient(step s: Int, batch b: Int, buf: LayerBuffers) -> UnsafeMutablePointer<Float>? {
    s > 0 ? buf.dh + (s - 1) * b * buf.hidden : buf.dh0
}

/// Gradients of the stacked cells (LSTM, Elman): `[dW_ih; dW_hh; db] = [X | H_prev | 1]ᵀ dG` in
/// one product (the three tensors are adjacent in the gradient vector), then dX.
@inline(__always)
func stackedWeightGradients(steps t: Int, batch b: Int, w: LayerWeights, g: LayerGradients, buf: LayerBuffers) {
    let n = t * b, gw = buf.gates, ins = buf.inSize, kx = stackedWidth(buf)
    gemm(true, false, kx, gw, n, 1, buf.xh, kx, buf.dg, gw, 0, g.wih, gw)
    if let dx = buf.dx { gemm(false, true, n, ins, gw, 1, buf.dg, gw, w.wih, gw, 0, dx, ins) }
}

/// dh_{t-1} += dG_t W_hhᵀ, through the transposed copy when the hidden size makes NN faster.
@inline(__always)
func recurrentBackward(batch b: Int, dgt: UnsafePointer<Float>, gradientWidth gw: Int, w: LayerWeights,
                       buf: LayerBuffers, into dhPrev: UnsafeMutablePointer<Float>) {
    let hs = buf.hidden
    if hs >= transposedRecurrentMinHidden {
        stepGemm(transB: false, b, hs, gw, dgt, gw, buf.whhT, hs, 1, dhPrev, hs)
    } else {
        stepGemm(transB: true, b, hs, gw, dgt, gw, w.whh, gw, 1, dhPrev, hs)
    }
}

/// Below this hidden size OpenBLAS's NT small-matrix path beats packing a transposed copy.
let transposedRecurrentMinHidden = 48

@inline(__always)
func refreshTransposedRecurrent(w: LayerWeights, buf: LayerBuffers) {
    let hs = buf.hidden, gw = buf.gates
    guard hs >= transposedRecurrentMinHidden else { return }
    for r in 0..<hs {
        let row = w.whh + r * gw
        for c in 0..<gw { buf.whhT[c * hs + r] = row[c] }
    }
}

/// One step's forward product `C = A B` (`m` rows): OpenBLAS in training, the row-stable
/// product in inference, whose rows do not depend on how many share the call.
@inline(__always)
func stepProduct(inference: Bool, _ m: Int, _ n: Int, _ k: Int, _ a: UnsafePointer<Float>, _ lda: Int,
                 _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
    if inference {
        rowStableProduct(m, n, k, a, lda, b, ldb, accumulate: false, c, ldc)
    } else {
        stepGemm(transB: false, m, n, k, a, lda, b, ldb, 0, c, ldc)
    }
}
