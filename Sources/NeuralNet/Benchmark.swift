/// Throughput measurements behind `forecastd bench rnn` and `forecastd bench sgemm`: the same
/// work as ../shared/bench/torch_rnn_train_bench.py (random data, stateful TBPTT chunks, MSE on
/// a dense head, Adam, global-norm clipping at 1.0), timed after a warm-up; with the recurrent
/// decoder, the work of benchmarks/torch_seq2seq_train_bench.py (the encoder's state at every
/// `decoderStride`-th step of each chunk, counted back from its last, decoded over the horizon
/// with scheduled sampling); with feedback, the dense head fed its previous median.
import Dispatch

public enum Benchmark {
    public struct RNNResult: Sendable {
        public var cell: CellKind
        public var hidden: Int, batch: Int, threads: Int, blasThreads: Int, tbptt: Int, chunks: Int
        public var inputs: Int, outputs: Int
        public var decoder: DecoderKind = .dense, feedback: FeedbackKind = .none
        public var horizon = 1, decoderStride = 1, futureFeatures = 0
        public var seconds: Double
        /// Sequence steps × batch trained per second.
        public var stepsPerSecond: Double
        /// Matrix-product work per second (the FLOPs of every product in forward and backward).
        public var gflops: Double
    }

    /// Matrix-product FLOPs of one training step of one sequence (forward + backward).
    public static func flopsPerStep(cell: CellKind, inputs: Int, hidden: Int, outputs: Int, layers: Int = 1) -> Double {
        let g = Double(cell.gates * hidden), h = Double(hidden)
        var f = 0.0
        for l in 0..<layers {
            let ins = Double(l == 0 ? inputs : hidden)
            f += 2 * (ins + h) * g          // forward: input and recurrent products
            f += 2 * h * g * 2              // backward: dh_prev and dW_hh
            f += 2 * ins * g * (l == 0 ? 1 : 2)   // dW_ih (and dX above the first layer)
        }
        f += 2 * h * Double(outputs) * 3    // head forward, dW, dH
        return f
    }

    /// Matrix-product FLOPs of one training step of one sequence of the recurrent decoder's
    /// design: the encoder's layers, and `horizon / stride` decodings of `horizon` steps
    /// (their layers and the head of `outputs / horizon` quantiles).
    public static func flopsPerStep(cell: CellKind, inputs: Int, hidden: Int, outputs: Int, horizon: Int, stride: Int,
                                    futureFeatures: Int, layers: Int = 1) -> Double {
        let encoder = flopsPerStep(cell: cell, inputs: inputs, hidden: hidden, outputs: 0, layers: layers)
        let decoderStep = flopsPerStep(cell: cell, inputs: 1 + futureFeatures, hidden: hidden, outputs: outputs / horizon, layers: layers)
        return encoder + Double(horizon) * decoderStep / Double(stride)
    }

    /// `decoder`/`feedback`: the designs of issue 13 (`horizon` steps of `outputs / horizon`
    /// quantiles; the decoder reads `futureFeatures` known features per step and decodes from
    /// every `decoderStride`-th step; `ownShare` of the fed values are the network's own).
    public static func trainRNN(cell: CellKind, hidden: Int, batch: Int, tbptt k: Int, inputs: Int, outputs: Int,
                                threads: Int, blasThreads: Int = 1, chunks: Int = 40, warmupChunks: Int = 3,
                                seed: UInt64 = 0, decoder: DecoderKind = .dense, feedback: FeedbackKind = .none,
                                horizon: Int = 1, decoderStride: Int = 1, futureFeatures: Int = 0,
                                ownShare: Float = 0.5) throws -> RNNResult {
        BLAS.setThreads(blasThreads)
        let designed = decoder == .recurrent || feedback == .output
        let config = NetworkConfig(cell: cell, inputSize: inputs, hiddenSize: hidden, outputSize: outputs,
                                   decoder: decoder, feedback: feedback, horizon: designed ? horizon : 1,
                                   futureFeatures: decoder == .recurrent ? futureFeatures : 0)
        let net = try RecurrentNetwork(config: config, seed: seed)
        let trainer = try TBPTTTrainer(network: net, loss: .mse, optimizer: Adam(learningRate: 1e-3), k1: k,
                                       batch: batch, clipNorm: 1.0, threads: threads, seed: seed, decoderStride: decoderStride)
        trainer.ownShare = designed ? ownShare : 0
        var rng = SeededGenerator(seed: seed &+ 1)
        // Unit-variance uniform noise: the distribution does not change the work, and it is much
        // cheaper to draw than Gaussian samples for the large target arrays.
        func noise(_ n: Int) -> [Float] { (0..<n).map { _ in (2 * rng.nextFloat() - 1) * 1.732_050_8 } }
        let futureWidth = decoder == .recurrent ? horizon * config.decoderInputSize : 0
        func data(_ steps: Int) throws -> SequenceBatch {
            try SequenceBatch(steps: steps, batch: batch, inputSize: inputs, outputSize: outputs,
                              inputs: noise(steps * batch * inputs), targets: noise(steps * batch * outputs),
                              future: futureWidth > 0 ? noise(steps * batch * futureWidth) : nil)
        }
        let timed = try data(k * chunks)
        try trainer.trainEpoch(data(k * warmupChunks))
        let t0 = DispatchTime.now().uptimeNanoseconds
        try trainer.trainEpoch(timed)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        let steps = Double(batch * k * chunks)
        let rate = steps / seconds
        let flops = decoder == .recurrent
            ? flopsPerStep(cell: cell, inputs: inputs, hidden: hidden, outputs: outputs, horizon: horizon, stride: decoderStride,
                           futureFeatures: futureFeatures)
            : flopsPerStep(cell: cell, inputs: inputs, hidden: hidden, outputs: outputs)
        return RNNResult(cell: cell, hidden: hidden, batch: batch, threads: trainer.threads, blasThreads: blasThreads,
                         tbptt: k, chunks: chunks, inputs: inputs, outputs: outputs,
                         decoder: decoder, feedback: feedback, horizon: designed ? horizon : 1, decoderStride: decoderStride,
                         futureFeatures: decoder == .recurrent ? futureFeatures : 0, seconds: seconds,
                         stepsPerSecond: rate, gflops: rate * flops / 1e9)
    }

    /// GFLOP/s of `cblas_sgemm` on `size × size` matrices: the best of `repeats` runs, with
    /// OpenBLAS using `threads` threads.
    public static func sgemmPeak(size n: Int = 2048, threads: Int, repeats: Int = 5) -> Double {
        BLAS.setThreads(threads)
        let a = allocateFloats(n * n), b = allocateFloats(n * n), c = allocateFloats(n * n)
        defer { a.deallocate(); b.deallocate(); c.deallocate() }
        var rng = SeededGenerator(seed: 1)
        for i in 0..<(n * n) { a[i] = rng.nextFloat(); b[i] = rng.nextFloat() }
        gemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n)
        var best = Double.infinity
        for _ in 0..<repeats {
            let t0 = DispatchTime.now().uptimeNanoseconds
            gemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        return 2 * Double(n) * Double(n) * Double(n) / best / 1e9
    }

    /// GFLOP/s of one inference step's products at `batch` rows (the LSTM/Elman gate product
    /// `[B × (in+H+1)] · [(in+H+1) × G·H]` and the head `[B × H] · [H × outputs]`), through
    /// `rowStableProduct` and through OpenBLAS's sgemm (one BLAS thread), best of `repeats`
    /// timings of `calls` calls each.
    public static func inferenceProduct(cell: CellKind, inputs: Int, hidden: Int, outputs: Int, batch: Int,
                                        calls: Int = 200, repeats: Int = 5) -> (rowStable: Double, sgemm: Double) {
        BLAS.setThreads(1)
        let k = inputs + hidden + 1, n = cell.gates * hidden
        let shapes = [(k, n), (hidden, outputs)]
        var rng = SeededGenerator(seed: 3)
        let buffers = shapes.map { (k, n) -> (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) in
            let a = allocateFloats(batch * k), b = allocateFloats(k * n), c = allocateFloats(batch * n)
            for i in 0..<(batch * k) { a[i] = 2 * rng.nextFloat() - 1 }
            for i in 0..<(k * n) { b[i] = 2 * rng.nextFloat() - 1 }
            return (a, b, c)
        }
        defer { for (a, b, c) in buffers { a.deallocate(); b.deallocate(); c.deallocate() } }
        let flops = Double(calls) * shapes.reduce(0.0) { $0 + 2 * Double(batch * $1.0 * $1.1) }
        func time(_ body: () -> Void) -> Double {
            body()
            var best = Double.infinity
            for _ in 0..<repeats {
                let t0 = DispatchTime.now().uptimeNanoseconds
                body()
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            }
            return flops / best / 1e9
        }
        let stable = time {
            for _ in 0..<calls {
                for (s, (a, b, c)) in zip(shapes, buffers) { rowStableProduct(batch, s.1, s.0, a, s.0, b, s.1, accumulate: false, c, s.1) }
            }
        }
        let blas = time {
            for _ in 0..<calls {
                for (s, (a, b, c)) in zip(shapes, buffers) { stepGemm(transB: false, batch, s.1, s.0, a, s.0, b, s.1, 0, c, s.1) }
            }
        }
        return (stable, blas)
    }

    /// Seconds of one batched inference pass (`RecurrentNetwork.read`) over `sequences` random
    /// sequences of `steps` steps, keeping the last step's outputs and state of each.
    public static func inferencePass(cell: CellKind, inputs: Int, hidden: Int, outputs: Int, sequences: Int, steps: Int,
                                     batch: Int, threads: Int) throws -> Double {
        BLAS.setThreads(1)
        let net = try RecurrentNetwork(config: NetworkConfig(cell: cell, inputSize: inputs, hiddenSize: hidden, outputSize: outputs), seed: 1)
        var rng = SeededGenerator(seed: 2)
        let pool = (0..<(steps * inputs)).map { _ in 2 * rng.nextFloat() - 1 }
        let requests = (0..<sequences).map { _ in ReadRequest(steps: steps, keepFrom: steps - 1, stateAfter: steps) }
        let t0 = DispatchTime.now().uptimeNanoseconds
        var kept = 0
        net.read(requests, batch: batch, threads: threads,
                 inputs: { _, range in Array(pool[(range.lowerBound * inputs)..<(range.upperBound * inputs)]) }) { _, r in kept += r.outputs.count }
        precondition(kept == sequences * outputs)
        return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    }
}
