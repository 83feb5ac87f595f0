/// GRU cell in the cuDNN/PyTorch formulation (gate order r, z, n):
///   r = σ(x W_ir + b_ir + h W_hr + b_hr),  z = σ(x W_iz + b_iz + h W_hz + b_hz)
///   n = tanh(x W_in + b_in + r ⊙ (h W_hn + b_hn)),  h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}
/// Because r multiplies the whole recurrent term, one product h W_hh serves all three gates.

enum GRUCell {
    /// `inference`: every product through `rowStableProduct` (see `RecurrentNetwork.forward`).
    /// Steps `s0..<t` (a step-major caller runs one step of every layer at a time).
    static func forward(from s0: Int = 0, steps t: Int, batch b: Int, x: UnsafePointer<Float>, w: LayerWeights, buf: LayerBuffers,
                        inference: Bool = false) {
        let hs = buf.hidden, gw = buf.gates, ins = buf.inSize
        let rows = (t - s0) * b, xs = x + s0 * b * ins, as0 = buf.a + s0 * b * gw
        if inference {
            rowStableProduct(rows, gw, ins, xs, ins, w.wih, gw, accumulate: false, as0, gw)
        } else {
            gemm(false, false, rows, gw, ins, 1, xs, ins, w.wih, gw, 0, as0, gw)
        }
        let cb = buf.gruBias
        for j in 0..<(2 * hs) { cb[j] = w.bih[j] + w.bhh[j] }
        (cb + 2 * hs).update(from: w.bih + 2 * hs, count: hs)
        (cb + 3 * hs).update(from: w.bhh + 2 * hs, count: hs)
        for s in s0..<t {
            let at = buf.a + s * b * gw, ght = buf.gh + s * b * gw
            let hprev = buf.h + s * b * hs
            stepProduct(inference: inference, b, gw, hs, hprev, hs, w.whh, gw, ght, gw)
            for q in 0..<b {
                let row = at + q * gw, grow = ght + q * gw
                let hp = hprev + q * hs, hn = hp + b * hs
                var j = 0
                while j < hs {
                    let n = min(8, hs - j)
                    let r = vsigmoid(ld(row + j, n) + ld(grow + j, n) + ld(cb + j, n))
                    let z = vsigmoid(ld(row + hs + j, n) + ld(grow + hs + j, n) + ld(cb + hs + j, n))
                    let ghn = ld(grow + 2 * hs + j, n) + ld(cb + 3 * hs + j, n)
                    let nn = vtanh(ld(row + 2 * hs + j, n) + ld(cb + 2 * hs + j, n) + r * ghn)
                    st(r, row + j, n); st(z, row + hs + j, n); st(nn, row + 2 * hs + j, n)
                    st(ghn, grow + 2 * hs + j, n)
                    st(nn + z * (ld(hp + j, n) - nn), hn + j, n)
                    j += 8
                }
            }
        }
    }

    static func backward(steps t: Int, batch b: Int, x: UnsafePointer<Float>, w: LayerWeights,
                         g: LayerGradients, buf: LayerBuffers) {
        let hs = buf.hidden, gw = buf.gates
        refreshTransposedRecurrent(w: w, buf: buf)
        buf.dh0?.update(repeating: 0, count: b * hs)
        for s in stride(from: t - 1, through: 0, by: -1) {
            let at = buf.a + s * b * gw, ght = buf.gh + s * b * gw
            let dgt = buf.dg + s * b * gw, dght = buf.dgh + s * b * gw
            for q in 0..<b {
                let row = at + q * gw, grow = ght + q * gw
                let drow = dgt + q * gw, dhrow = dght + q * gw
                let hp = buf.h + (s * b + q) * hs
                let dhp = buf.dh + (s * b + q) * hs
                let dprev: UnsafeMutablePointer<Float>? = s > 0 ? dhp - b * hs : buf.dh0.map { $0 + q * hs }
                var j = 0
                while j < hs {
                    let n = min(8, hs - j)
                    let r = ld(row + j, n), z = ld(row + hs + j, n), nn = ld(row + 2 * hs + j, n)
                    let dhv = ld(dhp + j, n)
                    let dan = dhv * (1 - z) * (1 - nn * nn)
                    let dar = dan * ld(grow + 2 * hs + j, n) * r * (1 - r)
                    let daz = dhv * (ld(hp + j, n) - nn) * z * (1 - z)
                    st(dar, drow + j, n); st(daz, drow + hs + j, n); st(dan, drow + 2 * hs + j, n)
                    st(dar, dhrow + j, n); st(daz, dhrow + hs + j, n); st(dan * r, dhrow + 2 * hs + j, n)
                    if let dprev { st(ld(dprev + j, n) + dhv * z, dprev + j, n) }
                    j += 8
                }
            }
            if let into = previousHiddenGradient(step: s, batch: b, buf: buf) {
                recurrentBackward(batch: b, dgt: dght, gradientWidth: gw, w: w, buf: buf, into: into)
            }
        }
        chunkWeightGradients(steps: t, batch: b, x: x, w: w, g: g, buf: buf, dgRecurrent: buf.dgh)
        g.bhh.update(repeating: 0, count: gw)
        addColumnSums(buf.dgh, rows: t * b, cols: gw, into: g.bhh)
    }
}
