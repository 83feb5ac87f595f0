/// Elman RNN cell: h_t = tanh(x W_ih + h_{t-1} W_hh + b).

enum ElmanCell {
    /// Steps `s0..<t` (a step-major caller runs one step of every layer at a time).
    static func forward(from s0: Int = 0, steps t: Int, batch b: Int, x: UnsafePointer<Float>, w: LayerWeights, buf: LayerBuffers,
                        inference: Bool = false) {
        let hs = buf.hidden, ins = buf.inSize, kx = stackedWidth(buf)
        fillStackedInputs(from: s0, steps: t, batch: b, x: x, buf: buf)
        for s in s0..<t {
            let at = buf.a + s * b * hs
            stepProduct(inference: inference, b, hs, kx, buf.xh + s * b * kx, kx, w.wih, hs, at, hs)
            let hn = buf.h + (s + 1) * b * hs
            let nextRows: UnsafeMutablePointer<Float>? = s + 1 < t ? buf.xh + (s + 1) * b * kx + ins : nil
            for q in 0..<b {
                let row = at + q * hs, out = hn + q * hs
                var j = 0
                while j < hs {
                    let n = min(8, hs - j)
                    let hv = vtanh(ld(row + j, n))
                    st(hv, out + j, n)
                    if let nextRows { st(hv, nextRows + q * kx + j, n) }
                    j += 8
                }
            }
        }
    }

    static func backward(steps t: Int, batch b: Int, x: UnsafePointer<Float>, w: LayerWeights,
                         g: LayerGradients, buf: LayerBuffers) {
        let hs = buf.hidden
        refreshTransposedRecurrent(w: w, buf: buf)
        buf.dh0?.update(repeating: 0, count: b * hs)
        for s in stride(from: t - 1, through: 0, by: -1) {
            let dgt = buf.dg + s * b * hs
            let hcur = buf.h + (s + 1) * b * hs, dht = buf.dh + s * b * hs
            var k = 0
            let total = b * hs
            while k < total {
                let n = min(8, total - k)
                let hv = ld(hcur + k, n)
                st(ld(dht + k, n) * (1 - hv * hv), dgt + k, n)
                k += 8
            }
            if let into = previousHiddenGradient(step: s, batch: b, buf: buf) {
                recurrentBackward(batch: b, dgt: dgt, gradientWidth: hs, w: w, buf: buf, into: into)
            }
        }
        stackedWeightGradients(steps: t, batch: b, w: w, g: g, buf: buf)
    }
}
