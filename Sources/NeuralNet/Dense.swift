/// The dense output head, applied to the top layer's outputs of the whole chunk at once:
///   Y = H W + b, with W `[hidden × outputs]`;
/// with future features (`NetworkConfig.futureFeatures`), each step's future block F (the known
/// features of every horizon step, `[horizon·futureFeatures]`) is read beside H:
///   Y = H W + b + F W_f, with W_f `[horizon·futureFeatures × outputs]`,
/// so a forecast step's outputs see the known values of its own step (and of the others) by one
/// linear map, not through the recurrent state. F is data: no gradient flows into it.

enum DenseHead {
    /// `inference`: through `rowStableProduct` (each row's bits its own), else OpenBLAS.
    static func forward(rows: Int, inSize: Int, outSize: Int, x: UnsafePointer<Float>,
                        w: UnsafePointer<Float>, bias: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                        inference: Bool = false) {
        for r in 0..<rows { (y + r * outSize).update(from: bias, count: outSize) }
        if inference {
            rowStableProduct(rows, outSize, inSize, x, inSize, w, outSize, accumulate: true, y, outSize)
        } else {
            gemm(false, false, rows, outSize, inSize, 1, x, inSize, w, outSize, 1, y, outSize)
        }
    }

    /// Adds F W_f to `y` (after `forward`): the future block's part, `k` = horizon·futureFeatures.
    static func addFuture(rows: Int, k: Int, outSize: Int, f: UnsafePointer<Float>, w: UnsafePointer<Float>,
                          y: UnsafeMutablePointer<Float>, inference: Bool = false) {
        if inference {
            rowStableProduct(rows, outSize, k, f, k, w, outSize, accumulate: true, y, outSize)
        } else {
            gemm(false, false, rows, outSize, k, 1, f, k, w, outSize, 1, y, outSize)
        }
    }

    /// Writes dW_f = Fᵀ dY.
    static func futureBackward(rows: Int, k: Int, outSize: Int, f: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                               dw: UnsafeMutablePointer<Float>) {
        gemm(true, false, k, outSize, rows, 1, f, k, dy, outSize, 0, dw, outSize)
    }

    /// Writes dW, db and (when `dx` is given) dL/dX = dY Wᵀ.
    static func backward(rows: Int, inSize: Int, outSize: Int, x: UnsafePointer<Float>, w: UnsafePointer<Float>,
                         dy: UnsafePointer<Float>, dw: UnsafeMutablePointer<Float>, db: UnsafeMutablePointer<Float>,
                         dx: UnsafeMutablePointer<Float>?) {
        gemm(true, false, inSize, outSize, rows, 1, x, inSize, dy, outSize, 0, dw, outSize)
        db.update(repeating: 0, count: outSize)
        addColumnSums(dy, rows: rows, cols: outSize, into: db)
        if let dx { gemm(false, true, rows, inSize, outSize, 1, dy, outSize, w, outSize, 0, dx, inSize) }
    }
}
