/// Inference over many sequences at once: the network reads `batch` sequences side by side,
/// time-major like training (`[chunk × batch × features]`), each from its own carried state,
/// on `threads` threads (each with its own workspace, one batch each). Every product runs
/// through `rowStableProduct` and the gate math is per row, so each sequence's outputs and
/// state are bit for bit those of `forward(inputs:steps:state:)` at batch 1 (tested).
///
/// Memory is `chunk × batch` rows of activations per thread plus the outputs each request
/// keeps; inputs are asked for one chunk of one sequence at a time. Results are handed back
/// on the calling thread, in request order, a round of `threads × batch` sequences at a time,
/// so a caller that sums over sequences sums in the same order as a loop over them would.
///
/// The recurrent decoder decodes, with `future`, from every kept step (`keepFrom..<steps`):
/// the kept outputs are its forecasts, as the dense head's. Feedback carries its fed-back
/// forecast in the states handed in and back.
import Dispatch

/// One sequence of a batched read.
public struct ReadRequest: Sendable {
    /// Steps to read.
    public var steps: Int
    /// Outputs of steps `keepFrom..<steps` are handed back (`steps`: none).
    public var keepFrom: Int
    /// The state after this many steps is handed back (nil: none).
    public var stateAfter: Int?
    /// The state to start from (batch 1); nil: the zero state.
    public var initial: RecurrentState?

    public init(steps: Int, keepFrom: Int, stateAfter: Int? = nil, initial: RecurrentState? = nil) {
        self.steps = steps
        self.keepFrom = min(max(0, keepFrom), steps)
        self.stateAfter = stateAfter
        self.initial = initial
    }
}

/// What a batched read hands back for one request.
public struct ReadResult: Sendable {
    /// Outputs of steps `keepFrom..<steps`, `[(steps − keepFrom) × outputSize]`.
    public var outputs: [Float]
    /// The state after `stateAfter` steps (batch 1).
    public var state: RecurrentState?
}

private struct UncheckedBox<T>: @unchecked Sendable { var value: T }

extension RecurrentNetwork {
    /// Reads every request (see the file header). `inputs(request, steps)` returns that
    /// sequence's inputs for `steps`, `[steps.count × inputSize]`; it is called from several
    /// threads at once and must only read shared data. `result(request, result)` runs on the
    /// calling thread in request order. `future(request, steps)` (the recurrent decoder, and the
    /// dense head with future features) returns the future blocks of the kept `steps` (of every
    /// step with output feedback), `[steps.count × futureWidth]`; without it such a network
    /// hands back no outputs.
    public func read(_ requests: [ReadRequest], batch: Int = 64, threads: Int = 1, chunk: Int = 64,
                     inputs: @escaping @Sendable (Int, Range<Int>) -> [Float],
                     future: (@Sendable (Int, Range<Int>) -> [Float])? = nil,
                     result: (Int, ReadResult) throws -> Void) rethrows {
        guard !requests.isEmpty else { return }
        let cfg = config
        for r in requests where r.initial != nil {
            precondition(r.initial!.batch == 1 && r.initial!.matches(cfg), "a read's initial state must fit the network at batch 1")
        }
        let b = max(1, min(batch, requests.count))
        let groups = (requests.count + b - 1) / b
        let workers = max(1, min(threads, groups))
        let workspaces = (0..<workers).map { _ in Workspace(config: cfg, steps: chunk, batch: b, dropout: false, inference: true) }
        var round = 0
        while round * workers < groups {
            let first = round * workers, count = min(workers, groups - first)
            var outcome = [[ReadResult]](repeating: [], count: count)
            let box = UncheckedBox(value: (self, workspaces, requests))
            outcome.withUnsafeMutableBufferPointer { out in
                let outBox = UncheckedBox(value: out)
                let work: @Sendable (Int) -> Void = { w in
                    let (net, wss, reqs) = box.value
                    let g = first + w
                    let rows = (g * b)..<min(reqs.count, (g + 1) * b)
                    outBox.value[w] = net.readGroup(reqs, rows: rows, workspace: wss[w], chunk: chunk, inputs: inputs, future: future)
                }
                if count == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: count, execute: work) }
            }
            for w in 0..<count {
                for (i, r) in outcome[w].enumerated() { try result((first + w) * b + i, r) }
            }
            round += 1
        }
    }

    /// One group of at most `ws.batch` requests read side by side; rows past a sequence's end
    /// (or beyond the group) read zeros and are ignored.
    private func readGroup(_ requests: [ReadRequest], rows: Range<Int>, workspace ws: Workspace, chunk: Int,
                           inputs: (Int, Range<Int>) -> [Float], future: ((Int, Range<Int>) -> [Float])?) -> [ReadResult] {
        let cfg = config, b = ws.batch, hs = cfg.hiddenSize, ins = cfg.inputSize, outs = cfg.outputSize
        let n = b * hs, lstm = cfg.cell == .lstm
        let width = cfg.futureWidth
        let decoding = (cfg.decoder == .dense && width == 0) || future != nil
        precondition(future != nil || width == 0 || cfg.feedback == .none, "the fed-back forecasts of a head with future features need its future blocks")
        var results = rows.map { i -> ReadResult in
            let r = requests[i]
            return ReadResult(outputs: [Float](repeating: 0, count: decoding ? (r.steps - r.keepFrom) * outs : 0),
                              state: r.stateAfter == 0 ? (r.initial ?? RecurrentState(config: cfg, batch: 1)) : nil)
        }
        for buf in ws.layers {
            buf.h.update(repeating: 0, count: n)
            if lstm { buf.c.update(repeating: 0, count: n) }
        }
        ws.feedback.update(repeating: 0, count: b)
        for (row, i) in rows.enumerated() {
            guard let initial = requests[i].initial else { continue }
            for (l, buf) in ws.layers.enumerated() {
                initial.hidden[l].withUnsafeBufferPointer { (buf.h + row * hs).update(from: $0.baseAddress!, count: hs) }
                if lstm { initial.cell[l].withUnsafeBufferPointer { (buf.c + row * hs).update(from: $0.baseAddress!, count: hs) } }
            }
            if cfg.feedback == .output { ws.feedback[row] = initial.feedback[0] }
        }
        let longest = rows.map { requests[$0].steps }.max() ?? 0
        var start = 0
        while start < longest {
            let t = min(chunk, longest - start)
            ws.x.update(repeating: 0, count: t * b * ins)
            for (row, i) in rows.enumerated() {
                let r = requests[i], end = min(r.steps, start + t)
                guard end > start else { continue }
                let x = inputs(i, start..<end)
                precondition(x.count == (end - start) * ins, "inputs of the wrong size")
                x.withUnsafeBufferPointer { xp in
                    for s in 0..<(end - start) { (ws.x + (s * b + row) * ins).update(from: xp.baseAddress! + s * ins, count: ins) }
                }
            }
            // The future blocks of the chunk's steps that some sequence keeps (the others' rows
            // of those steps read zeros and are ignored); the dense head reads them in `forward`.
            // With feedback a head's every output is fed on, so then every step's block is read.
            var kept = [Bool](repeating: false, count: t)
            if width > 0 {
                ws.future.update(repeating: 0, count: t * b * width)
                for (row, i) in rows.enumerated() {
                    let r = requests[i], keepEnd = min(r.steps, start + t)
                    let keepStart = cfg.feedback == .output ? start : max(start, r.keepFrom)
                    guard keepStart < keepEnd, let future else { continue }
                    let f = future(i, keepStart..<keepEnd)
                    precondition(f.count == (keepEnd - keepStart) * width, "future blocks of the wrong size")
                    f.withUnsafeBufferPointer { fp in
                        for step in keepStart..<keepEnd {
                            kept[step - start] = true
                            (ws.future + ((step - start) * b + row) * width).update(from: fp.baseAddress! + (step - keepStart) * width, count: width)
                        }
                    }
                }
            }
            forward(ws, steps: t, dropoutSeed: 0, rowOffset: 0, inference: true)
            if cfg.decoder == .recurrent, future != nil {
                // Decode from the kept steps only.
                ws.origins = kept.indices.filter { kept[$0] }
                if !ws.origins.isEmpty { decoderInference(ws) }
            }
            for (row, i) in rows.enumerated() {
                let r = requests[i]
                let keepStart = max(start, r.keepFrom), keepEnd = min(r.steps, start + t)
                if decoding && keepStart < keepEnd {
                    let keep = keepStart..<keepEnd
                    results[row].outputs.withUnsafeMutableBufferPointer { op in
                        for step in keep {
                            (op.baseAddress! + (step - r.keepFrom) * outs).update(from: ws.y + ((step - start) * b + row) * outs, count: outs)
                        }
                    }
                }
                if let after = r.stateAfter, after > start, after <= start + t {
                    var state = RecurrentState(config: cfg, batch: 1)
                    let slot = after - start
                    for (l, buf) in ws.layers.enumerated() {
                        state.hidden[l].withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: buf.h + slot * n + row * hs, count: hs) }
                        if lstm { state.cell[l].withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: buf.c + slot * n + row * hs, count: hs) } }
                    }
                    if cfg.feedback == .output { state.feedback[0] = feedbackAfter(ws, step: slot, row: row) }
                    results[row].state = state
                }
            }
            // Carry: the last step's state becomes slot 0 of the next chunk.
            carryChunk(ws, steps: t)
            start += t
        }
        return results
    }
}
