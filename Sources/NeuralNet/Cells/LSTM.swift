/// LSTM cell (PyTorch gate order i, f, g, o):
///   i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o),  a = x W_ih + h_{t-1} W_hh + b
///   c_t = f ⊙ c_{t-1} + i ⊙ g,   h_t = o ⊙ tanh(c_t)

enum LSTMCell {
    /// `inference`: the gate product through `rowStableProduct` (see `RecurrentNetwork.forward`).
    /// Steps `s0..<t` (a step-major caller runs one step of every layer at a time).
    static func forward(from s0: Int = 0, steps t: Int, batch b: Int, x: UnsafePointer<Float>, w: LayerWeights, buf: LayerBuffers,
                        inference: Bool = false) {
        let hs = buf.hidden, gw = buf.gates, ins = buf.inSize, kx = stackedWidth(buf)
        fillStackedInputs(from: s0, steps: t, batch: b, x: x, buf: buf)
        for s in s0..<t {
            let at = buf.a + s * b * gw
            // a_t = [x_t | h_{t-1} | 1] [W_ih; W_hh; b]
            stepProduct(inference: inference, b, gw, kx, buf.xh + s * b * kx, kx, w.wih, gw, at, gw)
            let nextRows: UnsafeMutablePointer<Float>? = s + 1 < t ? buf.xh + (s + 1) * b * kx + ins : nil
            for r in 0..<b {
                let row = at + r * gw
                let cp = buf.c + (s * b + r) * hs, cn = cp + b * hs
                let hn = buf.h + ((s + 1) * b + r) * hs
                let tcp = buf.tc + (s * b + r) * hs
                var j = 0
                while j < hs {
                    let n = min(8, hs - j)
                    let i = vsigmoid(ld(row + j, n))
                    let f = vsigmoid(ld(row + hs + j, n))
                    let g = vtanh(ld(row + 2 * hs + j, n))
                    let o = vsigmoid(ld(row + 3 * hs + j, n))
                    let c = f * ld(cp + j, n) + i * g
                    let tcv = vtanh(c)
                    st(i, row + j, n); st(f, row + hs + j, n); st(g, row + 2 * hs + j, n); st(o, row + 3 * hs + j, n)
                    let hv = o * tcv
                    st(c, cn + j, n); st(tcv, tcp + j, n); st(hv, hn + j, n)
                    if let nextRows { st(hv, nextRows + r * kx + j, n) }
                    j += 8
                }
            }
        }
    }

    /// `buf.dh` holds dL/dh_t from above; on return `buf.dg` holds dL/da for the chunk and the
    /// layer's gradients are written (not accumulated) to `g`. Gradient reaching the carried-in
    /// state is dropped (that is the truncation) unless the layer keeps it: then `buf.dh0` and
    /// `buf.dc` hold dL/dh_{-1} and dL/dc_{-1} on return. `buf.dcIn`, when present, is gradient
    /// reaching each c_t from outside the layer (a recurrent decoder started from it).
    static func backward(steps t: Int, batch b: Int, x: UnsafePointer<Float>, w: LayerWeights,
                         g: LayerGradients, buf: LayerBuffers) {
        let hs = buf.hidden, gw = buf.gates
        buf.dc.update(repeating: 0, count: b * hs)
        buf.dh0?.update(repeating: 0, count: b * hs)
        refreshTransposedRecurrent(w: w, buf: buf)
        for s in stride(from: t - 1, through: 0, by: -1) {
            let at = buf.a + s * b * gw, dgt = buf.dg + s * b * gw
            for r in 0..<b {
                let row = at + r * gw, drow = dgt + r * gw
                let cp = buf.c + (s * b + r) * hs
                let tcp = buf.tc + (s * b + r) * hs
                let dhp = buf.dh + (s * b + r) * hs
                let dcp = buf.dc + r * hs
                let dcIn = buf.dcIn.map { UnsafePointer($0 + (s * b + r) * hs) }
                var j = 0
                while j < hs {
                    let n = min(8, hs - j)
                    let i = ld(row + j, n), f = ld(row + hs + j, n)
                    let gg = ld(row + 2 * hs + j, n), o = ld(row + 3 * hs + j, n)
                    let tcv = ld(tcp + j, n), dhv = ld(dhp + j, n)
                    var dc = ld(dcp + j, n) + dhv * o * (1 - tcv * tcv)
                    if let dcIn { dc += ld(dcIn + j, n) }
                    let dO = dhv * tcv
                    st(dc * i * (1 - gg * gg), drow + 2 * hs + j, n)
                    st(dc * gg * i * (1 - i), drow + j, n)
                    st(dc * ld(cp + j, n) * f * (1 - f), drow + hs + j, n)
                    st(dO * o * (1 - o), drow + 3 * hs + j, n)
                    st(dc * f, dcp + j, n)
                    j += 8
                }
            }
            if let into = previousHiddenGradient(step: s, batch: b, buf: buf) {
                recurrentBackward(batch: b, dgt: dgt, gradientWidth: gw, w: w, buf: buf, into: into)
            }
        }
        stackedWeightGradients(steps: t, batch: b, w: w, g: g, buf: buf)
    }
}
