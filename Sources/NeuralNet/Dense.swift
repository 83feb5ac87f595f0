/// The dense output head, applied to the top layer's outputs of the whole chunk at once:
///   Y = H W + b, with W `[hidden × outputs]`.

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
