import CRowStable

/// The matrix product of inference: `C = A B` (or `C += A B`), A `[m × k]`, B `[k × n]`, row-major,
/// where every element is `c₀ + a₀b₀ + a₁b₁ + …` added in k order with a rounding after each
/// multiply and each add, 8 columns at a time (SIMD across columns, never across k). Each row's
/// bits therefore depend on that row alone, never on how many rows share the call or how the
/// call is blocked, on every x86-64 and arm64 CPU (IEEE single precision, no FMA contraction).
///
/// Why not OpenBLAS: its sgemm rounds a row differently depending on how many rows share the
/// product (on this AMD EPYC, whose Haswell/Zen kernels take M = 1–3 and M ≥ 4 through
/// different code), so a batch of 256 series would not give the bits of 256 batch-1 reads.
/// Training keeps OpenBLAS; every inference product (`RecurrentNetwork.forward` with
/// `inference`) runs here, at any batch size, so a batched pass equals the batch-1 pass by
/// construction. Speed against sgemm at the inference shapes: docs/ARCHITECTURE.md and
/// `forecastd bench infer`.
///
/// Two kernels, one set of bits: where the CPU has AVX2, `crowstable_product_avx2` (the C target
/// CRowStable) runs the same per-lane multiply then add in 256-bit registers, 6 rows × 16 columns
/// of accumulators; elsewhere (older x86-64, arm64) `rowStableProductSIMD`, in Swift, whose
/// `SIMD8<Float>` the baseline x86-64 target compiles to pairs of 4-wide SSE operations. Lanes
/// are independent and each does the same IEEE operations in the same order, so which kernel
/// runs, like the blocking, changes no bit (`RowStableProductTests`).
@inline(__always)
func rowStableProduct(_ m: Int, _ n: Int, _ k: Int, _ a: UnsafePointer<Float>, _ lda: Int,
                      _ b: UnsafePointer<Float>, _ ldb: Int, accumulate: Bool,
                      _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
    if rowStableHasAVX2 {
        crowstable_product_avx2(m, n, k, a, lda, b, ldb, accumulate ? 1 : 0, c, ldc)
    } else {
        rowStableProductSIMD(m, n, k, a, lda, b, ldb, accumulate: accumulate, c, ldc)
    }
}

/// Asked once: the CPU does not change under a running process.
let rowStableHasAVX2 = crowstable_has_avx2() != 0

/// The AVX2 kernel alone, for tests that hold it to the Swift kernel; only where `rowStableHasAVX2`.
func rowStableProductAVX2(_ m: Int, _ n: Int, _ k: Int, _ a: UnsafePointer<Float>, _ lda: Int,
                          _ b: UnsafePointer<Float>, _ ldb: Int, accumulate: Bool,
                          _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
    precondition(rowStableHasAVX2, "the AVX2 kernel needs a CPU with AVX2")
    crowstable_product_avx2(m, n, k, a, lda, b, ldb, accumulate ? 1 : 0, c, ldc)
}

/// The portable kernel, and the reference the AVX2 kernel is tested against.
///
/// Blocking: 4 rows × 8 columns of accumulators (8 SSE registers) over all of k; B streams from
/// L2 once per 4 rows. Leftover rows run one at a time, leftover columns lane by lane: the same
/// operations in the same order, so blocking changes no bit.
func rowStableProductSIMD(_ m: Int, _ n: Int, _ k: Int, _ a: UnsafePointer<Float>, _ lda: Int,
                          _ b: UnsafePointer<Float>, _ ldb: Int, accumulate: Bool,
                          _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
    if m == 0 || n == 0 { return }
    let fullColumns = n & ~7
    var r = 0
    while r + 4 <= m {
        let a0 = a + r * lda, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda
        let c0 = c + r * ldc, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc
        var j = 0
        while j < fullColumns {
            var s0 = accumulate ? load8(c0 + j) : V8(), s1 = accumulate ? load8(c1 + j) : V8()
            var s2 = accumulate ? load8(c2 + j) : V8(), s3 = accumulate ? load8(c3 + j) : V8()
            var bp = b + j
            for p in 0..<k {
                let bv = load8(bp)
                s0 += V8(repeating: a0[p]) * bv
                s1 += V8(repeating: a1[p]) * bv
                s2 += V8(repeating: a2[p]) * bv
                s3 += V8(repeating: a3[p]) * bv
                bp += ldb
            }
            store8(s0, c0 + j); store8(s1, c1 + j); store8(s2, c2 + j); store8(s3, c3 + j)
            j += 8
        }
        if fullColumns < n {
            for row in 0..<4 { rowStableTail(n: n, from: fullColumns, k: k, a + (r + row) * lda, b, ldb, accumulate, c + (r + row) * ldc) }
        }
        r += 4
    }
    while r < m {
        let ar = a + r * lda, cr = c + r * ldc
        var j = 0
        while j < fullColumns {
            var s = accumulate ? load8(cr + j) : V8()
            var bp = b + j
            for p in 0..<k {
                s += V8(repeating: ar[p]) * load8(bp)
                bp += ldb
            }
            store8(s, cr + j)
            j += 8
        }
        if fullColumns < n { rowStableTail(n: n, from: fullColumns, k: k, ar, b, ldb, accumulate, cr) }
        r += 1
    }
}

/// Columns `from..<n` of one row, one lane at a time, in the same order as the vector lanes.
@inline(__always)
private func rowStableTail(n: Int, from: Int, k: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ ldb: Int,
                           _ accumulate: Bool, _ c: UnsafeMutablePointer<Float>) {
    for j in from..<n {
        var s: Float = accumulate ? c[j] : 0
        for p in 0..<k { s += a[p] * b[p * ldb + j] }
        c[j] = s
    }
}
