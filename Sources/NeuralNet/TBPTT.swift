/// Truncated backpropagation through time, TBPTT(k1, k2), over batchified sequences.
///
/// The data are B parallel segments, time-major `[T × B × features]` (PyTorch's
/// word_language_model "batchify"). Every update advances the forward pass by k1 steps and
/// backpropagates through the last k2 ≥ k1 steps: the window `[end − k2, end)` is run forward
/// from the state stored at its start (detached), and only its last k1 steps are scored, so each
/// target counts once. With k1 = k2 this is the common stateful-chunk loop and nothing is
/// recomputed. Memory is `k2 × B × hidden` per layer, whatever T is.
///
/// Parallelism: the batch is cut into `threads` shards that run forward and backward on their
/// own workspaces at once (the segments are independent); their gradients are then summed in
/// shard order, so a fixed thread count gives bit-identical results.
import Dispatch

public enum TrainingError: Error, Equatable, CustomStringConvertible {
    case nonFiniteLoss(update: Int, loss: Double)
    case nonFiniteGradient(update: Int)
    case shapeMismatch(String)

    public var description: String {
        switch self {
        case .nonFiniteLoss(let u, let l): return "loss became \(l) at update \(u); training stopped"
        case .nonFiniteGradient(let u): return "gradient became non-finite at update \(u); training stopped"
        case .shapeMismatch(let s): return "training data shape mismatch: \(s)"
        }
    }
}

/// What an epoch of TBPTT updates reads: B parallel rows of `steps` steps. An update asks for
/// its window one shard of rows at a time, and the shard's thread lays it out in its own
/// workspace, where the pass reads it next (llm.c's explicit buffers). `SequenceBatch` copies the
/// window from a whole sequence held in memory; the forecaster writes it straight from its
/// series (`SegmentWindows`), so no epoch materialises `steps × batch` inputs and targets.
public protocol TrainingSequence: Sendable {
    var steps: Int { get }
    var batch: Int { get }
    var inputSize: Int { get }
    var outputSize: Int { get }
    /// Each step's future block (0: none).
    var futureWidth: Int { get }
    /// Whether `fill` writes a mask (else every target counts).
    var masked: Bool { get }
    /// Writes steps `window` of rows `rows` into `buffers`, time-major: every value of the
    /// `window.count × rows.count` slots of each buffer (the buffers hold an earlier window).
    func fill(_ buffers: WindowBuffers, steps window: Range<Int>, rows: Range<Int>)
}

/// A shard's window buffers: `inputs [steps × rows × inputSize]`, `targets` and `mask`
/// `[steps × rows × outputSize]`, `future [steps × rows × futureWidth]`.
public struct WindowBuffers {
    public let inputs: UnsafeMutablePointer<Float>
    public let targets: UnsafeMutablePointer<Float>
    public let mask: UnsafeMutablePointer<Float>
    public let future: UnsafeMutablePointer<Float>

    public init(inputs: UnsafeMutablePointer<Float>, targets: UnsafeMutablePointer<Float>, mask: UnsafeMutablePointer<Float>,
                future: UnsafeMutablePointer<Float>) {
        self.inputs = inputs; self.targets = targets; self.mask = mask; self.future = future
    }
}

/// B parallel segments of T steps, time-major: `inputs [T × B × inputSize]`,
/// `targets [T × B × outputSize]`, `mask` (optional) shaped like `targets`; for the recurrent
/// decoder and a dense head with future features, `future [T × B × futureWidth]`, each step's
/// future block.
public struct SequenceBatch: TrainingSequence {
    public let steps: Int, batch: Int, inputSize: Int, outputSize: Int
    public var inputs: [Float]
    public var targets: [Float]
    public var mask: [Float]?
    public var future: [Float]?

    public init(steps: Int, batch: Int, inputSize: Int, outputSize: Int,
                inputs: [Float], targets: [Float], mask: [Float]? = nil, future: [Float]? = nil) throws {
        guard steps >= 1, batch >= 1, inputs.count == steps * batch * inputSize,
              targets.count == steps * batch * outputSize, mask.map({ $0.count == targets.count }) ?? true,
              future.map({ $0.count % (steps * batch) == 0 }) ?? true else {
            throw TrainingError.shapeMismatch("expected inputs \(steps)×\(batch)×\(inputSize), targets and mask \(steps)×\(batch)×\(outputSize); got \(inputs.count), \(targets.count), \(mask?.count ?? 0)")
        }
        self.steps = steps; self.batch = batch; self.inputSize = inputSize; self.outputSize = outputSize
        self.inputs = inputs; self.targets = targets; self.mask = mask; self.future = future
    }

    public var futureWidth: Int { (future?.count ?? 0) / (steps * batch) }
    public var masked: Bool { mask != nil }

    public func fill(_ buffers: WindowBuffers, steps window: Range<Int>, rows: Range<Int>) {
        let b = rows.count, fw = futureWidth
        func copy(_ source: [Float], width: Int, into destination: UnsafeMutablePointer<Float>) {
            source.withUnsafeBufferPointer { all in
                for s in window {
                    (destination + (s - window.lowerBound) * b * width)
                        .update(from: all.baseAddress! + (s * batch + rows.lowerBound) * width, count: b * width)
                }
            }
        }
        copy(inputs, width: inputSize, into: buffers.inputs)
        copy(targets, width: outputSize, into: buffers.targets)
        if let mask { copy(mask, width: outputSize, into: buffers.mask) }
        if let future, fw > 0 { copy(future, width: fw, into: buffers.future) }
    }

    /// Cuts one long sequence (`[length × features]`, step-major) into `batch` consecutive
    /// segments of `length / batch` steps (the remainder is dropped) laid side by side.
    public static func batchify(length: Int, batch: Int, inputSize: Int, outputSize: Int,
                                inputs: [Float], targets: [Float], mask: [Float]? = nil) throws -> SequenceBatch {
        let t = length / max(batch, 1)
        guard t >= 1, inputs.count == length * inputSize, targets.count == length * outputSize,
              mask.map({ $0.count == targets.count }) ?? true else {
            throw TrainingError.shapeMismatch("cannot batchify \(length) steps into \(batch) segments")
        }
        func arrange(_ a: [Float], _ w: Int) -> [Float] {
            var out = [Float](repeating: 0, count: t * batch * w)
            for s in 0..<t { for b in 0..<batch { for k in 0..<w { out[(s * batch + b) * w + k] = a[(b * t + s) * w + k] } } }
            return out
        }
        return try SequenceBatch(steps: t, batch: batch, inputSize: inputSize, outputSize: outputSize,
                                 inputs: arrange(inputs, inputSize), targets: arrange(targets, outputSize),
                                 mask: mask.map { arrange($0, outputSize) })
    }
}

public struct TrainingStats: Sendable, Equatable {
    /// Mean loss over every counted target of the epoch (before the updates they caused).
    public var loss: Double
    /// Mean and largest global gradient norm before clipping.
    public var gradNorm: Float
    public var maxGradNorm: Float
    public var updates: Int
    /// The learning rate of the last update.
    public var learningRate: Float
}

/// Lets a shard closure capture the trainer's raw buffers; each shard writes only its own
/// workspace and its own rows of the carried state.
private struct SendableBox<T>: @unchecked Sendable { let value: T }

public final class TBPTTTrainer {
    public let network: RecurrentNetwork
    public let loss: Loss
    public let optimizer: any Optimizer
    public var schedule: LearningRateSchedule
    public let k1: Int, k2: Int, batch: Int, threads: Int
    /// Global-norm clipping threshold (nil: no clipping).
    public var clipNorm: Float?
    /// Seeds the dropout masks (combined with the update number).
    public let seed: UInt64
    public let baseLearningRate: Float
    public private(set) var updates = 0
    /// Polyak averaging: when set to β, every update also moves `averaged`, an exponential
    /// moving average of the parameters, `averaged ← β·averaged + (1 − β)·parameters` (the first
    /// update's parameters to begin with). It spans about 1/(1 − β) updates and is read instead
    /// of the last update's parameters where the noise of single steps matters more than the
    /// newest one (`RecurrentForecaster` on long series). nil: nothing is kept.
    public var averaging: Float? {
        didSet { averaged = nil }
    }
    /// The averaged parameters, nil before the first update with `averaging` set.
    public private(set) var averaged: [Float]?
    /// Recurrent decoder and feedback: the share of steps fed the network's own median forecast
    /// instead of the known true value (0: teacher forcing; raise it over the epochs so training
    /// ends seeing what forecasting sees). Drawn per (update, row, step) from `seed`.
    public var ownShare: Float = 0
    /// Recurrent decoder: decode from every `decoderStride`-th scored step, counted back from each
    /// window's last (`Decoder.swift`).
    public let decoderStride: Int

    private let shardRows: [Range<Int>]
    private let workspaces: [Workspace]
    private let carryH: [UnsafeMutablePointer<Float>]
    private let carryC: [UnsafeMutablePointer<Float>]
    /// Feedback: the carried fed-back forecast per row.
    private let carryF: UnsafeMutablePointer<Float>

    public init(network: RecurrentNetwork, loss: Loss = .mse, optimizer: any Optimizer, k1: Int, k2: Int? = nil,
                batch: Int, clipNorm: Float? = 1.0, schedule: LearningRateSchedule = .constant,
                threads: Int = 1, seed: UInt64 = 0, decoderStride: Int = 1) throws {
        let k2 = k2 ?? k1
        guard k1 >= 1, k2 >= k1 else { throw NetworkError.invalidConfiguration("TBPTT needs 1 ≤ k1 ≤ k2 (k1 \(k1), k2 \(k2))") }
        guard batch >= 1 else { throw NetworkError.invalidConfiguration("batch must be ≥ 1") }
        guard decoderStride >= 1 else { throw NetworkError.invalidConfiguration("decoderStride must be ≥ 1") }
        self.decoderStride = decoderStride
        try loss.validate(outputSize: network.config.outputSize)
        self.network = network; self.loss = loss; self.optimizer = optimizer
        self.k1 = k1; self.k2 = k2; self.batch = batch
        self.clipNorm = clipNorm; self.schedule = schedule; self.seed = seed
        baseLearningRate = optimizer.learningRate
        let shards = max(1, min(threads, batch))
        self.threads = shards
        var rows: [Range<Int>] = []
        var start = 0
        for s in 0..<shards {
            let n = batch / shards + (s < batch % shards ? 1 : 0)
            rows.append(start..<(start + n)); start += n
        }
        shardRows = rows
        let origins = (k1 + decoderStride - 1) / decoderStride
        workspaces = rows.map { Workspace(config: network.config, steps: k2, batch: $0.count, dropout: network.config.dropout > 0, origins: origins) }
        let n = batch * network.config.hiddenSize
        carryH = (0..<network.config.layers).map { _ in allocateFloats(n) }
        carryC = network.config.cell == .lstm ? (0..<network.config.layers).map { _ in allocateFloats(n) } : []
        carryF = allocateFloats(batch)
    }

    deinit {
        carryH.forEach { $0.deallocate() }
        carryC.forEach { $0.deallocate() }
        carryF.deallocate()
    }

    /// The state carried between chunks (and between epochs when `resetState` is false).
    public var state: RecurrentState {
        get {
            let n = batch * network.config.hiddenSize
            return RecurrentState(batch: batch,
                                  hidden: carryH.map { Array(UnsafeBufferPointer(start: $0, count: n)) },
                                  cell: carryC.map { Array(UnsafeBufferPointer(start: $0, count: n)) },
                                  feedback: network.config.feedback == .output ? Array(UnsafeBufferPointer(start: carryF, count: batch)) : [])
        }
        set {
            precondition(newValue.batch == batch && newValue.matches(network.config), "state does not fit the trainer")
            for (l, p) in carryH.enumerated() { newValue.hidden[l].withUnsafeBufferPointer { p.update(from: $0.baseAddress!, count: $0.count) } }
            for (l, p) in carryC.enumerated() { newValue.cell[l].withUnsafeBufferPointer { p.update(from: $0.baseAddress!, count: $0.count) } }
            newValue.feedback.withUnsafeBufferPointer { if let f = $0.baseAddress { carryF.update(from: f, count: $0.count) } }
        }
    }

    public func resetState() {
        let n = batch * network.config.hiddenSize
        carryH.forEach { $0.update(repeating: 0, count: n) }
        carryC.forEach { $0.update(repeating: 0, count: n) }
        carryF.update(repeating: 0, count: batch)
    }

    /// One pass over `data` in TBPTT updates. Throws (before touching the weights) when the loss
    /// or the gradient stops being finite.
    @discardableResult
    public func trainEpoch(_ data: some TrainingSequence, resetState reset: Bool = true) throws -> TrainingStats {
        let c = network.config
        guard data.batch == batch, data.inputSize == c.inputSize, data.outputSize == c.outputSize else {
            throw TrainingError.shapeMismatch("data is \(data.batch) segments × \(data.inputSize) in × \(data.outputSize) out; trainer wants \(batch) × \(c.inputSize) × \(c.outputSize)")
        }
        guard data.futureWidth == c.futureWidth else {
            throw TrainingError.shapeMismatch("future blocks are \(data.futureWidth) wide; the network wants \(c.futureWidth)")
        }
        if reset { resetState() }
        var lossSum = 0.0, lossCount = 0.0
        var normSum: Float = 0, normMax: Float = 0, n = 0
        var carryPos = 0, end = 0
        while end < data.steps {
            let newEnd = min(end + k1, data.steps)
            let nextEnd = min(newEnd + k1, data.steps)
            // The next window starts k2 steps before its end; after the last update the state at
            // the end of the data is kept, so a following call continues from there.
            let nextCarry = newEnd == data.steps ? newEnd : max(carryPos, min(newEnd, nextEnd - k2))
            let (s, c) = try update(data, windowStart: carryPos, lossStart: end, end: newEnd, carryTo: nextCarry)
            lossSum += s.sum; lossCount += s.count
            normSum += c; normMax = max(normMax, c); n += 1
            carryPos = nextCarry
            end = newEnd
        }
        return TrainingStats(loss: lossCount > 0 ? lossSum / lossCount : 0, gradNorm: n > 0 ? normSum / Float(n) : 0,
                             maxGradNorm: normMax, updates: n, learningRate: optimizer.learningRate)
    }

    /// Runs `work` once per shard, on the shards' threads when there are several.
    private func eachShard(_ work: @Sendable (Int) -> Void) {
        if workspaces.count == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: workspaces.count, execute: work) }
    }

    /// Lays out the window `[windowStart, end)`, forward over it, loss on `[lossStart, end)`,
    /// backward, clip, step. Returns the loss sum/count and the pre-clip gradient norm.
    private func update(_ data: some TrainingSequence, windowStart: Int, lossStart: Int, end: Int,
                        carryTo: Int) throws -> ((sum: Double, count: Double), Float) {
        let cfg = network.config
        let tw = end - windowStart, skip = lossStart - windowStart
        let hs = cfg.hiddenSize, stride = decoderStride
        let net = network, wss = workspaces, rowsList = shardRows
        let shards = SendableBox(value: (wss, net))
        // The window first, on the shards' threads: the loss scale needs every row's count of
        // scored targets before any shard runs its pass.
        eachShard { shard in
            let ws = shards.value.0[shard]
            data.fill(WindowBuffers(inputs: ws.x, targets: ws.target, mask: ws.mask, future: ws.future),
                      steps: windowStart..<end, rows: rowsList[shard])
            ws.masked = data.masked
        }
        let count = zip(wss, rowsList).reduce(0.0) { total, shard in
            total + net.scoredTargets(mask: shard.0.masked ? shard.0.mask : nil, steps: tw, batch: shard.1.count,
                                      skip: skip, decoderStride: stride)
        }
        let scale: Float = count > 0 ? Float(1 / count) : 0
        let dropoutSeed = mix64(seed ^ (UInt64(updates) &* 0x9E37_79B9_7F4A_7C15))
        let feed = FeedSchedule(ownShare: ownShare, seed: mix64(seed ^ 0x5EED_FEED ^ (UInt64(updates) &* 0xC2B2_AE3D_27D4_EB4F)))
        var shardLoss = [Double](repeating: 0, count: workspaces.count)
        let lossFn = loss, cell = cfg.cell, k = carryTo - windowStart
        let feedback = cfg.feedback == .output
        shardLoss.withUnsafeMutableBufferPointer { lb in
            let box = SendableBox(value: (lb.baseAddress!, carryH, carryC, carryF))
            eachShard { shard in
                let (lossOut, ch, cc, cf) = box.value, (wss, net) = shards.value
                let ws = wss[shard], rows = rowsList[shard], b = rows.count, r0 = rows.lowerBound
                for (l, buf) in ws.layers.enumerated() {
                    buf.h.update(from: ch[l] + r0 * hs, count: b * hs)
                    if cell == .lstm { buf.c.update(from: cc[l] + r0 * hs, count: b * hs) }
                }
                if feedback { ws.feedback.update(from: cf + r0, count: b) }
                lossOut[shard] = net.windowPass(ws, steps: tw, skip: skip, loss: lossFn, scale: scale, dropoutSeed: dropoutSeed,
                                                rowOffset: r0, feed: feed, decoderStride: stride)
                for (l, buf) in ws.layers.enumerated() {
                    (ch[l] + r0 * hs).update(from: buf.h + k * b * hs, count: b * hs)
                    if cell == .lstm { (cc[l] + r0 * hs).update(from: buf.c + k * b * hs, count: b * hs) }
                }
                if feedback { for r in 0..<b { cf[r0 + r] = net.feedbackAfter(ws, step: k, row: r) } }
            }
        }
        let sum = shardLoss.reduce(0, +)
        guard sum.isFinite else { throw TrainingError.nonFiniteLoss(update: updates, loss: sum / max(count, 1)) }

        // Sum the shards' gradients in a fixed order, then clip by the global norm.
        let g = network.grads, p = network.parameterCount
        g.update(from: workspaces[0].grad, count: p)
        for ws in workspaces.dropFirst() { addInPlace(g, ws.grad, count: p) }
        let norm = Float(sumOfSquares(g, count: p).squareRoot())
        guard norm.isFinite else { throw TrainingError.nonFiniteGradient(update: updates) }
        if let clip = clipNorm, norm > clip {
            scaleInPlace(g, by: clip / (norm + 1e-6), count: p)
        }
        optimizer.learningRate = baseLearningRate * schedule.factor(at: updates)
        optimizer.update(parameters: network.params, gradients: g, count: p)
        if let beta = averaging { average(network.params, count: p, beta: beta) }
        updates += 1
        return ((sum, count), norm)
    }
}

extension TBPTTTrainer {
    /// One step of the average (see `averaging`).
    private func average(_ parameters: UnsafeMutablePointer<Float>, count p: Int, beta: Float) {
        guard averaged != nil else {
            averaged = Array(UnsafeBufferPointer(start: parameters, count: p))
            return
        }
        averaged!.withUnsafeMutableBufferPointer { a in
            for i in 0..<p { a[i] = beta * a[i] + (1 - beta) * parameters[i] }
        }
    }
}

// Serial passes over the whole gradient (after the shards join), vectorised.

@inline(__always)
private func scaleInPlace(_ a: UnsafeMutablePointer<Float>, by f: Float, count n: Int) {
    var i = 0
    while i + 8 <= n { store8(load8(a + i) * f, a + i); i += 8 }
    while i < n { a[i] *= f; i += 1 }
}

/// Σ a², with Float lanes flushed to a Double every 1024 values (no overflow, little rounding).
@inline(__always)
private func sumOfSquares(_ a: UnsafePointer<Float>, count n: Int) -> Double {
    var total = 0.0, i = 0
    while i < n {
        let end = min(n, i + 1024)
        var acc = V8()
        while i + 8 <= end { let v = load8(a + i); acc += v * v; i += 8 }
        var rest: Float = 0
        while i < end { rest += a[i] * a[i]; i += 1 }
        total += Double(acc.sum()) + Double(rest)
    }
    if !total.isFinite {
        // Squares beyond Float range (|g| > 1.8e19): recount in Double before calling it non-finite.
        total = 0
        for j in 0..<n { total += Double(a[j]) * Double(a[j]) }
    }
    return total
}
