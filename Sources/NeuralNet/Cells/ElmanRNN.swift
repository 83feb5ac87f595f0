/// Elman RNN cell: h_t = tanh(x W_ih + h_{t-1} W_hh + b).

enum ElmanCell {
    static func forward(steps t: Int, batch b: Int, x: UnsafePointer<Float>, w: LayerWeights, buf: LayerBuffers) {
        let hs = buf.hidden
        gemm(false, false, t * b, hs, buf.inSize, 1, x, buf.inSize, w.wih, hs, 0, buf.a, hs)
        for s in 0..<t {
            let at = buf.a + s * b * hs
            gemm(false, false, b, hs, hs, 1, buf.h + s * b * hs, hs, w.whh, hs, 1, at, hs)
            let hn = buf.h + (s + 1) * b * hs
            for q in 0..<b {
                let row = at + q * hs, out = hn + q * hs
                var j = 0
                while j < hs {
                    let n = min(8, hs - j)
                    st(vtanh(ld(row + j, n) + ld(w.bih + j, n)), out + j, n)
                    j += 8
                }
            }
        }
    }

    static func backward(steps t: Int, batch b: Int, x: UnsafePointer<Float>, w: LayerWeights,
                         g: LayerGradients, buf: LayerBuffers) {
        let hs = buf.hidden
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
            if s > 0 {
                gemm(false, true, b, hs, hs, 1, dgt, hs, w.whh, hs, 1, buf.dh + (s - 1) * b * hs, hs)
            }
        }
        chunkWeightGradients(steps: t, batch: b, x: x, w: w, g: g, buf: buf, dgRecurrent: buf.dg)
    }
}
