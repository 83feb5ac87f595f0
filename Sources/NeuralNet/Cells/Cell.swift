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
