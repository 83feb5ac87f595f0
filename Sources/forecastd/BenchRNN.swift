import ArgumentParser
import NeuralNet

/// `forecastd bench rnn`: training throughput of one recurrent layer on random data, the same
/// work as ../shared/bench/torch_rnn_train_bench.py, so the two can be compared in one run.
struct BenchRNN: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rnn",
        abstract: "Measure RNN training throughput (stateful TBPTT chunks, MSE, Adam, clip 1.0)."
    )

    @Option(help: "Cell: lstm, gru or rnn.") var cell: String = "lstm"
    @Option(help: "Hidden units.") var hidden: Int = 64
    @Option(help: "Parallel segments per batch.") var batch: Int = 32
    @Option(help: "TBPTT chunk length k (k1 = k2).") var tbptt: Int = 64
    @Option(help: "Input features.") var inputs: Int = 5
    @Option(help: "Dense head outputs (horizon × quantiles).") var outputs: Int = 72
    @Option(help: "Threads: the batch is split into this many shards trained at once.") var threads: Int = 2
    @Option(name: .customLong("blas-threads"), help: "OpenBLAS threads inside each product.") var blasThreads: Int = 1
    @Option(help: "Timed chunks (after 3 warm-up chunks).") var chunks: Int = 40
    @Option(help: "Decoder: dense (the head emits the horizon at every step) or recurrent (encoder-decoder).") var decoder: String = "dense"
    @Option(help: "Feedback: none or output (the previous step's median is an input; dense decoder only).") var feedback: String = "none"
    @Option(help: "Horizon steps in --outputs (recurrent decoder, feedback): outputs / horizon quantiles per step.") var horizon: Int = 24
    @Option(name: .customLong("decoder-stride"), help: "Recurrent decoder: decode from every n-th step of a chunk, counted back from its last.") var decoderStride: Int = 16
    @Option(name: .customLong("future-features"), help: "Recurrent decoder: known features per future step.") var futureFeatures: Int = 4
    @Option(name: .customLong("own-share"), help: "Recurrent decoder, feedback: share of fed values that are the network's own forecasts.") var ownShare: Float = 0.5
    @Option(name: .customLong("peak-size"), help: "Also measure the sgemm peak at this square size (0: skip).") var peakSize: Int = 0
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        guard CellKind(rawValue: cell) != nil else { throw ValidationError("--cell must be lstm, gru or rnn") }
        guard DecoderKind(rawValue: decoder) != nil else { throw ValidationError("--decoder must be dense or recurrent") }
        guard FeedbackKind(rawValue: feedback) != nil else { throw ValidationError("--feedback must be none or output") }
        guard !(decoder == "recurrent" && feedback == "output") else { throw ValidationError("--feedback output needs --decoder dense") }
        guard horizon >= 1, outputs % horizon == 0 else { throw ValidationError("--horizon must divide --outputs") }
        guard decoderStride >= 1, futureFeatures >= 0, (0...1).contains(ownShare) else {
            throw ValidationError("--decoder-stride must be at least 1, --future-features at least 0, --own-share in [0, 1]")
        }
        for (name, v) in [("hidden", hidden), ("batch", batch), ("tbptt", tbptt), ("inputs", inputs),
                          ("outputs", outputs), ("threads", threads), ("blas-threads", blasThreads), ("chunks", chunks)] where v < 1 {
            throw ValidationError("--\(name) must be at least 1")
        }
    }

    func run() throws {
        let r = try Benchmark.trainRNN(cell: CellKind(rawValue: cell)!, hidden: hidden, batch: batch, tbptt: tbptt,
                                       inputs: inputs, outputs: outputs, threads: threads, blasThreads: blasThreads,
                                       chunks: chunks, decoder: DecoderKind(rawValue: decoder)!, feedback: FeedbackKind(rawValue: feedback)!,
                                       horizon: horizon, decoderStride: decoderStride, futureFeatures: futureFeatures, ownShare: ownShare)
        var fields: [(String, String)] = [
            ("cell", "\"\(r.cell.rawValue)\""), ("hidden", "\(r.hidden)"), ("batch", "\(r.batch)"),
            ("decoder", "\"\(r.decoder.rawValue)\""), ("feedback", "\"\(r.feedback.rawValue)\""),
            ("threads", "\(threads)"), ("shards", "\(r.threads)"), ("blas_threads", "\(r.blasThreads)"),
            ("tbptt", "\(r.tbptt)"), ("inputs", "\(r.inputs)"), ("outputs", "\(r.outputs)"), ("chunks", "\(r.chunks)"),
            ("seconds", fmt(r.seconds, 4)), ("steps_per_s", "\(Int(r.stepsPerSecond.rounded()))"),
            ("gflops", fmt(r.gflops, 2)),
            ("flops_per_step", "\(Int(Benchmark.flopsPerStep(cell: r.cell, inputs: inputs, hidden: hidden, outputs: outputs)))"),
        ]
        if r.decoder == .recurrent || r.feedback == .output {
            fields += [("horizon", "\(r.horizon)"), ("own_share", fmt(Double(ownShare), 2))]
        }
        if r.decoder == .recurrent {
            fields += [("decoder_stride", "\(r.decoderStride)"), ("future_features", "\(r.futureFeatures)")]
            fields.removeAll { $0.0 == "flops_per_step" }
            fields.append(("flops_per_step", "\(Int(Benchmark.flopsPerStep(cell: r.cell, inputs: inputs, hidden: hidden, outputs: outputs, horizon: horizon, stride: decoderStride, futureFeatures: futureFeatures)))"))
        }
        if peakSize > 0 {
            let peak = Benchmark.sgemmPeak(size: peakSize, threads: threads * blasThreads)
            fields += [("sgemm_peak_gflops", fmt(peak, 1)), ("fraction_of_peak", fmt(r.gflops / peak, 3))]
        }
        if json {
            print("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
        } else {
            for (k, v) in fields { print("\(k): \(v)") }
        }
    }
}

/// `forecastd bench sgemm`: the machine's single-precision matrix-product peak through OpenBLAS.
struct BenchSgemm: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sgemm",
        abstract: "Measure OpenBLAS sgemm GFLOP/s on large square matrices."
    )

    @Option(help: "Matrix size n (n × n times n × n).") var size: Int = 2048
    @Option(help: "OpenBLAS threads; repeat for several.") var threads: [Int] = [1, 2]
    @Flag(help: "Print JSON lines.") var json = false

    func run() {
        for t in threads {
            let g = Benchmark.sgemmPeak(size: size, threads: t)
            if json { print("{\"bench\": \"sgemm\", \"size\": \(size), \"threads\": \(t), \"gflops\": \(fmt(g, 1))}") }
            else { print("sgemm \(size)×\(size), \(t) thread(s): \(fmt(g, 1)) GFLOP/s") }
        }
    }
}

func fmt(_ v: Double, _ digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let r = (v * scale).rounded() / scale
    return "\(r)"
}

/// `forecastd bench infer`: the inference product (`rowStableProduct`, whose rows do not depend
/// on the batch) beside OpenBLAS's sgemm at the shapes of one inference step.
struct BenchInfer: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "infer", abstract: "Row-stable inference product vs sgemm, GFLOP/s.")
    @Option(help: "lstm, gru or rnn.") var cell: String = "lstm"
    @Option(help: "Network inputs (lags + calendar features + 2).") var inputs: Int = 35
    @Option(help: "Hidden sizes; repeat for several.") var hidden: [Int] = [32, 64]
    @Option(help: "Batch sizes; repeat for several.") var batch: [Int] = [1, 4, 16, 64, 256]
    @Option(help: "Head outputs (horizon × quantiles).") var outputs: Int = 72
    @Option(help: "Also time a whole batched pass over this many sequences (0: skip).") var sequences: Int = 0
    @Option(help: "Steps of each sequence in the pass.") var steps: Int = 2000
    @Option(help: "Threads of the pass.") var threads: Int = 2

    func run() throws {
        guard let kind = CellKind(rawValue: cell) else { throw ValidationError("--cell must be lstm, gru or rnn") }
        if sequences > 0 {
            for h in hidden {
                for b in batch {
                    let s = try Benchmark.inferencePass(cell: kind, inputs: inputs, hidden: h, outputs: outputs, sequences: sequences,
                                                        steps: steps, batch: b, threads: threads)
                    print("pass: \(cell) inputs \(inputs) hidden \(h) batch \(b), \(sequences) × \(steps) steps on \(threads) thread(s): \(fmt(s, 2)) s, \(fmt(Double(sequences * steps) / s, 0)) steps/s")
                }
            }
            return
        }
        print("| cell | inputs | hidden | batch | row-stable GFLOP/s | sgemm GFLOP/s | ratio |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for h in hidden {
            for b in batch {
                let r = Benchmark.inferenceProduct(cell: kind, inputs: inputs, hidden: h, outputs: outputs, batch: b,
                                                   calls: max(20, 20_000 / b))
                print("| \(cell) | \(inputs) | \(h) | \(b) | \(fmt(r.rowStable, 1)) | \(fmt(r.sgemm, 1)) | \(fmt(r.rowStable / r.sgemm, 2)) |")
            }
        }
    }
}
