/// NeuralNet owns the recurrent networks: Elman RNN, LSTM and GRU cells with their forward
/// and backward passes side by side over explicit Float32 buffers, the dense head, the
/// recurrent decoder (encoder–decoder, `Decoder.swift`) and output feedback (Jordan,
/// `Feedback.swift`), losses, optimisers, truncated BPTT training and the binary model format.
///
/// Layout conventions used throughout the module (all row-major, Float32):
/// - sequences are time-major: `[T × B × features]`, row `t * B + b`;
/// - a layer's weights are `W_ih [in × G·H]`, `W_hh [H × G·H]`, bias `[G·H]` (GRU: two biases,
///   because its candidate gate multiplies the recurrent bias by the reset gate), with the gate
///   blocks in PyTorch's order (LSTM i, f, g, o; GRU r, z, n);
/// - all parameters of a network live in one flat buffer, so optimisers, clipping and the model
///   format treat them as one vector.
import CBLAS
import Foundation

public enum BLAS {
    /// OpenBLAS's description of its build (version, kernel, threading).
    public static var configuration: String { String(cString: openblas_get_config()) }

    /// Threads OpenBLAS may use inside one product. `ComputeThreads.configure` sets 1: the
    /// trainer and the batched reads split their work across threads themselves, because
    /// splitting the small per-step products costs more than it saves and OpenBLAS's idle
    /// threads spin in `sched_yield` (see benchmarks/RESULTS.md). Only `forecastd bench` sets more.
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(max(1, n))) }
    public static var threads: Int { Int(openblas_get_num_threads()) }
}

/// The process's threading policy, the one place that decides how many threads compute:
/// OpenBLAS runs single-threaded inside every product, and a unit of work (a global model's
/// training, backtest, batched reads; a predict batch) splits itself across its share of the
/// cores: `cores / concurrentUnits`, at least 1, where `concurrentUnits` is how many units the
/// process computes at once (the daemon's `concurrency`; 1 for a one-off command). So `N`
/// workers never keep more than `max(cores, N)` threads busy. docs/ARCHITECTURE.md, "Threads".
public enum ComputeThreads {
    nonisolated(unsafe) private static var units = 1
    nonisolated(unsafe) private static var available = onlineCores()

    /// Pins OpenBLAS to one thread and records how many units run at once. Called once at
    /// start-up (the command line, the daemon with its `concurrency`), before any work.
    public static func configure(concurrentUnits: Int, cores: Int? = nil) {
        units = max(1, concurrentUnits)
        if let cores { available = max(1, cores) }
        BLAS.setThreads(1)
    }

    /// The cores this process may run on (its CPU affinity mask).
    public static var cores: Int { available }
    public static var concurrentUnits: Int { units }
    /// Threads one unit may keep busy.
    public static var perUnit: Int { max(1, available / units) }

    /// `body(0..<count)` on up to `threads` threads (indices dealt round-robin), results in index
    /// order: the policy's parallel loop for work split by series (scoring, forecasts).
    public static func map<T>(_ count: Int, threads: Int, _ body: (Int) -> T) -> [T] {
        let workers = max(1, min(threads, count))
        if workers == 1 { return (0..<count).map(body) }
        var out = [T?](repeating: nil, count: count)
        withoutActuallyEscaping(body) { body in
            out.withUnsafeMutableBufferPointer { buffer in
                let box = MapBox(body: body, out: buffer)
                DispatchQueue.concurrentPerform(iterations: workers) { w in
                    var i = w
                    while i < count { box.out[i] = box.body(i); i += workers }
                }
            }
        }
        return out.map { $0! }
    }

    /// Foundation counts the CPUs of the process's affinity mask (`sched_getaffinity` on Linux).
    private static func onlineCores() -> Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }
}

/// `C = alpha * op(A) * op(B) + beta * C`, row-major. Empty products still honour `beta`.
@inline(__always)
func gemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
          _ alpha: Float, _ a: UnsafePointer<Float>, _ lda: Int,
          _ b: UnsafePointer<Float>, _ ldb: Int,
          _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        if beta == 0 { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
        return
    }
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// OpenBLAS (0.3.x on x86-64) runs products with M·N·K up to about 10⁶ through its unpacked
/// "small matrix" kernels, which measured 1.2–1.3× faster than its packed path at the per-step
/// shapes of hidden 128 (e.g. 32×134 · 134×512). Per-step products above that are cut into
/// column blocks that fit; the blocks are fixed by the shapes, so results stay deterministic.
let smallProductLimit = 1_000_000

@inline(__always)
func stepGemm(transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ a: UnsafePointer<Float>, _ lda: Int,
              _ b: UnsafePointer<Float>, _ ldb: Int, _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
    if m * n * k <= smallProductLimit {
        gemm(false, transB, m, n, k, 1, a, lda, b, ldb, beta, c, ldc)
        return
    }
    let width = max(16, (smallProductLimit / max(m * k, 1)) & ~15)
    var j = 0
    while j < n {
        let w = min(width, n - j)
        gemm(false, transB, m, w, k, 1, a, lda, transB ? b + j * ldb : b + j, ldb, beta, c + j, ldc)
        j += w
    }
}

/// Adds the column sums of `a [rows × cols]` to `out [cols]` (bias gradients). Row by row, so
/// the large matrix streams through once while `out` stays in L1.
@inline(__always)
func addColumnSums(_ a: UnsafePointer<Float>, rows: Int, cols: Int, into out: UnsafeMutablePointer<Float>) {
    let full = cols & ~7
    for r in 0..<rows {
        let row = a + r * cols
        var j = 0
        while j < full {
            store8(load8(out + j) + load8(row + j), out + j)
            j += 8
        }
        while j < cols { out[j] += row[j]; j += 1 }
    }
}

/// A zero-filled Float buffer owned by whoever allocates it (workspaces free theirs in deinit).
@inline(__always)
func allocateFloats(_ n: Int) -> UnsafeMutablePointer<Float> {
    let p = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
    p.initialize(repeating: 0, count: max(n, 1))
    return p
}

/// What `ComputeThreads.map`'s workers share: each writes only its own indices.
private struct MapBox<T>: @unchecked Sendable {
    let body: (Int) -> T
    let out: UnsafeMutableBufferPointer<T?>
}
