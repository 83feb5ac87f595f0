/// Jordan output feedback: the network's median forecast of step t, made at step t − 1, is an
/// input of step t beside the observed values, for every cell kind. Knows nothing of series:
/// the caller reserves the last input column for it and writes there the base the forecast is
/// relative to (the forecaster's base of the one-step-ahead forecast, so the fed value is the
/// forecast in the scaled space; 0 when the targets are the values themselves); the network
/// adds the median:
///
///   x_t[last] = base_t + v_t,  v_t = y_{t−1}[median of horizon step 1]  (own forecast), or
///                              v_t = target_{t−1}[the same output]        (teacher forcing)
///
/// Training feeds the target with probability 1 − `ownShare` where it is known (mask ≠ 0) and
/// the network's own forecast otherwise, so training sees what forecasting sees as the share
/// rises; inference always feeds its own. The first step of a window reads the state's value
/// (`RecurrentState.feedback`, the last step's own median), which is what makes reading on
/// from a saved state equal a full read.
///
/// The step couples the head to the first layer, so the forward pass runs step-major (every
/// layer and the head for one step, then the next). The fed value is detached (data) in the
/// backward pass, which then is the plain one of the dense network: the exact gradient through
/// an own forecast would need the backward pass step-major too (dL/dy_{t−1} gains layer 0's
/// input gradient at step t before the head's backward at t − 1), giving up the chunk-wide
/// products every cell's backward is built on, for a term scheduled sampling (Bengio et al.
/// 2015) also drops. Gradient checks hold the fed values fixed (`replay`) and check this
/// gradient exactly.

/// Which fed-back values a pass uses: the true one (teacher forcing) or the network's own.
struct FeedSchedule {
    /// Probability that a step is fed the network's own forecast where the truth is known.
    var ownShare: Float
    var seed: UInt64
    /// Feed the values the last pass on this workspace recorded (gradient checks).
    var replay = false

    /// Inference: always the network's own forecast.
    static let own = FeedSchedule(ownShare: 1, seed: 0)

    /// True when (global row, step, horizon step) is fed the truth: a counter-based hash, so the
    /// choice does not depend on how the batch is split across threads.
    @inline(__always)
    func teacher(row: Int, step: Int, ahead: Int) -> Bool {
        if ownShare >= 1 { return false }
        if ownShare <= 0 { return true }
        let key = seed ^ (UInt64(row) &* 0xC2B2_AE3D_27D4_EB4F) ^ (UInt64(step) &* 0x9E37_79B9_7F4A_7C15)
            ^ (UInt64(ahead) &* 0xD6E8_FEB8_6659_FD93)
        return Float(mix64(key) >> 40) >= ownShare * 16_777_216
    }
}

extension RecurrentNetwork {
    /// Steps `0..<t` with output feedback, step-major (see the file header).
    func feedbackForward(_ ws: Workspace, steps t: Int, dropoutSeed: UInt64, rowOffset: Int, inference: Bool, feed: FeedSchedule) {
        let b = ws.batch, ins = config.inputSize, o = config.outputSize, med = config.median
        for s in 0..<t {
            for r in 0..<b {
                let v: Float
                if feed.replay {
                    v = ws.fed[s * b + r]
                } else if s == 0 {
                    v = ws.feedback[r]
                } else if feed.teacher(row: rowOffset + r, step: s, ahead: 0), !ws.masked || ws.mask[((s - 1) * b + r) * o + med] != 0 {
                    v = ws.target[((s - 1) * b + r) * o + med]
                } else {
                    v = ws.y[((s - 1) * b + r) * o + med]
                }
                ws.fed[s * b + r] = v
                ws.x[(s * b + r) * ins + ins - 1] += v
            }
            encoderForward(ws, from: s, steps: s + 1, dropoutSeed: dropoutSeed, rowOffset: rowOffset, inference: inference)
            headForward(ws, steps: s..<(s + 1), inference: inference)
        }
    }

    /// The fed-back value a state after `step` steps of the window carries for row `r`: the
    /// carried-in one at step 0, else the median that step forecast.
    @inline(__always)
    func feedbackAfter(_ ws: Workspace, step: Int, row r: Int) -> Float {
        step == 0 ? ws.feedback[r] : ws.y[((step - 1) * ws.batch + r) * config.outputSize + config.median]
    }
}
